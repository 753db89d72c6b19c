"""Evaluation of the ``pose2d`` task: PCK@0.2 (torso), PCKh-style @0.5, AUC, pixel error, and
PCK@0.2 of occluded joints, summary and per joint, in image pixels; and two left/right
diagnostics over the skeleton's flip pairs (`left_right_errors`): how often a model puts a
pair's two joints on one spot, and how often it swaps them."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from posekit.metrics.evaluation import TaskEvaluation
from posekit.metrics.pck import evaluate_pck, pck_per_joint, torso_size
from posekit.skeletons import get_skeleton

__all__ = ["head_length", "left_right_errors", "pose2d_evaluation"]


#: Head length per layout when the data has no head boxes: (joint, joint or joint pair).
_HEAD = {
    "mpii16": ("head_top", ("neck",)),
    "lsp14": ("head_top", ("neck",)),
    "h36m17": ("head_top", ("neck_nose",)),
    "coco17": ("nose", ("l_shoulder", "r_shoulder")),
}


def head_length(gt: Tensor, skeleton: str) -> Tensor:
    """A head size for PCKh-style scores on data without head boxes, pixels.

    mpii16 / lsp14: head top to neck (MPII's upper neck), about MPII's 0.6 x head-box
    diagonal; h36m17: head top to neck_nose; coco17 (no head top): nose to the shoulders'
    midpoint, about the same length on upright people. Another layout (a user's own) uses
    the first of these definitions whose joint names it has, else gives NaN (no PCKh). NaN
    where a joint is missing.

    Shapes:
        gt: (..., J, 2); returns: (...,).
    """
    sk = get_skeleton(skeleton)
    if sk.name in _HEAD:
        a, bs = _HEAD[sk.name]
    else:
        names = set(sk.joints)
        found = [d for d in _HEAD.values() if {d[0], *d[1]} <= names]
        if not found:
            return torch.full(gt.shape[:-2], torch.nan, dtype=gt.dtype)
        a, bs = found[0]
    b = torch.stack([gt[..., sk.index(n), :] for n in bs]).mean(0)
    return torch.linalg.vector_norm(gt[..., sk.index(a), :] - b, dim=-1)


def left_right_errors(pred: Tensor, gt: Tensor, skeleton: str, torso: Tensor) -> dict[str, float]:
    """Left/right failures over the flip pairs (l_x, r_x) of the layout.

    Counted over pairs with both joints labelled that lie at least 0.4 torso apart in the
    ground truth (pairs whose sides are far enough apart to tell):

    - ``lr_merged``: share whose two predictions lie within 0.2 torso of each other (both
      sides put on one spot: what a model that cannot tell which way a person faces learns);
    - ``lr_swapped``: share where each prediction lies within 0.2 torso of the *other* side's
      ground truth and not of its own.

    NaN when no pair counts.

    Shapes:
        pred, gt: (N, J, 2) pixels, NaN in ``gt`` = unlabelled; torso: (N,) pixels.
    """
    pairs = get_skeleton(skeleton).flip_pairs
    if not pairs:
        return {"lr_merged": math.nan, "lr_swapped": math.nan}
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    t = torso[:, None]  # (N, 1)
    gap = torch.linalg.vector_norm(gt[:, a] - gt[:, b], dim=-1)  # (N, P)
    counted = gap.isfinite() & t.isfinite() & (gap >= 0.4 * t)
    if not counted.any():
        return {"lr_merged": math.nan, "lr_swapped": math.nan}

    def near(x: Tensor, y: Tensor) -> Tensor:
        return torch.linalg.vector_norm(x - y, dim=-1) <= 0.2 * t

    merged = near(pred[:, a], pred[:, b])
    own = near(pred[:, a], gt[:, a]) | near(pred[:, b], gt[:, b])
    swapped = near(pred[:, a], gt[:, b]) & near(pred[:, b], gt[:, a]) & ~own
    n = counted.sum()
    return {
        "lr_merged": float((merged & counted).sum() / n),
        "lr_swapped": float((swapped & counted).sum() / n),
    }


def pose2d_evaluation(
    pred: Tensor,
    gt: Tensor,
    visibility: Tensor,
    skeleton: str,
    head_px: Tensor | None = None,
) -> TaskEvaluation:
    """2D metrics of a set of people (see the module docstring).

    Args:
        pred, gt: image pixels; NaN in ``gt`` = unlabelled joint (left out).
        visibility: labelled and not occluded.
        skeleton: the layout.
        head_px: per-person head size (MPII), NaN where unknown (then `head_length`).

    Shapes:
        pred, gt: (N, J, 2); visibility: (N, J); head_px: (N,) or None.
    """
    pred, gt = pred.double(), gt.double()
    labelled = gt.isfinite().all(-1)
    torso = torso_size(gt, skeleton)
    head = head_length(gt, skeleton)
    if head_px is not None:
        head = torch.where(head_px.double().isfinite(), head_px.double(), head)
    pck = evaluate_pck(pred, gt, labelled, norm=torso, threshold=0.2)
    pckh = evaluate_pck(pred, gt, labelled, norm=head, threshold=0.5)
    occluded = labelled & ~visibility.bool()
    occ = evaluate_pck(pred, gt, occluded, norm=torso, threshold=0.2) if occluded.any() else None
    err = torch.linalg.vector_norm(pred - gt, dim=-1)  # (N, J)
    err_j = torch.where(labelled, err, torch.nan)
    metrics: dict[str, float | int] = {
        "pck_0.2": pck["pck"],
        "pckh_0.5": pckh["pck"],
        "auc": pck["auc"],
        "mean_error_px": float(err_j.nanmean()),
        "pck_0.2_occluded": occ["pck"] if occ is not None else math.nan,
        "occluded_joints": int(occluded.sum()),
        "num_people": int(gt.shape[0]),
        **left_right_errors(pred, gt, skeleton, torso),
    }
    per_joint = {
        "PCK@0.2": pck_per_joint(pred, gt, labelled, norm=torso, threshold=0.2).float(),
        "PCKh@0.5": pck_per_joint(pred, gt, labelled, norm=head, threshold=0.5).float(),
        "error (px)": err_j.nanmean(0).float(),
    }
    return TaskEvaluation(metrics, per_joint, get_skeleton(skeleton).name, int(gt.shape[0]))
