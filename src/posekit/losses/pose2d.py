"""Training losses for 2D pose: heatmaps with intermediate supervision, per-stage coordinate
regression, associative embedding, and the compositional multi-level heatmap loss.

Shapes:
    B batch, S stacks or stages, J joints, P people (padded), D tag dimensions, h/w map size.

Convention:
    Predictions may carry a stack / stage axis S after the batch (every stack of a stacked
    hourglass, every stage of a DeepPose cascade); the same target then supervises each of
    them (intermediate supervision) and the loss is the mean over S. Without S the shapes are
    those of one stack. ``weights`` (B, J) are masks (bool / int: > 0 counts) or non-negative
    per-joint weights (float); a loss is the weighted mean over joints ``sum(w e) / sum(w)``,
    and 0 when no joint has weight. Targets at weight-0 joints may hold NaN: they never reach
    the loss or its gradient. Every loss returns a scalar tensor (two for the AE loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from posekit._checks import check_shape

__all__ = [
    "associative_embedding_loss",
    "compositional_heatmap_loss",
    "heatmap_mse_loss",
    "stage_l1_loss",
]


def _with_stacks(pred: Tensor, name: str, spec: str) -> Tensor:
    """``pred`` with an S axis: (B, *spec) becomes (B, 1, *spec), (B, S, *spec) stays."""
    n = len(spec.split())
    if pred.dim() == n:
        return pred[:, None]
    check_shape(pred, name, "B S " + " ".join(spec.split()[1:]))
    return pred


def _joint_weights(weights: Tensor | None, like: Tensor, dims: dict[str, int]) -> Tensor:
    """(B, J) float weights from a mask / weights / None, in the dtype of ``like``."""
    if weights is None:
        return torch.ones(dims["B"], dims["J"], dtype=like.dtype, device=like.device)
    check_shape(weights, "weights", "B J", dims)
    if weights.dtype == torch.bool or not weights.is_floating_point():
        return (weights > 0).to(like.dtype)
    return weights.to(like.dtype).clamp(min=0.0)


def _weighted_mean(per_joint: Tensor, weights: Tensor) -> Tensor:
    """``sum(w e) / sum(w)`` over (B, J) (per_joint may have a leading S: (S, B, J))."""
    # clamp the denominator: no weighted joint gives 0 / tiny = 0, not NaN.
    return (per_joint * weights).sum(dim=(-2, -1)) / weights.sum().clamp(
        min=torch.finfo(weights.dtype).tiny
    )


def heatmap_mse_loss(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    foreground_weight: float = 0.0,
) -> Tensor:
    """Mean squared heatmap error, weighted per joint, averaged over stacks.

    For each stack: the mean over cells of ``(pred - target)^2`` per joint, then the weighted
    mean over joints (and batch); then the mean over stacks (Newell 2016's intermediate
    supervision gives every stack the same target and weight).

    ``foreground_weight`` = a > 0 weights each cell by ``1 + a * target``: the Gaussian's
    cells count up to 1 + a times the background's. With a = 0 (Newell's loss) an all-zero map
    is a strong early minimum (a Gaussian covers ~pi sigma^2 of h w cells): the tiny hourglass
    is still there after 1,200 steps (benchmarks/pose2d_results.py, last row); weighting the
    Gaussian's cells makes the all-zero map expensive from the first step.

    Shapes:
        pred: (B, S, J, h, w) or (B, J, h, w); target: (B, J, h, w); weights: (B, J) or None.
        returns: scalar.
    """
    dims = check_shape(target, "target", "B J h w")
    pred = _with_stacks(pred, "pred", "B J h w")
    check_shape(pred, "pred", "B S J h w", dims)
    w = _joint_weights(weights, pred, dims)  # (B, J)
    used = (w > 0)[:, None, :, None, None]
    diff = torch.where(
        used, pred - target[:, None], torch.zeros((), dtype=pred.dtype, device=pred.device)
    )
    sq = diff.square()
    if foreground_weight:
        fg = torch.nan_to_num(target[:, None], nan=0.0)
        sq = sq * (1.0 + foreground_weight * fg)
    per_joint = sq.mean(dim=(-2, -1)).transpose(0, 1)  # (S, B, J)
    return _weighted_mean(per_joint, w).mean()


def stage_l1_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """L1 coordinate error, weighted per joint, averaged over cascade stages (DeepPose).

    Per stage: the mean absolute error over the two coordinates of each joint, then the
    weighted mean over joints (and batch); then the mean over stages. Also the coordinate
    loss of integral regression (pred (B, J, 2), no S).

    Shapes:
        pred: (B, S, J, 2) or (B, J, 2); target: (B, J, 2) in the same coordinates (e.g.
        `Regression2D.encode`); weights: (B, J) or None. returns: scalar.
    """
    dims = check_shape(target, "target", "B J 2")
    pred = _with_stacks(pred, "pred", "B J 2")
    check_shape(pred, "pred", "B S J 2", dims)
    w = _joint_weights(weights, pred, dims)
    used = (w > 0)[:, None, :, None]
    diff = torch.where(
        used, pred - target[:, None], torch.zeros((), dtype=pred.dtype, device=pred.device)
    )
    per_joint = diff.abs().mean(dim=-1).transpose(0, 1)  # (S, B, J)
    return _weighted_mean(per_joint, w).mean()


def associative_embedding_loss(
    tags: Tensor, keypoint_index: Tensor, tag_dim: int = 1, push_sigma: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Associative-embedding grouping loss (Newell, Huang & Deng 2017): pull and push terms.

    For image b, person n with visible joints K_n (``keypoint_index >= 0``), tag vectors
    ``h_k`` read at each joint's cell and reference ``m_n = mean_k h_k``::

        pull_b = mean_n mean_{k in K_n} ||h_k - m_n||^2
        push_b = mean_{n != n'} exp(-||m_n - m_n'||^2 / (2 push_sigma^2))

    over the people with at least one visible joint (push is 0 for fewer than two people,
    pull for none); both are then averaged over the batch and over stacks.

    Args:
        tags: tag maps; channel ``j * D + d`` is component d of joint j's tag.
        keypoint_index: flat cell index ``y * w + x`` of each person's joint, -1 if missing
            (`AssociativeEmbedding.encode`).
        tag_dim: D.
        push_sigma: length scale of the push term.

    Shapes:
        tags: (B, S, J * D, h, w) or (B, J * D, h, w); keypoint_index: (B, P, J) integer.
        returns: (pull, push), scalars.
    """
    if tag_dim < 1:
        raise ValueError(f"tag_dim: expected >= 1, got {tag_dim}")
    dims = check_shape(keypoint_index, "keypoint_index", "B P J")
    if keypoint_index.is_floating_point():
        raise ValueError(f"keypoint_index: expected an integer tensor, got {keypoint_index.dtype}")
    JD = dims["J"] * tag_dim
    tags = _with_stacks(tags, "tags", f"B {JD} h w")
    check_shape(tags, "tags", f"B S {JD} h w", dims)
    B, S, _, h, w = tags.shape
    P, J, D = dims["P"], dims["J"], tag_dim
    if bool((keypoint_index >= h * w).any()):
        raise ValueError(f"keypoint_index: expected values < h * w = {h * w} (or -1 for missing)")
    flat = tags.reshape(B, S, J, D, h * w).permute(0, 1, 2, 4, 3)  # (B, S, J, hw, D)
    index = keypoint_index.clamp(min=0).transpose(1, 2).to(tags.device)  # (B, J, P)
    index = index[:, None, :, :, None].expand(B, S, J, P, D)
    h_k = flat.gather(3, index).permute(0, 1, 3, 2, 4)  # (B, S, P, J, D)
    mask = (keypoint_index >= 0).to(tags)[:, None, :, :, None]  # (B, 1, P, J, 1)
    count = mask.sum(dim=3)  # (B, 1, P, 1)
    mean = (h_k * mask).sum(dim=3) / count.clamp(min=1.0)  # (B, S, P, D)
    valid = (count[..., 0] > 0).to(tags)  # (B, 1, P)
    n_people = valid.sum(-1)  # (B, 1)
    sq = ((h_k - mean[:, :, :, None]) ** 2).sum(-1, keepdim=True) * mask  # (B, S, P, J, 1)
    pull_n = sq.sum(dim=(3, 4)) / count[..., 0].clamp(min=1.0)  # (B, S, P)
    pull = (pull_n * valid).sum(-1) / n_people.clamp(min=1.0)  # (B, S)
    d2 = ((mean[:, :, :, None] - mean[:, :, None, :]) ** 2).sum(-1)  # (B, S, P, P)
    off_diag = 1.0 - torch.eye(P, dtype=tags.dtype, device=tags.device)
    pair = valid[..., :, None] * valid[..., None, :] * off_diag  # (B, 1, P, P)
    push_terms = torch.exp(-d2 / (2.0 * push_sigma**2)) * pair
    push = push_terms.sum(dim=(-2, -1)) / (n_people * (n_people - 1.0)).clamp(min=1.0)  # (B, S)
    return pull.mean(), push.mean()


def compositional_heatmap_loss(
    pred_levels: Sequence[Tensor],
    target_levels: Sequence[Tensor],
    weight_levels: Sequence[Tensor | None] | None = None,
    level_weights: Sequence[float] | None = None,
) -> Tensor:
    """Multi-level heatmap loss of the compositional model (Tang et al. 2018).

    ``sum_l level_weights[l] * heatmap_mse_loss(pred_levels[l], target_levels[l],
    weight_levels[l])``: every level of the part hierarchy is supervised at every stack.

    Args:
        pred_levels: the model's maps per level, joints first (``[out[k] for k in
            level_keys(model.hierarchy)]``).
        target_levels: targets per level (`encode_part_heatmaps`).
        weight_levels: per-part weights per level, or None (all 1).
        level_weights: one factor per level (default 1 each).

    Shapes:
        pred_levels[l]: (B, S, P_l, h, w) or (B, P_l, h, w); target_levels[l]: (B, P_l, h, w);
        weight_levels[l]: (B, P_l) or None. returns: scalar.
    """
    L = len(pred_levels)
    if L == 0 or len(target_levels) != L:
        raise ValueError(
            f"target_levels: expected {L} levels like pred_levels (>= 1), got {len(target_levels)}"
        )
    weight_levels = [None] * L if weight_levels is None else list(weight_levels)
    factors = [1.0] * L if level_weights is None else [float(f) for f in level_weights]
    if len(weight_levels) != L or len(factors) != L:
        raise ValueError(f"weight_levels and level_weights: expected {L} entries each")
    terms = [
        f * heatmap_mse_loss(p, t, wt)
        for p, t, wt, f in zip(pred_levels, target_levels, weight_levels, factors)
    ]
    return torch.stack(terms).sum()
