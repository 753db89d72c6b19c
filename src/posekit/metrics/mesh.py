"""Mesh metrics: per-vertex error (PVE, also called V2V or MPVE) and its Procrustes-aligned form.

Convention:
    Vertices in metres, (..., V, 3) with matching topology (vertex v of the prediction
    corresponds to vertex v of the ground truth). Per-sample results in metres; the summary
    reports millimetres (``pve_mm``). PVE compares the meshes as given unless roots are passed:
    public 3DPW / SPIN evaluation first translates each mesh so that its pelvis joint is at the
    origin, so pass ``pred_root`` / ``gt_root`` (e.g. the pelvis regressed from each mesh).
    NaN in a ground-truth vertex drops that vertex; NaN in a prediction raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import torch

from posekit._checks import check_finite
from posekit.geometry.procrustes import procrustes_align
from posekit.metrics._common import as_float, masked_mean, prepare_points, sample_summary

__all__ = ["evaluate_mesh", "pa_pve", "pve"]

_NAMES = ("pred_vertices", "gt_vertices")


def _roots(
    pred: torch.Tensor, gt: torch.Tensor, pred_root: Any, gt_root: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Subtract the given roots; return the shifted meshes and which samples have a root."""
    if (pred_root is None) != (gt_root is None):
        raise ValueError("pred_root, gt_root: pass both or neither")
    if pred_root is None:
        return pred, gt, None
    pr = as_float(pred_root, "pred_root", pred.device).to(pred.dtype)
    gr = as_float(gt_root, "gt_root", pred.device).to(pred.dtype)
    for name, r in (("pred_root", pr), ("gt_root", gr)):
        if tuple(r.shape) != (*pred.shape[:-2], 3):
            raise ValueError(f"{name}: expected {(*pred.shape[:-2], 3)}, got {tuple(r.shape)}")
    check_finite(pr, "pred_root")
    root_ok = gr.isfinite().all(-1)  # (...,): a missing gt root empties the sample
    gr = torch.where(root_ok[..., None], gr, 0.0)
    return pred - pr[..., None, :], gt - gr[..., None, :], root_ok


def pve(
    pred_vertices: Any,
    gt_vertices: Any,
    *,
    pred_root: Any = None,
    gt_root: Any = None,
) -> torch.Tensor:
    """Per-vertex error: mean Euclidean vertex distance, metres per sample.

    Args:
        pred_vertices: predicted mesh vertices (metres).
        gt_vertices: ground-truth vertices; NaN drops a vertex.
        pred_root: optional point subtracted from the predicted mesh (e.g. its pelvis).
        gt_root: the same for the ground truth; give both or neither.

    Shapes:
        pred_vertices: (..., V, 3). gt_vertices: (..., V, 3). pred_root, gt_root: (..., 3).
        return: (...,).
    """
    pred, gt, mask = prepare_points(pred_vertices, gt_vertices, spec="... V 3", names=_NAMES)
    pred, gt, root_ok = _roots(pred, gt, pred_root, gt_root)
    if root_ok is not None:
        mask = mask & root_ok[..., None]
    return masked_mean(torch.linalg.vector_norm(pred - gt, dim=-1), mask)


def pa_pve(pred_vertices: Any, gt_vertices: Any) -> torch.Tensor:
    """Procrustes-aligned per-vertex error, metres per sample.

    The predicted mesh is moved onto the ground truth by the best similarity transform over
    all (non-missing) vertices, as PA-MPJPE does for joints; no root is needed.

    Shapes:
        pred_vertices: (..., V, 3). gt_vertices: (..., V, 3). return: (...,).
    """
    pred, gt, mask = prepare_points(pred_vertices, gt_vertices, spec="... V 3", names=_NAMES)
    aligned = procrustes_align(pred, gt, None if bool(mask.all()) else mask)
    return masked_mean(torch.linalg.vector_norm(aligned - gt, dim=-1), mask)


def evaluate_mesh(
    pred_vertices: Any,
    gt_vertices: Any,
    *,
    pred_root: Any = None,
    gt_root: Any = None,
) -> dict[str, float | int]:
    """Mesh metrics of a test set in float64: ``pve_mm``, ``pa_pve_mm``, ``num_samples``,
    ``num_empty`` (samples with no usable vertex or a missing ground-truth root).

    Shapes:
        pred_vertices: (..., V, 3). gt_vertices: (..., V, 3). pred_root, gt_root: (..., 3).
    """
    pred, gt, mask = prepare_points(
        pred_vertices, gt_vertices, spec="... V 3", dtype=torch.float64, names=_NAMES
    )
    shifted_pred, shifted_gt, root_ok = _roots(pred, gt, pred_root, gt_root)
    if root_ok is not None:
        mask = mask & root_ok[..., None]
    err = masked_mean(torch.linalg.vector_norm(shifted_pred - shifted_gt, dim=-1), mask)
    aligned = procrustes_align(pred, gt, None if bool(mask.all()) else mask)
    pa_err = masked_mean(torch.linalg.vector_norm(aligned - gt, dim=-1), mask)
    return sample_summary({"pve_mm": err, "pa_pve_mm": pa_err}, {"pve_mm": 1e3, "pa_pve_mm": 1e3})
