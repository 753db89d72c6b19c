"""COCO-format person keypoints json (COCO, CrowdPose, any layout by its joint names) -> `Sample`s.

A COCO ``person_keypoints_*.json`` holds ``images`` (``id``, ``file_name``, ``width``,
``height``), ``annotations`` (``image_id``, ``id``, ``keypoints`` = [x, y, v] * K, ``bbox`` =
[x, y, width, height], ``num_keypoints``, ``iscrowd``, ``area``) and ``categories`` (the person
category with its ``keypoints`` names). The reader makes one record per image with its P
non-crowd people, in the order of the annotation list.

Layouts: the category's keypoint names pick the skeleton among the registered layouts
(`posekit.skeletons.list_skeletons`, a user's `register_skeleton` ones included): the file's
names, normalized (``left_shoulder`` / ``LShoulder`` -> ``l_shoulder``), must name every joint
of one layout, each once, in any order. A name the layout lacks may stand for another joint
through `JOINT_NAME_ALIASES` (CrowdPose's ``head`` -> ``head_top``, MMPose's Human3.6M
``root``/``neck_base``/``left_foot`` -> ``pelvis``/``neck_nose``/``l_ankle``, FreiHAND's
``forefinger1`` -> ``index_mcp``, ...). So COCO's 17 read as ``coco17``, CrowdPose's 14 as
``lsp14`` (the same 14 points), MMPose's Human3.6M json as ``h36m17``, MMPose's FreiHAND json as
``hand21``. Names that fit no layout (PoseTrack's 17 with ``head_bottom`` and ``head_top`` beside
the nose and ears, MPII-TRB's 40) are refused with the closest layout and the names it lacks;
registering a layout with those joints makes the file readable. Exact matches win over aliases;
when several layouts fit (smpl24 and anny24 share their names) the first of
`PREFERRED_LAYOUTS`, else the first by name, is taken, or the ``skeleton`` argument picks one.
A file without names is read as coco17 when it has 17 keypoints.

Conventions:

- COCO flags v: 0 not labelled, 1 labelled but not visible, 2 visible (other values are
  errors). ``keypoints2d`` is NaN where v = 0, ``visibility`` is v = 2; the raw flags (skeleton
  order) stay in ``meta["keypoint_flags"]`` (P, J) uint8, which is what
  `posekit.metrics.coco_keypoint_ap` takes as ``gt_visibility`` (with ``meta["area"]`` as
  ``gt_areas`` and ``meta["image_id"]`` repeated P times as ``gt_image_ids``).
- Coordinates are the file's numbers, unchanged, so predictions map back to a results json
  without a shift. (COCO's continuous frame puts the image's top-left corner at (0, 0),
  posekit's at (-0.5, -0.5); the half-pixel difference is ignored, as HRNet and MMPose do.)
  Labelled keypoints and boxes must be finite and within ``MAX_COORDINATE_PX`` of the origin.
- ``bbox`` (P, 4) is (x, y, x + width, y + height).
- Crowd annotations (``iscrowd = 1``) are not people: their boxes go to
  ``meta["crowd_boxes"]`` (C, 4) (regions a bottom-up loss may ignore).
- ``meta``: ``image_id``, ``file_name``, ``width``, ``height``, ``annotation_ids`` (P,)
  int64, ``area`` (P,), ``num_keypoints`` (P,), ``keypoint_flags``, ``crowd_boxes``, and
  ``crowd_index`` (a float) when the image entry has CrowdPose's ``crowdIndex``.
- ``area`` is the annotation's ``area`` (COCO: the segmentation area, the OKS scale of its
  evaluation). An annotation without one gets its box's width x height, except in a CrowdPose
  file (the category names `CROWDPOSE_KEYPOINT_NAMES`), where it gets
  ``CROWDPOSE_AREA_FACTOR`` (0.53) x width x height: CrowdPose's annotations carry no area and
  its evaluation (crowdposetools, xtcocotools with ``use_area=False``) takes that as the scale.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.datasets._images import (
    AnnotatedImages,
    ImageRecord,
    check_coordinates,
    field_error,
    finite_number,
    load_json,
    number_array,
    whole_number,
)
from posekit.data.sample import Sample
from posekit.skeletons import Skeleton, get_skeleton, list_skeletons

__all__ = [
    "COCO_KEYPOINT_NAMES",
    "CROWDPOSE_AREA_FACTOR",
    "CROWDPOSE_KEYPOINT_NAMES",
    "CROWDPOSE_SIGMAS_LSP14",
    "JOINT_NAME_ALIASES",
    "PREFERRED_LAYOUTS",
    "COCODataset",
    "keypoint_layout",
    "normalize_joint_name",
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

CROWDPOSE_AREA_FACTOR = 0.53
"""CrowdPose's OKS scale of a person without an area: this factor x box width x height."""

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

PREFERRED_LAYOUTS: tuple[str, ...] = ("coco17", "lsp14", "mpii16", "h36m17", "hand21", "smpl24")
"""Tried first, in this order, when several registered layouts fit a file's names."""


def _hand_aliases() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    joints = {
        "thumb": ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"),
        **{f: (f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip") for f in
           ("index", "middle", "ring", "pinky")},
    }  # fmt: skip
    spellings = {
        "thumb": ("thumb",),
        "index": ("forefinger", "index_finger", "index"),
        "middle": ("middle_finger", "middle"),
        "ring": ("ring_finger", "ring"),
        "pinky": ("pinky_finger", "pinky", "little_finger"),
    }
    for finger, names in spellings.items():
        for spelled in names:
            for k, joint in enumerate(joints[finger], start=1):
                out[f"{spelled}{k}"] = (joint,)
    return out


JOINT_NAME_ALIASES: dict[str, tuple[str, ...]] = {
    "head": ("head_top",),  # CrowdPose, MMPose's Human3.6M ("Head"): the top of the head
    "top_head": ("head_top",),
    "head_bottom": ("neck",),  # PoseTrack: the bottom of the head, MPII's upper neck
    "upper_neck": ("neck",),
    "root": ("pelvis",),  # MMPose's Human3.6M
    "root_pelvis": ("pelvis",),
    "hip": ("pelvis",),  # Human3.6M's "Hip"
    "neck_base": ("neck_nose",),  # MMPose's name of Human3.6M's "Neck/Nose"
    "l_foot": ("l_ankle",),  # Human3.6M's "LFoot" / "RFoot" are the ankles
    "r_foot": ("r_ankle",),
    **_hand_aliases(),  # FreiHAND / MMPose hands: thumb1-4, forefinger1-4, ... base to tip
}
"""Normalized file name -> joint names it may stand for, tried in order when a layout has no
joint of the file's own name."""


def normalize_joint_name(name: str) -> str:
    """A dataset's joint name in posekit's spelling: ``"Left Shoulder"``, ``"left_shoulder"``,
    ``"LShoulder"`` -> ``"l_shoulder"``; ``"Neck/Nose"`` -> ``"neck_nose"``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip())
    name = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    for long, short in (("left_", "l_"), ("right_", "r_")):
        if name.startswith(long):
            name = short + name[len(long) :]
    return name


def _match(names: Sequence[str], skel: Skeleton) -> tuple[list[int], list[str]]:
    """Each skeleton joint's file index (-1: not named) and the file names it has no joint for."""
    joints = set(skel.joints)
    taken: dict[str, int] = {}
    unknown = []
    for i, raw in enumerate(names):
        n = normalize_joint_name(raw)
        joint = next(
            (c for c in (n, *JOINT_NAME_ALIASES.get(n, ())) if c in joints and c not in taken),
            None,
        )
        if joint is None:
            unknown.append(raw)
        else:
            taken[joint] = i
    return [taken.get(j, -1) for j in skel.joints], unknown


def keypoint_layout(
    names: Sequence[str], skeleton: str | None = None
) -> tuple[Skeleton, list[int]]:
    """The registered layout whose joints are exactly ``names`` (see the module docstring).

    Args:
        names: a file's keypoint names, file order.
        skeleton: the layout to map onto; None: the first registered layout that fits.

    Returns:
        ``(layout, file_index)``: ``file_index[j]`` is the file position of layout joint j.

    Raises:
        ValueError: no layout fits; the message names the closest layout, the file names it
            lacks (or its joints the file lacks) and the registered layouts.
    """
    registered = list_skeletons()
    if skeleton is not None:
        if skeleton not in registered:
            raise ValueError(
                f"skeleton {skeleton!r} is not registered; registered: {', '.join(registered)}"
            )
        candidates = [skeleton]
    else:
        candidates = [n for n in PREFERRED_LAYOUTS if n in registered]
        candidates += [n for n in registered if n not in candidates]
    best: tuple[int, Skeleton, list[int], list[str]] | None = None
    for name in candidates:
        skel = get_skeleton(name)
        index, unknown = _match(names, skel)
        if not unknown and len(names) == skel.num_joints:
            return skel, index
        score = len(names) - len(unknown)
        if best is None or score > best[0]:
            best = (score, skel, index, unknown)
    assert best is not None
    _, skel, index, unknown = best
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:6])
        more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
        what = f"has no joint for {shown}{more}"
    else:
        missing = [j for j, i in zip(skel.joints, index, strict=True) if i < 0]
        what = f"also has {', '.join(missing)}, which the file does not name"
    lead = "do not fit" if skeleton is not None else "fit no registered layout: the closest,"
    raise ValueError(
        f"the {len(names)} keypoint names {lead} {skel.name} ({skel.num_joints} joints), "
        f"which {what}; registered layouts: {', '.join(registered)}; "
        "register a layout with these joints (posekit.skeletons.register_skeleton) to read it"
    )


CROWDPOSE_SIGMAS_LSP14: tuple[float, ...] = tuple(
    _CROWDPOSE_SIGMAS[i] for i in keypoint_layout(CROWDPOSE_KEYPOINT_NAMES, "lsp14")[1]
)
"""CrowdPose's OKS sigmas in lsp14 order (pass as ``sigmas`` to `coco_keypoint_ap`)."""


def _category_names(data: dict[str, Any], path: Path) -> tuple[Sequence[str] | None, str]:
    """The first category's keypoint names (None when no category names any) and its label."""
    cats = data.get("categories")
    if cats is None:
        return None, "categories"
    if not isinstance(cats, list):
        raise field_error(path, "categories", f"a list, got {type(cats).__name__}")
    for i, cat in enumerate(cats):
        where = f"categories[{i}]"
        if not isinstance(cat, dict):
            raise field_error(path, where, f"an object, got {type(cat).__name__}")
        names = cat.get("keypoints")
        if not names:
            continue
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise field_error(path, f"{where}.keypoints", "a list of keypoint names (strings)")
        label = cat.get("name")
        return names, f"{where} ({label!r:.40})" if isinstance(label, str) else where
    return None, "categories"


def _person(
    ann: dict[str, Any], path: Path, where: str, K: int, file_index: list[int]
) -> dict[str, Any]:
    """One non-crowd annotation: keypoints in skeleton order, flags, id, area, count."""
    kp = number_array(ann["keypoints"], path, f"{where}.keypoints", (3 * K,)).reshape(K, 3)
    flags = kp[:, 2]
    bad = ~np.isin(flags, (0, 1, 2))
    if bad.any():
        raise field_error(
            path,
            f"{where}.keypoints",
            f"visibility flags v of 0, 1 or 2, got {flags[bad][0]} for keypoint "
            f"{int(np.argmax(bad))}",
        )
    check_coordinates(kp[:, :2], flags > 0, path, f"{where}.keypoints")
    layout_kp = kp[file_index]  # skeleton order
    layout_flags = layout_kp[:, 2].astype(np.uint8)
    return {
        "kp": np.where(layout_flags[:, None] > 0, layout_kp[:, :2], np.nan),
        "flags": layout_flags,
        "id": whole_number(ann.get("id", -1), path, f"{where}.id"),
        "num": whole_number(
            ann.get("num_keypoints", int((flags > 0).sum())), path, f"{where}.num_keypoints", 0
        ),
    }


def read_coco_keypoints(
    path: str | os.PathLike[str],
    image_dir: str | os.PathLike[str] | None = None,
    include_empty: bool = False,
    skeleton: str | None = None,
) -> tuple[list[ImageRecord], str]:
    """Parse a COCO-format person keypoints json (COCO, CrowdPose, ...) into records.

    Args:
        path: the annotation json.
        image_dir: folder of the images (default: the json's folder).
        include_empty: keep images without a non-crowd person (P = 0).
        skeleton: the registered layout to read the keypoints into (default: the one the
            category's keypoint names fit, module docstring).

    Returns:
        ``(records, skeleton_name)``; records in the order of ``images``.

    Raises:
        ValueError: unreadable json, keypoint names that fit no registered layout, or a
            missing / malformed field (the message names the file, the annotation and the
            field).
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    data = load_json(path, "COCO")
    if not isinstance(data, dict):
        raise field_error(path, "top level", f"an object, got {type(data).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise field_error(path, key, f"a list '{key}'")
    names, where_names = _category_names(data, path)
    if names is None:
        first = next((a for a in data["annotations"] if isinstance(a, dict) and "keypoints" in a),
                     None)  # fmt: skip
        kps = None if first is None else first["keypoints"]
        if not isinstance(kps, list) or len(kps) != 3 * len(COCO_KEYPOINT_NAMES):
            raise field_error(path, "categories", "a person category with 'keypoints' names")
        names = COCO_KEYPOINT_NAMES
    try:
        layout, file_index = keypoint_layout(names, skeleton)
    except ValueError as err:
        raise ValueError(f"{path}: {where_names}.keypoints: {err}") from None
    K, J = len(names), layout.num_joints
    crowdpose = [normalize_joint_name(n) for n in names] == [
        normalize_joint_name(n) for n in CROWDPOSE_KEYPOINT_NAMES
    ]
    images: dict[int, dict[str, Any]] = {}
    for n, im in enumerate(data["images"]):
        where = f"images[{n}]"
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise field_error(path, where, "an object with 'id' and 'file_name'")
        image_id = whole_number(im["id"], path, f"{where}.id")
        if image_id in images:
            raise field_error(path, f"{where}.id", f"an id not used before, got {image_id} again")
        if not isinstance(im["file_name"], str) or not im["file_name"]:
            raise field_error(path, f"{where}.file_name", f"a file name, got {im['file_name']!r}")
        size = {
            k: whole_number(im.get(k, -1), path, f"{where}.{k}", -1) for k in ("width", "height")
        }
        crowd_index = None
        if "crowdIndex" in im:
            crowd_index = finite_number(im["crowdIndex"], path, f"{where}.crowdIndex")
        images[image_id] = {"file_name": im["file_name"], "crowd_index": crowd_index, **size}
    people: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
    crowd: dict[int, list[np.ndarray]] = {i: [] for i in images}
    for n, ann in enumerate(data["annotations"]):
        where = f"annotations[{n}]"
        if not isinstance(ann, dict):
            raise field_error(path, where, f"an object, got {type(ann).__name__}")
        for key in ("image_id", "keypoints", "bbox"):
            if key not in ann:
                raise field_error(path, where, f"a field '{key}'")
        image_id = whole_number(ann["image_id"], path, f"{where}.image_id")
        if image_id not in images:
            raise field_error(
                path, f"{where}.image_id", f"an id listed in 'images', got {image_id}"
            )
        bbox = number_array(ann["bbox"], path, f"{where}.bbox", (4,))
        check_coordinates(bbox.reshape(2, 2), np.ones(2, bool), path, f"{where}.bbox")
        x, y, w, h = bbox
        if w < 0 or h < 0:
            raise field_error(path, f"{where}.bbox", f"width and height >= 0, got {w:g}, {h:g}")
        box = np.array([x, y, x + w, y + h], np.float32)
        iscrowd = ann.get("iscrowd", 0)
        iscrowd = int(iscrowd) if isinstance(iscrowd, bool) else iscrowd
        if whole_number(iscrowd, path, f"{where}.iscrowd", 0, 1):
            crowd[image_id].append(box)
            continue
        person = _person(ann, path, where, K, file_index)
        person["box"] = box
        box_area = w * h * (CROWDPOSE_AREA_FACTOR if crowdpose else 1.0)
        person["area"] = finite_number(ann.get("area", box_area), path, f"{where}.area", 0)
        people[image_id].append(person)
    records = []
    for image_id, im in images.items():
        ps = people[image_id]
        if not ps and not include_empty:
            continue
        flags = np.stack([p["flags"] for p in ps]) if ps else np.zeros((0, J), np.uint8)
        meta: dict[str, Any] = {
            "image_id": image_id,
            "file_name": im["file_name"],
            "width": im["width"],
            "height": im["height"],
            "annotation_ids": np.asarray([p["id"] for p in ps], np.int64),
            "area": np.asarray([p["area"] for p in ps], np.float32),
            "num_keypoints": np.asarray([p["num"] for p in ps], np.int64),
            "keypoint_flags": flags,
            "crowd_boxes": np.stack(crowd[image_id])
            if crowd[image_id]
            else np.zeros((0, 4), np.float32),
        }
        if im["crowd_index"] is not None:
            meta["crowd_index"] = im["crowd_index"]
        records.append(
            ImageRecord(
                image_path=image_dir / im["file_name"],
                keypoints2d=np.stack([p["kp"] for p in ps]).astype(np.float32)
                if ps
                else np.zeros((0, J, 2), np.float32),
                visibility=flags == 2,
                bbox=np.stack([p["box"] for p in ps]) if ps else np.zeros((0, 4), np.float32),
                meta=meta,
            )
        )
    return records, layout.name


class COCODataset(AnnotatedImages):
    """Images of a COCO-format json with all their people (`Sample`s in the file's layout).

    Args:
        annotations: the person keypoints json.
        image_dir: folder of the images (default: the json's folder).
        include_empty: keep images without people.
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files.
        skeleton: the registered layout to read into (default: the one the names fit).

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
        skeleton: str | None = None,
    ) -> None:
        records, layout = read_coco_keypoints(annotations, image_dir, include_empty, skeleton)
        super().__init__(records, layout, transform, load_images)

    def image_ids(self) -> np.ndarray:
        """The COCO image id of each sample, (N,) int64."""
        return np.asarray([r.meta["image_id"] for r in self.records], np.int64)
