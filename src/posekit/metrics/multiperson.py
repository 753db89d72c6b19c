"""Multi-person 2D pose evaluation: COCO OKS AP of people found in whole images.

Shared by the bottom-up task (`posekit.tasks.bottomup`: associative embedding, every person of
an image from one network pass) and top-down inference over person boxes
(`posekit.tasks.pose2d.multiperson`: a ``pose2d`` checkpoint run on one crop per person), so
that both are scored against the same ground truth with the same code.

Ground truth (`scene_ground_truth`), per image and person, COCO-style:

- keypoints in image pixels, in the evaluated skeleton (joints matched by name);
- flags: 2 labelled and visible, 1 labelled but occluded, 0 not labelled. A joint is labelled
  when its position is known and inside the image (COCO annotates no joint outside the image);
- area (the OKS scale s^2): the dataset's own area when the sample carries one
  (``meta["area"]`` of the COCO-format reader: COCO's segmentation area, CrowdPose's
  0.53 x box area, as their evaluations use), else the person's pixel count in the
  ``"instance"`` mask (the visible body; synthetic scenes have it), else the area of the
  person's box, else of the tight box of its labelled keypoints;
- crowd index of the image (CrowdPose's ``crowdIndex``, ``meta["crowd_index"]``) when known.

Scoring (`multiperson_evaluation`), as pycocotools does it:

- at most 20 detections per image count (``maxDets``), the best scored;
- every detection is kept and scored: one whose keypoints all sit at (0, 0) (a person the
  method could not place, or a NaN-only detection) is no exception. Unless it matches a
  person it is a false positive in AP / AR over all areas (its area, 0, falls outside the
  medium and large ranges, where it is ignored);
- CrowdPose's AP(E/M/H): when images carry a crowd index, ``ap_crowd_easy`` /
  ``ap_crowd_medium`` / ``ap_crowd_hard`` are the AP over the images with crowd index < 0.2,
  in [0.2, 0.8) and >= 0.8, the split CrowdPose's evaluation code (crowdposetools,
  xtcocotools' ``keypoints_crowd``) uses; the CrowdPose paper's text names 0.1 for easy.

Top-down person scores follow mmpose's rescoring (`rescore_people`); duplicates of one person
are removed per image by OKS-NMS (`posekit.metrics.oks_nms`) before scoring. `coco_results`
writes detections as a COCO keypoint results list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from posekit._checks import check_shape
from posekit.metrics.coco import COCO_SIGMAS, coco_keypoint_ap
from posekit.metrics.evaluation import TaskEvaluation
from posekit.skeletons import get_skeleton, joint_map

__all__ = [
    "CROWD_INDEX_SPLITS",
    "NON_COCO_SIGMAS",
    "PeopleDetections",
    "SceneTruth",
    "ScenesWithTruth",
    "coco_results",
    "multiperson_evaluation",
    "oks_sigmas",
    "rescore_people",
    "scene_ground_truth",
    "truth_from_batch",
]

#: Summary metrics of `multiperson_evaluation` logged as ``val/<key>``.
LOGGED = ("ap", "ap50", "ap75", "ar")

#: OKS sigmas of joints COCO lacks, by joint name: CrowdPose's head top and neck.
NON_COCO_SIGMAS: dict[str, float] = {"head_top": 0.079, "neck": 0.079}

#: Crowd-index bounds of CrowdPose's easy / medium / hard images: easy < 0.2 <= medium < 0.8
#: <= hard (crowdposetools' ``get_type_result(first=0.2, second=0.8)``).
CROWD_INDEX_SPLITS = (0.2, 0.8)

_STAT_KEYS = ("ap", "ap50", "ap75", "ap_medium", "ap_large", "ar", "ar50", "ar75")
_STAT_KEYS += ("ar_medium", "ar_large")
_CROWD_KEYS = ("ap_crowd_easy", "ap_crowd_medium", "ap_crowd_hard")


@dataclass
class SceneTruth:
    """The ground-truth people of one image (see the module docstring).

    Shapes:
        keypoints: (P, J, 2) image pixels, NaN unknown; flags: (P, J) int64 in {0, 1, 2};
        area_px2: (P,) pixels^2; crowd_index: a number (CrowdPose's ``crowdIndex``) or None.
    """

    keypoints: Tensor
    flags: Tensor
    area_px2: Tensor
    crowd_index: float | None = None

    def __post_init__(self) -> None:
        dims = check_shape(self.keypoints, "keypoints", "P J 2")
        check_shape(self.flags, "flags", "P J", dims)
        check_shape(self.area_px2, "area_px2", "P", dims)
        if self.crowd_index is not None:
            ok = isinstance(self.crowd_index, Real) and math.isfinite(self.crowd_index)
            if isinstance(self.crowd_index, bool) or not ok:
                raise ValueError(
                    f"crowd_index: expected a finite number or None, got {self.crowd_index!r}"
                )
            self.crowd_index = float(self.crowd_index)


@dataclass
class PeopleDetections:
    """The people a method found in one image.

    Shapes:
        keypoints: (N, J, 2) image pixels (NaN: a joint the method did not place);
        scores: (N,) person confidences (they rank detections across images for AP);
        joint_scores: (N, J) per-joint confidences, or None.
    """

    keypoints: Tensor
    scores: Tensor
    joint_scores: Tensor | None = None

    def __post_init__(self) -> None:
        dims = check_shape(self.keypoints, "keypoints", "N J 2")
        check_shape(self.scores, "scores", "N", dims)
        if self.joint_scores is not None:
            check_shape(self.joint_scores, "joint_scores", "N J", dims)


def oks_sigmas(skeleton: str) -> Tensor:
    """Per-joint OKS sigmas of a layout: COCO's for joints named like a coco17 joint,
    `NON_COCO_SIGMAS` (CrowdPose's 0.079 for ``head_top`` and ``neck``) for those, the mean
    COCO sigma for the others. lsp14 gets CrowdPose's 14 sigmas.

    Shapes:
        returns: (J,) float64.
    """
    sk = get_skeleton(skeleton)
    if sk.name == "coco17":
        return torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    sig = torch.full((sk.num_joints,), float(np.mean(COCO_SIGMAS)), dtype=torch.float64)
    for name, value in NON_COCO_SIGMAS.items():
        if name in sk.joints:
            sig[sk.joints.index(name)] = value
    s_idx, d_idx = joint_map("coco17", sk.name)
    sig[list(d_idx)] = torch.tensor(COCO_SIGMAS, dtype=torch.float64)[list(s_idx)]
    return sig


def scene_ground_truth(sample: Any, skeleton: str | None = None) -> SceneTruth:
    """The COCO-style ground truth of a `Sample`'s people (see the module docstring).

    Args:
        sample: a `posekit.data.sample.Sample` with an image (for its size) or ``image_size``.
        skeleton: the evaluated layout; default the sample's own.

    Raises:
        ValueError: no image size, or a ``meta["area"]`` that is not one number per person.
    """
    from posekit.data.pose2d import convert_skeleton

    skeleton = skeleton or sample.skeleton
    kp, vis = convert_skeleton(sample.keypoints2d, sample.visibility, sample.skeleton, skeleton)
    kp = np.asarray(kp, np.float64)
    size = sample.image_size
    if size is None:
        raise ValueError("sample: expected an image or depth map (its size bounds the labels)")
    H, W = size
    inside = (
        np.isfinite(kp).all(-1)
        & (kp[..., 0] >= -0.5)
        & (kp[..., 0] <= W - 0.5)
        & (kp[..., 1] >= -0.5)
        & (kp[..., 1] <= H - 0.5)
    )
    flags = np.where(inside, np.where(vis, 2, 1), 0).astype(np.int64)
    P = kp.shape[0]
    meta = getattr(sample, "meta", None) or {}
    area = np.full(P, np.nan)
    if meta.get("area") is not None:
        area = np.asarray(meta["area"], np.float64)
        if area.shape != (P,):
            raise ValueError(
                f"sample.meta['area']: expected one area per person ({P},), got {area.shape}"
            )

    def fill(other: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(area) & (area > 0), area, other)

    inst = sample.masks.get("instance") if sample.masks else None
    if inst is not None:
        area = fill(np.array([float((inst == p).sum()) for p in range(P)]))
    if sample.bbox is not None:
        b = np.asarray(sample.bbox, np.float64)
        area = fill(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))
    lo = np.where(inside[..., None], kp, np.inf).min(1)
    hi = np.where(inside[..., None], kp, -np.inf).max(1)
    area = fill(np.where(inside.any(1), np.prod(np.clip(hi - lo, 0, None), -1), 0.0))
    crowd = meta.get("crowd_index")
    return SceneTruth(
        torch.from_numpy(kp).float(),
        torch.from_numpy(flags),
        torch.from_numpy(area).float(),
        None if crowd is None else float(crowd),
    )


def multiperson_evaluation(
    truths: Sequence[SceneTruth],
    detections: Sequence[PeopleDetections],
    skeleton: str,
    *,
    crowd_index_splits: tuple[float, float] = CROWD_INDEX_SPLITS,
) -> TaskEvaluation:
    """COCO OKS AP / AR of detected people against the ground truth, image by image.

    A detection's unplaced (NaN) joints are put at the mean of its placed joints (COCO's
    results must hold every keypoint; there they count as misses, as they would far away, but
    leave the detection's area as the method placed it); a detection with no placed joint sits
    at (0, 0) and is scored like any other (module docstring). At most 20 detections per image
    count (COCO's ``maxDets``), the best scored.

    Args:
        truths: one `SceneTruth` per image.
        detections: one `PeopleDetections` per image, same order.
        skeleton: the layout (sets the OKS sigmas, `oks_sigmas`).
        crowd_index_splits: (a, b): easy images have crowd index < a, medium in [a, b), hard
            >= b (CrowdPose's, `CROWD_INDEX_SPLITS`).

    Returns:
        metrics: ``ap`` (OKS 0.50:0.95), ``ap50``, ``ap75``, ``ap_medium``, ``ap_large``,
        ``ar``, ``ar50``, ``ar75``, ``ar_medium``, ``ar_large`` (fractions; NaN without ground
        truth), ``num_images``, ``num_people`` (with a labelled joint), ``num_detections``;
        when some image has a crowd index also ``ap_crowd_easy``, ``ap_crowd_medium``,
        ``ap_crowd_hard`` (AP over those images; NaN for a subset without a labelled person;
        images without a crowd index are in none); no per-joint columns.
    """
    if len(truths) != len(detections):
        raise ValueError(
            f"detections: expected one entry per image ({len(truths)}), got {len(detections)}"
        )
    a, b = crowd_index_splits
    if not a <= b:
        raise ValueError(f"crowd_index_splits: expected (a, b) with a <= b, got {(a, b)}")
    J = get_skeleton(skeleton).num_joints
    gk, gf, ga, gi, dk, ds, di = [], [], [], [], [], [], []
    for i, (t, d) in enumerate(zip(truths, detections)):
        if t.keypoints.shape[1] != J or d.keypoints.shape[1] != J:
            raise ValueError(f"image {i}: expected {J} joints ({skeleton})")
        gk.append(t.keypoints.double())
        gf.append(t.flags)
        ga.append(t.area_px2.double())
        gi.append(torch.full((len(t.flags),), i, dtype=torch.int64))
        kp = d.keypoints.detach().double().cpu()
        placed = kp.isfinite().all(-1, keepdim=True)  # (N, J, 1)
        mean = torch.where(placed, kp, 0.0).sum(1, keepdim=True) / placed.sum(
            1, keepdim=True
        ).clamp(min=1)
        dk.append(torch.where(placed, kp, mean))
        ds.append(d.scores.detach().double().cpu())
        di.append(torch.full((len(kp),), i, dtype=torch.int64))
    sigmas = oks_sigmas(skeleton)

    def ap_of(images: Sequence[int]) -> dict[str, float]:
        """The COCO summary over the given images (NaN without a labelled person)."""
        flags = torch.cat([gf[i] for i in images]) if images else torch.zeros(0, J)
        if not bool((flags > 0).any()):
            return dict.fromkeys(_STAT_KEYS, math.nan)
        return coco_keypoint_ap(
            torch.cat([gk[i] for i in images]),
            flags,
            torch.cat([dk[i] for i in images]),
            torch.cat([ds[i] for i in images]),
            gt_image_ids=torch.cat([gi[i] for i in images]),
            dt_image_ids=torch.cat([di[i] for i in images]),
            gt_areas=torch.cat([ga[i] for i in images]),
            sigmas=sigmas,
        )

    flags = torch.cat(gf) if gf else torch.zeros(0, J, dtype=torch.int64)
    metrics: dict[str, float | int] = dict(ap_of(range(len(truths))))
    metrics |= {
        "num_images": len(truths),
        "num_people": int((flags > 0).any(-1).sum()),
        "num_detections": int(sum(len(s) for s in ds)),
    }
    crowd = [t.crowd_index for t in truths]
    if any(c is not None for c in crowd):
        subsets = (
            [i for i, c in enumerate(crowd) if c is not None and c < a],
            [i for i, c in enumerate(crowd) if c is not None and a <= c < b],
            [i for i, c in enumerate(crowd) if c is not None and c >= b],
        )
        for key, images in zip(_CROWD_KEYS, subsets):
            metrics[key] = ap_of(images)["ap"]
    return TaskEvaluation(metrics, {}, get_skeleton(skeleton).name, len(truths))


def rescore_people(
    joint_scores: Tensor, threshold: float = 0.2, box_scores: Tensor | None = None
) -> Tensor:
    """Person scores from joint scores, as mmpose's COCO evaluation rescores top-down people
    (``score_mode="bbox_keypoint"``): the box score times the mean of the joint scores above
    ``threshold`` (0 when none is above).

    Args:
        joint_scores: per-joint confidences (NaN counts as not above).
        threshold: joints scored at or below it are left out of the mean (mmpose's 0.2).
        box_scores: the person detector's box scores; None: 1 (ground-truth boxes, and
            bottom-up people, which have no box score).

    Shapes:
        joint_scores: (N, J); box_scores: (N,). returns: (N,) in joint_scores' dtype.
    """
    dims = check_shape(joint_scores, "joint_scores", "N J")
    above = joint_scores > threshold  # False for NaN
    count = above.sum(-1)
    mean = torch.where(above, joint_scores, 0).sum(-1) / count.clamp(min=1)
    mean = torch.where(count > 0, mean, 0)
    if box_scores is not None:
        check_shape(box_scores, "box_scores", "N", dims)
        mean = mean * box_scores.to(mean)
    return mean


def coco_results(
    detections: Sequence[PeopleDetections],
    image_ids: Sequence[int],
    *,
    rescore: bool = True,
    keypoint_score_threshold: float = 0.2,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """The detections as a COCO keypoint results list (what COCO's evaluation server and
    pycocotools' ``COCO.loadRes`` take, the ``json.dump`` of a results file).

    Each result: ``image_id``, ``category_id``, ``keypoints`` = [x, y, s] * J with s the
    joint's score in the visibility slot (as mmpose writes it; 1.0 without joint scores; an
    unplaced joint sits at the mean of the placed ones with score 0, at (0, 0) when none is
    placed) and ``score``: with ``rescore`` and joint scores, `rescore_people` of those joint
    scores (box score 1: ground-truth boxes and bottom-up people, as mmpose scores them),
    else the detection's person score.

    Args:
        detections: one `PeopleDetections` per image.
        image_ids: the COCO image id of each image, same order.
        rescore: rescore people from their joint scores (see above).
        keypoint_score_threshold: `rescore_people`'s ``threshold``.
        category_id: the person category's id.

    Returns:
        One dict per detected person, images in the given order, people in detection order.
    """
    if len(image_ids) != len(detections):
        raise ValueError(
            f"image_ids: expected one id per image ({len(detections)}), got {len(image_ids)}"
        )
    out = []
    for d, image_id in zip(detections, image_ids, strict=True):
        if isinstance(image_id, bool) or int(image_id) != image_id:
            raise ValueError(f"image_ids: expected integers, got {image_id!r}")
        kp = d.keypoints.detach().double().cpu()
        placed = kp.isfinite().all(-1)  # (N, J)
        count = placed.sum(1, keepdim=True).clamp(min=1)  # (N, 1)
        mean = torch.where(placed[..., None], kp, 0.0).sum(1) / count  # (N, 2)
        kp = torch.where(placed[..., None], kp, mean[:, None])
        if d.joint_scores is None:
            js = torch.ones(placed.shape, dtype=torch.float64)
        else:  # an unplaced joint has no score
            js = torch.where(placed, d.joint_scores.detach().double().cpu().nan_to_num(0.0), 0.0)
        if rescore and d.joint_scores is not None:
            scores = rescore_people(js, keypoint_score_threshold)
        else:
            scores = d.scores.detach().double().cpu()
        triplets = torch.cat([kp, js[..., None]], -1).reshape(len(kp), -1)  # (N, 3 J)
        for n in range(len(kp)):
            out.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(category_id),
                    "keypoints": triplets[n].tolist(),
                    "score": float(scores[n]),
                }
            )
    return out


# --- ground truth beside bottom-up images ------------------------------------------------------


class ScenesWithTruth(Dataset):
    """`BottomUpImages` items plus their images' `SceneTruth`, padded to ``max_people`` rows.

    Added keys: ``gt_keypoints`` (Pmax, J, 2) image pixels, ``gt_flags`` (Pmax, J) int64,
    ``gt_area_px2`` (Pmax,), ``gt_num_people`` () int64 (rows past it are padding: flags 0),
    ``gt_crowd_index`` () float32 (NaN: the image has none). People past ``max_people`` are
    left out of the ground truth, as of the item.

    Args:
        images: a `posekit.data.pose2d.BottomUpImages` (not augmented).
    """

    def __init__(self, images: Any) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.images[index]
        src = self.images.source
        sample = src.sample(index) if hasattr(src, "sample") else src[index]
        truth = scene_ground_truth(sample, self.images.skeleton)
        Pmax = self.images.max_people
        P = min(len(truth.flags), Pmax)
        J = truth.keypoints.shape[1]
        kp = torch.full((Pmax, J, 2), float("nan"))
        flags = torch.zeros(Pmax, J, dtype=torch.int64)
        area = torch.zeros(Pmax)
        kp[:P], flags[:P], area[:P] = truth.keypoints[:P], truth.flags[:P], truth.area_px2[:P]
        return {
            **item,
            "gt_keypoints": kp,
            "gt_flags": flags,
            "gt_area_px2": area,
            "gt_num_people": torch.tensor(P, dtype=torch.int64),
            "gt_crowd_index": torch.tensor(
                math.nan if truth.crowd_index is None else truth.crowd_index
            ),
        }


def truth_from_batch(batch: Mapping[str, Any]) -> list[SceneTruth]:
    """The per-image `SceneTruth` of a collated batch of `ScenesWithTruth` items."""
    out = []
    crowd = batch.get("gt_crowd_index")
    for b in range(len(batch["gt_num_people"])):
        P = int(batch["gt_num_people"][b])
        c = None if crowd is None else float(crowd[b])
        out.append(
            SceneTruth(
                batch["gt_keypoints"][b, :P].float().cpu(),
                batch["gt_flags"][b, :P].cpu(),
                batch["gt_area_px2"][b, :P].float().cpu(),
                c if c is not None and math.isfinite(c) else None,
            )
        )
    return out


# --- top-down inference over ground-truth person boxes ----------------------------------------
