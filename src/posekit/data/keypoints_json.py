"""2D keypoints as JSON: what ``posekit predict`` reads for lifting and writes for 2D pose.

One file holds one image (an object) or several (a list of objects)::

    {
      "skeleton": "coco17",               # a registered layout (coco17, h36m17, mpii16, ...)
      "image_size": [1000, 1000],         # (H, W) pixels; optional when "K" is given
      "K": [[1150, 0, 500], [0, 1150, 500], [0, 0, 1]],   # optional intrinsics, pixels
      "image": "frame_0001.jpg",          # optional, relative to the JSON file: drawn under
      "people": [                         #   the 2D keypoints in pictures
        {"keypoints": [[x, y], ...]},             # J rows of [x, y] ...
        {"keypoints": [[x, y, score], ...]},      # ... or [x, y, score]: score 0 = missing
        {"keypoints": [x1, y1, v1, x2, y2, v2]}   # ... or COCO's flat [x, y, v] * J
      ]
    }

Pixel centres are at integer coordinates. A joint is missing where its score / COCO ``v`` is
0; its coordinates are then ignored (write 0). NaN, infinity or null coordinates are errors:
JSON has no NaN, and a detector's missing joint is a score of 0, not a number that is not one.
Bounds: coordinates within ``MAX_COORDINATE_PX`` of the origin, scores >= 0, ``image_size``
whole numbers in [1, ``MAX_IMAGE_SIDE_PX``], ``K`` with positive focal lengths and last row
[0, 0, 1]. Every error names the file and the field (``people[2].keypoints[5]``) and says what
was expected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.skeletons import get_skeleton, list_skeletons

__all__ = ["MAX_COORDINATE_PX", "MAX_IMAGE_SIDE_PX", "KeypointsFrame", "read_keypoints_json"]

#: Largest |x| or |y| of a keypoint, pixels (a million: far outside any image).
MAX_COORDINATE_PX = 1e6
#: Largest image height or width, pixels.
MAX_IMAGE_SIDE_PX = 65536


@dataclass
class KeypointsFrame:
    """The 2D keypoints of one image.

    Attributes:
        skeleton: layout name.
        keypoints: (P, J, 2) float64 pixels (0 where missing).
        scores: (P, J) float64 confidences; 0 = missing.
        image_size: (H, W) or None.
        K: (3, 3) intrinsics or None.
        image: path of the image (resolved against the JSON's folder) or None.
        source: "<file>" or "<file>[i]" for error messages and output names.
    """

    skeleton: str
    keypoints: np.ndarray
    scores: np.ndarray
    image_size: tuple[int, int] | None
    K: np.ndarray | None
    image: Path | None
    source: str


def _fail(where: str, field: str, msg: str) -> ValueError:
    return ValueError(f"{where}: {field}: {msg}")


def _number(v: Any, where: str, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _fail(where, field, f"expected a number, got {json.dumps(v)}")
    if not math.isfinite(v):
        raise _fail(
            where,
            field,
            f"expected a finite number, got {v} (mark a missing joint with score 0 instead)",
        )
    return float(v)


def _person(obj: Any, J: int, skeleton: str, where: str, field: str) -> tuple[np.ndarray, ...]:
    if isinstance(obj, dict):
        if "keypoints" not in obj:
            raise _fail(where, field, "expected an object with a 'keypoints' entry")
        rows, field = obj["keypoints"], f"{field}.keypoints"
    else:
        rows = obj
    if not isinstance(rows, list):
        raise _fail(where, field, f"expected a list, got {type(rows).__name__}")
    kp, sc = np.zeros((J, 2)), np.ones(J)
    if rows and not isinstance(rows[0], list):  # COCO flat [x, y, v] * J
        if len(rows) != 3 * J:
            raise _fail(
                where,
                field,
                f"expected {J} joints of {skeleton} as a flat [x, y, v] list of "
                f"{3 * J} numbers, got {len(rows)} numbers",
            )
        for j in range(J):
            x, y, v = (_number(rows[3 * j + k], where, f"{field}[{3 * j + k}]") for k in range(3))
            kp[j], sc[j] = (x, y), float(v > 0)
            _check_joint(kp[j], v, where, f"{field}[{3 * j}:{3 * j + 3}]")
        return kp, sc
    if len(rows) != J:
        raise _fail(where, field, f"expected {J} joints ({skeleton}), got {len(rows)}")
    for j, row in enumerate(rows):
        f = f"{field}[{j}]"
        if not isinstance(row, list) or len(row) not in (2, 3):
            raise _fail(where, f, f"expected [x, y] or [x, y, score], got {json.dumps(row)}")
        vals = [_number(v, where, f) for v in row]
        kp[j] = vals[:2]
        if len(vals) == 3:
            sc[j] = vals[2]
        _check_joint(kp[j], sc[j], where, f)
    return kp, sc


def _check_joint(xy: np.ndarray, score: float, where: str, field: str) -> None:
    if score < 0:
        raise _fail(where, field, f"expected a score >= 0 (0 = missing), got {score}")
    if score > 0 and np.abs(xy).max() > MAX_COORDINATE_PX:
        raise _fail(
            where,
            field,
            f"expected pixel coordinates within {MAX_COORDINATE_PX:g} of the origin, got "
            f"[{xy[0]:g}, {xy[1]:g}]",
        )


def _frame(obj: Any, where: str, folder: Path, default_skeleton: str | None) -> KeypointsFrame:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object with 'skeleton' and 'people'")
    name = obj.get("skeleton", default_skeleton)
    if name is None:
        raise _fail(where, "skeleton", f"missing; expected one of {', '.join(list_skeletons())}")
    if not isinstance(name, str) or name not in list_skeletons():
        raise _fail(
            where,
            "skeleton",
            f"expected one of {', '.join(list_skeletons())}, got {json.dumps(name)}",
        )
    J = get_skeleton(name).num_joints
    people = obj.get("people")
    if not isinstance(people, list):
        raise _fail(where, "people", "expected a list of people (objects with 'keypoints')")
    kps, scs = [], []
    for p, person in enumerate(people):
        kp, sc = _person(person, J, name, where, f"people[{p}]")
        kps.append(kp)
        scs.append(sc)
    size = obj.get("image_size")
    image_size = None
    if size is not None:
        if not isinstance(size, list) or len(size) != 2:
            raise _fail(where, "image_size", f"expected [H, W], got {json.dumps(size)}")
        h, w = (_number(v, where, "image_size") for v in size)
        if not all(1 <= v <= MAX_IMAGE_SIDE_PX and v == int(v) for v in (h, w)):
            raise _fail(
                where,
                "image_size",
                f"expected [H, W] whole numbers in [1, {MAX_IMAGE_SIDE_PX}], "
                f"got {json.dumps(size)}",
            )
        image_size = (int(h), int(w))
    K = None
    if obj.get("K") is not None:
        rows = obj["K"]
        if not (
            isinstance(rows, list)
            and len(rows) == 3
            and all(isinstance(r, list) and len(r) == 3 for r in rows)
        ):
            raise _fail(where, "K", "expected a 3x3 matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]")
        K = np.array([[_number(v, where, "K") for v in r] for r in rows])
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise _fail(where, "K", f"expected positive focal lengths, got {K[0, 0]}, {K[1, 1]}")
        if not np.allclose(K[2], [0.0, 0.0, 1.0]) or K[1, 0] != 0:
            raise _fail(
                where, "K", f"expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}"
            )
        if np.abs(K).max() > MAX_COORDINATE_PX:
            raise _fail(where, "K", f"expected entries within {MAX_COORDINATE_PX:g} pixels")
    image = obj.get("image")
    if image is not None and not isinstance(image, str):
        raise _fail(where, "image", f"expected a path, got {json.dumps(image)}")
    return KeypointsFrame(
        skeleton=name,
        keypoints=np.stack(kps) if kps else np.zeros((0, J, 2)),
        scores=np.stack(scs) if scs else np.zeros((0, J)),
        image_size=image_size,
        K=K,
        image=(folder / image) if image else None,
        source=where,
    )


def read_keypoints_json(path: str | Path, skeleton: str | None = None) -> list[KeypointsFrame]:
    """Read a 2D keypoints JSON file (the format of the module docstring).

    Args:
        path: the file.
        skeleton: the layout to assume when a frame has no "skeleton" entry (None: required).

    Returns:
        One `KeypointsFrame` per image.

    Raises:
        FileNotFoundError: no such file.
        ValueError: malformed JSON or content; the message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: malformed JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except _ConstantError as err:
        raise ValueError(
            f"{path}: {err} is not valid JSON; mark a missing joint with score 0"
        ) from None
    frames = data if isinstance(data, list) else [data]
    if not frames:
        raise ValueError(f"{path}: empty list; expected at least one frame object")
    single = not isinstance(data, list)
    return [
        _frame(obj, str(path) if single else f"{path}[{i}]", path.parent, skeleton)
        for i, obj in enumerate(frames)
    ]


class _ConstantError(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _ConstantError(name)
