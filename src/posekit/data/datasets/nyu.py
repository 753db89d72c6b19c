"""NYU Hand Pose dataset (Tompson et al. 2014) in its release format: depth maps + 3D joints.

Files (``root/train`` and ``root/test``):

- ``joint_data.mat`` (MATLAB 5): ``joint_uvd`` and ``joint_xyz``, each (3 cameras, N frames,
  36 points, 3) double, and ``joint_names`` (1 x 36 cell, `NYU36_LABELS` order). Train has
  N = 72,757 frames, test 8,252. Camera 1 is the frontal Kinect, 2 and 3 the side views.
- ``depth_<camera>_<frame:07d>.png`` per camera and frame, frame 1-based (row ``i`` of the mat
  is ``depth_1_%07d.png % (i + 1)``): 640 x 480 8-bit RGB, depth in millimetres =
  green * 256 + blue (red unused), 0 where the sensor has no measurement.
  `read_nyu_depth` / `write_nyu_depth` decode and encode that packing.

Coordinates: ``joint_uvd`` = (u, v pixels, depth mm); ``joint_xyz`` millimetres in NYU's
camera frame, whose y axis points *up*: x = (u - cx)·z / fx, y = (cy - v)·z / fy, z = depth
(the public NYU loaders agree: DeepPrior++'s ``NYUImporter.jointImgTo3D``, V2V-PoseNet's NYU
``pixel2world``, and the NYU evaluation of awesome-hand-pose-estimation, which uses fy < 0).
`nyu_xyz_to_camera` turns that into posekit's OpenCV camera frame (x right, y down, z forward)
in metres: y is negated — the same physical points, a change of axes, not a mirror of the
scene. (u, v) are used as given: the reference loaders use them as 0-based pixel coordinates
with cx = 320, cy = 240, which is posekit's pixel-centre convention. Intrinsics: `NYU_KINECT`
(fx 588.04, fy 587.08 px), assumed for all three cameras (the release gives none).

Protocol: the test split of camera 1 on the 14 points `NYU14_FROM_36` (skeleton ``nyu14``),
trained on camera 1 of train; some work trains on all three cameras (``cameras=(1, 2, 3)``).
NYU has no visibility flags: every joint is marked visible. `HAND21_NYU14_PAIRS` pairs the
joints hand21 and nyu14 share, to score a hand21 model on NYU.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from torch.utils.data import Dataset

from posekit.data.datasets._images import field_error, load_mat
from posekit.data.images import MAX_IMAGE_PIXELS, ImageError
from posekit.data.sample import Sample
from posekit.data.synthetic.hands import NYU_KINECT, kinect_intrinsics
from posekit.skeletons import HAND21, NYU14, NYU14_FROM_36, Skeleton, joint_map
from posekit.skeletons.nyu36 import NYU36, NYU36_LABELS

__all__ = [
    "HAND21_NYU14_PAIRS",
    "NYU_DEPTH_SIZE",
    "NYUHandDataset",
    "NYUJoints",
    "camera_to_nyu_xyz",
    "nyu_intrinsics",
    "nyu_xyz_to_camera",
    "read_nyu_depth",
    "read_nyu_joints",
    "write_nyu_depth",
]

NYU_DEPTH_SIZE: tuple[int, int] = tuple(NYU_KINECT["size"])  # type: ignore[assignment]
"""(H, W) of NYU's depth maps: (480, 640)."""

HAND21_NYU14_PAIRS: tuple[tuple[int, int], ...] = tuple(zip(*joint_map(HAND21, NYU14), strict=True))
"""(hand21 index, nyu14 index) of the 11 joints both layouts name alike, in nyu14 order: the
five finger tips, the index/middle/ring/pinky PIPs, the thumb IP and the thumb MCP.

NYU's ``palm`` (palm centre) and its two wrist points (``wrist_thumb_side``,
``wrist_pinky_side``) have no hand21 counterpart — in particular neither is hand21's
``wrist`` — and hand21's wrist, thumb CMC, finger MCPs and DIPs are not among NYU's 14. A
shared name is the same landmark up to each dataset's annotation convention.
"""

_DEPTH_STEP_M = np.float32(0.001)  # 1 mm: depth values read back as float32(n) * 0.001
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOURS = {0: "grey", 2: "RGB", 3: "palette", 4: "grey + alpha", 6: "RGBA"}
_NUM_POINTS = 36
_SKELETONS: dict[str, Skeleton] = {"nyu14": NYU14, "nyu36": NYU36}


def nyu_intrinsics() -> np.ndarray:
    """The NYU Kinect's intrinsics at 640 x 480 (`NYU_KINECT`), float32 (3, 3)."""
    return kinect_intrinsics(NYU_DEPTH_SIZE).astype(np.float32)


def nyu_xyz_to_camera(xyz_mm: np.ndarray) -> np.ndarray:
    """NYU ``joint_xyz`` (millimetres, y up) to OpenCV camera metres (y down).

    Shapes:
        xyz_mm: (..., 3); return: (..., 3) float64.
    """
    xyz = np.asarray(xyz_mm, dtype=np.float64)
    if xyz.ndim == 0 or xyz.shape[-1] != 3:
        raise ValueError(f"xyz_mm: expected (..., 3), got {xyz.shape}")
    return xyz * np.array([0.001, -0.001, 0.001])


def camera_to_nyu_xyz(joints_m: np.ndarray) -> np.ndarray:
    """OpenCV camera metres (y down) to NYU's ``joint_xyz`` frame (millimetres, y up).

    Shapes:
        joints_m: (..., 3); return: (..., 3) float64.
    """
    xyz = np.asarray(joints_m, dtype=np.float64)
    if xyz.ndim == 0 or xyz.shape[-1] != 3:
        raise ValueError(f"joints_m: expected (..., 3), got {xyz.shape}")
    return xyz * np.array([1000.0, -1000.0, 1000.0])


# ---------------------------------------------------------------- depth PNGs


def _png_header(path: Path, data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    if len(data) < 33 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ImageError(f"{path}: expected an NYU depth PNG (8-bit RGB), got a non-PNG file")
    return struct.unpack(">IIBB", data[16:26])


def read_nyu_depth(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """A depth map from an NYU-encoded PNG: millimetres = green * 256 + blue.

    Args:
        path: the PNG (8-bit RGB or RGBA; red and alpha are ignored).
        size: the (H, W) it must have, e.g. `NYU_DEPTH_SIZE`; None accepts any size.

    Shapes:
        return: (H, W) float32 metres (``float32(mm) * float32(0.001)``), 0 = no measurement.

    Raises:
        FileNotFoundError: no such file.
        ImageError: not a PNG, not 8-bit RGB(A), another size than ``size``, or undecodable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (NYU depth PNG)")
    data = path.read_bytes()
    width, height, bits, colour = _png_header(path, data)
    if bits != 8 or colour not in (2, 6):
        kind = _PNG_COLOURS.get(colour, f"colour type {colour}")
        raise ImageError(
            f"{path}: expected an 8-bit RGB or RGBA PNG (depth mm = green * 256 + blue), "
            f"got {bits}-bit {kind}"
        )
    if size is not None and (height, width) != tuple(size):
        raise ImageError(
            f"{path}: expected {size[0]} x {size[1]} pixels (H x W), got {height} x {width}"
        )
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{path}: {width}x{height} pixels; expected at most {MAX_IMAGE_PIXELS:,}")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.shape[:2] != (height, width) or bgr.ndim != 3:
        raise ImageError(f"{path}: not a readable PNG (corrupt or truncated?)")
    mm = bgr[:, :, 1].astype(np.uint16) << 8 | bgr[:, :, 0]  # OpenCV's order: B, G, R(, A)
    return mm.astype(np.float32) * _DEPTH_STEP_M


def write_nyu_depth(path: str | os.PathLike[str], depth_m: np.ndarray) -> None:
    """Write a depth map as an NYU-encoded PNG (8-bit RGB: 0, mm >> 8, mm & 255).

    Depths are rounded to the millimetre; 0 means no measurement.

    Shapes:
        depth_m: (H, W) metres, finite, in [0, 65.535].

    Raises:
        ValueError: another shape, a non-finite or negative depth, or one past 65.535 m.
    """
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.dtype.kind not in "iuf" or not depth.size:
        raise ValueError(
            f"depth_m: expected a non-empty (H, W) array of metres, got {depth.dtype} {depth.shape}"
        )
    mm = np.rint(depth.astype(np.float64) * 1000.0)
    if not (np.isfinite(mm).all() and mm.min() >= 0 and mm.max() <= 65535):
        raise ValueError("depth_m: expected finite depths in [0, 65.535] m (16 bits of mm)")
    mm16 = mm.astype(np.uint16)
    bgr = np.stack([mm16 & 255, mm16 >> 8, np.zeros_like(mm16)], axis=-1).astype(np.uint8)
    ok, png = cv2.imencode(".png", bgr)
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError(f"{path}: PNG encoding failed")
    Path(path).write_bytes(png.tobytes())


# ---------------------------------------------------------------- joint_data.mat


class NYUJoints:
    """The parsed ``joint_data.mat``.

    Attributes:
        uvd: (3, N, 36, 3) float64 — u, v pixels and depth mm, per camera and frame.
        xyz: (3, N, 36, 3) float64 millimetres, NYU's camera frame (y up).
        names: the file's ``joint_names`` (36), or None when the file has none.
    """

    def __init__(self, uvd: np.ndarray, xyz: np.ndarray, names: tuple[str, ...] | None) -> None:
        self.uvd = uvd
        self.xyz = xyz
        self.names = names

    def __len__(self) -> int:
        return int(self.uvd.shape[1])


def _joint_names(value: Any, path: Path) -> tuple[str, ...]:
    """The 36 labels of a ``joint_names`` cell array (checked against `NYU36_LABELS`)."""
    cells = np.asarray(value, dtype=object).ravel()
    names = []
    for cell in cells:
        text = np.asarray(cell).ravel()
        names.append(str(text[0]).strip() if text.size == 1 and text.dtype.kind == "U" else None)
    if len(names) != _NUM_POINTS or None in names:
        raise field_error(
            path, "joint_names", f"a cell array of {_NUM_POINTS} names, got {len(names)} entries"
        )
    if [n.upper() for n in names] != list(NYU36_LABELS):  # type: ignore[union-attr]
        raise field_error(
            path,
            "joint_names",
            f"NYU's 36 points in their order ({', '.join(NYU36_LABELS[:3])}, ...), got {names}",
        )
    return tuple(names)  # type: ignore[arg-type]


def _points(mat: dict[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise field_error(
            path,
            key,
            f"a (3, N, {_NUM_POINTS}, 3) array, got no such variable (variables read: {found})",
        )
    arr = np.asarray(mat[key])
    if arr.dtype.kind not in "iuf":
        raise field_error(path, key, f"real numbers, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[0] != 3 or arr.shape[2:] != (_NUM_POINTS, 3) or not arr.size:
        raise field_error(
            path, key, f"(3 cameras, N frames, {_NUM_POINTS} points, 3), got {arr.shape}"
        )
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).all(-1)
    if bad.any():
        cam, frame, point = (int(i) for i in np.argwhere(bad)[0])
        raise field_error(
            path,
            key,
            f"finite values, got {arr[cam, frame, point].tolist()} "
            f"(camera {cam + 1}, frame {frame}, point {NYU36_LABELS[point]})",
        )
    return arr


def read_nyu_joints(path: str | os.PathLike[str]) -> NYUJoints:
    """Read an NYU ``joint_data.mat`` (module docstring for the conventions).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable file; ``joint_uvd`` / ``joint_xyz`` missing, not real, not
            (3, N, 36, 3), of different N, or non-finite; ``joint_names`` not NYU's 36 labels
            in order (the message names the file and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (NYU joint_data.mat)")
    mat = load_mat(
        path, "NYU joint_data.mat", variable_names=["joint_uvd", "joint_xyz", "joint_names"]
    )
    uvd, xyz = _points(mat, "joint_uvd", path), _points(mat, "joint_xyz", path)
    if uvd.shape != xyz.shape:
        raise field_error(path, "joint_xyz", f"the shape of joint_uvd {uvd.shape}, got {xyz.shape}")
    names = _joint_names(mat["joint_names"], path) if "joint_names" in mat else None
    return NYUJoints(uvd, xyz, names)


# ---------------------------------------------------------------- dataset


def _frame_rows(frames: slice | Sequence[int] | None, n: int, path: Path) -> np.ndarray:
    if frames is None:
        return np.arange(n)
    if isinstance(frames, slice):
        return np.arange(n)[frames]
    rows = np.asarray(frames)
    if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise ValueError(f"frames: expected a slice or a sequence of frame indices, got {frames!r}")
    if rows.size and not (rows.min() >= 0 and rows.max() < n):
        bad = rows[(rows < 0) | (rows >= n)][0]
        raise IndexError(f"{path}: frames: expected 0-based frame indices in [0, {n}), got {bad}")
    return rows.astype(np.int64)


class NYUHandDataset(Dataset):
    """NYU hand depth frames (`Sample`s, one hand each, skeleton ``nyu14`` or ``nyu36``).

    Item ``i`` is camera ``cameras[i // F]``, frame ``frames[i % F]`` (F frames per camera).

    Args:
        root: the dataset folder (holding ``train/`` and ``test/``) or a split folder itself.
        split: ``"test"`` (8,252 frames) or ``"train"`` (72,757).
        cameras: which of the three Kinects (1 frontal, 2 and 3 side views), or one.
        joints: ``"nyu14"`` (the evaluated subset) or ``"nyu36"`` (every point).
        frames: 0-based rows of ``joint_data.mat`` (frame ``i`` is file number ``i + 1``), a
            slice of them, or None for all.
        transform: applied to each `Sample` by ``__getitem__``.
        load_depth: read the depth PNGs (False: samples without depth, e.g. for metrics).
        bbox_margin_m: margin around the joints' box, metres at the joints' median depth.

    ``joint_data.mat`` is read whole (train: ~380 MB as float64); only the selected cameras,
    frames and points are kept, as float32.

    Sample: ``depth`` (480, 640) float32 metres; ``joints3d`` (1, J, 3) float32 OpenCV camera
    metres (from ``joint_xyz``); ``keypoints2d`` (1, J, 2) float32 (``joint_uvd``'s u, v);
    ``visibility`` all True; ``K`` `nyu_intrinsics`; ``bbox`` the keypoints' box plus the
    margin. Meta: ``split``, ``camera``, ``frame`` (0-based row), ``image_name``, ``source``,
    ``index``.

    Raises:
        FileNotFoundError: no split folder or no ``joint_data.mat`` (a depth PNG: on loading).
        ValueError: bad arguments or a malformed ``joint_data.mat`` (`read_nyu_joints`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "test"] = "test",
        cameras: int | Sequence[int] = (1,),
        joints: Literal["nyu14", "nyu36"] = "nyu14",
        frames: slice | Sequence[int] | None = None,
        transform: Callable[[Sample], Any] | None = None,
        load_depth: bool = True,
        bbox_margin_m: float = 0.02,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        if joints not in _SKELETONS:
            raise ValueError(f"joints: expected 'nyu14' or 'nyu36', got {joints!r}")
        cams = (cameras,) if isinstance(cameras, int) else tuple(cameras)
        if not cams or len(set(cams)) != len(cams) or not set(cams) <= {1, 2, 3}:
            raise ValueError(f"cameras: expected distinct cameras among 1, 2, 3, got {cameras!r}")
        root = Path(root)
        folder = root / split
        if not folder.is_dir() and root.name == split:  # given the split folder itself
            folder = root
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder (NYU {split} split)")
        mat_path = folder / "joint_data.mat"
        data = read_nyu_joints(mat_path)
        rows = _frame_rows(frames, len(data), mat_path)
        skeleton = _SKELETONS[joints]
        cam_idx = np.asarray(cams) - 1
        select = np.ix_(cam_idx, rows)  # (C, F) of the (3, N) frames

        def take(a: np.ndarray) -> np.ndarray:  # (3, N, 36, 3) -> (C, F, J, 3), skeleton order
            sub = a[select]
            sub = sub[:, :, list(NYU14_FROM_36)] if joints == "nyu14" else sub
            return skeleton.from_native(sub)

        self.folder = folder
        self.split = split
        self.cameras = cams
        self.frames = rows
        self.skeleton = skeleton.name
        self.transform = transform
        self.load_depth = load_depth
        self.bbox_margin_m = float(bbox_margin_m)
        self.joint_names = data.names
        self.K = nyu_intrinsics()
        self.keypoints2d = take(data.uvd)[..., :2].astype(np.float32)  # (C, F, J, 2)
        self.joints3d = nyu_xyz_to_camera(take(data.xyz)).astype(np.float32)  # (C, F, J, 3)

    def __len__(self) -> int:
        return len(self.cameras) * len(self.frames)

    def num_people(self, index: int) -> int:
        """People in sample ``index``: one hand."""
        return 1

    def depth_path(self, index: int) -> Path:
        """The depth PNG of sample ``index``."""
        c, f = divmod(index % len(self), len(self.frames))
        return self.folder / f"depth_{self.cameras[c]}_{int(self.frames[f]) + 1:07d}.png"

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        c, f = divmod(index, len(self.frames))
        path = self.depth_path(index)
        kp = self.keypoints2d[c, f][None].copy()  # (1, J, 2)
        j3d = self.joints3d[c, f][None].copy()  # (1, J, 3)
        z = float(np.median(j3d[0, :, 2]))
        pad = np.array([self.K[0, 0], self.K[1, 1]]) * self.bbox_margin_m / max(z, 1e-6)
        lo, hi = kp[0].min(0) - pad, kp[0].max(0) + pad
        return Sample(
            keypoints2d=kp,
            visibility=np.ones(kp.shape[:2], dtype=bool),
            skeleton=self.skeleton,
            depth=read_nyu_depth(path, NYU_DEPTH_SIZE) if self.load_depth else None,
            joints3d=j3d,
            K=self.K.copy(),
            bbox=np.concatenate([lo, hi])[None].astype(np.float32),
            meta={
                "source": str(path),
                "index": index,
                "split": self.split,
                "camera": self.cameras[c],
                "frame": int(self.frames[f]),
                "image_name": path.name,
            },
        )

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
