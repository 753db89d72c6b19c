"""COCO person keypoints json (and CrowdPose's COCO-like json) -> multi-person `Sample`s.

A COCO ``person_keypoints_*.json`` holds ``images`` (``id``, ``file_name``, ``width``,
``height``), ``annotations`` (``image_id``, ``id``, ``keypoints`` = [x, y, v] * K, ``bbox`` =
[x, y, width, height], ``num_keypoints``, ``iscrowd``, ``area``) and ``categories`` (the person
category with its ``keypoints`` names). The reader makes one record per image with its P
non-crowd people, in the order of the annotation list.

Layouts: the category's keypoint names pick the skeleton, COCO's 17 (``left_shoulder`` ...)
map to ``coco17`` (same order); CrowdPose's 14 (12 limb joints, ``head`` = top of the head,
``neck``) map by name onto ``lsp14``, whose 14 joints are the same points (``head`` ->
``head_top``). A file without names is read as coco17 when it has 17 keypoints.

Conventions:

- COCO flags v: 0 not labelled, 1 labelled but not visible, 2 visible. ``keypoints2d`` is NaN
  where v = 0, ``visibility`` is v = 2; the raw flags (skeleton order) stay in
  ``meta["keypoint_flags"]`` (P, J) uint8, which is what `posekit.metrics.coco_keypoint_ap`
  takes as ``gt_visibility`` (with ``meta["area"]`` as ``gt_areas`` and ``meta["image_id"]``
  repeated P times as ``gt_image_ids``).
- Coordinates are the file's numbers, unchanged, so predictions map back to a results json
  without a shift. (COCO's continuous frame puts the image's top-left corner at (0, 0),
  posekit's at (-0.5, -0.5); the half-pixel difference is ignored, as HRNet and MMPose do.)
- ``bbox`` (P, 4) is (x, y, x + width, y + height).
- Crowd annotations (``iscrowd = 1``) are not people: their boxes go to
  ``meta["crowd_boxes"]`` (C, 4) (regions a bottom-up loss may ignore).
- ``meta``: ``image_id``, ``file_name``, ``width``, ``height``, ``annotation_ids`` (P,)
  int64, ``area`` (P,), ``num_keypoints`` (P,), ``keypoint_flags``, ``crowd_boxes``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.datasets._images import AnnotatedImages, ImageRecord
from posekit.data.sample import Sample
from posekit.skeletons import COCO17, LSP14, Skeleton

__all__ = [
    "COCO_KEYPOINT_NAMES",
    "CROWDPOSE_KEYPOINT_NAMES",
    "CROWDPOSE_SIGMAS_LSP14",
    "COCODataset",
    "read_coco_keypoints",
]

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
"""The keypoint names of the COCO person category, file order."""

CROWDPOSE_KEYPOINT_NAMES: tuple[str, ...] = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "head", "neck",
)  # fmt: skip
"""The keypoint names of CrowdPose, file order."""

_CROWDPOSE_SIGMAS = (
    0.079,
    0.079,
    0.072,
    0.072,
    0.062,
    0.062,
    0.107,
    0.107,
    0.087,
    0.087,
    0.089,
    0.089,
    0.079,
    0.079,
)  # fmt: skip  (CrowdPose's evaluation API, file order)


def _posekit_name(name: str) -> str:
    """COCO-style keypoint name -> posekit joint name."""
    name = name.strip().lower().replace(" ", "_")
    for long, short in (("left_", "l_"), ("right_", "r_")):
        if name.startswith(long):
            name = short + name[len(long) :]
    return {"head": "head_top", "top_head": "head_top"}.get(name, name)


def _layout(names: Sequence[str]) -> tuple[Skeleton, list[int]]:
    """The skeleton holding every file keypoint, and each skeleton joint's file index (-1)."""
    mapped = [_posekit_name(n) for n in names]
    for skel in (COCO17, LSP14):
        if len(mapped) == skel.num_joints and set(mapped) == set(skel.joints):
            return skel, [mapped.index(j) for j in skel.joints]
    raise ValueError(
        f"keypoint names {list(names)} match no supported layout (COCO's 17, CrowdPose's 14)"
    )


CROWDPOSE_SIGMAS_LSP14: tuple[float, ...] = tuple(
    _CROWDPOSE_SIGMAS[i] for i in _layout(CROWDPOSE_KEYPOINT_NAMES)[1]
)
"""CrowdPose's OKS sigmas in lsp14 order (pass as ``sigmas`` to `coco_keypoint_ap`)."""


def _fail(path: Path, where: str, expected: str) -> ValueError:
    return ValueError(f"{path}: {where}: expected {expected}")


def _array(value: Any, path: Path, where: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(path, where, f"numbers, got {value!r:.80}") from None
    if arr.shape != shape:
        raise _fail(path, where, f"{len(shape) and shape[0]} numbers, got shape {arr.shape}")
    return arr


def read_coco_keypoints(
    path: str | os.PathLike[str],
    image_dir: str | os.PathLike[str] | None = None,
    include_empty: bool = False,
) -> tuple[list[ImageRecord], str]:
    """Parse a COCO (or CrowdPose) person keypoints json into one record per image.

    Args:
        path: the annotation json.
        image_dir: folder of the images (default: the json's folder).
        include_empty: keep images without a non-crowd person (P = 0).

    Returns:
        ``(records, skeleton_name)``; records in the order of ``images``.

    Raises:
        ValueError: unreadable json, or a missing / malformed field (the message names the
            file, the annotation and the field).
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read COCO json ({err})") from None
    if not isinstance(data, dict):
        raise _fail(path, "top level", f"an object, got {type(data).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise _fail(path, key, f"a list '{key}'")
    names: Sequence[str] | None = None
    for cat in data.get("categories") or []:
        if isinstance(cat, dict) and cat.get("keypoints"):
            names = cat["keypoints"]
            break
    if names is None:
        first = next((a for a in data["annotations"] if "keypoints" in a), None)
        if first is None or len(first["keypoints"]) != 3 * len(COCO_KEYPOINT_NAMES):
            raise _fail(path, "categories", "a person category with 'keypoints' names")
        names = COCO_KEYPOINT_NAMES
    try:
        skeleton, file_index = _layout(names)
    except ValueError as err:
        raise ValueError(f"{path}: categories: {err}") from None
    K = len(names)
    images: dict[int, dict[str, Any]] = {}
    for n, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise _fail(path, f"images[{n}]", "an object with 'id' and 'file_name'")
        images[int(im["id"])] = im
    people: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
    crowd: dict[int, list[np.ndarray]] = {i: [] for i in images}
    for n, ann in enumerate(data["annotations"]):
        where = f"annotations[{n}]"
        for key in ("image_id", "keypoints", "bbox"):
            if not isinstance(ann, dict) or key not in ann:
                raise _fail(path, where, f"a field '{key}'")
        image_id = int(ann["image_id"])
        if image_id not in images:
            raise _fail(path, f"{where}.image_id", f"an id listed in 'images', got {image_id}")
        x, y, w, h = _array(ann["bbox"], path, f"{where}.bbox", (4,))
        box = np.array([x, y, x + w, y + h], np.float32)
        if ann.get("iscrowd", 0):
            crowd[image_id].append(box)
            continue
        kp = _array(ann["keypoints"], path, f"{where}.keypoints", (3 * K,)).reshape(K, 3)
        kp = kp[file_index]  # skeleton order
        flags = np.clip(np.rint(kp[:, 2]), 0, 2).astype(np.uint8)
        people[image_id].append(
            {
                "kp": np.where(flags[:, None] > 0, kp[:, :2], np.nan),
                "flags": flags,
                "box": box,
                "id": int(ann.get("id", -1)),
                "area": float(ann.get("area", w * h)),
                "num": int(ann.get("num_keypoints", int((flags > 0).sum()))),
            }
        )
    records = []
    J = skeleton.num_joints
    for image_id, im in images.items():
        ps = people[image_id]
        if not ps and not include_empty:
            continue
        flags = np.stack([p["flags"] for p in ps]) if ps else np.zeros((0, J), np.uint8)
        meta: dict[str, Any] = {
            "image_id": image_id,
            "file_name": str(im["file_name"]),
            "width": int(im.get("width", -1)),
            "height": int(im.get("height", -1)),
            "annotation_ids": np.asarray([p["id"] for p in ps], np.int64),
            "area": np.asarray([p["area"] for p in ps], np.float32),
            "num_keypoints": np.asarray([p["num"] for p in ps], np.int64),
            "keypoint_flags": flags,
            "crowd_boxes": np.stack(crowd[image_id])
            if crowd[image_id]
            else np.zeros((0, 4), np.float32),
        }
        if "crowdIndex" in im:
            meta["crowd_index"] = float(im["crowdIndex"])
        records.append(
            ImageRecord(
                image_path=image_dir / str(im["file_name"]),
                keypoints2d=np.stack([p["kp"] for p in ps]).astype(np.float32)
                if ps
                else np.zeros((0, J, 2), np.float32),
                visibility=flags == 2,
                bbox=np.stack([p["box"] for p in ps]) if ps else np.zeros((0, 4), np.float32),
                meta=meta,
            )
        )
    return records, skeleton.name


class COCODataset(AnnotatedImages):
    """COCO (or CrowdPose) images with all their people (`Sample`s; ``coco17`` or ``lsp14``).

    Args:
        annotations: the person keypoints json.
        image_dir: folder of the images (default: the json's folder).
        include_empty: keep images without people.
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files.

    Raises:
        ValueError: see `read_coco_keypoints`; a missing image raises when its sample is read.
    """

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        image_dir: str | os.PathLike[str] | None = None,
        include_empty: bool = False,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        records, skeleton = read_coco_keypoints(annotations, image_dir, include_empty)
        super().__init__(records, skeleton, transform, load_images)

    def image_ids(self) -> np.ndarray:
        """The COCO image id of each sample, (N,) int64."""
        return np.asarray([r.meta["image_id"] for r in self.records], np.int64)
