"""Evaluation of the ``lift`` task: 3D joint errors, summary and per joint."""

from __future__ import annotations

from torch import Tensor

from posekit.metrics import evaluate_pose3d, joint_errors, per_joint_mean
from posekit.metrics.evaluation import TaskEvaluation

__all__ = ["lift_evaluation"]


def lift_evaluation(pred: Tensor, gt: Tensor, skeleton: str) -> TaskEvaluation:
    """3D metrics of a lifting model's predictions: summary and per joint.

    NaN in ``gt`` marks a missing joint (left out of every mean).

    Shapes:
        pred: (N, J, 3), gt: (N, J, 3) root-relative metres.

    Returns:
        A `TaskEvaluation`: ``metrics`` from `evaluate_pose3d` (mm keys), ``per_joint``
        ``{"MPJPE (mm)": (J,), "PA-MPJPE (mm)": (J,)}``.
    """
    metrics = evaluate_pose3d(pred, gt)
    per_joint = {
        "MPJPE (mm)": per_joint_mean(joint_errors(pred, gt)) * 1000.0,
        "PA-MPJPE (mm)": per_joint_mean(joint_errors(pred, gt, align="procrustes")) * 1000.0,
    }
    return TaskEvaluation(metrics, per_joint, skeleton, int(pred.shape[0]))
