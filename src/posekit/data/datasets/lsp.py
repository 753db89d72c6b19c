"""Leeds Sports Pose (LSP) and LSP-extended: ``joints.mat`` and ``images/im%04d.jpg``.

Files:

- LSP (Johnson & Everingham 2010): ``joints.mat`` holds ``joints``, a 3 x 14 x 2000 array:
  rows x, y and a per-joint flag, joints in LSP's order (`posekit.skeletons.lsp14`'s
  ``native_joints``), images ``images/im0001.jpg`` ... ``im2000.jpg`` (1-based). The flag of
  the original LSP is an *occlusion* flag (1 = occluded), although its README calls it
  visibility; the reader inverts it. The standard split is images 1-1000 for training and
  1001-2000 for testing.
- LSP-extended (Johnson & Everingham 2011): ``joints`` is 14 x 3 x 10000 (joint, then x, y,
  flag), the flag a true *visibility* flag (1 = visible), images ``im00001.jpg`` ...; all
  training images.

Which one a file is follows from the array's shape. Coordinates are MATLAB's (1-based) as
MPII's and are shifted by -1 to posekit's 0-based pixel centres. Every joint is labelled
(finite); a non-finite coordinate would make the joint unlabelled (NaN, not visible); finite
coordinates beyond ``MAX_COORDINATE_PX`` and non-finite flags are errors.

PCK@0.2 normalization: ``meta["torso_size_px"]`` (P,) is the distance between the right
shoulder and the left hip, the "torso diameter" used by the LSP PCK evaluations of DeepPose
(Toshev & Szegedy 2014) and later work (NaN if either is unlabelled). ``bbox`` is the tight box
of the keypoints (LSP has no person boxes; its images are already cropped around the person).
One person per image.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.data.datasets._images import AnnotatedImages, ImageRecord, keypoint_boxes, load_mat
from posekit.data.keypoints_json import MAX_COORDINATE_PX
from posekit.data.sample import Sample
from posekit.skeletons import LSP14

__all__ = ["LSPDataset", "LSPJoints", "lsp_torso_size", "read_lsp_joints"]

LSP_TEST_START = 1000
"""0-based index of the first test image of the original LSP (im1001.jpg)."""


class LSPJoints:
    """The parsed ``joints.mat``.

    Attributes:
        keypoints2d: (N, 14, 2) float32 pixels in lsp14 order, NaN where unlabelled.
        visibility: (N, 14) bool (LSP's occlusion flag inverted; LSP-extended's kept).
        extended: True for the LSP-extended layout (14 x 3 x N).
    """

    def __init__(self, keypoints2d: np.ndarray, visibility: np.ndarray, extended: bool) -> None:
        self.keypoints2d = keypoints2d
        self.visibility = visibility
        self.extended = extended

    def __len__(self) -> int:
        return int(self.keypoints2d.shape[0])


def read_lsp_joints(path: str | os.PathLike[str], one_based: bool = True) -> LSPJoints:
    """Read an LSP or LSP-extended ``joints.mat`` (module docstring for the conventions).

    Args:
        path: the ``joints.mat`` file.
        one_based: the coordinates are MATLAB's 1-based ones (default): subtract 1.

    Raises:
        ValueError: unreadable file, no ``joints`` variable, or an array that is neither
            3 x 14 x N nor 14 x 3 x N (the message names the file and the shapes).
    """
    path = Path(path)
    mat = load_mat(path, "LSP joints.mat")
    if "joints" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: variables: expected an array 'joints', got {found}")
    joints = np.asarray(mat["joints"])
    if joints.ndim == 2 and joints.shape in ((3, 14), (14, 3)):
        joints = joints[..., None]  # MATLAB drops a trailing singleton: one image
    if joints.ndim != 3 or joints.shape[:2] not in ((3, 14), (14, 3)):
        raise ValueError(
            f"{path}: joints: expected (3, 14, N) (LSP) or (14, 3, N) (LSP-extended), "
            f"got {joints.shape}"
        )
    if joints.dtype.kind not in "iuf":  # not bools, complex numbers, strings or cells
        raise ValueError(f"{path}: joints: expected real numbers, got dtype {joints.dtype}")
    extended = joints.shape[0] == 14
    # (N, 14, 3): x, y, flag per joint, in the file's joint order
    per_joint = joints.transpose(2, 0, 1) if extended else joints.transpose(2, 1, 0)
    per_joint = per_joint.astype(np.float64)
    with np.errstate(invalid="ignore"):  # signalling NaNs: unlabelled joints
        xy = per_joint[..., :2] - (1.0 if one_based else 0.0)
    labelled = np.isfinite(xy).all(-1)
    far = labelled & (np.abs(xy) > MAX_COORDINATE_PX).any(-1)
    if far.any():
        n, j = (int(i) for i in np.argwhere(far)[0])
        raise ValueError(
            f"{path}: joints: expected pixel coordinates within {MAX_COORDINATE_PX:g} of the "
            f"origin, got {xy[n, j].tolist()} (image {n + 1}, joint {LSP14.native_joints[j]})"
        )
    if not np.isfinite(per_joint[..., 2]).all():
        raise ValueError(f"{path}: joints: expected finite 0/1 flags (third row)")
    flag = per_joint[..., 2] > 0
    visible = (flag if extended else ~flag) & labelled
    xy = np.where(labelled[..., None], xy, np.nan)
    return LSPJoints(
        LSP14.from_native(xy).astype(np.float32), LSP14.from_native(visible, axis=-1), extended
    )


def lsp_torso_size(keypoints: np.ndarray) -> np.ndarray:
    """Torso size for PCK: distance from the right shoulder to the left hip (lsp14 order).

    Shapes:
        keypoints: (..., 14, 2) pixels; return: (...) float32, NaN if either is unlabelled.
    """
    rs, lh = LSP14.index("r_shoulder"), LSP14.index("l_hip")
    d = keypoints[..., rs, :] - keypoints[..., lh, :]
    return np.hypot(d[..., 0], d[..., 1]).astype(np.float32)


class LSPDataset(AnnotatedImages):
    """LSP / LSP-extended images, one person each (`Sample`s, skeleton ``lsp14``).

    Args:
        root: the dataset folder (with ``joints.mat`` and ``images/``) or the ``joints.mat``.
        image_dir: folder of the images (default ``images/`` beside ``joints.mat``).
        split: original LSP: ``"train"`` (images 1-1000), ``"test"`` (1001-2000) or
            ``"all"``; LSP-extended is all training (``"test"`` raises).
        image_pattern: file name of image ``n`` (1-based), default ``im%04d.jpg`` for LSP and
            ``im%05d.jpg`` for LSP-extended.
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files.

    Meta: ``image_name``, ``lsp_index`` (0-based row in joints.mat), ``torso_size_px`` (1,).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        image_dir: str | os.PathLike[str] | None = None,
        split: Literal["all", "train", "test"] = "all",
        image_pattern: str | None = None,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        root = Path(root)
        mat_path = root / "joints.mat" if root.is_dir() else root
        if split not in ("all", "train", "test"):
            raise ValueError(f"split: expected 'all', 'train' or 'test', got {split!r}")
        joints = read_lsp_joints(mat_path)
        folder = Path(image_dir) if image_dir is not None else mat_path.parent / "images"
        pattern = image_pattern or ("im%05d.jpg" if joints.extended else "im%04d.jpg")
        n = len(joints)
        if joints.extended:
            if split == "test":
                raise ValueError(f"{mat_path}: LSP-extended has no test split (all training)")
            rows = range(n)
        else:
            rows = {
                "all": range(n),
                "train": range(min(n, LSP_TEST_START)),
                "test": range(LSP_TEST_START, n),
            }[split]
        records = []
        for i in rows:
            kp = joints.keypoints2d[i : i + 1]  # (1, 14, 2)
            name = pattern % (i + 1)
            records.append(
                ImageRecord(
                    image_path=folder / name,
                    keypoints2d=kp,
                    visibility=joints.visibility[i : i + 1],
                    bbox=keypoint_boxes(kp),
                    meta={
                        "image_name": name,
                        "lsp_index": i,
                        "torso_size_px": lsp_torso_size(kp),
                    },
                )
            )
        self.extended = joints.extended
        super().__init__(records, "lsp14", transform, load_images)
