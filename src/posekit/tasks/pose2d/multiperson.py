"""Top-down multi-person evaluation of a ``pose2d`` checkpoint: one crop per ground-truth
person box, scored by COCO OKS AP with the same code as the bottom-up task
(`posekit.metrics.multiperson`).

Top-down here means inference over the **ground-truth** person boxes (no person detector): it
measures the pose network alone, an upper bound of a detector + pose pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from posekit.data.pose2d import TopDownCrops
from posekit.engine.datamodule import collate_samples
from posekit.engine.evaluate import module_from_checkpoint
from posekit.engine.sources import build_source
from posekit.geometry.crops import apply_affine
from posekit.metrics.evaluation import TaskEvaluation
from posekit.metrics.multiperson import PeopleDetections, multiperson_evaluation, scene_ground_truth
from posekit.skeletons import get_skeleton

__all__ = ["topdown_multiperson_evaluation"]


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
) -> TaskEvaluation:
    """COCO AP of a top-down ``pose2d`` checkpoint over the ground-truth person boxes.

    Every person box of the validation split of ``source`` is cropped (`TopDownCrops`,
    ``train=False``, the checkpoint's crop size and padding 1.25), the model predicts the
    crop's keypoints (with the flip test when its experiment asks for it), which are mapped
    back to the image. Person score: the mean over joints of the joint scores of the task's
    codec (each joint's heatmap maximum on the last stack, clamped to [0, 1]; 1.0 for models
    without heatmaps, ``deeppose``). Scored with `multiperson_evaluation` against
    `scene_ground_truth`.

    Args:
        checkpoint: a ``pose2d`` checkpoint.
        source: a pose2d data source (``synthetic_body``); its ``val`` split is evaluated.
        params: the source's parameters (e.g. ``people: [2, 4]`` for multi-person scenes).
        batch_size: crops per forward pass.
        device: where to run the model.
        num_workers: data-loading processes.
        progress: show a progress bar.

    Returns:
        As `multiperson_evaluation`, plus ``num_boxes`` (crops evaluated).
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

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
    found: dict[int, list[tuple[Tensor, Tensor]]] = {}
    for batch in tqdm(loader, desc="top-down", disable=not progress, unit="batch"):
        kp, joint_scores = module.predict_crops(batch["image"].to(module.device))
        score = joint_scores.mean(-1)  # (B,)
        kp_img = apply_affine(kp.float().cpu(), batch["affine_inv"].float())
        for b, i in enumerate(batch["sample_index"].tolist()):
            found.setdefault(i, []).append((kp_img[b], score[b].float().cpu()))
    truths, detections = [], []
    J = get_skeleton(skeleton).num_joints
    for i in range(len(samples)):
        s = samples.sample(i) if hasattr(samples, "sample") else samples[i]
        truths.append(scene_ground_truth(s, skeleton))
        people = found.get(i, [])
        detections.append(
            PeopleDetections(
                torch.stack([k for k, _ in people]) if people else torch.zeros(0, J, 2),
                torch.stack([c for _, c in people]) if people else torch.zeros(0),
            )
        )
    ev = multiperson_evaluation(truths, detections, skeleton)
    ev.metrics["num_boxes"] = len(crops)
    return ev
