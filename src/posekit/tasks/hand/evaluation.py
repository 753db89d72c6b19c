"""Evaluation of the ``hand`` task: joint errors in camera millimetres, the success rate of the
depth-based hand benchmarks, and how often a joint fell outside the cube."""

from __future__ import annotations

import torch
from torch import Tensor

from posekit.metrics import evaluate_hand, success_rate_curve
from posekit.metrics.evaluation import TaskEvaluation

__all__ = ["SUCCESS_REPORTED_MM", "hand_evaluation", "hand_skeleton"]

#: Thresholds whose success rate is reported as ``success_<t>mm`` (the curve's AUC spans 0–80).
SUCCESS_REPORTED_MM = (10, 20, 30, 40, 50, 60, 70, 80)

_HAND_LAYOUTS = {21: "hand21", 14: "nyu14"}


def hand_skeleton(num_joints: int) -> str:
    """The hand layout with ``num_joints`` joints (hand21 or nyu14), or ``""``."""
    return _HAND_LAYOUTS.get(int(num_joints), "")


def hand_evaluation(
    pred: Tensor,
    gt: Tensor,
    reference: Tensor,
    cube_size_m: float,
    visibility: Tensor | None = None,
) -> TaskEvaluation:
    """Hand metrics of a test set.

    Shapes:
        pred, gt: (N, J, 3) camera metres; reference: (N, 3) the cube centres, metres;
        visibility: (N, J) or None (every joint scored).

    Returns:
        A `TaskEvaluation`: ``metrics`` from `evaluate_hand` (``mean_joint_error_mm``,
        ``max_joint_error_mm``, ``success_auc``, ...), ``success_<t>mm`` for t in
        `SUCCESS_REPORTED_MM` (share of frames whose worst joint is within t), and
        ``outside_cube`` (share of ground-truth joints outside the cube: no voxel can reach
        them); ``per_joint`` ``{"mean error (mm)": (J,)}``.
    """
    metrics = dict(evaluate_hand(pred, gt, visibility))
    curve = success_rate_curve(
        pred, gt, visibility, thresholds_m=[t / 1000 for t in SUCCESS_REPORTED_MM]
    )
    for t, v in zip(SUCCESS_REPORTED_MM, curve.tolist(), strict=True):
        metrics[f"success_{t}mm"] = float(v)
    half = 0.5 * float(cube_size_m)
    outside = ((gt - reference[:, None]).abs() >= half).any(-1)  # (N, J)
    metrics["outside_cube"] = float(outside.double().mean())
    err = torch.linalg.vector_norm((pred - gt).double(), dim=-1)  # (N, J)
    if visibility is not None:
        err = torch.where(visibility > 0, err, torch.nan)
    per_joint = {"mean error (mm)": err.nanmean(0) * 1000.0}
    return TaskEvaluation(metrics, per_joint, hand_skeleton(gt.shape[1]), int(gt.shape[0]))
