"""Boundary handling shared by the metrics: conversion, shape checks, the NaN rule, summaries.

Input rule (all metrics): predictions, ground truth and masks may be torch tensors, numpy
arrays or nested sequences; each is converted once with `torch.as_tensor` (numpy arrays share
memory, nothing is copied when the dtype is kept) onto the device of the prediction. Integer
and boolean coordinates become float64, float16/bfloat16 become float32, and prediction and
ground truth are computed in their promoted dtype. Per-sample results are torch tensors;
summaries (``evaluate_*``) are dicts of Python floats and ints computed in float64.

NaN rule: NaN or inf anywhere in a prediction raises ``ValueError`` naming the argument; NaN
or inf in a ground-truth joint marks that joint missing, exactly like visibility 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from posekit._checks import check_finite, check_shape

__all__ = [
    "all_finite",
    "as_float",
    "as_mask",
    "masked_mean",
    "prepare_points",
    "root_indices",
    "root_relative",
    "sample_summary",
]


def as_float(x: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a floating tensor (see the module's input rule)."""
    try:
        t = torch.as_tensor(x, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name}: expected a tensor or array of numbers ({err})") from None
    if t.is_complex():
        raise ValueError(f"{name}: expected real numbers, got {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    return t


def all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` holds no NaN or inf, by one reduction (``isfinite`` costs four passes).

    A NaN or inf makes the sum non-finite; a finite sum that overflows is re-checked exactly.
    """
    if x.numel() == 0:
        return True
    if bool(torch.isfinite(x.sum())):
        return True
    return bool(x.isfinite().all())


def as_mask(x: Any, name: str, shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """Visibility (bool, or numbers where > 0 means visible; NaN means not) as a bool tensor."""
    t = torch.as_tensor(x, device=device)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected {tuple(shape)}, got {tuple(t.shape)}")
    return t if t.dtype == torch.bool else t > 0


def prepare_points(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    spec: str = "... J 3",
    dtype: torch.dtype | None = None,
    names: tuple[str, str] = ("pred", "gt"),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Convert and check a prediction / ground-truth pair and build the joint mask.

    Args:
        pred: predicted points; NaN or inf raises ``ValueError``.
        gt: ground-truth points; NaN or inf marks the joint missing.
        visibility: optional (..., J) mask, bool or numbers (> 0: visible).
        spec: shape spec of the points, e.g. ``"... J 3"``.
        dtype: compute dtype; None: the promoted floating dtype of pred and gt.
        names: argument names used in error messages.

    Returns:
        ``(pred, gt, mask)`` with missing ground-truth joints set to 0 in ``gt`` and False in
        ``mask``.

    Shapes:
        pred, gt: (..., J, D). visibility, mask: (..., J).
    """
    p_name, g_name = names
    pred_t = as_float(pred, p_name)
    gt_t = as_float(gt, g_name, device=pred_t.device)
    dims = check_shape(pred_t, p_name, spec)
    check_shape(gt_t, g_name, spec, dims)
    if gt_t.shape != pred_t.shape:
        raise ValueError(
            f"{g_name}: expected {tuple(pred_t.shape)} (the shape of {p_name}), "
            f"got {tuple(gt_t.shape)}"
        )
    if not all_finite(pred_t):
        check_finite(pred_t, p_name)  # raises with the message
    dtype = dtype or torch.promote_types(pred_t.dtype, gt_t.dtype)
    pred_t, gt_t = pred_t.to(dtype), gt_t.to(dtype)
    if all_finite(gt_t):
        mask = torch.ones(gt_t.shape[:-1], dtype=torch.bool, device=gt_t.device)
    else:
        mask = gt_t.isfinite().all(-1)  # (..., J)
        gt_t = torch.where(mask[..., None], gt_t, 0.0)
    if visibility is not None:
        mask = mask & as_mask(visibility, "visibility", pred_t.shape[:-1], pred_t.device)
    return pred_t, gt_t, mask


def root_indices(root: int | Sequence[int], num_joints: int) -> list[int]:
    """Validate ``root`` (one joint index, or several whose mean is the root)."""
    idx = [root] if isinstance(root, int) else [int(r) for r in root]
    if not idx or any(not 0 <= r < num_joints for r in idx):
        raise ValueError(f"root: expected joint indices in [0, {num_joints}) or None, got {root!r}")
    return idx


def root_relative(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor,
    root: int | Sequence[int] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Subtract each pose's root (the mean of the ``root`` joints); None: unchanged.

    A sample whose ground-truth root joint(s) are missing cannot be made root-relative: all of
    its joints are masked (the sample becomes empty).

    Shapes:
        pred, gt: (..., J, D). mask: (..., J). return: the same.
    """
    if root is None:
        return pred, gt, mask
    idx = root_indices(root, pred.shape[-2])
    if len(idx) == 1:
        pred_root = pred[..., idx[0] : idx[0] + 1, :]  # (..., 1, D)
        gt_root = gt[..., idx[0] : idx[0] + 1, :]
        root_ok = mask[..., idx[0]]
    else:
        pred_root = pred[..., idx, :].mean(-2, keepdim=True)
        gt_root = gt[..., idx, :].mean(-2, keepdim=True)
        root_ok = mask[..., idx].all(-1)
    return pred - pred_root, gt - gt_root, mask & root_ok[..., None]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the last dim of the entries where ``mask``; NaN where none is.

    Shapes:
        values, mask: (..., J). return: (...,).
    """
    if bool(mask.all()):
        return values.mean(-1)
    count = mask.sum(-1)
    total = torch.where(mask, values, 0.0).sum(-1)
    return torch.where(count > 0, total / count.clamp(min=1), torch.nan)


def sample_summary(
    per_sample: dict[str, torch.Tensor], scales: dict[str, float] | None = None
) -> dict[str, float | int]:
    """Means over non-empty samples (NaN marks an empty one), with ``num_samples``/``num_empty``.

    Every value in ``per_sample`` must be NaN on the same samples. A key is multiplied by
    ``scales[key]`` (e.g. 1000 for metres to millimetres). If every sample is empty the means
    are NaN, and ``num_empty == num_samples`` says why.
    """
    scales = scales or {}
    out: dict[str, float | int] = {}
    first = next(iter(per_sample.values()))
    empty = first.isnan()
    for key, values in per_sample.items():
        v = values.detach().to(torch.float64)
        mean = v[~empty].mean() if bool((~empty).any()) else v.new_tensor(torch.nan)
        out[key] = float(mean) * scales.get(key, 1.0)
    out["num_samples"] = int(first.numel())
    out["num_empty"] = int(empty.sum())
    return out
