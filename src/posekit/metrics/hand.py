"""Hand pose metrics: mean joint error and the success-rate curve (NYU / ICVL / MSRA protocol).

Convention:
    Joints in metres, (..., J, 3), compared in absolute camera coordinates (no root is
    subtracted), as in the depth-based hand benchmarks (Tompson et al. 2014; V2V-PoseNet, Moon
    et al. 2018). The success rate at threshold t is the fraction of frames whose WORST
    visible joint is within t (Taylor et al. 2012's "proportion of frames with all joints
    within D"); the curve runs over 0..80 mm in 1 mm steps by default. Missing joints
    (visibility 0 or NaN ground truth) are ignored; a frame with none visible is empty (NaN,
    excluded, counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from posekit.metrics._common import masked_mean, prepare_points, sample_summary

__all__ = [
    "SUCCESS_THRESHOLDS_M",
    "evaluate_hand",
    "max_joint_error",
    "mean_joint_error",
    "success_rate_curve",
]

#: 0, 1, ..., 80 mm: the x-axis of the NYU success-rate plots.
SUCCESS_THRESHOLDS_M = tuple(round(0.001 * i, 3) for i in range(81))


def _frame_errors(pred: Any, gt: Any, visibility: Any) -> tuple[torch.Tensor, torch.Tensor]:
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    return torch.linalg.vector_norm(pred_t - gt_t, dim=-1), mask


def mean_joint_error(pred: Any, gt: Any, visibility: Any = None) -> torch.Tensor:
    """Mean Euclidean joint error per frame, metres (absolute camera coordinates).

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    err, mask = _frame_errors(pred, gt, visibility)
    return masked_mean(err, mask)


def max_joint_error(pred: Any, gt: Any, visibility: Any = None) -> torch.Tensor:
    """Largest joint error per frame over its visible joints, metres; NaN for empty frames.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    err, mask = _frame_errors(pred, gt, visibility)
    worst = torch.where(mask, err, -torch.inf).amax(-1)
    return torch.where(mask.any(-1), worst, torch.nan)


def _curve(worst: torch.Tensor, thresholds_m: Sequence[float]) -> torch.Tensor:
    t = torch.as_tensor(thresholds_m, dtype=worst.dtype, device=worst.device)
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"thresholds_m: expected a non-empty 1D sequence, got {thresholds_m!r}")
    worst = worst.reshape(-1)
    worst = worst[~worst.isnan()]
    if worst.numel() == 0:
        return torch.full_like(t, torch.nan)
    return (worst[:, None] <= t).to(worst.dtype).mean(0)


def success_rate_curve(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    thresholds_m: Sequence[float] = SUCCESS_THRESHOLDS_M,
) -> torch.Tensor:
    """Fraction of (non-empty) frames whose maximum joint error is <= each threshold.

    Returns fractions in [0, 1], one per threshold (all NaN if every frame is empty).

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (T,).
    """
    return _curve(max_joint_error(pred, gt, visibility), thresholds_m)


def evaluate_hand(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    thresholds_m: Sequence[float] = SUCCESS_THRESHOLDS_M,
) -> dict[str, float | int]:
    """Hand metrics of a test set in float64.

    Returns ``mean_joint_error_mm`` (mean over frames of each frame's mean joint error),
    ``max_joint_error_mm`` (mean over frames of each frame's worst joint),
    ``success_auc`` (mean of the success-rate curve over ``thresholds_m``, a fraction),
    ``num_samples`` and ``num_empty`` (frames with no visible joint).

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility, dtype=torch.float64)
    err = torch.linalg.vector_norm(pred_t - gt_t, dim=-1)
    worst = torch.where(mask, err, -torch.inf).amax(-1)
    worst = torch.where(mask.any(-1), worst, torch.nan)
    summary = sample_summary(
        {"mean_joint_error_mm": masked_mean(err, mask), "max_joint_error_mm": worst},
        {"mean_joint_error_mm": 1e3, "max_joint_error_mm": 1e3},
    )
    keys = ("mean_joint_error_mm", "max_joint_error_mm")
    return {
        **{k: summary[k] for k in keys},
        "success_auc": float(_curve(worst, thresholds_m).mean()),
        "num_samples": summary["num_samples"],
        "num_empty": summary["num_empty"],
    }
