"""Human3.6M video frames with their 3D ground truth, for 3D pose from images (`Sample`s).

Files (Human3.6M is not redistributable; the reader takes the user's copies):

- MMPose's per-frame annotation npz (``h36m_train.npz``, ``test_h36m_body3d.npz``), read by
  `posekit.data.datasets.h36m.read_h36m_frames`: ``imgname``, ``center``, ``scale``, ``part``
  (N, 17, 3) pixels + visibility, ``S`` (N, 17, 4) camera-frame metres + visibility;
- the extracted frames, named ``<subject>_<action>.<camera id>_<number:06d>.jpg`` (e.g.
  ``S1_Directions_1.54138969_000001.jpg``; frame ``i`` of the video is number ``i + 1``), in
  MMPose's folders ``<subject>/<subject>_<action>.<camera id>/`` or all in one folder;
- optionally MMPose's ``cameras.pkl`` (`load_h36m_cameras`, keyed (subject, camera id)) for K.

``imgname`` may hold the folders (``S1/S1_Directions_1.54138969/S1_..._000001.jpg``) or the
bare file name; a bare name is looked up in ``image_dir`` and then in MMPose's folders below it.

Protocols (`H36M_IMAGE_PROTOCOLS`), as HMR (Kanazawa et al. 2018), GraphCMR (Kolotouros et al.
2019) and SPIN define them for models that read images (SPIN's Human3.6M preprocessing keeps
camera ``60457274`` for protocol 2):

- protocol 1: subjects S9 and S11, all four cameras, MPJPE after root (pelvis) alignment;
- protocol 2: S9 and S11, the frontal camera ``60457274`` only, PA-MPJPE (Procrustes), as in
  Bogo et al. 2016 (SMPLify).

Conventions differ among papers: Martinez et al. 2017 and VideoPose3D (and
`posekit.data.datasets.h36m.PROTOCOL_2`, the lifting one) compute protocol 2's PA-MPJPE over all
four cameras; Sun et al. 2017/2018 and Moon et al. 2019 number them the other way round (their
"protocol 1": PA-MPJPE on S11 only, trained on S1, S5, S6, S7, S8, S9; "protocol 2": MPJPE on
S9 and S11); and frames are subsampled differently (every frame in VideoPose3D, every 5th in
HMR / SPIN, every 64th in Sun et al. and Moon et al.). ``stride`` subsamples the rows of the
npz, which MMPose's preprocessing has usually subsampled already.

Intrinsics: Human3.6M's cameras have radial and tangential distortion (`h36m_distort`); the
``part`` pixels are the distorted projections of ``S``. ``K`` holds f and c only, so projecting
``joints3d`` with ``K`` misses the distortion by a few pixels (on MMPose's four sample frames:
0.8 px on average, 3.4 px at most); `H36MImageDataset.camera` gives the full camera, whose
`H36MCamera.project` reproduces ``part`` to < 0.001 px. A few videos are not the size
``cameras.pkl`` gives (in MMPose's sample, S7's camera 55011271 is 1002 pixels high where the
file says 1000); images are returned as read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from posekit.data.datasets._images import field_error, read_image_rgb
from posekit.data.datasets.h36m import (
    H36M_CAMERA_IDS,
    TEST_SUBJECTS,
    H36MCamera,
    load_h36m_cameras,
    read_h36m_frames,
)
from posekit.data.sample import Sample

__all__ = [
    "H36M_FRONTAL_CAMERA",
    "H36M_IMAGE_PROTOCOLS",
    "H36M_SUBJECTS",
    "H36MImageDataset",
    "H36MImageProtocol",
    "parse_h36m_image_name",
]

H36M_SUBJECTS: tuple[str, ...] = tuple(f"S{i}" for i in range(1, 12))
"""The 11 recorded subjects (S2, S3, S4 and S10 are not released with poses)."""

H36M_FRONTAL_CAMERA = "60457274"
"""The camera of protocol 2 (Bogo et al. 2016; HMR, GraphCMR, SPIN)."""


@dataclass(frozen=True)
class H36MImageProtocol:
    """A test protocol of image-based Human3.6M evaluation (see the module docstring).

    Attributes:
        number: 1 or 2.
        subjects, camera_ids: the frames it tests.
        metric: the `posekit.metrics` function it reports (``"mpjpe"``, ``"pa_mpjpe"``).
        description: one line.
    """

    number: int
    subjects: tuple[str, ...]
    camera_ids: tuple[str, ...]
    metric: str
    description: str


H36M_IMAGE_PROTOCOLS: dict[int, H36MImageProtocol] = {
    1: H36MImageProtocol(
        1, TEST_SUBJECTS, H36M_CAMERA_IDS, "mpjpe",
        "S9, S11, all four cameras; MPJPE (mm) after pelvis alignment.",
    ),
    2: H36MImageProtocol(
        2, TEST_SUBJECTS, (H36M_FRONTAL_CAMERA,), "pa_mpjpe",
        "S9, S11, frontal camera 60457274; PA-MPJPE (mm), Procrustes-aligned.",
    ),
}  # fmt: skip

_NAME = re.compile(r"(S\d+)_(.+)\.(\d+)_(\d+)\.(?:jpe?g|png)", re.IGNORECASE)
_NAME_FORM = "a Human3.6M frame name like 'S1_Directions_1.54138969_000001.jpg'"


def parse_h36m_image_name(name: str) -> tuple[str, str, str, int]:
    """``"S1_Directions_1.54138969_000001.jpg"`` (folders allowed before it) ->
    ``("S1", "Directions_1", "54138969", 0)``: subject, action, camera id, 0-based frame.

    Raises:
        ValueError: a name of another form.
    """
    match = _NAME.fullmatch(str(name).replace("\\", "/").rsplit("/", 1)[-1])
    if match is None:
        raise ValueError(f"expected {_NAME_FORM}, got {name!r:.80}")
    subject, action, camera, number = match.groups()
    return subject, action, camera, int(number) - 1


def _names(value: str | Sequence[str] | None, what: str, known: Sequence[str]) -> tuple[str, ...]:
    """A filter argument as a tuple of known names; ValueError naming unknown ones."""
    if value is None:
        return tuple(known)
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"{what}: unknown {unknown if names else 'empty selection'}; expected some of "
            f"{', '.join(known)}"
        )
    return names


class H36MImageDataset(Dataset):
    """Human3.6M frames with their 2D and 3D joints (`Sample`s, one person each, ``h36m17``).

    Args:
        annotations: MMPose's annotation npz (must hold ``S``).
        image_dir: folder the ``imgname`` paths are relative to (default: the npz's folder).
        cameras: ``cameras.pkl`` or its `load_h36m_cameras` dict, for ``K``; None: no K.
        subjects: subjects to keep, e.g. ``("S9", "S11")``; None: all.
        cameras_ids: camera ids to keep, e.g. ``("60457274",)``; None: all four.
        stride: keep every ``stride``-th of the selected rows, in file order.
        protocol: 1 or 2 (`H36M_IMAGE_PROTOCOLS`): the subjects and cameras of that protocol
            (not combined with ``subjects`` / ``cameras_ids``); sets ``metric``.
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files (False: samples without images, e.g. for metrics).

    Sample: ``image`` (H, W, 3) uint8 RGB; ``keypoints2d`` (1, 17, 2) float32 pixels (``part``,
    NaN where not visible); ``visibility`` (1, 17) bool; ``joints3d`` (1, 17, 3) float32 OpenCV
    camera metres (``S``, NaN where flagged invisible); ``K`` (3, 3) float32 from the camera's
    f and c (no distortion), or None without cameras; ``bbox`` (1, 4) the square of side
    ``200 * scale`` pixels centred on ``center``. Meta: ``subject``, ``action`` (as in the
    name: ``"Directions_1"``), ``camera_id``, ``frame`` (0-based video frame), ``row`` (npz
    row), ``image_name``, ``source`` (image path), ``index``.

    Attributes:
        skeleton: ``"h36m17"``.
        protocol: the `H36MImageProtocol` or None; metric: its metric name or None.

    Raises:
        ValueError: a malformed npz (`read_h36m_frames`, no ``S``, a bad ``imgname``), unknown
            subjects / cameras / protocol, no frames left, a frame without its camera in
            ``cameras``, or (on reading a sample) a missing or unreadable image; the message
            names the file and the field.
    """

    skeleton = "h36m17"

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        image_dir: str | os.PathLike[str] | None = None,
        cameras: str | os.PathLike[str] | Mapping[tuple[str, str], H36MCamera] | None = None,
        subjects: str | Sequence[str] | None = None,
        cameras_ids: str | Sequence[str] | None = None,
        stride: int = 1,
        protocol: int | None = None,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride: expected a whole number >= 1, got {stride!r}")
        self.protocol: H36MImageProtocol | None = None
        if protocol is not None:
            if isinstance(protocol, bool) or protocol not in H36M_IMAGE_PROTOCOLS:
                raise ValueError(f"protocol: expected 1, 2 or None, got {protocol!r}")
            if subjects is not None or cameras_ids is not None:
                raise ValueError(
                    f"protocol {protocol} fixes the subjects and cameras; do not also pass "
                    "subjects or cameras_ids"
                )
            self.protocol = H36M_IMAGE_PROTOCOLS[protocol]
            subjects, cameras_ids = self.protocol.subjects, self.protocol.camera_ids
        self.metric = None if self.protocol is None else self.protocol.metric
        keep_subjects = _names(subjects, "subjects", H36M_SUBJECTS)
        keep_cameras = _names(cameras_ids, "cameras_ids", H36M_CAMERA_IDS)

        self.path = Path(annotations)
        self.image_dir = Path(image_dir) if image_dir is not None else self.path.parent
        self.transform = transform
        self.load_images = load_images
        frames = read_h36m_frames(self.path)
        if frames.joints3d_cam_m is None or frames.visibility3d is None:
            raise field_error(self.path, "variables", "an array 'S' (N, 17, 4): 3D joints")
        parsed = []
        for i, name in enumerate(frames.image_names):
            try:
                subject, action, camera, frame = parse_h36m_image_name(str(name))
            except ValueError:
                got = f"{_NAME_FORM}, got {name!r:.80}"
                raise field_error(self.path, f"imgname[{i}]", got) from None
            if camera not in H36M_CAMERA_IDS:
                raise field_error(
                    self.path, f"imgname[{i}]", f"a camera id among {H36M_CAMERA_IDS}, got {name}"
                )
            parsed.append((subject, action, camera, frame))
        subj = np.array([p[0] for p in parsed], dtype=str).reshape(-1)
        cams = np.array([p[2] for p in parsed], dtype=str).reshape(-1)
        rows = np.flatnonzero(np.isin(subj, keep_subjects) & np.isin(cams, keep_cameras))
        rows = rows[::stride]
        if rows.size == 0:
            raise ValueError(
                f"{self.path}: no frames of subjects {list(keep_subjects)} and cameras "
                f"{list(keep_cameras)}; the file has subjects {sorted(set(subj.tolist()))} "
                f"and cameras {sorted(set(cams.tolist()))}"
            )
        self.rows = rows.astype(np.int64)
        self.image_names = [str(frames.image_names[r]) for r in rows]
        self.subjects = [parsed[r][0] for r in rows]
        self.actions = [parsed[r][1] for r in rows]
        self.camera_ids = [parsed[r][2] for r in rows]
        self.frames = np.array([parsed[r][3] for r in rows], dtype=np.int64)
        vis2d, vis3d = frames.visibility2d[rows], frames.visibility3d[rows]
        self.visibility = vis2d  # (N, 17) bool
        self.keypoints2d = np.where(vis2d[..., None], frames.keypoints2d[rows], np.nan)
        self.joints3d = np.where(vis3d[..., None], frames.joints3d_cam_m[rows], np.nan)
        half = 100.0 * frames.scale[rows, None]  # (N, 1)
        center = frames.center_px[rows]
        self.bbox = np.concatenate([center - half, center + half], 1).astype(np.float32)

        self._cameras: list[H36MCamera] | None = None
        if cameras is not None:
            self._cameras = self._frame_cameras(cameras)

    def _frame_cameras(
        self, cameras: str | os.PathLike[str] | Mapping[tuple[str, str], H36MCamera]
    ) -> list[H36MCamera]:
        """The camera of every kept frame; ValueError naming the first frame without one."""
        if isinstance(cameras, str | os.PathLike):
            where, table = str(cameras), load_h36m_cameras(cameras)
        else:
            where, table = "cameras", cameras
        keys = list(zip(self.subjects, self.camera_ids, strict=True))
        missing = sorted({k for k in keys if k not in table})
        if missing:
            first = keys.index(missing[0])
            raise ValueError(
                f"{where}: no camera {missing[0]} (subject, camera id) for {self.path}: "
                f"imgname[{self.rows[first]}] {self.image_names[first]!r}; missing: {missing}"
            )
        return [table[k] for k in keys]

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def num_people(self, index: int) -> int:
        """People in sample ``index``: one."""
        return 1

    def camera(self, index: int) -> H36MCamera | None:
        """The full camera of sample ``index`` (with its distortion), or None without cameras."""
        return None if self._cameras is None else self._cameras[index]

    def image_paths(self, index: int) -> list[Path]:
        """Where the image of sample ``index`` may be, in the order they are tried."""
        name = self.image_names[index]
        paths = [self.image_dir / name]
        if "/" not in name.replace("\\", "/"):  # a bare name: also MMPose's folders
            s, a, c = self.subjects[index], self.actions[index], self.camera_ids[index]
            paths.append(self.image_dir / s / f"{s}_{a}.{c}" / name)
        return paths

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        paths = self.image_paths(index)
        path = next((p for p in paths if p.is_file()), paths[0])
        image = None
        if self.load_images:
            if not path.is_file():
                raise ValueError(
                    f"{self.path}: imgname[{self.rows[index]}]: no image file; tried "
                    f"{', '.join(str(p) for p in paths)}"
                )
            try:
                image = read_image_rgb(path)
            except ValueError as err:
                raise ValueError(f"{self.path}: imgname[{self.rows[index]}]: {err}") from None
        cam = self.camera(index)
        return Sample(
            keypoints2d=self.keypoints2d[index][None].astype(np.float32),
            visibility=self.visibility[index][None].copy(),
            skeleton=self.skeleton,
            image=image,
            joints3d=self.joints3d[index][None].astype(np.float32),
            K=None if cam is None else cam.K.astype(np.float32),
            bbox=self.bbox[index][None].copy(),
            meta={
                "source": str(path),
                "index": index,
                "row": int(self.rows[index]),
                "image_name": self.image_names[index],
                "subject": self.subjects[index],
                "action": self.actions[index],
                "camera_id": self.camera_ids[index],
                "frame": int(self.frames[index]),
            },
        )

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
