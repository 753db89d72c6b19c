"""Training losses for 3D joints: MPJPE (mean Euclidean distance), L1 and MSE, masked.

Convention:
    ``pred`` and ``gt`` (..., J, 3) in metres (any D works: (..., J, D)), in the same frame;
    for the lifting models both are root-relative (the losses subtract nothing).
    ``visibility`` (..., J) is a mask (bool, or integers: > 0 counts) or non-negative
    per-joint weights (float): each loss is the weighted mean over joints,
    ``sum(w * e) / sum(w)``, and 0 when no joint has weight. Joints with weight 0 may hold NaN
    in ``gt``: they are replaced before any arithmetic, so neither the loss nor its gradient
    turns NaN. Every loss returns a scalar tensor.

The evaluation metric of the same name is `posekit.metrics.mpjpe` (per sample, root-relative,
with the NaN rule of the metrics); these are the differentiable training objectives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from posekit._checks import check_shape

__all__ = ["joint_l1_loss", "joint_mse_loss", "mpjpe_loss"]


def _masked_diff(pred: Tensor, gt: Tensor, visibility: Tensor | None) -> tuple[Tensor, Tensor]:
    """``pred - gt`` with 0 at weightless joints, and the per-joint weights.

    Shapes:
        pred, gt: (..., J, D); visibility: (..., J) or None → diff (..., J, D), weights (..., J).
    """
    dims = check_shape(pred, "pred", "... J D")
    check_shape(gt, "gt", "... J D", dims)
    if pred.shape != gt.shape:
        raise ValueError(f"gt: expected {tuple(pred.shape)} like pred, got {tuple(gt.shape)}")
    if visibility is None:
        weights = torch.ones(pred.shape[:-1], dtype=pred.dtype, device=pred.device)
    else:
        if tuple(visibility.shape) != tuple(pred.shape[:-1]):
            raise ValueError(
                f"visibility: expected {tuple(pred.shape[:-1])} (pred without its last axis), "
                f"got {tuple(visibility.shape)}"
            )
        if visibility.dtype == torch.bool or not visibility.is_floating_point():
            weights = (visibility > 0).to(pred.dtype)
        else:
            weights = visibility.to(pred.dtype).clamp(min=0.0)
    # where, not a product: NaN ground truth at a masked joint must not reach the loss or its
    # gradient (NaN * 0 is NaN; where's backward sends exactly 0 to the masked branch).
    diff = torch.where(
        weights[..., None] > 0, pred - gt, torch.zeros((), dtype=pred.dtype, device=pred.device)
    )
    return diff, weights


def _weighted_mean(per_joint: Tensor, weights: Tensor) -> Tensor:
    # clamp the denominator: no weighted joint gives 0 / 1 = 0, not NaN.
    return (per_joint * weights).sum() / weights.sum().clamp(min=torch.finfo(weights.dtype).tiny)


def mpjpe_loss(pred: Tensor, gt: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Mean per-joint position error: the weighted mean Euclidean distance, in metres.

    The gradient of the distance at 0 is taken as 0 (torch's norm convention), so a perfect
    joint (e.g. the zero root of both poses) contributes no NaN.

    Shapes:
        pred, gt: (..., J, 3); visibility: (..., J) or None → scalar.
    """
    diff, weights = _masked_diff(pred, gt, visibility)
    return _weighted_mean(torch.linalg.vector_norm(diff, dim=-1), weights)


def joint_l1_loss(pred: Tensor, gt: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Weighted mean over joints of the mean absolute coordinate error, in metres.

    Shapes:
        pred, gt: (..., J, 3); visibility: (..., J) or None → scalar.
    """
    diff, weights = _masked_diff(pred, gt, visibility)
    return _weighted_mean(diff.abs().mean(dim=-1), weights)


def joint_mse_loss(pred: Tensor, gt: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Weighted mean over joints of the mean squared coordinate error, in square metres (the L2
    objective of Martinez et al.).

    Shapes:
        pred, gt: (..., J, 3); visibility: (..., J) or None → scalar.
    """
    diff, weights = _masked_diff(pred, gt, visibility)
    return _weighted_mean(diff.pow(2).mean(dim=-1), weights)
