"""Human3.6M in the preprocessed npz format of public 3D-pose code (VideoPose3D), for lifting.

Files (the data set itself is not redistributable; these readers take the user's copies):

- ``data_3d_h36m.npz``: ``positions_3d``, a pickled dict subject -> action -> (T, 32, 3)
  float32 world positions in metres (Human3.6M's world frame: Z up);
- ``data_2d_h36m_<name>.npz`` (``gt``, ``cpn_ft_h36m_dbb``, ...): ``positions_2d``, a pickled
  dict subject -> action -> list of 4 (T, 17 or 32, 2) pixel arrays, one per camera in the
  order of `H36M_CAMERA_IDS`, and ``metadata`` (``num_joints``, ``keypoints_symmetry``);
- the cameras: a ``cameras.pkl`` as written by MMPose's Human3.6M preprocessing, a dict keyed
  (subject, camera_id) of dicts with ``R`` (3, 3), ``T`` (3, 1), ``f`` (2, 1), ``c`` (2, 1),
  ``k`` (3, 1), ``p`` (2, 1), ``w``, ``h`` (see `load_h36m_cameras` for their meaning);
- MMPose's per-frame annotation npz (``h36m_train.npz``, ``test_h36m_body3d.npz``):
  ``imgname``, ``center``, ``scale``, ``part`` (N, 17, 3) pixels + visibility and ``S``
  (N, 17, 4) camera-frame metres + visibility, read by `read_h36m_frames`.

The pickled files (the two VideoPose3D npz, cameras.pkl) run Python's unpickler: open only
files you trust. Every reader raises a ValueError naming the file (and the subject / action /
camera / field) for a file it cannot read or a value of the wrong type, shape or range.

32 joints become the common 17 (`H36M17`) with `H36M32_TO_17`. `H36MLifting` yields the items
of `posekit.data.lifting.LiftingDataset` (same keys, same conventions), so a lifter trains and
is evaluated on either.
"""

from __future__ import annotations

import math
import os
import pickle
import pickletools
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit._checks import check_shape
from posekit.data.datasets._images import field_error, whole_number
from posekit.data.keypoints_json import MAX_COORDINATE_PX, MAX_IMAGE_SIDE_PX
from posekit.data.lifting.dataset import COORDS, lifting_batch
from posekit.data.lifting.pools import PosePool

__all__ = [
    "H36M32_TO_17",
    "H36M_CAMERA_IDS",
    "PROTOCOL_1",
    "PROTOCOL_2",
    "TEST_SUBJECTS",
    "TRAIN_SUBJECTS",
    "H36MCamera",
    "H36MFrames",
    "H36MLifting",
    "H36MProtocol",
    "h36m_distort",
    "h36m_pose_pool",
    "load_h36m_cameras",
    "read_h36m_2d",
    "read_h36m_3d",
    "read_h36m_frames",
]

H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the `H36M17` joints in Human3.6M's 32-joint skeleton (VideoPose3D, Martinez)."""

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four cameras, in the order of the 2D files' per-action lists."""

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")


@dataclass(frozen=True)
class H36MProtocol:
    """A Human3.6M evaluation protocol: subject split and metric (``posekit.metrics`` name)."""

    name: str
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    metric: str
    description: str


PROTOCOL_1 = H36MProtocol(
    "protocol1", TRAIN_SUBJECTS, TEST_SUBJECTS, "mpjpe",
    "MPJPE (mm) of root-relative joints (pelvis aligned), all 4 cameras, all actions.",
)  # fmt: skip
PROTOCOL_2 = H36MProtocol(
    "protocol2", TRAIN_SUBJECTS, TEST_SUBJECTS, "pa_mpjpe",
    "PA-MPJPE (mm): MPJPE after a rigid alignment with scale (Procrustes) to the ground truth; "
    "the same split as protocol 1 (as Martinez et al. 2017 and VideoPose3D; the image-based "
    "models of HMR and its successors test S9 and S11's frontal camera only, "
    "posekit.data.datasets.h36m_images).",
)  # fmt: skip


def h36m_distort(
    points_normalized: torch.Tensor, radial: torch.Tensor, tangential: torch.Tensor
) -> torch.Tensor:
    """Human3.6M's own lens distortion (its released projection code), not OpenCV's.

    With ``(x, y)`` normalized coordinates, ``r2 = x^2 + y^2``, ``(k1, k2, k3) = radial``,
    ``(p1, p2) = tangential`` as stored in MMPose's ``cameras.pkl``::

        a = 1 + k1 r2 + k2 r2^2 + k3 r2^3 + p1 y + p2 x
        x' = a x + p2 r2
        y' = a y + p1 r2

    (VideoPose3D hard-codes the same p in the opposite order with the matching formula.) On
    MMPose's Human3.6M samples this reproduces the released 2D ground truth to < 0.001 px;
    OpenCV's model with the same coefficients is off by up to ~0.1 px.

    Shapes:
        points_normalized: (..., J, 2); radial: (3,) or (..., 3); tangential: (2,) or (..., 2);
        return: (..., J, 2).
    """
    check_shape(points_normalized, "points_normalized", "... J 2")
    k = radial[..., None, :]  # (..., 1, 3)
    p = tangential[..., None, :]  # (..., 1, 2)
    x, y = points_normalized[..., 0:1], points_normalized[..., 1:2]  # (..., J, 1)
    r2 = x * x + y * y
    a = 1 + r2 * (k[..., 0:1] + r2 * (k[..., 1:2] + r2 * k[..., 2:3]))
    a = a + p[..., 0:1] * y + p[..., 1:2] * x
    return torch.cat((a * x + p[..., 1:2] * r2, a * y + p[..., 0:1] * r2), dim=-1)


@dataclass(frozen=True)
class H36MCamera:
    """One Human3.6M camera of one subject.

    Attributes:
        subject, camera_id: e.g. ``"S1"``, ``"54138969"``.
        R: world-to-camera rotation, (3, 3).
        t_m: world-to-camera translation, metres, (3,): ``x_cam = R @ x_world + t_m``.
        focal_px: (fx, fy); center_px: (cx, cy) principal point, pixels.
        radial: (k1, k2, k3); tangential: (p1, p2), see `h36m_distort`.
        image_size: (H, W) pixels (1002 x 1000 for two of the cameras).

    Convention:
        Camera frame OpenCV (x right, y down, z forward); world frame Human3.6M's, Z up.
    """

    subject: str
    camera_id: str
    R: np.ndarray
    t_m: np.ndarray
    focal_px: np.ndarray
    center_px: np.ndarray
    radial: np.ndarray
    tangential: np.ndarray
    image_size: tuple[int, int]

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsics, pixels."""
        (fx, fy), (cx, cy) = self.focal_px, self.center_px
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    @property
    def center_world_m(self) -> np.ndarray:
        """(3,) camera centre in the world frame, metres."""
        return -self.R.T @ self.t_m

    def world_to_camera(self, points_world_m: np.ndarray) -> np.ndarray:
        """``R @ x + t`` for (..., 3) world points, metres -> (..., 3) camera frame, metres."""
        check_shape(points_world_m, "points_world_m", "... 3")
        return np.asarray(points_world_m) @ self.R.T + self.t_m

    def project(self, points_cam_m: np.ndarray, distortion: bool = True) -> np.ndarray:
        """Camera-frame points (..., J, 3), metres -> pixels (..., J, 2) (H3.6M's distortion)."""
        check_shape(points_cam_m, "points_cam_m", "... J 3")
        X = torch.as_tensor(np.asarray(points_cam_m, np.float64))
        xy = X[..., :2] / X[..., 2:]
        if distortion:
            xy = h36m_distort(xy, torch.as_tensor(self.radial), torch.as_tensor(self.tangential))
        return (xy * torch.as_tensor(self.focal_px) + torch.as_tensor(self.center_px)).numpy()


def load_h36m_cameras(path: str | os.PathLike) -> dict[tuple[str, str], H36MCamera]:
    """Read MMPose's ``cameras.pkl``: {(subject, camera_id): `H36MCamera`}.

    In that file (checked on the MMPose sample: each camera's optical axis points at the
    capture area's centre, from ~1.5 m above the floor, 5-6 m away) ``R`` is the
    camera-to-world rotation (its columns are the camera axes in the world) and ``T`` the
    camera centre in world coordinates, in **metres** (Human3.6M's metadata gives it in mm), so
    ``x_cam = R^T (x_world - T)``; here that becomes ``R_w2c = R^T``, ``t = -R^T T``.
    """
    raw = _unpickle(path, "cameras pickle")
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a dict keyed (subject, camera_id), got {type(raw)}")
    cameras = {}
    for key, c in raw.items():
        where = f"[{key!r:.40}]"
        if not (isinstance(key, tuple) and len(key) == 2):
            raise field_error(path, "keys", f"(subject, camera_id) pairs, got {key!r:.40}")
        if not isinstance(c, Mapping):
            raise field_error(path, where, f"a dict of camera parameters, got {type(c).__name__}")
        subject, cam_id = (str(k) for k in key)
        v = {n: _numbers(c, n, size, path, where) for n, size in _CAMERA_FIELDS.items()}
        R_c2w = v["R"].reshape(3, 3)
        with np.errstate(all="ignore"):  # huge entries overflow: not a rotation either
            rotation = np.allclose(R_c2w @ R_c2w.T, np.eye(3), atol=1e-4)
        if not (rotation and np.linalg.det(R_c2w) > 0):
            raise field_error(path, f"{where}.R", f"a rotation matrix, got {R_c2w.tolist()}")
        if not (v["f"] > 0).all():
            raise field_error(path, f"{where}.f", f"positive focal lengths, got {v['f'].tolist()}")
        h, w = (
            whole_number(_scalar_of(c, n, path, where), path, f"{where}.{n}", 1, MAX_IMAGE_SIDE_PX)
            for n in ("h", "w")
        )
        cameras[(subject, cam_id)] = H36MCamera(
            subject=subject, camera_id=cam_id, R=R_c2w.T.copy(), t_m=-R_c2w.T @ v["T"],
            focal_px=v["f"], center_px=v["c"], radial=v["k"], tangential=v["p"],
            image_size=(h, w),
        )  # fmt: skip
    return cameras


_CAMERA_FIELDS = {"R": 9, "T": 3, "f": 2, "c": 2, "k": 3, "p": 2}


def _unpickle(path: str | os.PathLike, what: str) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        _check_pickle(data)
        return pickle.loads(data)
    except Exception as err:  # the unpickler raises many types for a damaged file
        raise ValueError(f"{path}: cannot read {what} ({type(err).__name__}: {err})") from None


def _check_pickle(data: bytes) -> None:
    """Refuse a pickle whose opcodes declare more bytes than it holds: the unpickler allocates
    a declared length (up to 2**64) before reading it, and reads a file in declared frames."""
    for _ in pickletools.genops(data):  # reads each argument from memory; ValueError if short
        pass


def _scalar_of(c: Mapping[str, Any], name: str, path: str | os.PathLike, where: str) -> Any:
    if name not in c:
        raise field_error(path, where, f"a field '{name}'")
    value = c[name]
    return value.item() if isinstance(value, np.ndarray) and value.size == 1 else value


def _numbers(
    c: Mapping[str, Any], name: str, size: int, path: str | os.PathLike, where: str
) -> np.ndarray:
    """Field ``name`` of a camera dict: ``size`` finite real numbers, as (size,) float64."""
    if name not in c:
        raise field_error(path, where, f"a field '{name}'")
    try:
        arr = np.asarray(c[name])
    except Exception:  # an object numpy cannot make an array of
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf" or arr.size != size or not np.isfinite(arr).all():
        raise field_error(
            path, f"{where}.{name}", f"{size} finite numbers, got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.float64).reshape(size)


def _load_npz(path: str | os.PathLike, what: str, keys: Sequence[str], pickled: bool) -> dict:
    """Arrays ``keys`` (those present) of an npz; ValueError naming the file if unreadable."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise ValueError(f"{path}: cannot read {what} ({err})") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # np.load would unpickle a non-npz
        raise ValueError(f"{path}: cannot read {what}: not an npz (zip) file")
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=pickled) as data:
            return {k: data[k] for k in keys if k in data.files}
    except Exception as err:  # zipfile, zlib, the npy header parser, pickle: many types
        raise ValueError(f"{path}: cannot read {what} ({type(err).__name__}: {err})") from None


def _check_npz_sizes(path: str | os.PathLike) -> None:
    """Refuse members whose npy header declares more bytes than they hold: numpy allocates
    the declared size before reading (gigabytes for one damaged header byte); check pickles."""
    fmt = np.lib.format
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                major = fmt.read_magic(fh)[0]
                if major not in (1, 2):
                    continue  # np.load checks the rest
                read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
                shape, _, dtype = read(fh)
                if dtype.hasobject:  # a pickle follows the header
                    _check_pickle(fh.read())
                    continue
                size = math.prod(shape) * dtype.itemsize
                if size > info.file_size:
                    raise ValueError(
                        f"{info.filename} declares {shape} {dtype} ({size} bytes) in "
                        f"{info.file_size} bytes"
                    )


def _pickled_dict(arrays: dict, key: str, path: str | os.PathLike) -> dict:
    if key not in arrays:
        raise field_error(path, "variables", f"an array '{key}'")
    value = arrays[key]
    if value.shape != () or not isinstance(value.item(), Mapping):
        raise field_error(path, key, f"a pickled dict, got {value.dtype} {value.shape}")
    return dict(value.item())


def _to17(arr: Any, where: str, path: str | os.PathLike, dim: int = 3) -> np.ndarray:
    """(T, 17 or 32, >= dim) real numbers -> (T, 17, dim) float32, finite."""
    try:
        arr = np.asarray(arr)
    except Exception:  # an object numpy cannot make an array of
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf" or arr.ndim != 3 or arr.shape[1] not in (17, 32):
        raise ValueError(
            f"{path}: {where}: expected (T, 17 or 32, {dim}) numbers, got {arr.dtype} {arr.shape}"
        )
    if arr.shape[2] < dim or (dim == 3 and arr.shape[2] != 3):
        raise ValueError(f"{path}: {where}: expected (T, J, {dim}) numbers, got {arr.shape}")
    out = (arr[:, list(H36M32_TO_17)] if arr.shape[1] == 32 else arr)[..., :dim]
    limit = MAX_COORDINATE_PX if dim == 2 else np.finfo(np.float32).max
    with np.errstate(over="ignore", invalid="ignore"):  # infinity or NaN: refused below
        out = out.astype(np.float32)
        finite = (np.abs(out) <= limit).all()
    if not finite:  # NaN, infinity, numbers past float32's range
        raise ValueError(
            f"{path}: {where}: expected finite numbers"
            + (f" within {limit:g} pixels of the origin" if dim == 2 else "")
        )
    return out


def _takes(raw: Mapping, path: str | os.PathLike, key: str) -> Iterator[tuple[str, str, Any]]:
    """(subject, action, value) of a pickled {subject: {action: value}} dict."""
    for s, acts in raw.items():
        if not isinstance(acts, Mapping):
            raise field_error(path, f"{key}[{s!r:.40}]", f"a dict of actions, got {type(acts)}")
        for a, x in acts.items():
            yield str(s), str(a), x


def read_h36m_3d(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``data_3d_h36m.npz`` -> {subject: {action: (T, 17, 3) float32 world metres}}."""
    raw = _pickled_dict(
        _load_npz(path, "H3.6M 3D npz", ["positions_3d"], True), "positions_3d", path
    )
    out: dict[str, dict[str, np.ndarray]] = {}
    for s, a, x in _takes(raw, path, "positions_3d"):
        out.setdefault(s, {})[a] = _to17(x, f"positions_3d[{s!r}][{a!r}]", path)
    return out


def read_h36m_2d(
    path: str | os.PathLike,
) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, Any]]:
    """``data_2d_h36m_<name>.npz`` -> ({subject: {action: [4 x (T, 17, 2) px]}}, metadata)."""
    arrays = _load_npz(path, "H3.6M 2D npz", ["positions_2d", "metadata"], True)
    raw = _pickled_dict(arrays, "positions_2d", path)
    meta = _pickled_dict(arrays, "metadata", path) if "metadata" in arrays else {}
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for s, a, cams in _takes(raw, path, "positions_2d"):
        where = f"positions_2d[{s!r}][{a!r}]"
        if not isinstance(cams, list | tuple) or len(cams) > len(H36M_CAMERA_IDS):
            raise field_error(path, where, f"a list of up to 4 camera arrays, got {type(cams)}")
        out.setdefault(s, {})[a] = [
            _to17(x, f"{where}[{i}]", path, dim=2) for i, x in enumerate(cams)
        ]
    return out, meta


@dataclass(frozen=True)
class H36MFrames:
    """MMPose's Human3.6M annotation npz (`read_h36m_frames`): N frames, `H36M17` joints.

    Attributes:
        image_names: (N,) str, e.g. ``"S1/S1_Directions_1.54138969/..._000001.jpg"``
            (subject, action, camera id, frame), relative to the image folder.
        center_px: (N, 2) float32 person centre; scale: (N,) float32 person box side / 200 px.
        keypoints2d: (N, 17, 2) float32 pixels (Human3.6M's projection of ``joints3d_cam_m``
            with its distortion, `H36MCamera.project`); visibility2d: (N, 17) bool.
        joints3d_cam_m: (N, 17, 3) float32 camera frame (OpenCV) metres, or None when the file
            has no ``S``; visibility3d: (N, 17) bool or None.
    """

    image_names: np.ndarray
    center_px: np.ndarray
    scale: np.ndarray
    keypoints2d: np.ndarray
    visibility2d: np.ndarray
    joints3d_cam_m: np.ndarray | None
    visibility3d: np.ndarray | None

    def __len__(self) -> int:
        return int(self.image_names.shape[0])


def read_h36m_frames(path: str | os.PathLike) -> H36MFrames:
    """Read MMPose's Human3.6M annotation npz (no pickles) into `H36MFrames`.

    Raises:
        ValueError: unreadable file, a missing array (``imgname``, ``center``, ``scale``,
            ``part``; ``S`` is optional) or one of the wrong type, shape or range.
    """
    keys = ("imgname", "center", "scale", "part", "S")
    arrays = _load_npz(path, "H3.6M annotation npz", keys, False)
    for key in keys[:4]:
        if key not in arrays:
            raise field_error(path, "variables", f"an array '{key}' (of {', '.join(keys)})")
    names = arrays["imgname"]
    if names.ndim != 1 or names.dtype.kind != "U":
        raise field_error(path, "imgname", f"(N,) strings, got {names.dtype} {names.shape}")
    N = len(names)
    shapes = {"center": (N, 2), "scale": (N,), "part": (N, 17, 3), "S": (N, 17, 4)}
    checked = {}
    for key, shape in shapes.items():
        if key not in arrays:
            continue
        arr = arrays[key]
        if arr.dtype.kind not in "iuf" or arr.shape != shape:
            raise field_error(path, key, f"{shape} numbers, got {arr.dtype} {arr.shape}")
        limit = MAX_COORDINATE_PX if key != "S" else np.finfo(np.float32).max
        with np.errstate(over="ignore", invalid="ignore"):  # infinity or NaN: refused below
            arr = arr.astype(np.float32)
            finite = (np.abs(arr) <= limit).all()
        if not finite:
            raise field_error(
                path, key, "finite numbers" + (f" within {limit:g}" if key != "S" else "")
            )
        checked[key] = arr
    part, S = checked["part"], checked.get("S")
    return H36MFrames(
        image_names=names,
        center_px=checked["center"],
        scale=checked["scale"],
        keypoints2d=part[..., :2],
        visibility2d=part[..., 2] > 0,
        joints3d_cam_m=None if S is None else S[..., :3],
        visibility3d=None if S is None else S[..., 3] > 0,
    )


def _subjects_of(data: Mapping[str, Any], subjects: Sequence[str], what: str) -> None:
    missing = [s for s in subjects if s not in data]
    if missing:
        raise KeyError(f"{what}: no subject {missing}; the file has {sorted(data)}")


def h36m_pose_pool(
    data_3d: str | os.PathLike | Mapping[str, Mapping[str, np.ndarray]],
    subjects: Sequence[str] = TRAIN_SUBJECTS,
    stride: int = 1,
) -> PosePool:
    """A `PosePool` (root-relative, world Z up) of the 3D file's poses of ``subjects``, every
    ``stride``-th frame, for `LiftingDataset` with virtual cameras; labels subject, action."""
    data = read_h36m_3d(data_3d) if isinstance(data_3d, (str, os.PathLike)) else data_3d
    _subjects_of(data, subjects, "data_3d")
    joints, subj, act = [], [], []
    for s in subjects:
        for a in sorted(data[s]):
            x = np.asarray(data[s][a])[::stride]
            joints.append(x)
            subj += [s] * len(x)
            act += [a] * len(x)
    labels = {"subject": np.array(subj), "action": np.array(act)}
    return PosePool(np.concatenate(joints), "h36m17", labels, f"Human3.6M {','.join(subjects)}")


class H36MLifting(torch.utils.data.Dataset):
    """Human3.6M (2D, 3D) pairs: one item per (subject, action, camera, frame).

    Args:
        data_3d: ``data_3d_h36m.npz`` or its `read_h36m_3d` dict.
        cameras: ``cameras.pkl`` or its `load_h36m_cameras` dict.
        subjects: e.g. ``PROTOCOL_1.test_subjects``.
        data_2d: a ``data_2d_h36m_<name>.npz`` (or its `read_h36m_2d` pair) for the 2D input;
            None: the 3D joints projected with each camera (with its distortion if
            ``distortion``), i.e. ground-truth 2D. A take's 2D is cut to the 3D length when
            longer (some videos have extra frames, as VideoPose3D does), and the 3D when
            shorter; a camera with an empty or missing 2D array is skipped.
        coords: input coordinates, ``"pixel"`` (normalized by each camera's own image size)
            or ``"camera"`` (with each camera's f and c; the pixels stay distorted).
        camera_ids: the cameras to use.
        actions: the actions to use (full names like ``"Walking 1"``, or base names like
            ``"Walking"`` for all its takes); None: all.
        stride: every ``stride``-th frame.
        distortion: apply `h36m_distort` when projecting.

    Shapes:
        item: the `posekit.data.lifting.LIFTING_KEYS` dict; `get_batch` adds a leading B.

    Convention:
        ``joints3d``: root-relative, camera frame (OpenCV), metres; visibility all True.
    """

    def __init__(
        self,
        data_3d: str | os.PathLike | Mapping[str, Any],
        cameras: str | os.PathLike | Mapping[tuple[str, str], H36MCamera],
        subjects: Sequence[str] = TEST_SUBJECTS,
        data_2d: str | os.PathLike | tuple[Mapping[str, Any], Any] | None = None,
        coords: str = "pixel",
        camera_ids: Sequence[str] = H36M_CAMERA_IDS,
        actions: Sequence[str] | None = None,
        stride: int = 1,
        distortion: bool = True,
    ) -> None:
        if coords not in COORDS:
            raise ValueError(f"coords: expected one of {COORDS}, got {coords!r}")
        if stride < 1:
            raise ValueError(f"stride: expected >= 1, got {stride}")
        d3 = read_h36m_3d(data_3d) if isinstance(data_3d, (str, os.PathLike)) else data_3d
        cams = load_h36m_cameras(cameras) if isinstance(cameras, (str, os.PathLike)) else cameras
        d2 = read_h36m_2d(data_2d)[0] if isinstance(data_2d, (str, os.PathLike)) else data_2d
        if isinstance(d2, tuple):
            d2 = d2[0]
        _subjects_of(d3, subjects, "data_3d")
        if d2 is not None:
            _subjects_of(d2, subjects, "data_2d")
        self.coords, self.distortion = coords, distortion
        world, frames, cam_of, take_of, kp2d = [], [], [], [], []
        self.cameras: list[H36MCamera] = []
        self.takes: list[tuple[str, str, int]] = []  # (subject, action, first row in _world)
        offset = 0
        for s in subjects:
            for a in sorted(d3[s]):
                if actions is not None and a not in actions and a.split(" ")[0] not in actions:
                    continue
                x = np.asarray(d3[s][a], np.float32)
                check_shape(x, f"data_3d[{s}][{a}]", "T 17 3")
                world.append(x)
                self.takes.append((s, a, offset))
                for cam_id in camera_ids:
                    if (s, cam_id) not in cams:
                        raise KeyError(f"cameras: no camera ({s!r}, {cam_id!r})")
                    T = len(x)
                    if d2 is not None:
                        views = d2[s].get(a, [])
                        ci = H36M_CAMERA_IDS.index(cam_id)
                        if ci >= len(views) or len(views[ci]) == 0:
                            continue
                        T = min(T, len(views[ci]))
                        kp2d.append(np.asarray(views[ci], np.float32)[:T:stride])
                    local = np.arange(0, T, stride)
                    self.cameras.append(cams[(s, cam_id)])
                    frames.append(offset + local)
                    cam_of.append(np.full(len(local), len(self.cameras) - 1))
                    take_of.append(np.full(len(local), len(self.takes) - 1))
                offset += len(x)
        if not frames:
            raise ValueError("H36MLifting: no frames for these subjects / actions / cameras")
        self._world = torch.from_numpy(np.concatenate(world))  # (F, 17, 3) world metres
        self._frame = torch.from_numpy(np.concatenate(frames))  # (N,) rows of _world
        self._cam = torch.from_numpy(np.concatenate(cam_of))  # (N,) into self.cameras
        self._take = torch.from_numpy(np.concatenate(take_of))  # (N,) into self.takes
        self._kp2d = torch.from_numpy(np.concatenate(kp2d)) if d2 is not None else None

        def stack(field: str) -> torch.Tensor:
            return torch.as_tensor(np.stack([np.asarray(getattr(c, field)) for c in self.cameras]))

        self._R, self._t, self._K = (stack(f).float() for f in ("R", "t_m", "K"))
        self._radial, self._tangential = stack("radial"), stack("tangential")  # float64
        self._hw = stack("image_size").float()  # (C, 2) (H, W)

    def __len__(self) -> int:
        return int(self._frame.shape[0])

    def meta(self, i: int) -> dict[str, Any]:
        """Where item i comes from: subject, action, camera_id, frame (index in the 3D take)."""
        subject, action, start = self.takes[int(self._take[i])]
        camera = self.cameras[int(self._cam[i])]
        return {"subject": subject, "action": action, "camera_id": camera.camera_id,
                "frame": int(self._frame[i]) - start}  # fmt: skip

    def get_batch(self, index: torch.Tensor | Sequence[int]) -> dict[str, torch.Tensor]:
        """The items at ``index`` as one batch dict (leading B), computed in batched torch."""
        idx = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        c = self._cam[idx]
        Xw = self._world[self._frame[idx]]  # (B, 17, 3)
        Xc = Xw @ self._R[c].transpose(1, 2) + self._t[c][:, None]  # (B, 17, 3) camera metres
        if self._kp2d is not None:
            kp = self._kp2d[idx]
        else:
            Xd = Xc.double()
            xy = Xd[..., :2] / Xd[..., 2:]
            if self.distortion:
                xy = h36m_distort(xy, self._radial[c], self._tangential[c])
            K = self._K[c].double()
            kp = xy * torch.stack((K[:, 0, 0], K[:, 1, 1]), -1)[:, None] + K[:, None, :2, 2]
        vis = torch.ones(kp.shape[:2], dtype=torch.bool)
        return lifting_batch(Xc, kp.float(), vis, self._K[c], self._hw[c], self.coords)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} items")
        return {k: v[0] for k, v in self.get_batch([i % len(self)]).items()}

    def iter_batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """All items in order, in batches of ``batch_size`` (the last may be short)."""
        for start in range(0, len(self), batch_size):
            yield self.get_batch(torch.arange(start, min(start + batch_size, len(self))))
