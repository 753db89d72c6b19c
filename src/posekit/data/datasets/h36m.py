"""Human3.6M in the preprocessed npz format of public 3D-pose code (VideoPose3D), for lifting.

Files (the data set itself is not redistributable; these readers take the user's copies):

- ``data_3d_h36m.npz``: ``positions_3d``, a pickled dict subject -> action -> (T, 32, 3)
  float32 world positions in metres (Human3.6M's world frame: Z up);
- ``data_2d_h36m_<name>.npz`` (``gt``, ``cpn_ft_h36m_dbb``, ...): ``positions_2d``, a pickled
  dict subject -> action -> list of 4 (T, 17 or 32, 2) pixel arrays, one per camera in the
  order of `H36M_CAMERA_IDS`, and ``metadata`` (``num_joints``, ``keypoints_symmetry``);
- the cameras: a ``cameras.pkl`` as written by MMPose's Human3.6M preprocessing, a dict keyed
  (subject, camera_id) of dicts with ``R`` (3, 3), ``T`` (3, 1), ``f`` (2, 1), ``c`` (2, 1),
  ``k`` (3, 1), ``p`` (2, 1), ``w``, ``h`` (see `load_h36m_cameras` for their meaning).

32 joints become the common 17 (`H36M17`) with `H36M32_TO_17`. `H36MLifting` yields the items
of `posekit.data.lifting.LiftingDataset` (same keys, same conventions), so a lifter trains and
is evaluated on either.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit._checks import check_shape
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
    "H36MLifting",
    "H36MProtocol",
    "h36m_distort",
    "h36m_pose_pool",
    "load_h36m_cameras",
    "read_h36m_2d",
    "read_h36m_3d",
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
    "the same split as protocol 1 (as Martinez et al. 2017 and VideoPose3D; some older papers "
    "tested on S11's frontal camera only).",
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
    with open(path, "rb") as fh:
        raw = pickle.load(fh)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a dict keyed (subject, camera_id), got {type(raw)}")
    cameras = {}
    for key, c in raw.items():
        subject, cam_id = (str(k) for k in key)
        R_c2w = np.asarray(c["R"], np.float64).reshape(3, 3)
        T = np.asarray(c["T"], np.float64).reshape(3)
        cameras[(subject, cam_id)] = H36MCamera(
            subject=subject, camera_id=cam_id, R=R_c2w.T.copy(), t_m=-R_c2w.T @ T,
            focal_px=np.asarray(c["f"], np.float64).reshape(2),
            center_px=np.asarray(c["c"], np.float64).reshape(2),
            radial=np.asarray(c["k"], np.float64).reshape(3),
            tangential=np.asarray(c["p"], np.float64).reshape(2),
            image_size=(int(np.asarray(c["h"])), int(np.asarray(c["w"]))),
        )  # fmt: skip
    return cameras


def _to17(arr: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[1] not in (17, 32):
        raise ValueError(f"{name}: expected (T, 17 or 32, D), got {arr.shape}")
    return arr[:, list(H36M32_TO_17)] if arr.shape[1] == 32 else arr


def read_h36m_3d(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``data_3d_h36m.npz`` -> {subject: {action: (T, 17, 3) float32 world metres}}."""
    with np.load(path, allow_pickle=True) as data:
        raw = data["positions_3d"].item()
    return {
        str(s): {str(a): _to17(x, f"{s}/{a}").astype(np.float32) for a, x in acts.items()}
        for s, acts in raw.items()
    }


def read_h36m_2d(
    path: str | os.PathLike,
) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, Any]]:
    """``data_2d_h36m_<name>.npz`` -> ({subject: {action: [4 x (T, 17, 2) px]}}, metadata)."""
    with np.load(path, allow_pickle=True) as data:
        raw = data["positions_2d"].item()
        meta = data["metadata"].item() if "metadata" in data.files else {}
    out = {
        str(s): {
            str(a): [_to17(x, f"{s}/{a}")[..., :2].astype(np.float32) for x in cams]
            for a, cams in acts.items()
        }
        for s, acts in raw.items()
    }
    return out, dict(meta)


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
