"""Read images and depth maps from user files, with errors that name the file and the problem.

`read_image` returns (H, W, 3) uint8 RGB from any format OpenCV decodes (JPEG, PNG, BMP,
TIFF, WebP ...): grayscale is replicated to three channels; an alpha channel is composited
over mid-grey (128, the mean of the synthetic backgrounds the models train on, so a
transparent background looks like neither black nor white); 16-bit images are scaled to 8
bits. `read_depth` returns (H, W) float32 metres from a 16-bit
PNG in millimetres (Kinect / NYU convention) or a ``.npy`` array in metres.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["MAX_IMAGE_PIXELS", "ImageError", "read_depth", "read_image"]

#: Most pixels an image or depth map may have (10,000 x 10,000): a file declaring more is
#: refused from its header, before any pixel is decoded.
MAX_IMAGE_PIXELS = 100_000_000


class ImageError(ValueError):
    """An image or depth file that cannot be used; the message names the file."""


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if not data:
        raise ImageError(f"{path}: empty file (0 bytes); expected an image")
    return data


def _check_size(path: Path, data: bytes) -> None:
    """Refuse a file whose header declares more than `MAX_IMAGE_PIXELS` pixels (formats
    Pillow cannot identify are left to OpenCV)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own decompression-bomb warning
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Image.DecompressionBombError as err:  # over twice Pillow's own limit
        raise ImageError(f"{path}: {err}; expected at most {MAX_IMAGE_PIXELS:,} pixels") from None
    except Exception:  # Pillow raises many types on headers it cannot read
        return
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageError(f"{path}: {w}x{h} pixels; expected at most {MAX_IMAGE_PIXELS:,} pixels")


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 image from a file (see the module docstring for the conversions).

    Shapes:
        returns: (H, W, 3) uint8, RGB.

    Raises:
        FileNotFoundError: no such file.
        ImageError: empty, truncated, not an image, or an unsupported channel count.
    """
    path = Path(path)
    data = _read_bytes(path)
    _check_size(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageError(
            f"{path}: not a readable image (corrupt, truncated or an unknown format; "
            "expected JPEG, PNG, BMP, TIFF or WebP)"
        )
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"{path}: unsupported pixel type {img.dtype}; expected 8 or 16 bits")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    channels = img.shape[2]
    if channels == 1:
        return np.repeat(img, 3, axis=2)
    if channels == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if channels == 4:
        rgb = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB).astype(np.float32)
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        out = rgb * alpha + 128.0 * (1.0 - alpha)
        return out.round().astype(np.uint8)
    raise ImageError(f"{path}: {channels} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)")


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a ``.npy`` header, without reading the array."""
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except Exception as err:  # numpy raises ValueError, SyntaxError, ... on a bad header
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImageError(f"{path}: not a readable .npy array: {first}") from None
    return tuple(int(n) for n in shape), np.dtype(dtype)


def read_depth(path: str | Path, depth_scale_m: float = 0.001) -> np.ndarray:
    """A depth map in metres from a 16-bit PNG (units of ``depth_scale_m``), an 8-bit RGB PNG
    in the NYU hand dataset's encoding (millimetres = green * 256 + blue, red empty), or a
    ``.npy``.

    Zero (or non-finite) depth means no measurement and is returned as 0.

    Shapes:
        returns: (H, W) float32 metres.

    Raises:
        FileNotFoundError: no such file.
        ImageError: unreadable, or (PNG) neither 16-bit single-channel nor NYU-encoded.
    """
    path = Path(path)
    if path.suffix == ".npy":
        _read_bytes(path)
        shape, dtype = _npy_header(path)
        count = int(np.prod(shape)) if shape else 1
        if count > MAX_IMAGE_PIXELS:
            raise ImageError(f"{path}: {shape}; expected at most {MAX_IMAGE_PIXELS:,} values")
        if len(shape) != 2 or not np.issubdtype(dtype, np.number):
            raise ImageError(
                f"{path}: expected an (H, W) array of depths in metres, got {dtype} {shape}"
            )
        try:
            depth = np.array(np.load(path, allow_pickle=False), dtype=np.float32)
        except (ValueError, OSError, EOFError) as err:  # a truncated file behind the header
            raise ImageError(f"{path}: not a readable .npy array: {err}") from None
    else:
        data = _read_bytes(path)
        _check_size(path, data)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ImageError(f"{path}: not a readable image (corrupt or truncated?)")
        if img.ndim == 3 and img.shape[2] in (3, 4) and img.dtype == np.uint8:
            if img[..., 2].any():  # OpenCV's channel order: B, G, R
                raise ImageError(
                    f"{path}: an 8-bit colour image, not a depth map (NYU's encoding has an "
                    "empty red channel); expected a single-channel 16-bit depth PNG"
                )
            # NYU hand dataset: millimetres = green * 256 + blue
            img = img[..., 1].astype(np.uint16) * 256 + img[..., 0]
        if img.ndim != 2 or img.dtype != np.uint16:
            raise ImageError(
                f"{path}: expected a single-channel 16-bit depth PNG (or NYU's RGB encoding), "
                f"got {img.dtype} with shape {img.shape}"
            )
        depth = img.astype(np.float32) * float(depth_scale_m)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth
