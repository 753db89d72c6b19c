"""Shared machinery of the real-image readers (MPII, LSP, COCO): records -> `Sample`s.

A reader parses its annotation file once into `ImageRecord`s (annotations only, small) and
loads each image when its sample is asked for. `AnnotatedImages` is the map-style dataset over
those records, with the same interface as `SyntheticDataset`: ``sample(i)`` (raw `Sample`),
``__getitem__`` (after the optional transform), plus ``num_people(i)`` without loading the image
(the pose2d crop datasets use it to index people).

The field checks (`field_error`, `load_json`, `whole_number`, `finite_number`, `number_array`,
`check_coordinates`) give every reader the same errors: a `ValueError` that names the file,
the field and what was expected, whatever is malformed. `load_mat` reads MATLAB files from
memory and first walks a MAT 5 file's elements, refusing what would crash scipy's reader.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.io
from torch.utils.data import Dataset

from posekit.data.keypoints_json import MAX_COORDINATE_PX
from posekit.data.sample import Sample

__all__ = [
    "INT64_MAX",
    "AnnotatedImages",
    "ImageRecord",
    "check_coordinates",
    "field_error",
    "finite_number",
    "keypoint_boxes",
    "load_json",
    "load_mat",
    "number_array",
    "read_image_rgb",
    "whole_number",
]

INT64_MAX = 2**63 - 1
"""Largest id a reader accepts (ids are stored as int64)."""


def field_error(path: str | os.PathLike[str], where: str, expected: str) -> ValueError:
    """``ValueError("<file>: <field>: expected <what>")``, the readers' one error shape."""
    return ValueError(f"{path}: {where}: expected {expected}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_json(path: Path, what: str) -> Any:
    """The parsed json file; ValueError naming the file if it cannot be read or parsed."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        # ValueError: bad json, and ints past Python's digit limit; RecursionError: nesting
        raise ValueError(f"{path}: cannot read {what} json ({err})") from None


def load_mat(path: Path, what: str, **options: Any) -> dict[str, Any]:
    """``scipy.io.loadmat`` of the file's bytes; ValueError naming the file if unreadable.

    Reading from memory bounds what scipy allocates by the file's size: from a file, a
    damaged header's sizes make it allocate what the header says (gigabytes) before reading.
    """
    try:
        raw = path.read_bytes()
        stream = io.BytesIO(raw)
        if scipy.io.matlab.matfile_version(stream)[0] == 1:
            _check_mat5(raw)
        return scipy.io.loadmat(stream, **options)
    except Exception as err:  # scipy raises many types (MatReadError, IndexError, ...)
        raise ValueError(f"{path}: cannot read {what} ({err})") from None


# The data types scipy's MAT 5 reader has a dtype for. It looks a numeric or char element's
# type up in a C array without a bounds check (scipy 1.17): any other type code in a damaged
# file crashes the interpreter (segmentation fault) instead of raising. `_check_mat5` walks
# the file's elements as scipy will and refuses such codes, and the sizes that would make it
# allocate more than the file can hold, before scipy sees the file.
_MAT5_TYPES = frozenset((1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18))
_MAT5_TEXT = frozenset((1, 16))  # miINT8, miUTF8: names
_MAT5_INT32 = frozenset((5, 6))  # miINT32, miUINT32: dimensions, field name length
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MAT5_MAX_DEPTH = 64  # nesting of cells / structs (scipy recurses in C)
_MAT5_MAX_INFLATE = 2**30  # bytes one compressed variable may inflate to
_MAT5_MAX_EMPTY = 2**20  # elements of a struct array without fields or a char array without data


def _mat5_variable(buf: bytes, pos: int, end: int, order: str) -> None:
    """Walk one miMATRIX variable at ``pos`` as scipy's VarReader5 reads it (a stream: a
    nested matrix's contents, not its byte count, say where the next element starts)."""
    tag = struct.Struct(order + "II").unpack_from
    i32 = struct.Struct(order + "i").unpack_from

    def element(pos: int, types: frozenset[int] | None) -> tuple[int, int, int, int]:
        """(type, byte count, data start, next element); checks the type when ``types``."""
        if pos + 8 > end:
            raise ValueError(f"MAT element at byte {pos}: truncated")
        mdtype, count = tag(buf, pos)
        if mdtype >> 16:  # small data element: count and type in 4 bytes, 4 data bytes
            mdtype, count, start, nxt = mdtype & 0xFFFF, mdtype >> 16, pos + 4, pos + 8
            if count > 4:
                raise ValueError(f"MAT element at byte {pos}: bad small element")
        else:
            start, nxt = pos + 8, pos + 8 + count + (-count % 8)
            if start + count > end:
                raise ValueError(f"MAT element at byte {pos}: {count} bytes past the end")
        if types is not None and mdtype not in types:
            raise ValueError(f"MAT element at byte {pos}: type {mdtype}, not {sorted(types)}")
        return mdtype, count, start, nxt

    todo = [1]  # matrices still to read at each nesting level
    first = True
    while todo:
        if not todo[-1]:
            todo.pop()
            continue
        todo[-1] -= 1
        if len(todo) > _MAT5_MAX_DEPTH:
            raise ValueError(f"MAT arrays nested deeper than {_MAT5_MAX_DEPTH}")
        if pos + 8 > end or tag(buf, pos)[0] != _MI_MATRIX:
            raise ValueError(f"MAT element at byte {pos}: expected a matrix")
        if not tag(buf, pos)[1] and not first:  # an empty matrix: its tag only
            pos += 8
            continue
        first = False  # scipy reads a variable's header whatever its byte count
        if pos + 24 > end:
            raise ValueError(f"MAT matrix at byte {pos}: truncated array flags")
        flags = tag(buf, pos + 16)[0]
        mclass, parts = flags & 0xFF, 1 + (flags >> 11 & 1)
        pos += 24
        if mclass == 17:  # opaque: name, type system, class name, then one matrix
            for _ in range(3):
                pos = element(pos, _MAT5_TEXT)[3]
            todo.append(1)
            continue
        _, count, start, pos = element(pos, _MAT5_INT32)
        if count > 128:  # scipy reads at most 32 dimensions
            raise ValueError(f"MAT matrix at byte {pos}: {count // 4} dimensions")
        ndims = count // 4
        n = math.prod(max(d, 0) for d in struct.unpack_from(f"{order}{ndims}i", buf, start))
        pos = element(pos, _MAT5_TEXT)[3]  # the name
        if 6 <= mclass <= 15 or mclass == 5:  # numeric (real, imaginary); sparse (+ indices)
            for _ in range(parts + 2 * (mclass == 5)):
                pos = element(pos, _MAT5_TYPES)[3]
        elif mclass == 4:  # char: scipy looks the type up unless the element is empty
            if not ndims:  # and crashes on a char array without dimensions
                raise ValueError(f"MAT char array at byte {pos}: no dimensions")
            count = element(pos, None)[1]
            if not count and n > _MAT5_MAX_EMPTY:  # then it makes n blanks
                raise ValueError(f"MAT matrix at byte {pos}: {n} characters and no data")
            pos = element(pos, _MAT5_TYPES if count else None)[3]
        elif mclass in (1, 2, 3, 16):  # cell, struct, object, function handle
            fields = 1
            if mclass == 3:
                pos = element(pos, _MAT5_TEXT)[3]  # the class name
            if mclass in (2, 3):
                _, _, start, pos = element(pos, _MAT5_INT32)
                length = i32(buf, start)[0]
                _, count, _, pos = element(pos, _MAT5_TEXT)
                fields = count // length if length > 0 else 0
            if mclass == 16:
                n = 1
            # scipy allocates the n (x fields) array first; each element takes an 8-byte tag
            if n > ((end - pos) // (8 * fields) if fields else _MAT5_MAX_EMPTY):
                raise ValueError(f"MAT: {n} x {fields} arrays cannot fit in {end - pos} bytes")
            todo.append(n * fields)


def _check_mat5(raw: bytes) -> None:
    """Refuse a MAT 5 file that would crash scipy's reader or make it over-allocate."""
    order = "<" if raw[126:128] == b"IM" else ">"  # as scipy guesses it
    tag = struct.Struct(order + "II").unpack_from
    pos = 128
    while pos < len(raw):
        if pos + 8 > len(raw):
            raise ValueError(f"MAT element at byte {pos}: truncated")
        mdtype, count = tag(raw, pos)
        if mdtype == _MI_COMPRESSED:
            inflate = zlib.decompressobj()
            try:
                var = inflate.decompress(raw[pos + 8 : pos + 8 + count], _MAT5_MAX_INFLATE)
            except zlib.error as err:
                raise ValueError(
                    f"MAT element at byte {pos}: bad compressed data ({err})"
                ) from None
            if inflate.unconsumed_tail:
                raise ValueError(
                    f"MAT element at byte {pos}: inflates past {_MAT5_MAX_INFLATE} bytes"
                )
            _mat5_variable(var, 0, len(var), order)
        else:
            _mat5_variable(raw, pos, len(raw), order)  # scipy reads on past the tag's end
        pos += 8 + count  # scipy seeks to the tag's end, without padding


def whole_number(
    value: Any, path: Path, where: str, lo: int = -INT64_MAX, hi: int = INT64_MAX
) -> int:
    """A json / MATLAB integer (an int, or a float with no fraction) in [lo, hi]."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer()
    if not ok or not lo <= value <= hi:
        raise field_error(path, where, f"a whole number in [{lo}, {hi}], got {_show(value)}")
    return int(value)


def finite_number(
    value: Any, path: Path, where: str, lo: float = -math.inf, hi: float = math.inf
) -> float:
    """A finite number (not a bool, not a string) in [lo, hi]."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        try:
            value = float(value)
        except OverflowError:  # an int past float's range
            ok = False
    if not ok or not (math.isfinite(value) and lo <= value <= hi):
        raise field_error(path, where, f"a finite number in [{lo}, {hi}], got {_show(value)}")
    return value


def number_array(value: Any, path: Path, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """Numbers (nested lists or an array; no strings, bools or None) of ``shape``, as float64.

    NaN and infinity pass (each reader says where they are allowed).
    """
    want = f"{shape[0]} numbers" if len(shape) == 1 else f"{shape} numbers"
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError, RecursionError):  # ragged, too deep
        raise field_error(path, where, f"{want}, got {_show(value)}") from None
    if arr.dtype.kind not in "iuf":  # strings, bools, None, ints past 64 bits: not numbers
        raise field_error(path, where, f"{want}, got {_show(value)}")
    if arr.shape != shape:
        raise field_error(path, where, f"{want}, got shape {arr.shape}")
    return arr.astype(np.float64)


def check_coordinates(xy: np.ndarray, labelled: np.ndarray, path: Path, where: str) -> None:
    """Labelled pixel coordinates must be finite and within `MAX_COORDINATE_PX` of the origin.

    Shapes:
        xy: (..., 2); labelled: (...) bool.
    """
    with np.errstate(invalid="ignore"):  # signalling NaNs from a binary file: refused
        bad = labelled & ~(np.abs(xy) <= MAX_COORDINATE_PX).all(-1)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise field_error(
            path,
            where,
            f"finite pixel coordinates within {MAX_COORDINATE_PX:g} of the origin for the "
            f"labelled joints, got {xy[first].tolist()} at index {first}",
        )


def read_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); ValueError naming the file if it cannot be read."""
    path = Path(path)
    data = None
    try:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size:
            data = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    except OSError as err:
        raise ValueError(f"{path}: cannot read image ({err})") from None
    if data is None:
        raise ValueError(f"{path}: cannot read image (empty or not an image file)")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def keypoint_boxes(keypoints: np.ndarray) -> np.ndarray:
    """Tight boxes (x0, y0, x1, y1) of each person's finite keypoints; NaN for none.

    The box's edges are half a pixel outside the extreme keypoints (pixel extents).

    Shapes:
        keypoints: (P, J, 2); return: (P, 4) float32.
    """
    out = np.full((keypoints.shape[0], 4), np.nan, dtype=np.float32)
    for p, kp in enumerate(keypoints):
        ok = np.isfinite(kp).all(-1)
        if ok.any():
            lo, hi = kp[ok].min(0), kp[ok].max(0)
            out[p] = (lo[0] - 0.5, lo[1] - 0.5, hi[0] + 0.5, hi[1] + 0.5)
    return out


@dataclass
class ImageRecord:
    """The annotations of one image (P people, J joints), before its pixels are loaded.

    Shapes:
        keypoints2d: (P, J, 2) float32 pixels, NaN where a joint is not labelled.
        visibility: (P, J) bool, labelled and not marked occluded.
        bbox: (P, 4) float32 (x0, y0, x1, y1) pixels.
        meta: free-form; per-person arrays have P rows.
    """

    image_path: Path
    keypoints2d: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


class AnnotatedImages(Dataset):
    """Map-style dataset over `ImageRecord`s; item ``i`` is the `Sample` of record ``i``.

    Args:
        records: the parsed annotations.
        skeleton: the layout of the keypoints (e.g. ``"mpii16"``).
        transform: applied to each `Sample` by ``__getitem__``; default none.
        load_images: read the image files (False: samples without images, e.g. for metrics).
    """

    def __init__(
        self,
        records: list[ImageRecord],
        skeleton: str,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        self.records = records
        self.skeleton = skeleton
        self.transform = transform
        self.load_images = load_images

    def __len__(self) -> int:
        return len(self.records)

    def num_people(self, index: int) -> int:
        """People in sample ``index``, without loading its image."""
        return int(self.records[index].keypoints2d.shape[0])

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        r = self.records[index]
        image = read_image_rgb(r.image_path) if self.load_images else None
        meta = {"source": str(r.image_path), "index": int(index % len(self)), **r.meta}
        return Sample(
            keypoints2d=r.keypoints2d,
            visibility=r.visibility,
            skeleton=self.skeleton,
            image=image,
            bbox=r.bbox,
            meta=meta,
        )

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
