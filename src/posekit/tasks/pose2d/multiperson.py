"""Top-down multi-person evaluation of a ``pose2d`` checkpoint: one crop per ground-truth
person box, scored by COCO OKS AP with the same code as the bottom-up task
(`posekit.metrics.multiperson`).

Top-down here means inference over the **ground-truth** person boxes (no person detector): it
measures the pose network alone, an upper bound of a detector + pose pipeline. The people are
then post-processed as the field does (mmpose's ``CocoMetric``, HRNet) before scoring:
rescored from their joint scores (`posekit.metrics.multiperson.rescore_people`) and
suppressed per image by OKS-NMS (`posekit.metrics.oks_nms`); with ground-truth boxes
duplicates are rare (two annotations of one person), with a detector's boxes they are common.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.data.pose2d import TopDownCrops
from posekit.engine.datamodule import collate_samples
from posekit.engine.evaluate import module_from_checkpoint
from posekit.engine.sources import build_source
from posekit.geometry.crops import apply_affine
from posekit.metrics.evaluation import TaskEvaluation
from posekit.metrics.multiperson import (
    PeopleDetections,
    multiperson_evaluation,
    rescore_people,
    scene_ground_truth,
)
from posekit.metrics.oks_nms import NMS_METHODS, suppress_people
from posekit.skeletons import get_skeleton

__all__ = ["people_from_crops", "topdown_multiperson_evaluation"]


def people_from_crops(
    keypoints: Tensor,
    joint_scores: Tensor,
    image_index: Tensor,
    num_images: int,
    skeleton: str,
    *,
    nms: Literal["none", "oks", "soft_oks"] = "oks",
    nms_threshold: float = 0.9,
    soft_nms: Literal["gaussian", "linear"] = "gaussian",
    keypoint_score_threshold: float = 0.2,
) -> list[PeopleDetections]:
    """The people of each image from its crops' predictions, rescored and suppressed.

    Person score: `rescore_people` (mmpose's: the mean of the joint scores above
    ``keypoint_score_threshold``, box score 1 for ground-truth boxes). Then, per image,
    `suppress_people` with ``nms`` (``"oks"``: greedy OKS-NMS dropping OKS above
    ``nms_threshold``; ``"soft_oks"``: ``soft_nms`` decay with ``nms_threshold``; ``"none"``).

    Args:
        keypoints: every crop's keypoints in image pixels.
        joint_scores: every crop's joint scores.
        image_index: the image (0 .. num_images - 1) each crop was cut from.
        num_images: images in the evaluated set (those without a crop get no people).
        skeleton: the keypoints' layout (OKS sigmas).

    Shapes:
        keypoints: (C, J, 2); joint_scores: (C, J); image_index: (C,) int.
        returns: num_images `PeopleDetections`, each best score first.
    """
    _check_nms(nms, soft_nms)
    dims = check_shape(keypoints, "keypoints", "C J 2")
    check_shape(joint_scores, "joint_scores", "C J", dims)
    check_shape(image_index, "image_index", "C", dims)
    index = image_index.long().cpu()
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= num_images):
        raise ValueError(
            f"image_index: expected values in [0, {num_images}), got "
            f"[{int(index.min())}, {int(index.max())}]"
        )
    kp = keypoints.detach().float().cpu()
    js = joint_scores.detach().float().cpu()
    scores = rescore_people(js, keypoint_score_threshold)
    out = []
    for i in range(num_images):
        mine = torch.nonzero(index == i).flatten()
        people = PeopleDetections(kp[mine], scores[mine], js[mine])
        out.append(
            suppress_people(people, skeleton, nms, threshold=nms_threshold, soft_method=soft_nms)
        )
    return out


@torch.no_grad()
def topdown_multiperson_evaluation(
    checkpoint: str | Path,
    source: str,
    params: Mapping[str, Any] | None = None,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
    nms: Literal["none", "oks", "soft_oks"] = "oks",
    nms_threshold: float = 0.9,
    soft_nms: Literal["gaussian", "linear"] = "gaussian",
    keypoint_score_threshold: float = 0.2,
) -> TaskEvaluation:
    """COCO AP of a top-down ``pose2d`` checkpoint over the ground-truth person boxes.

    Every person box of the validation split of ``source`` is cropped (`TopDownCrops`,
    ``train=False``, the checkpoint's crop size and padding 1.25), the model predicts the
    crop's keypoints (with the flip test when its experiment asks for it), which are mapped
    back to the image. Joint scores: the task's codec's (each joint's heatmap maximum on the
    last stack, clamped to [0, 1]; 1.0 for models without heatmaps, ``deeppose``). Person
    score: mmpose's rescoring, the mean of the joint scores above ``keypoint_score_threshold``
    (`rescore_people`). Each image's people then go through OKS-NMS (`people_from_crops`;
    default greedy, as the field evaluates top-down methods) and are scored with
    `multiperson_evaluation` against `scene_ground_truth`.

    Args:
        checkpoint: a ``pose2d`` checkpoint.
        source: a pose2d data source (``synthetic_body``); its ``val`` split is evaluated.
        params: the source's parameters (e.g. ``people: [2, 4]`` for multi-person scenes).
        batch_size: crops per forward pass.
        device: where to run the model.
        num_workers: data-loading processes.
        progress: show a progress bar.
        nms: ``"oks"`` (greedy OKS-NMS, the default: what mmpose and HRNet evaluate with),
            ``"soft_oks"`` (soft OKS-NMS: scores decayed instead of dropped) or ``"none"``.
        nms_threshold: ``"oks"``: a person whose OKS with a better-scored one of its image
            exceeds it is dropped; ``"soft_oks"``: see `posekit.metrics.oks_nms.soft_oks_nms`.
        soft_nms: the soft decay, ``"gaussian"`` or ``"linear"``.
        keypoint_score_threshold: joints scored at or below it are left out of the person
            score (mmpose's 0.2).

    Returns:
        As `multiperson_evaluation`, plus ``num_boxes`` (crops evaluated); ``num_detections``
        counts the people left after NMS.
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    _check_nms(nms, soft_nms)
    module, config, _ = module_from_checkpoint(checkpoint)
    if module.task != "pose2d":
        raise ValueError(
            f"{checkpoint}: expected a pose2d (top-down) checkpoint, got {module.task}"
        )
    module.to(device).eval()
    skeleton: str = module.skeleton_name  # type: ignore[assignment]
    samples = build_source(source, "val", config.seed, dict(params or {}), task="pose2d")
    crops = TopDownCrops(
        samples, input_size_hw=module.input_size, skeleton=skeleton, train=False, min_labelled=0
    )
    loader = DataLoader(
        crops,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_samples,
        shuffle=False,
    )
    kps: list[Tensor] = []
    scores: list[Tensor] = []
    index: list[Tensor] = []
    for batch in tqdm(loader, desc="top-down", disable=not progress, unit="batch"):
        kp, joint_scores = module.predict_crops(batch["image"].to(module.device))
        kps.append(apply_affine(kp.float().cpu(), batch["affine_inv"].float()))
        scores.append(joint_scores.float().cpu())
        index.append(batch["sample_index"].long().cpu())
    J = get_skeleton(skeleton).num_joints
    detections = people_from_crops(
        _cat(kps, (0, J, 2)),
        _cat(scores, (0, J)),
        _cat(index, (0,)).long(),
        len(samples),
        skeleton,
        nms=nms,
        nms_threshold=nms_threshold,
        soft_nms=soft_nms,
        keypoint_score_threshold=keypoint_score_threshold,
    )
    truths = [
        scene_ground_truth(
            samples.sample(i) if hasattr(samples, "sample") else samples[i], skeleton
        )
        for i in range(len(samples))
    ]
    ev = multiperson_evaluation(truths, detections, skeleton)
    ev.metrics["num_boxes"] = len(crops)
    return ev


def _cat(parts: Sequence[Tensor], empty: tuple[int, ...]) -> Tensor:
    return torch.cat(list(parts)) if parts else torch.zeros(empty)


def _check_nms(nms: str, soft_nms: str) -> None:
    if nms not in NMS_METHODS:
        raise ValueError(f"nms: expected one of {', '.join(NMS_METHODS)}, got {nms!r}")
    if soft_nms not in ("gaussian", "linear"):
        raise ValueError(f"soft_nms: expected 'gaussian' or 'linear', got {soft_nms!r}")
