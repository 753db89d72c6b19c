"""Evaluation metrics: 2D PCK / PCKh / AUC, COCO OKS AP, 3D MPJPE / PA-MPJPE / N-MPJPE / 3DPCK,
mesh PVE, hand mean error and success rate, and per-joint tables.

All metrics accept torch tensors, numpy arrays or nested sequences (converted once with
`torch.as_tensor` onto the prediction's device) and return torch tensors (per-sample values)
or dicts of Python numbers (``evaluate_*`` summaries, computed in float64, with units in the
keys: ``mpjpe_mm``). Inputs are in metres (3D) or pixels (2D). NaN in a prediction raises
``ValueError``; NaN in the ground truth marks a joint missing, like visibility 0. A sample with
no usable joint is NaN per sample, left out of the means and counted in ``num_empty``.
"""

from __future__ import annotations

from posekit.metrics.coco import COCO_SIGMAS, coco_keypoint_ap
from posekit.metrics.hand import (
    SUCCESS_THRESHOLDS_M,
    evaluate_hand,
    max_joint_error,
    mean_joint_error,
    success_rate_curve,
)
from posekit.metrics.mesh import evaluate_mesh, pa_pve, pve
from posekit.metrics.pck import (
    PCK_THRESHOLDS,
    box_size,
    evaluate_pck,
    evaluate_pck_lsp,
    evaluate_pckh_mpii,
    head_size,
    keypoint_box_size,
    normalized_distances,
    pck,
    pck_curve,
    pck_per_joint,
    torso_size,
)
from posekit.metrics.pose3d import (
    PCK3D_THRESHOLDS_M,
    auc3d,
    evaluate_pose3d,
    joint_errors,
    mpjpe,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
)
from posekit.metrics.table import format_joint_table, per_joint_mean

__all__ = [
    "COCO_SIGMAS",
    "PCK3D_THRESHOLDS_M",
    "PCK_THRESHOLDS",
    "SUCCESS_THRESHOLDS_M",
    "auc3d",
    "box_size",
    "coco_keypoint_ap",
    "evaluate_hand",
    "evaluate_mesh",
    "evaluate_pck",
    "evaluate_pck_lsp",
    "evaluate_pckh_mpii",
    "evaluate_pose3d",
    "format_joint_table",
    "head_size",
    "joint_errors",
    "keypoint_box_size",
    "max_joint_error",
    "mean_joint_error",
    "mpjpe",
    "n_mpjpe",
    "normalized_distances",
    "pa_mpjpe",
    "pa_pve",
    "pck",
    "pck3d",
    "pck_curve",
    "pck_per_joint",
    "per_joint_mean",
    "pve",
    "success_rate_curve",
    "torso_size",
]
