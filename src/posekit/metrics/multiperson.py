"""Multi-person 2D pose evaluation: COCO OKS AP of people found in whole images.

Shared by the bottom-up task (`posekit.tasks.bottomup`: associative embedding, every person of
an image from one network pass) and top-down inference over person boxes
(`posekit.tasks.pose2d.multiperson`: a ``pose2d`` checkpoint run on one crop per person), so
that both are scored against the same ground truth with the same code.

Ground truth (`scene_ground_truth`), per image and person, COCO-style:

- keypoints in image pixels, in the evaluated skeleton (joints matched by name);
- flags: 2 labelled and visible, 1 labelled but occluded, 0 not labelled. A joint is labelled
  when its position is known and inside the image (COCO annotates no joint outside the image);
- area (the OKS scale s^2): the person's pixel count in the ``"instance"`` mask when the sample
  has one (COCO's segmentation area: the visible body; synthetic scenes have it), else the area
  of the person's box, else of the tight box of its labelled keypoints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    "PeopleDetections",
    "SceneTruth",
    "ScenesWithTruth",
    "multiperson_evaluation",
    "oks_sigmas",
    "scene_ground_truth",
    "truth_from_batch",
]

#: Summary metrics of `multiperson_evaluation` logged as ``val/<key>``.
LOGGED = ("ap", "ap50", "ap75", "ar")


@dataclass
class SceneTruth:
    """The ground-truth people of one image (see the module docstring).

    Shapes:
        keypoints: (P, J, 2) image pixels, NaN unknown; flags: (P, J) int64 in {0, 1, 2};
        area_px2: (P,) pixels^2.
    """

    keypoints: Tensor
    flags: Tensor
    area_px2: Tensor

    def __post_init__(self) -> None:
        dims = check_shape(self.keypoints, "keypoints", "P J 2")
        check_shape(self.flags, "flags", "P J", dims)
        check_shape(self.area_px2, "area_px2", "P", dims)


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
    """Per-joint OKS sigmas of a layout: COCO's for joints named like a coco17 joint, the mean
    COCO sigma for the others.

    Shapes:
        returns: (J,) float64.
    """
    sk = get_skeleton(skeleton)
    sig = torch.full((sk.num_joints,), float(np.mean(COCO_SIGMAS)), dtype=torch.float64)
    if sk.name == "coco17":
        return torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    s_idx, d_idx = joint_map("coco17", sk.name)
    sig[list(d_idx)] = torch.tensor(COCO_SIGMAS, dtype=torch.float64)[list(s_idx)]
    return sig


def scene_ground_truth(sample: Any, skeleton: str | None = None) -> SceneTruth:
    """The COCO-style ground truth of a `Sample`'s people (see the module docstring).

    Args:
        sample: a `posekit.data.sample.Sample` with an image (for its size) or ``image_size``.
        skeleton: the evaluated layout; default the sample's own.
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
    area = np.full(P, np.nan)
    inst = sample.masks.get("instance") if sample.masks else None
    if inst is not None:
        area = np.array([float((inst == p).sum()) for p in range(P)])
    if sample.bbox is not None:
        b = np.asarray(sample.bbox, np.float64)
        box = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
        area = np.where(np.isfinite(area) & (area > 0), area, box)
    lo = np.where(inside[..., None], kp, np.inf).min(1)
    hi = np.where(inside[..., None], kp, -np.inf).max(1)
    tight = np.where(inside.any(1), np.prod(np.clip(hi - lo, 0, None), -1), 0.0)
    area = np.where(np.isfinite(area) & (area > 0), area, tight)
    return SceneTruth(
        torch.from_numpy(kp).float(), torch.from_numpy(flags), torch.from_numpy(area).float()
    )


def multiperson_evaluation(
    truths: Sequence[SceneTruth],
    detections: Sequence[PeopleDetections],
    skeleton: str,
) -> TaskEvaluation:
    """COCO OKS AP / AR of detected people against the ground truth, image by image.

    A detection's unplaced (NaN) joints are put at the mean of its placed joints (COCO's
    results must hold every keypoint; there they count as misses, as they would far away, but
    leave the detection's area as the method placed it). At most 20 detections per image count
    (COCO's ``maxDets``), the best scored.

    Args:
        truths: one `SceneTruth` per image.
        detections: one `PeopleDetections` per image, same order.
        skeleton: the layout (sets the OKS sigmas, `oks_sigmas`).

    Returns:
        metrics: ``ap`` (OKS 0.50:0.95), ``ap50``, ``ap75``, ``ap_medium``, ``ap_large``,
        ``ar``, ``ar50``, ``ar75``, ``ar_medium``, ``ar_large`` (fractions; NaN without ground
        truth), ``num_images``, ``num_people`` (with a labelled joint), ``num_detections``;
        no per-joint columns.
    """
    if len(truths) != len(detections):
        raise ValueError(
            f"detections: expected one entry per image ({len(truths)}), got {len(detections)}"
        )
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
    gt_kp = torch.cat(gk) if gk else torch.zeros(0, J, 2, dtype=torch.float64)
    flags = torch.cat(gf) if gf else torch.zeros(0, J, dtype=torch.int64)
    num_people = int((flags > 0).any(-1).sum())
    counts: dict[str, float | int] = {
        "num_images": len(truths),
        "num_people": num_people,
        "num_detections": int(sum(len(s) for s in ds)),
    }
    if num_people == 0:
        stats = dict.fromkeys(
            ("ap", "ap50", "ap75", "ap_medium", "ap_large", "ar", "ar50", "ar75"), math.nan
        )
        stats |= {"ar_medium": math.nan, "ar_large": math.nan}
        return TaskEvaluation({**stats, **counts}, {}, get_skeleton(skeleton).name, len(truths))
    stats = coco_keypoint_ap(
        gt_kp,
        flags,
        torch.cat(dk),
        torch.cat(ds),
        gt_image_ids=torch.cat(gi),
        dt_image_ids=torch.cat(di),
        gt_areas=torch.cat(ga),
        sigmas=oks_sigmas(skeleton),
    )
    return TaskEvaluation({**stats, **counts}, {}, get_skeleton(skeleton).name, len(truths))


# --- ground truth beside bottom-up images ------------------------------------------------------


class ScenesWithTruth(Dataset):
    """`BottomUpImages` items plus their images' `SceneTruth`, padded to ``max_people`` rows.

    Added keys: ``gt_keypoints`` (Pmax, J, 2) image pixels, ``gt_flags`` (Pmax, J) int64,
    ``gt_area_px2`` (Pmax,), ``gt_num_people`` () int64 (rows past it are padding: flags 0).
    People past ``max_people`` are left out of the ground truth, as of the item.

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
        }


def truth_from_batch(batch: Mapping[str, Any]) -> list[SceneTruth]:
    """The per-image `SceneTruth` of a collated batch of `ScenesWithTruth` items."""
    out = []
    for b in range(len(batch["gt_num_people"])):
        P = int(batch["gt_num_people"][b])
        out.append(
            SceneTruth(
                batch["gt_keypoints"][b, :P].float().cpu(),
                batch["gt_flags"][b, :P].cpu(),
                batch["gt_area_px2"][b, :P].float().cpu(),
            )
        )
    return out


# --- top-down inference over ground-truth person boxes ----------------------------------------
