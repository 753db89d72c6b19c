"""A user's own 2D keypoints with intrinsics and 3D ground truth, read as a lifting data set:
what ``posekit eval LIFTER.ckpt --data FILE`` scores (data source ``keypoints_file``).

Two formats, told apart by the file's suffix:

- ``.json``: the keypoints JSON of ``posekit predict`` (`posekit.data.keypoints_json`), where
  every frame has ``"K"`` and every person a ``"joints3d"`` entry::

      {"skeleton": "coco17", "K": [[600, 0, 320], [0, 600, 240], [0, 0, 1]],
       "skeleton3d": "h36m17",
       "people": [{"keypoints": [[x, y, score], ...], "joints3d": [[x, y, z], ...]}]}

  ``skeleton3d`` (optional, per frame, default ``h36m17``) is the layout of ``joints3d``; a
  ``null`` row of ``joints3d`` is a joint without ground truth. The same file runs through
  ``posekit predict`` (which ignores ``joints3d``).
- ``.npz``: ``keypoints2d`` (N, J, 2) pixels, or (N, J, 3) with a score (0 = missing);
  ``K`` (N, 3, 3) or (3, 3) pixels; ``joints3d`` (N, J3, 3) metres; optional ``visibility``
  (N, J) (> 0 = present), ``skeleton`` (the 2D layout, default ``h36m17``) and ``skeleton3d``
  (default ``h36m17``). NaN in ``joints3d``: a joint without ground truth.

Convention: ``joints3d`` in the camera frame of ``K`` (OpenCV: x right, y down, z forward),
metres, made root-relative here (joint 0, the pelvis, must be given); pixel centres at
integer coordinates. The 2D joints are converted to the layout of ``joints3d`` as ``posekit
predict`` converts them (`posekit.skeletons.convert.convert_keypoints`). Every error names the
file and the field.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posekit.skeletons import get_skeleton, list_skeletons

__all__ = ["MAX_ROOT_DISTANCE_M", "KeypointsFileSet", "read_lift_file"]

#: Largest distance of a joint from the root, metres: beyond it ``joints3d`` is taken to be in
#: millimetres (or not root-consistent) and refused.
MAX_ROOT_DISTANCE_M = 3.0

_SUFFIXES = (".json", ".npz")


def _fail(where: str, field: str, msg: str) -> ValueError:
    return ValueError(f"{where}: {field}: {msg}")


def _layout(name: Any, where: str, field: str) -> str:
    if not isinstance(name, str) or name not in list_skeletons():
        raise _fail(where, field, f"expected one of {', '.join(list_skeletons())}, got {name!r}")
    return get_skeleton(name).name


def _check_joints3d(j3d: np.ndarray, where: str, field: str, many: bool = True) -> None:
    """Root given, finite or NaN, metres. ``many``: (N, J3, 3), the message names the first
    bad sample; else (J3, 3), one person's."""
    rows = j3d if many else j3d[None]  # (N, J3, 3)
    rel = np.abs(rows - rows[:, :1])
    far = np.where(np.isnan(rel), 0.0, rel).max(axis=(1, 2))  # (N,)
    checks = (
        (np.isinf(rows).any(axis=(1, 2)), "expected finite coordinates (NaN: no ground truth)"),
        (np.isnan(rows[:, 0]).any(-1), "the root joint (joint 0) has no ground truth"),
        (far > MAX_ROOT_DISTANCE_M, "a joint {far:.4g} from the root: expected metres, not mm"),
    )
    for bad, msg in checks:
        if bad.any():
            n = int(np.argmax(bad))
            at = f"sample {n}: " if many else ""
            raise _fail(where, field, at + msg.format(far=float(far[n])))


def _read_json(path: Path, skeleton: str | None, skeleton3d: str | None) -> list[dict]:
    from posekit.data.keypoints_json import read_keypoints_json

    frames = read_keypoints_json(path, skeleton)  # 2D: checked, errors name file and field
    data = json.loads(path.read_text(encoding="utf-8"))
    objs = data if isinstance(data, list) else [data]
    out = []
    for frame, obj in zip(frames, objs, strict=True):
        where = frame.source
        if frame.K is None:
            raise _fail(
                where,
                "K",
                "missing; scoring needs the camera intrinsics [[fx, 0, cx], "
                "[0, fy, cy], [0, 0, 1]] of the keypoints",
            )
        name3d = _layout(obj.get("skeleton3d", skeleton3d or "h36m17"), where, "skeleton3d")
        J3 = get_skeleton(name3d).num_joints
        rows = []
        for p, person in enumerate(obj["people"]):
            field = f"people[{p}].joints3d"
            if not isinstance(person, dict) or "joints3d" not in person:
                raise _fail(
                    where,
                    field,
                    f"missing; expected {J3} rows [x, y, z] ({name3d}, "
                    "camera metres; null: no ground truth)",
                )
            j = person["joints3d"]
            if not isinstance(j, list) or len(j) != J3:
                n = len(j) if isinstance(j, list) else type(j).__name__
                raise _fail(where, field, f"expected {J3} joints ({name3d}), got {n}")
            row = np.full((J3, 3), np.nan)
            for k, v in enumerate(j):
                if v is None:
                    continue
                ok = isinstance(v, list) and len(v) == 3
                ok = ok and all(isinstance(c, int | float) and not isinstance(c, bool) for c in v)
                if not ok:
                    raise _fail(
                        where,
                        f"{field}[{k}]",
                        f"expected [x, y, z] metres or null, got {json.dumps(v)}",
                    )
                row[k] = v
            _check_joints3d(row, where, field, many=False)
            rows.append(row)
        j3d = np.stack(rows) if rows else np.zeros((0, J3, 3))
        P = len(j3d)
        out.append(
            {
                "where": where,
                "skeleton": frame.skeleton,
                "skeleton3d": name3d,
                "keypoints": frame.keypoints,
                "scores": frame.scores,
                "K": np.broadcast_to(frame.K, (P, 3, 3)),
                "joints3d": j3d,
                "image_size": frame.image_size,
            }
        )
    return out


def _npz_name(data: Any, key: str, default: str | None, where: str) -> str:
    if key not in data.files:
        return _layout(default or "h36m17", where, key)
    return _layout(str(np.asarray(data[key]).reshape(-1)[0]), where, key)


def _read_npz(path: Path, skeleton: str | None, skeleton3d: str | None) -> list[dict]:
    where = str(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{where}: not a readable npz file ({err})") from None
    with data:
        for key in ("keypoints2d", "K", "joints3d"):
            if key not in data.files:
                held = ", ".join(data.files) or "nothing"
                raise _fail(
                    where,
                    key,
                    f"missing; the file holds {held} (expected keypoints2d (N, J, 2) px, "
                    "K (N, 3, 3) or (3, 3), joints3d (N, J, 3) m)",
                )
        try:
            kp = np.asarray(data["keypoints2d"], np.float64)
            K = np.asarray(data["K"], np.float64)
            j3d = np.asarray(data["joints3d"], np.float64)
            vis = np.asarray(data["visibility"], np.float64) if "visibility" in data.files else None
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: expected numeric arrays ({err})") from None
        name2d = _npz_name(data, "skeleton", skeleton, where)
        name3d = _npz_name(data, "skeleton3d", skeleton3d, where)
    J, J3 = get_skeleton(name2d).num_joints, get_skeleton(name3d).num_joints
    if kp.ndim != 3 or kp.shape[1:] not in ((J, 2), (J, 3)):
        raise _fail(
            where,
            "keypoints2d",
            f"expected (N, {J}, 2) pixels ({name2d}) or (N, {J}, 3) with a score, got {kp.shape}",
        )
    N = kp.shape[0]
    if N == 0:
        raise _fail(where, "keypoints2d", "no samples (N = 0)")
    scores = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:2])
    if vis is not None:
        if vis.shape != (N, J):
            raise _fail(where, "visibility", f"expected ({N}, {J}), got {vis.shape}")
        scores = scores * (vis > 0)
    kp = kp[..., :2]
    if not np.isfinite(kp[scores > 0]).all():
        raise _fail(
            where,
            "keypoints2d",
            "expected finite pixels where a joint is present "
            "(mark a missing joint with visibility 0)",
        )
    if K.shape == (3, 3):
        K = np.broadcast_to(K, (N, 3, 3))
    if K.shape != (N, 3, 3):
        raise _fail(where, "K", f"expected ({N}, 3, 3) or (3, 3) pixels, got {K.shape}")
    if not np.isfinite(K).all() or (K[:, 0, 0] <= 0).any() or (K[:, 1, 1] <= 0).any():
        raise _fail(where, "K", "expected finite intrinsics with positive focal lengths")
    if j3d.shape != (N, J3, 3):
        raise _fail(
            where, "joints3d", f"expected ({N}, {J3}, 3) metres ({name3d}), got {j3d.shape}"
        )
    _check_joints3d(j3d, where, "joints3d")
    return [
        {
            "where": where,
            "skeleton": name2d,
            "skeleton3d": name3d,
            "keypoints": np.where(scores[..., None] > 0, kp, 0.0),
            "scores": scores,
            "K": K,
            "joints3d": j3d,
            "image_size": None,
        }
    ]


def read_lift_file(
    path: str | Path, skeleton: str | None = None, skeleton3d: str | None = None
) -> tuple[dict[str, Tensor], str]:
    """Read a ``.json`` or ``.npz`` file of the module docstring as lifting samples.

    Args:
        path: the file.
        skeleton: the 2D layout where the file does not name one (JSON: required then).
        skeleton3d: the layout of ``joints3d`` where the file does not name one (default
            ``h36m17``).

    Returns:
        (samples, the layout of ``joints3d``). The samples, one row per person:
        ``keypoints2d_px`` (N, J3, 2) float32 pixels in the layout of ``joints3d`` (0 where
        missing), ``visibility`` (N, J3) bool, ``K`` (N, 3, 3) float32, ``joints3d``
        (N, J3, 3) float32 root-relative metres (NaN: no ground truth), ``image_hw`` (N, 2)
        float32 (H, W), NaN where the file gives no image size.

    Raises:
        FileNotFoundError: no such file.
        ValueError: another suffix, or a malformed file (the message names file and field).
    """
    from posekit.skeletons.convert import convert_keypoints

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"{path}: expected a keypoints JSON (.json) or an npz (.npz) file with 2D "
            "keypoints, K and joints3d"
        )
    parts = (_read_json if suffix == ".json" else _read_npz)(path, skeleton, skeleton3d)
    layouts = {p["skeleton3d"] for p in parts}
    if len(layouts) > 1:
        raise _fail(str(path), "skeleton3d", f"one layout per file, got {sorted(layouts)}")
    dst = layouts.pop()
    kps, viss, Ks, j3ds, sizes = [], [], [], [], []
    for p in parts:
        P = len(p["joints3d"])
        if P == 0:
            continue
        kp = torch.from_numpy(np.asarray(p["keypoints"], np.float64))  # (P, J, 2)
        vis = torch.from_numpy(np.asarray(p["scores"]) > 0)  # (P, J)
        kp, vis = convert_keypoints(kp, vis, p["skeleton"], dst)  # (P, J3, 2), as predict does
        kps.append(torch.nan_to_num(kp))
        viss.append(vis)
        Ks.append(torch.from_numpy(np.array(p["K"], np.float64)))
        j3d = torch.from_numpy(p["joints3d"])
        j3ds.append(j3d - j3d[:, :1])
        hw = p["image_size"] if p["image_size"] is not None else (float("nan"),) * 2
        sizes.append(torch.tensor(hw, dtype=torch.float64).expand(P, 2))
    if not kps:
        raise ValueError(f"{path}: no person with keypoints and joints3d; nothing to score")
    samples = {
        "keypoints2d_px": torch.cat(kps).float(),
        "visibility": torch.cat(viss),
        "K": torch.cat(Ks).float(),
        "joints3d": torch.cat(j3ds).float(),
        "image_hw": torch.cat(sizes).float(),
    }
    return samples, dst


class KeypointsFileSet:
    """The samples of a file (`read_lift_file`) as a finite lifting set (``len``,
    ``get_batch``, indexing) with the keys of `posekit.data.lifting.LIFTING_KEYS`.

    Args:
        path: the ``.json`` / ``.npz`` file.
        coords: ``pixel`` or ``camera``, the coordinates of ``keypoints2d`` (``pixel`` needs
            an image size: the file's, else twice the principal point). ``posekit eval``
            makes the model's input from ``keypoints2d_px`` and ``K`` instead.
        skeleton, skeleton3d: as `read_lift_file`.

    Attributes:
        skeleton: the layout of the samples (of ``joints3d``).
    """

    def __init__(
        self,
        path: str | Path,
        coords: str = "pixel",
        skeleton: str | None = None,
        skeleton3d: str | None = None,
    ) -> None:
        from posekit.data.lifting.dataset import COORDS, normalize_keypoints

        if coords not in COORDS:
            raise ValueError(f"coords: expected one of {COORDS}, got {coords!r}")
        self.path, self.coords = Path(path), coords
        data, self.skeleton = read_lift_file(path, skeleton, skeleton3d)
        K, hw = data["K"], data.pop("image_hw")
        guess = torch.stack((2 * K[:, 1, 2] + 1, 2 * K[:, 0, 2] + 1), -1)  # (N, 2) (H, W)
        hw = torch.where(hw.isfinite(), hw, guess).clamp(min=1.0)
        data["keypoints2d"] = normalize_keypoints(data["keypoints2d_px"], K, hw, coords)
        self.data = data

    def __len__(self) -> int:
        return int(self.data["joints3d"].shape[0])

    def get_batch(self, index: Tensor) -> dict[str, Tensor]:
        idx = torch.as_tensor(index, dtype=torch.long)
        return {k: v[idx] for k, v in self.data.items()}

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        return {k: v[i] for k, v in self.data.items()}
