"""MPII Human Pose: the official ``mpii_human_pose_v1_u12_1.mat`` and MMPose's converted json.

Official .mat (read with ``scipy.io.loadmat``): one struct ``RELEASE`` with

- ``annolist(i)``: per image ``image.name`` and ``annorect(r)``, per person: the head box
  ``x1, y1, x2, y2``, ``annopoints.point(k)`` with ``id`` (0-15, MPII's joint ids, the order
  of `posekit.skeletons.mpii16`'s ``native_joints``), ``x``, ``y``, ``is_visible``; the rough
  person position ``objpos.x/.y`` and ``scale`` (person height / 200 px);
- ``img_train(i)``: 1 for the training images, 0 for the test images (whose people have no
  keypoints, only ``objpos`` and ``scale``);
- ``single_person{i}``: 1-based indices of the separated single people of image i;
- ``act(i)``: ``cat_name``, ``act_name``, ``act_id``.

MMPose's json (``test_mpii.json`` in its test data, the train/val files of HRNet and MMPose):
a list with one entry per person, ``image``, ``joints`` (16 x 2, MPII joint-id order),
``joints_vis`` (16, 1 = labelled), ``center`` (x, y) and ``scale`` (as ``objpos``, ``scale``);
it has no head boxes (MMPose takes them from a separate ``mpii_gt_val.mat`` for PCKh).

Conventions (what the readers produce, in `Sample`s with skeleton ``mpii16``):

- MPII coordinates are MATLAB's, 1-based; posekit pixel centres are 0-based integers, so
  every x and y (joints, head boxes, objpos, json ``center``) is shifted by -1, as HRNet and
  MMPose do when loading MPII.
- A joint absent from ``annopoints`` (or with ``joints_vis`` 0) is not labelled: NaN
  keypoint, visibility False. ``visibility`` is ``is_visible`` of labelled joints; MPII leaves
  it empty for some joints and the readers count those as visible. The json has no occlusion
  flag: every labelled joint is visible.
- ``bbox``: MPII has no person boxes; the box is the square of side ``200 * scale`` centred on
  ``objpos`` (the region MPII's own "scale" describes), or the tight box of the keypoints
  when ``objpos``/``scale`` are missing. (HRNet also moves the centre 15 * scale px down and
  enlarges by 1.25; `posekit.data.pose2d.TopDownCrops` has its own ``padding``.)
- ``meta["head_box"]`` (P, 4) (x0, y0, x1, y1) pixels, NaN when absent; ``meta["head_size_px"]``
  (P,) = 0.6 x the head box diagonal, the PCKh normalization of MPII's evaluation code
  (``SC_BIAS = 0.6``); ``meta["rect_index"]`` (P,) the 0-based ``annorect`` index of each person
  and ``meta["annolist_index"]`` the 0-based image index, to map predictions back to the file.

- Checks: labelled joints, head boxes and ``objpos`` / ``center`` must be finite and within
  ``MAX_COORDINATE_PX`` of the origin (a non-finite .mat ``objpos`` or ``scale`` counts as
  absent), ``scale`` within 5000, joint ids whole numbers in 0..15; anything else raises a
  ValueError naming the file and the field (``RELEASE.annolist[3].annorect[0].scale``).

Only people with keypoints are kept by default (the test images then have none); MPII's
"validation" split used by HRNet and MMPose is a subset of the training images defined by
their json files, not by the .mat.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.data.datasets._images import (
    INT64_MAX,
    AnnotatedImages,
    ImageRecord,
    check_coordinates,
    field_error,
    finite_number,
    keypoint_boxes,
    load_json,
    load_mat,
    number_array,
    whole_number,
)
from posekit.data.keypoints_json import MAX_COORDINATE_PX
from posekit.data.sample import Sample
from posekit.skeletons import MPII16

__all__ = ["MPII_HEAD_SIZE_FACTOR", "MPIIDataset", "read_mpii_json", "read_mpii_mat"]

MPII_HEAD_SIZE_FACTOR = 0.6
"""PCKh head size = 0.6 x head-box diagonal (``SC_BIAS`` of MPII's evaluation code)."""

J = 16
_MAX_SCALE = MAX_COORDINATE_PX / 200  # scale = person height / 200 px

_fail = field_error


def _items(x: Any) -> list[Any]:
    """A squeezed MATLAB struct array / cell as a list (empty arrays: [])."""
    if isinstance(x, np.ndarray):
        return list(x.ravel()) if x.dtype == object else ([] if x.size == 0 else [x])
    return [x]


def _get(obj: Any, name: str, path: Path, where: str, expected: str) -> Any:
    if not hasattr(obj, name):
        raise _fail(path, f"{where}.{name}", f"a field '{name}' ({expected})")
    return getattr(obj, name)


def _number(x: Any) -> float | None:
    """A MATLAB scalar (number, numeric string or empty) as a float or None."""
    if isinstance(x, np.ndarray):
        if x.size != 1:
            return None
        x = x.item()
    if isinstance(x, str):
        x = x.strip()
        if not x:
            return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _text(x: Any) -> str:
    """A MATLAB char array as a str ('' for empty values)."""
    return x if isinstance(x, str) else ""


def _scalar(x: Any, path: Path, where: str) -> float:
    v = _number(x)
    if v is None:
        raise _fail(path, where, f"a number, got {x!r}")
    return v


def _person_box(objpos: np.ndarray, scale: float, keypoints: np.ndarray) -> np.ndarray:
    if np.isfinite(objpos).all() and np.isfinite(scale) and scale > 0:
        half = 100.0 * scale
        return np.array(
            [objpos[0] - half, objpos[1] - half, objpos[0] + half, objpos[1] + half], np.float32
        )
    return keypoint_boxes(keypoints[None])[0]


def _head_size(head_box: np.ndarray) -> np.ndarray:
    """Shapes: head_box (P, 4) -> (P,), NaN where the box is NaN."""
    diag = np.hypot(head_box[:, 2] - head_box[:, 0], head_box[:, 3] - head_box[:, 1])
    return (MPII_HEAD_SIZE_FACTOR * diag).astype(np.float32)


def _record(
    image_path: Path,
    keypoints: list[np.ndarray],
    visible: list[np.ndarray],
    objpos: list[np.ndarray],
    scale: list[float],
    head: list[np.ndarray],
    meta: dict[str, Any],
) -> ImageRecord:
    P = len(keypoints)
    kp = np.stack(keypoints).astype(np.float32) if P else np.zeros((0, J, 2), np.float32)
    vis = np.stack(visible) if P else np.zeros((0, J), bool)
    head_box = np.stack(head).astype(np.float32) if P else np.zeros((0, 4), np.float32)
    box = [_person_box(o, s, k) for o, s, k in zip(objpos, scale, kp)]
    return ImageRecord(
        image_path=image_path,
        keypoints2d=MPII16.from_native(kp),
        visibility=MPII16.from_native(vis, axis=-1),
        bbox=np.stack(box).astype(np.float32) if P else np.zeros((0, 4), np.float32),
        meta={
            **meta,
            "head_box": head_box,
            "head_size_px": _head_size(head_box),
            "objpos": np.stack(objpos).astype(np.float32) if P else np.zeros((0, 2), np.float32),
            "scale": np.asarray(scale, np.float32),
        },
    )


def _load_release(path: Path) -> Any:
    mat = load_mat(path, "MPII .mat file", struct_as_record=False, squeeze_me=True)
    if "RELEASE" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise _fail(path, "variables", f"a struct 'RELEASE', got {found}")
    return mat["RELEASE"]


def read_mpii_mat(
    path: str | os.PathLike[str],
    image_dir: str | os.PathLike[str] | None = None,
    split: Literal["all", "train", "test"] = "all",
    require_keypoints: bool = True,
) -> list[ImageRecord]:
    """Parse the official MPII annotation .mat into one `ImageRecord` per image.

    Args:
        path: ``mpii_human_pose_v1_u12_1.mat`` (or a file with the same ``RELEASE`` struct).
        image_dir: folder of the images (default: ``images/`` beside the file).
        split: ``"train"`` (``img_train == 1``), ``"test"`` or ``"all"``.
        require_keypoints: keep only people with ``annopoints`` and images with such people.

    Returns:
        Records in ``annolist`` order, keypoints in mpii16 order (module docstring for the
        conventions and the meta fields).

    Raises:
        ValueError: unreadable file, no ``RELEASE``, or a missing or malformed field; the
            message names the file, the field and what was expected.
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent / "images"
    release = _load_release(path)
    annolist = _items(_get(release, "annolist", path, "RELEASE", "1 x N struct array"))
    img_train = np.atleast_1d(
        np.asarray(_get(release, "img_train", path, "RELEASE", "1 x N 0/1 flags"))
    )
    if img_train.shape != (len(annolist),) or img_train.dtype.kind not in "biuf":
        raise _fail(
            path,
            "RELEASE.img_train",
            f"({len(annolist)},) 0/1 flags, got {img_train.dtype} {img_train.shape}",
        )
    singles = _items(getattr(release, "single_person", np.empty(0, object)))
    acts = _items(getattr(release, "act", np.empty(0, object)))
    records = []
    for i, entry in enumerate(annolist):
        is_train = bool(img_train[i])
        if (split == "train" and not is_train) or (split == "test" and is_train):
            continue
        where = f"RELEASE.annolist[{i}]"
        image = _get(entry, "image", path, where, "a struct with 'name'")
        name = _get(image, "name", path, f"{where}.image", "the image file name")
        if not isinstance(name, str):
            raise _fail(path, f"{where}.image.name", f"a string, got {name!r}")
        rects = _items(getattr(entry, "annorect", np.empty(0)))
        kps, viss, objs, scales, heads, rect_idx = [], [], [], [], [], []
        for r, rect in enumerate(rects):
            rw = f"{where}.annorect[{r}]"
            points = _items(getattr(getattr(rect, "annopoints", None), "point", np.empty(0)))
            if require_keypoints and not points:
                continue
            kp = np.full((J, 2), np.nan)
            vis = np.zeros(J, bool)
            for k, pt in enumerate(points):
                pw = f"{rw}.annopoints.point[{k}]"
                jid = _scalar(_get(pt, "id", path, pw, "joint id 0-15"), path, f"{pw}.id")
                if not (jid.is_integer() and 0 <= jid < J):
                    raise _fail(path, f"{pw}.id", f"a joint id in 0..15, got {jid}")
                jid = int(jid)
                kp[jid] = (
                    _scalar(_get(pt, "x", path, pw, "x pixel"), path, f"{pw}.x") - 1,
                    _scalar(_get(pt, "y", path, pw, "y pixel"), path, f"{pw}.y") - 1,
                )
                check_coordinates(kp[jid], np.array(True), path, f"{pw}.x/y")
                flag = _number(getattr(pt, "is_visible", None))
                vis[jid] = flag is None or flag > 0
            head = np.full(4, np.nan)
            if all(hasattr(rect, f) for f in ("x1", "y1", "x2", "y2")):
                vals = [_number(getattr(rect, f)) for f in ("x1", "y1", "x2", "y2")]
                if all(v is not None for v in vals):
                    with np.errstate(invalid="ignore"):  # NaN: refused below
                        head = np.asarray(vals, np.float64) - 1
                    check_coordinates(head.reshape(2, 2), np.ones(2, bool), path, f"{rw}.x1-y2")
            objpos = np.full(2, np.nan)
            op = getattr(rect, "objpos", None)
            if op is not None and not isinstance(op, np.ndarray):
                ox, oy = _number(getattr(op, "x", None)), _number(getattr(op, "y", None))
                if ox is not None and oy is not None and np.isfinite([ox, oy]).all():
                    objpos = np.array([ox - 1, oy - 1])
                    check_coordinates(objpos, np.array(True), path, f"{rw}.objpos")
            sc = _number(getattr(rect, "scale", None))
            if sc is not None and abs(sc) > _MAX_SCALE:  # NaN: no scale, the keypoints' box
                raise _fail(path, f"{rw}.scale", f"a person scale within {_MAX_SCALE:g}, got {sc}")
            kps.append(kp)
            viss.append(vis)
            objs.append(objpos)
            scales.append(np.nan if sc is None else sc)
            heads.append(head)
            rect_idx.append(r)
        if require_keypoints and not kps:
            continue
        meta: dict[str, Any] = {
            "image_name": name,
            "annolist_index": i,
            "rect_index": np.asarray(rect_idx, np.int64),
            "is_train": is_train,
        }
        if i < len(singles):
            meta["single_person"] = [
                whole_number(v, path, f"RELEASE.single_person[{i}]", 1, INT64_MAX) - 1
                for v in np.atleast_1d(singles[i]).ravel()
            ]
        if i < len(acts):
            act = acts[i]
            act_id = _number(getattr(act, "act_id", None))
            meta["activity"] = {
                "category": _text(getattr(act, "cat_name", "")),
                "name": _text(getattr(act, "act_name", "")),
                "id": -1
                if act_id is None
                else whole_number(act_id, path, f"RELEASE.act[{i}].act_id"),
            }
        records.append(_record(image_dir / name, kps, viss, objs, scales, heads, meta))
    return records


def read_mpii_json(
    path: str | os.PathLike[str], image_dir: str | os.PathLike[str] | None = None
) -> list[ImageRecord]:
    """Parse MMPose's / HRNet's MPII json (one entry per person) into one record per image.

    People of the same image are grouped, in file order; images keep their first
    appearance's order. ``meta["head_box"]`` and ``meta["head_size_px"]`` are NaN (the json
    has no head boxes); ``meta["entry_index"]`` (P,) gives each person's index in the list.

    Raises:
        ValueError: unreadable json or a missing / malformed field (the message names the
            file, the entry and the field).
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    entries = load_json(path, "MPII")
    if not isinstance(entries, list):
        raise _fail(path, "top level", f"a list of person entries, got {type(entries).__name__}")
    groups: dict[str, dict[str, list[Any]]] = {}
    for n, e in enumerate(entries):
        where = f"entry {n}"
        for key in ("image", "joints", "joints_vis", "center", "scale"):
            if not isinstance(e, dict) or key not in e:
                raise _fail(path, f"{where}", f"a field '{key}'")
        if not isinstance(e["image"], str) or not e["image"]:
            raise _fail(path, f"{where}.image", f"an image file name, got {e['image']!r:.60}")
        joints = number_array(e["joints"], path, f"{where}.joints", (J, 2))
        flags = number_array(e["joints_vis"], path, f"{where}.joints_vis", (J,))
        if not np.isfinite(flags).all():
            raise _fail(path, f"{where}.joints_vis", f"finite 0/1 flags, got {flags.tolist()}")
        labelled = flags > 0
        check_coordinates(joints, labelled, path, f"{where}.joints")
        center = number_array(e["center"], path, f"{where}.center", (2,))
        check_coordinates(center, np.array(True), path, f"{where}.center")
        scale = finite_number(e["scale"], path, f"{where}.scale", 0, _MAX_SCALE)
        kp = np.where(labelled[:, None], joints - 1, np.nan)
        g = groups.setdefault(e["image"], {k: [] for k in ("kp", "vis", "obj", "s", "n")})
        g["kp"].append(kp)
        g["vis"].append(labelled)
        g["obj"].append(center - 1)
        g["s"].append(scale)
        g["n"].append(n)
    records = []
    for name, g in groups.items():
        heads = [np.full(4, np.nan)] * len(g["kp"])
        meta = {"image_name": name, "entry_index": np.asarray(g["n"], np.int64)}
        records.append(_record(image_dir / name, g["kp"], g["vis"], g["obj"], g["s"], heads, meta))
    return records


class MPIIDataset(AnnotatedImages):
    """MPII images with their people (`Sample`s, skeleton ``mpii16``).

    Args:
        annotations: the official ``.mat`` or an MMPose-style ``.json`` (by suffix).
        image_dir: folder of the images (default: ``images/`` beside a .mat, the json's
            folder for a json).
        split: for the .mat: ``"train"``, ``"test"`` or ``"all"`` (a json is one split).
        transform: applied to each `Sample` by ``__getitem__``.
        load_images: read the image files.

    Raises:
        ValueError: see `read_mpii_mat` / `read_mpii_json`; a missing image raises when its
            sample is read.
    """

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        image_dir: str | os.PathLike[str] | None = None,
        split: Literal["all", "train", "test"] = "all",
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        path = Path(annotations)
        if split not in ("all", "train", "test"):
            raise ValueError(f"split: expected 'all', 'train' or 'test', got {split!r}")
        if path.suffix.lower() == ".json":
            records = read_mpii_json(path, image_dir)
        elif path.suffix.lower() == ".mat":
            records = read_mpii_mat(path, image_dir, split)
        else:
            raise ValueError(f"{path}: expected an MPII .mat or .json annotation file")
        super().__init__(records, "mpii16", transform, load_images)
