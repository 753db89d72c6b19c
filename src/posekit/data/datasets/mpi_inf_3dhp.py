"""The MPI-INF-3DHP test set (Mehta et al. 2017) in its release layout, as `Sample`s.

Layout (``mpi_inf_3dhp_test_set/``): one folder per test sequence ``TS1`` .. ``TS6``, each with

- ``annot_data.mat``: ``annot2`` (2D pixels), ``annot3`` (camera-frame mm), ``univ_annot3``
  (the same poses rescaled to the height of Human3.6M's "universal" skeleton, mm: what the
  evaluation code scores), each a 2 or 3 x 17 x 1 x N MATLAB array (HDF5 stores it reversed,
  N x 1 x 17 x 3); ``valid_frame`` (N flags: frames the evaluation uses) and
  ``activity_annotation`` (N activity ids 1..7, `MPI_INF_3DHP_ACTIVITIES`);
- ``imageSequence/img_%06d.jpg``: frame ``i`` (0-based row of the .mat) is ``img_{i + 1}``.

The released ``annot_data.mat`` files are MATLAB v7.3, i.e. HDF5, read with ``h5py`` (an
optional dependency, imported only for such a file); MATLAB v5 files in the same field layout
(e.g. written by ``scipy.io.savemat``) are read with scipy. Joints are the 17 of the
evaluation code's ``mpii_get_joints('relevant')``, skeleton ``mpi_inf_3dhp17``
(`posekit.skeletons.mpi_inf_3dhp17`, h36m17's names and order; the file order is native).

Cameras (`MPI_INF_3DHP_TEST_CAMERAS`): TS1-TS4 were filmed in the studio by camera 8 at
2048 x 2048 pixels, TS5-TS6 outdoors by a GoPro at 1920 x 1080 with strong lens distortion. The
intrinsics are derived from the calibration files shipped with the test set's evaluation code
(``test_util/camera_calibration/ts1-4cameras.calib`` and ``ts5-6cameras.calib``: focal length
and sensor width in mm, pixel aspect, principal-point offset in mm): ``fx = focal_mm * W /
sensor_width_mm``, ``fy = fx * pixel_aspect``, ``c = (W / 2, H / 2) + offset_mm * W /
sensor_width_mm``. That gives the numbers public 3DHP code uses (the VideoPose3D-style camera
tables of e.g. P-STMO, PoseFormerV2, GraphMLP: f = 1683.98, 1672.59 and c = 939.86, 560.14 for
TS5-6; f = 1500.17 and c = 1017.39, 1043.03 for TS1-4, whose fy those tables take from
training camera 8 (1500.84) or set to fx). MMPose instead fits f and c per sequence by least
squares from ``annot2`` and ``annot3``. ``K`` ignores the outdoor camera's distortion (in
``camera.distortion``, OpenCV's k1, k2, p1, p2, k3).

Conventions of `MPIInf3DHPTest`'s samples: ``annot2`` pixels as stored (the release does not
say whether they are 0- or 1-based); ``visibility`` marks joints inside the image (the release
has no occlusion flags); ``joints3d`` is ``annot3`` in metres, camera frame (OpenCV);
``meta["joints3d_universal"]`` is ``univ_annot3`` in metres, the evaluation ground truth (root:
the pelvis). Every reader error is a ValueError naming the file and the field.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from posekit.data.datasets._images import field_error, keypoint_boxes, load_mat, read_image_rgb
from posekit.data.sample import Sample
from posekit.skeletons import MPI_INF_3DHP17

__all__ = [
    "MPI_INF_3DHP_ACTIVITIES",
    "MPI_INF_3DHP_TEST_CAMERAS",
    "MPI_INF_3DHP_TEST_SEQUENCES",
    "MPIInf3DHPAnnotations",
    "MPIInf3DHPCamera",
    "MPIInf3DHPTest",
    "read_mpi_inf_3dhp_annotations",
]

MPI_INF_3DHP_TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")

MPI_INF_3DHP_ACTIVITIES: dict[int, str] = {
    1: "Standing/Walking",
    2: "Exercising",
    3: "Sitting",
    4: "Reaching/Crouching",
    5: "On The Floor",
    6: "Sports",
    7: "Miscellaneous",
}
"""``activity_annotation`` ids and names (the evaluation code's ``mpii_get_activity_name``)."""


@dataclass(frozen=True)
class MPIInf3DHPCamera:
    """The intrinsics of a test sequence's camera.

    Attributes:
        name: ``"studio_cam8"`` (TS1-4) or ``"outdoor_gopro"`` (TS5-6).
        focal_px: (fx, fy); center_px: (cx, cy), pixels.
        image_size: (H, W) pixels.
        distortion: OpenCV's (k1, k2, p1, p2, k3), not applied by ``K``.
    """

    name: str
    focal_px: tuple[float, float]
    center_px: tuple[float, float]
    image_size: tuple[int, int]
    distortion: tuple[float, float, float, float, float]

    @property
    def K(self) -> np.ndarray:
        """(3, 3) float64 intrinsics, pixels."""
        (fx, fy), (cx, cy) = self.focal_px, self.center_px
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _calibrated(
    name: str,
    size_hw: tuple[int, int],
    focal_mm: float,
    sensor_width_mm: float,
    pixel_aspect: float,
    offset_mm: tuple[float, float],
    distortion: tuple[float, float, float, float, float],
) -> MPIInf3DHPCamera:
    """A camera from the numbers of a ``.calib`` file (see the module docstring)."""
    h, w = size_hw
    px_per_mm = w / sensor_width_mm
    fx = focal_mm * px_per_mm
    center = (w / 2 + offset_mm[0] * px_per_mm, h / 2 + offset_mm[1] * px_per_mm)
    return MPIInf3DHPCamera(name, (fx, fx * pixel_aspect), center, size_hw, distortion)


_STUDIO = _calibrated(  # ts1-4cameras.calib
    "studio_cam8", (2048, 2048), 7.32506, 10.0, 1.00044, (-0.0322884, 0.0929296), (0.0,) * 5
)
_OUTDOOR = _calibrated(  # ts5-6cameras.calib (its distortion line: k1 k2 p1 p2 k3)
    "outdoor_gopro", (1080, 1920), 8.770747185, 10.0, 0.993236423, (-0.104908645, 0.104899704),
    (-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332),
)  # fmt: skip

MPI_INF_3DHP_TEST_CAMERAS: dict[str, MPIInf3DHPCamera] = {
    "TS1": _STUDIO, "TS2": _STUDIO, "TS3": _STUDIO, "TS4": _STUDIO,
    "TS5": _OUTDOOR, "TS6": _OUTDOOR,
}  # fmt: skip
"""Sequence -> camera intrinsics (module docstring for where the numbers come from)."""

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_POINT_FIELDS = {"annot2": 2, "annot3": 3, "univ_annot3": 3}
_J = 17


@dataclass(frozen=True)
class MPIInf3DHPAnnotations:
    """One sequence's ``annot_data.mat``, N frames, joints in ``mpi_inf_3dhp17`` order.

    Attributes:
        path: the file.
        keypoints2d: (N, 17, 2) float64 pixels (``annot2``).
        joints3d_m: (N, 17, 3) float64 camera metres (``annot3`` / 1000).
        universal_m: (N, 17, 3) float64 metres (``univ_annot3`` / 1000), or None if not read.
        valid: (N,) bool (``valid_frame``).
        activity: (N,) int64 (``activity_annotation``; -1 where an invalid frame has none).
    """

    path: Path
    keypoints2d: np.ndarray
    joints3d_m: np.ndarray
    universal_m: np.ndarray | None
    valid: np.ndarray
    activity: np.ndarray

    def __len__(self) -> int:
        return int(self.valid.shape[0])


def _is_hdf5(path: Path) -> bool:
    """An HDF5 file: the signature at byte 0, or at 512 after MATLAB v7.3's header."""
    with open(path, "rb") as fh:
        head = fh.read(520)
    return head[:8] == _HDF5_SIGNATURE or head[512:520] == _HDF5_SIGNATURE


def _read_hdf5(path: Path, names: Sequence[str]) -> dict[str, tuple[np.ndarray, tuple[int, ...]]]:
    """{name: (array in HDF5 order, MATLAB dims)} of the datasets ``names`` present."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"{path}: a MATLAB v7.3 (HDF5) file; reading it needs h5py: pip install h5py "
            "(or posekit[datasets])"
        ) from None
    out, groups = {}, []
    try:
        with h5py.File(path, "r") as f:
            for name in names:
                if name not in f:
                    continue
                node = f[name]
                if not isinstance(node, h5py.Dataset):  # a struct or cell: not a numeric array
                    groups.append(name)
                    continue
                arr = np.asarray(node[()])
                out[name] = (arr, tuple(reversed(arr.shape)))
    except Exception as err:  # h5py raises OSError, KeyError, ValueError ... for a damaged file
        raise ValueError(f"{path}: cannot read HDF5 file ({type(err).__name__}: {err})") from None
    if groups:
        raise field_error(path, groups[0], "a numeric array, got an HDF5 group")
    return out


def _read_mat5(path: Path, names: Sequence[str]) -> dict[str, tuple[np.ndarray, tuple[int, ...]]]:
    """{name: (array with MATLAB's dims reversed, as HDF5 stores it, MATLAB dims)}."""
    mat = load_mat(path, "MPI-INF-3DHP annot_data.mat", variable_names=list(names))
    return {n: (np.asarray(mat[n]).T, np.shape(mat[n])) for n in names if n in mat}


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) or "a scalar"


def _points(
    raw: dict[str, tuple[np.ndarray, tuple[int, ...]]], name: str, path: Path
) -> np.ndarray:
    """Field ``name`` as (N, 17, D) float64 in file joint order."""
    D = _POINT_FIELDS[name]
    want = f"a {D}x17x1xN array of numbers (MATLAB dims)"
    if name not in raw:
        found = ", ".join(sorted(raw)) or "none of the fields"
        raise field_error(path, name, f"{want}; no such field (read: {found})")
    arr, dims = raw[name]
    if arr.ndim == 4 and arr.shape[1] == 1:  # (N, 1, 17, D)
        arr = arr[:, 0]
    elif arr.shape == (_J, D):  # N = 1: MATLAB drops the trailing singleton dims
        arr = arr[None]
    if arr.dtype.kind not in "iuf" or arr.ndim != 3 or arr.shape[1:] != (_J, D) or not len(arr):
        raise field_error(path, name, f"{want}, got {arr.dtype} {_dims(dims)}")
    return arr.astype(np.float64)


def _flags(
    raw: dict[str, tuple[np.ndarray, tuple[int, ...]]], name: str, n: int, path: Path
) -> np.ndarray:
    """Field ``name``: N numbers (1 x N or N x 1), as (N,) float64."""
    if name not in raw:
        found = ", ".join(sorted(raw)) or "none of the fields"
        raise field_error(path, name, f"{n} numbers (1 x N); no such field (read: {found})")
    arr, dims = raw[name]
    if arr.dtype.kind not in "biuf" or arr.size != n or max(arr.shape, default=0) != n:
        raise field_error(path, name, f"{n} numbers (1 x {n}, one per frame), got {_dims(dims)}")
    return arr.reshape(n).astype(np.float64)


def read_mpi_inf_3dhp_annotations(
    path: str | os.PathLike[str], universal: bool = True
) -> MPIInf3DHPAnnotations:
    """Read a test sequence's ``annot_data.mat`` (MATLAB v7.3 / HDF5 or v5).

    Args:
        path: the file.
        universal: also read ``univ_annot3`` (then required).

    Returns:
        The frames' annotations in ``mpi_inf_3dhp17`` joint order, in metres.

    Raises:
        FileNotFoundError: no such file.
        ImportError: an HDF5 file and no ``h5py``.
        ValueError: an unreadable file, a missing field, or one of the wrong type, shape or
            range (non-finite 2D / 3D joints or activity in a valid frame); the message names
            the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (MPI-INF-3DHP annot_data.mat)")
    names = ["annot2", "annot3", "valid_frame", "activity_annotation"]
    names += ["univ_annot3"] if universal else []
    raw = _read_hdf5(path, names) if _is_hdf5(path) else _read_mat5(path, names)
    annot2, annot3 = _points(raw, "annot2", path), _points(raw, "annot3", path)
    n = len(annot2)
    if len(annot3) != n:
        raise field_error(path, "annot3", f"{n} frames like annot2, got {len(annot3)}")
    univ = _points(raw, "univ_annot3", path) if universal else None
    if univ is not None and len(univ) != n:
        raise field_error(path, "univ_annot3", f"{n} frames like annot2, got {len(univ)}")
    valid_raw = _flags(raw, "valid_frame", n, path)
    not_flag = ~np.isin(valid_raw, (0, 1))
    if not_flag.any():
        i = int(np.flatnonzero(not_flag)[0])
        raise field_error(path, "valid_frame", f"0/1 flags, got {valid_raw[i]} at frame {i}")
    valid = valid_raw > 0
    activity = _flags(raw, "activity_annotation", n, path)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(activity) & (activity == np.round(activity)) & (activity >= 0)
    bad = valid & ~whole
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise field_error(
            path, "activity_annotation", f"whole activity ids, got {activity[i]} at frame {i}"
        )
    activity = np.where(whole, activity, -1).astype(np.int64)
    for name, arr in (("annot2", annot2), ("annot3", annot3), ("univ_annot3", univ)):
        if arr is None:
            continue
        bad = valid & ~np.isfinite(arr).all((1, 2))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise field_error(
                path, name, f"finite numbers in valid frames, got NaN/inf at frame {i}"
            )

    def order(a: np.ndarray) -> np.ndarray:
        return MPI_INF_3DHP17.from_native(a)

    return MPIInf3DHPAnnotations(
        path=path,
        keypoints2d=order(annot2),
        joints3d_m=order(annot3) / 1000.0,
        universal_m=None if univ is None else order(univ) / 1000.0,
        valid=valid,
        activity=activity,
    )


class MPIInf3DHPTest(Dataset):
    """MPI-INF-3DHP test frames (`Sample`s, one person each, skeleton ``mpi_inf_3dhp17``).

    Args:
        root: the test set folder, holding ``TS1`` .. ``TS6``.
        sequences: the sequences to read, in this order.
        valid_only: keep the frames flagged ``valid_frame`` (the evaluated ones).
        stride: keep every ``stride``-th of each sequence's kept frames.
        universal: read ``univ_annot3`` into ``meta["joints3d_universal"]`` and
            ``joints3d_universal_m`` (the evaluation ground truth).
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files (False: samples without images, e.g. for metrics).
        bbox_padding: the person box is the 2D joints' box scaled by this about its centre.

    Sample: ``image`` (H, W, 3) uint8 RGB (checked against the sequence's camera size);
    ``keypoints2d`` (1, 17, 2) float32 pixels; ``visibility`` (1, 17) bool, inside the image;
    ``joints3d`` (1, 17, 3) float32 camera metres (``annot3``); ``K`` (3, 3) float32 of the
    sequence (`MPI_INF_3DHP_TEST_CAMERAS`); ``bbox`` (1, 4). Meta: ``sequence``, ``frame``
    (0-based row; image ``img_{frame + 1:06d}.jpg``), ``activity`` (id), ``activity_name``,
    ``valid``, ``joints3d_universal`` (1, 17, 3) float32 metres when ``universal``,
    ``image_name``, ``source``, ``index``.

    Attributes (one row per item, no image read): ``sequence`` (M,) str, ``frame`` (M,)
    int64, ``activity`` (M,) int64, ``joints3d_m`` (M, 17, 3) float32, ``joints3d_universal_m``
    (M, 17, 3) float32 or None, ``keypoints2d`` (M, 17, 2) float32: with
    `posekit.metrics.mpi_inf_3dhp.evaluate_mpi_inf_3dhp` for the standard numbers.

    Raises:
        FileNotFoundError: a sequence folder or its ``annot_data.mat`` is missing.
        ImportError: an HDF5 ``annot_data.mat`` and no ``h5py``.
        ValueError: bad arguments, a malformed ``annot_data.mat`` (naming file and field), no
            frames left; on reading a sample, a missing or unreadable image or one whose size
            is not the sequence's camera's.
    """

    skeleton = "mpi_inf_3dhp17"

    def __init__(
        self,
        root: str | os.PathLike[str],
        sequences: str | Sequence[str] = MPI_INF_3DHP_TEST_SEQUENCES,
        valid_only: bool = True,
        stride: int = 1,
        universal: bool = True,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
        bbox_padding: float = 1.2,
    ) -> None:
        seqs = (sequences,) if isinstance(sequences, str) else tuple(sequences)
        unknown = [s for s in seqs if s not in MPI_INF_3DHP_TEST_SEQUENCES]
        if not seqs or unknown or len(set(seqs)) != len(seqs):
            raise ValueError(
                f"sequences: expected distinct names among {MPI_INF_3DHP_TEST_SEQUENCES}, got "
                f"{list(seqs)}" + (f" (unknown: {unknown})" if unknown else "")
            )
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride: expected a whole number >= 1, got {stride!r}")
        if not (isinstance(bbox_padding, int | float) and 0 < bbox_padding < 100):
            raise ValueError(f"bbox_padding: expected a number in (0, 100), got {bbox_padding!r}")
        self.root = Path(root)
        self.sequences = seqs
        self.valid_only = valid_only
        self.universal = universal
        self.transform = transform
        self.load_images = load_images
        self.bbox_padding = float(bbox_padding)
        self.annotations: dict[str, MPIInf3DHPAnnotations] = {}
        seq, frame = [], []
        for s in seqs:
            folder = self.root / s
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: no such folder (MPI-INF-3DHP test {s})")
            ann = read_mpi_inf_3dhp_annotations(folder / "annot_data.mat", universal)
            self.annotations[s] = ann
            rows = np.flatnonzero(ann.valid) if valid_only else np.arange(len(ann))
            rows = rows[::stride]
            seq += [s] * len(rows)
            frame.append(rows)
        if not seq:
            raise ValueError(f"{self.root}: no frames in {list(seqs)} (valid_only={valid_only})")
        self.sequence = np.array(seq)
        self.frame = np.concatenate(frame).astype(np.int64)

        def gather(field: str) -> np.ndarray:
            parts = [getattr(self.annotations[s], field)[self._rows(s)] for s in seqs]
            return np.concatenate(parts)

        self.activity = gather("activity")
        self.valid = gather("valid")
        self.keypoints2d = gather("keypoints2d").astype(np.float32)
        self.joints3d_m = gather("joints3d_m").astype(np.float32)
        self.joints3d_universal_m = gather("universal_m").astype(np.float32) if universal else None

    def _rows(self, sequence: str) -> np.ndarray:
        return self.frame[self.sequence == sequence]

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def num_people(self, index: int) -> int:
        """People in sample ``index``: one."""
        return 1

    def camera(self, index: int) -> MPIInf3DHPCamera:
        """The intrinsics of sample ``index``'s sequence."""
        return MPI_INF_3DHP_TEST_CAMERAS[str(self.sequence[index])]

    def image_path(self, index: int) -> Path:
        """The image file of sample ``index``."""
        s, f = str(self.sequence[index]), int(self.frame[index])
        return self.root / s / "imageSequence" / f"img_{f + 1:06d}.jpg"

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        s, f = str(self.sequence[index]), int(self.frame[index])
        cam = self.camera(index)
        path = self.image_path(index)
        where = f"{self.annotations[s].path}: frame {f}"
        image = None
        if self.load_images:
            if not path.is_file():
                raise ValueError(f"{where}: no image file {path}")
            try:
                image = read_image_rgb(path)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
            if image.shape[:2] != cam.image_size:
                raise ValueError(
                    f"{where}: {path}: expected {cam.image_size[0]} x {cam.image_size[1]} "
                    f"(H x W) pixels, the size of {s}'s camera, got "
                    f"{image.shape[0]} x {image.shape[1]}"
                )
        kp = self.keypoints2d[index]  # (17, 2)
        h, w = cam.image_size
        with np.errstate(invalid="ignore"):
            inside = (kp >= 0).all(-1) & (kp[:, 0] < w) & (kp[:, 1] < h)
        box = keypoint_boxes(kp[None])[0]
        centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 * self.bbox_padding
        meta: dict[str, Any] = {
            "source": str(path),
            "index": index,
            "image_name": path.name,
            "sequence": s,
            "frame": f,
            "activity": int(self.activity[index]),
            "activity_name": MPI_INF_3DHP_ACTIVITIES.get(int(self.activity[index]), "unknown"),
            "valid": bool(self.valid[index]),
        }
        if self.joints3d_universal_m is not None:
            meta["joints3d_universal"] = self.joints3d_universal_m[index][None].copy()
        return Sample(
            keypoints2d=kp[None].copy(),
            visibility=inside[None],
            skeleton=self.skeleton,
            image=image,
            joints3d=self.joints3d_m[index][None].copy(),
            K=cam.K.astype(np.float32),
            bbox=np.concatenate([centre - half, centre + half])[None].astype(np.float32),
            meta=meta,
        )

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
