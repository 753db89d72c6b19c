"""3D pose metrics: MPJPE (protocol 1), PA-MPJPE (protocol 2), N-MPJPE, 3DPCK and its AUC.

Convention:
    Inputs in metres, camera or world frame, (..., J, 3) with any leading batch dims. Per-sample
    functions return metres (or fractions) as torch tensors of shape (...,); ``evaluate_pose3d``
    returns Python floats with the unit in the key (``mpjpe_mm``). Poses are compared
    root-relative by default: both poses are translated so that their ``root`` joint is at the
    origin (``root=0``: the first joint, the pelvis of h36m17 / mpii16 / smpl24; a sequence of
    indices uses their mean, e.g. the two hips for lsp14; None compares absolute positions).
    The root joint itself stays in the mean with error 0, as in the Human3.6M protocols of
    public code (VideoPose3D, Martinez et al.).

Masks: ``visibility`` (..., J) and NaN ground truth exclude joints from every mean, fit and
count; a sample whose root joint is missing, or with no visible joint, is empty: NaN in
per-sample results, excluded from summaries and counted in ``num_empty``. NaN in a prediction
raises ``ValueError``. The per-sample errors are differentiable in the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from posekit.geometry.procrustes import procrustes_align, scale_align
from posekit.metrics._common import masked_mean, prepare_points, root_relative, sample_summary

__all__ = [
    "PCK3D_THRESHOLDS_M",
    "auc3d",
    "evaluate_pose3d",
    "joint_errors",
    "mpjpe",
    "n_mpjpe",
    "pa_mpjpe",
    "pck3d",
]

Root = int | Sequence[int] | None
Align = Literal["none", "procrustes", "scale"]

#: The 31 thresholds of MPI-INF-3DHP's 3DPCK AUC (Mehta et al. 2017): 0, 5, ..., 150 mm.
PCK3D_THRESHOLDS_M = tuple(round(0.005 * i, 3) for i in range(31))


def _errors(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, root: Root, align: Align
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-joint distances (not masked) and the mask after root handling."""
    if align == "procrustes":  # translation is fitted: no root needed
        weights = None if bool(mask.all()) else mask
        aligned = procrustes_align(pred, gt, weights)
        # In place on the fresh aligned copy: one fewer large allocation.
        return torch.linalg.vector_norm(aligned.sub_(gt), dim=-1), mask
    if align not in ("none", "scale"):
        raise ValueError(f"align: expected 'none', 'procrustes' or 'scale', got {align!r}")
    pred, gt, mask = root_relative(pred, gt, mask, root)
    if align == "scale":
        pred = scale_align(pred, gt, None if bool(mask.all()) else mask)
    return torch.linalg.vector_norm(pred - gt, dim=-1), mask


def joint_errors(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    root: Root = 0,
    align: Align = "none",
) -> torch.Tensor:
    """Euclidean error of every joint, in metres; NaN for missing joints.

    Args:
        pred: predicted joints (metres).
        gt: ground-truth joints (metres); NaN marks a missing joint.
        visibility: optional joint mask, bool or > 0 for visible.
        root: root joint index (or indices, averaged) for root-relative errors; None:
            absolute. Ignored by ``align="procrustes"``, which fits a translation.
        align: ``"none"`` (MPJPE), ``"procrustes"`` (similarity per sample, PA-MPJPE) or
            ``"scale"`` (least-squares scale about the root, N-MPJPE).

    Returns:
        Per-joint errors in metres; `posekit.metrics.per_joint_mean` reduces them to a table.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (..., J).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, root, align)
    return torch.where(mask, err, torch.nan)


def mpjpe(pred: Any, gt: Any, visibility: Any = None, *, root: Root = 0) -> torch.Tensor:
    """Mean per-joint position error, Human3.6M protocol 1, in metres per sample.

    The mean over visible joints of ``|pred_j - gt_j|`` after making both poses root-relative
    (see the module docstring for ``root``).

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, root, "none")
    return masked_mean(err, mask)


def pa_mpjpe(pred: Any, gt: Any, visibility: Any = None) -> torch.Tensor:
    """Procrustes-aligned MPJPE (reconstruction error), Human3.6M protocol 2, metres per sample.

    Each predicted pose is moved onto its ground truth by the similarity transform (scale,
    proper rotation, translation) that minimizes the squared error over the visible joints
    (`posekit.geometry.procrustes_align`), then MPJPE is taken over those joints. No root
    is subtracted: the fit includes the translation.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, None, "procrustes")
    return masked_mean(err, mask)


def n_mpjpe(pred: Any, gt: Any, visibility: Any = None, *, root: Root = 0) -> torch.Tensor:
    """Scale-normalized MPJPE (Rhodin et al. 2018), metres per sample.

    Both poses are made root-relative, the prediction is rescaled by the least-squares scale
    ``s = sum_j <p_j, g_j> / sum_j |p_j|^2`` over the visible joints
    (`posekit.geometry.scale_align`), then MPJPE is taken. No rotation, no translation.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, root, "scale")
    return masked_mean(err, mask)


def _pck_curve_per_sample(
    err: torch.Tensor, mask: torch.Tensor, thresholds: torch.Tensor
) -> torch.Tensor:
    """Fraction of visible joints with error <= t, per sample and threshold: (..., T)."""
    hits = (err[..., None] <= thresholds) & mask[..., None]  # (..., J, T)
    count = mask.sum(-1, keepdim=True)  # (..., 1)
    frac = hits.sum(-2).to(err.dtype) / count.clamp(min=1)
    return torch.where(count > 0, frac, torch.nan)


def pck3d(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    threshold_m: float = 0.15,
    root: Root = 0,
) -> torch.Tensor:
    """3DPCK (Mehta et al. 2017, MPI-INF-3DHP): fraction of joints within ``threshold_m``.

    A joint counts as correct when its root-relative error is <= the threshold (150 mm by
    default). A fraction in [0, 1] per sample (papers print it x100); not differentiable.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, root, "none")
    t = torch.tensor([threshold_m], dtype=err.dtype, device=err.device)
    return _pck_curve_per_sample(err, mask, t)[..., 0]


def auc3d(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    thresholds_m: Sequence[float] = PCK3D_THRESHOLDS_M,
    root: Root = 0,
) -> torch.Tensor:
    """Area under the 3DPCK curve (MPI-INF-3DHP): mean 3DPCK over ``thresholds_m``.

    The default thresholds are MPI-INF-3DHP's 31 values 0, 5, ..., 150 mm; the AUC is the mean
    of the PCK values at those thresholds, a fraction in [0, 1] per sample.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J). return: (...,).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility)
    err, mask = _errors(pred_t, gt_t, mask, root, "none")
    t = torch.as_tensor(thresholds_m, dtype=err.dtype, device=err.device)
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"thresholds_m: expected a non-empty 1D sequence, got {thresholds_m!r}")
    return _pck_curve_per_sample(err, mask, t).mean(-1)


def evaluate_pose3d(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    root: Root = 0,
    pck_threshold_m: float = 0.15,
    auc_thresholds_m: Sequence[float] = PCK3D_THRESHOLDS_M,
) -> dict[str, float | int]:
    """All 3D pose metrics of a test set, as reported, computed in float64.

    Returns a dict of Python numbers: ``mpjpe_mm`` (protocol 1), ``pa_mpjpe_mm`` (protocol 2),
    ``n_mpjpe_mm``, ``pck3d_150mm`` (the key follows ``pck_threshold_m``; a fraction in
    [0, 1]), ``auc3d`` (fraction), ``num_samples`` and ``num_empty``. Each mean is over the
    non-empty samples of the per-sample values (with no masked joint this equals the mean over
    all joints). A sample is empty for every metric when its root joint is missing or it has
    no visible joint.

    Shapes:
        pred: (..., J, 3). gt: (..., J, 3). visibility: (..., J).
    """
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility, dtype=torch.float64)
    pred_t, gt_t = pred_t.reshape(-1, *pred_t.shape[-2:]), gt_t.reshape(-1, *gt_t.shape[-2:])
    mask = mask.reshape(pred_t.shape[:-1])
    err, rel_mask = _errors(pred_t, gt_t, mask, root, "none")
    # Procrustes on the samples that are non-empty root-relative, so all metrics share them.
    pa_err, pa_mask = _errors(pred_t, gt_t, rel_mask, None, "procrustes")
    n_err, n_mask = _errors(pred_t, gt_t, rel_mask, root, "scale")
    thresholds = torch.as_tensor(auc_thresholds_m, dtype=torch.float64, device=err.device)
    pck_t = torch.tensor([pck_threshold_m], dtype=torch.float64, device=err.device)
    pck_key = f"pck3d_{round(pck_threshold_m * 1000)}mm"
    per_sample = {
        "mpjpe_mm": masked_mean(err, rel_mask),
        "pa_mpjpe_mm": masked_mean(pa_err, pa_mask),
        "n_mpjpe_mm": masked_mean(n_err, n_mask),
        pck_key: _pck_curve_per_sample(err, rel_mask, pck_t)[..., 0],
        "auc3d": _pck_curve_per_sample(err, rel_mask, thresholds).mean(-1),
    }
    mm = {"mpjpe_mm": 1000.0, "pa_mpjpe_mm": 1000.0, "n_mpjpe_mm": 1000.0}
    return sample_summary(per_sample, mm)
