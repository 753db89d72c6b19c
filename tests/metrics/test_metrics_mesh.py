"""Tests for posekit.metrics.mesh: PVE, PA-PVE and their summary."""

from __future__ import annotations

import pytest
import roma
import torch

from posekit.metrics import evaluate_mesh, pa_pve, pve


def _meshes(n: int = 3, v: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    gt = 0.4 * torch.randn(n, v, 3, generator=gen, dtype=torch.float64)
    return gt + 0.02 * torch.randn(n, v, 3, generator=gen, dtype=torch.float64), gt


def test_pve_hand_computed_and_roots() -> None:
    gt = torch.zeros(1, 4, 3, dtype=torch.float64)
    pred = gt + torch.tensor([0.0, 0.0, 0.01], dtype=torch.float64)
    torch.testing.assert_close(pve(pred, gt), torch.tensor([0.01], dtype=torch.float64))
    # Roots: translating by the root difference removes the offset.
    zero = pve(pred, gt, pred_root=pred[:, 0], gt_root=gt[:, 0])
    assert zero.abs().max() < 1e-15
    with pytest.raises(ValueError, match="pass both or neither"):
        pve(pred, gt, pred_root=pred[:, 0])


def test_pa_pve_invariant_and_summary() -> None:
    pred, gt = _meshes()
    moved = 1.7 * pred @ roma.random_rotmat(3, dtype=torch.float64).mT + 0.5
    torch.testing.assert_close(pa_pve(moved, gt), pa_pve(pred, gt), atol=1e-10, rtol=0)
    assert (pa_pve(pred, gt) <= pve(pred, gt)).all()
    out = evaluate_mesh(pred, gt)
    assert out["pve_mm"] == pytest.approx(1000 * pve(pred, gt).mean().item())
    assert out["pa_pve_mm"] == pytest.approx(1000 * pa_pve(pred, gt).mean().item())
    assert out["num_samples"] == 3 and out["num_empty"] == 0


def test_nan_rules_and_shapes() -> None:
    pred, gt = _meshes()
    gt_nan = gt.clone()
    gt_nan[1] = torch.nan  # a fully missing ground-truth mesh: empty sample
    gt_nan[0, 3] = torch.nan  # one missing vertex
    out = pve(pred, gt_nan)
    assert out[1].isnan() and out[[0, 2]].isfinite().all()
    keep = [i for i in range(50) if i != 3]
    torch.testing.assert_close(out[0], pve(pred[0, keep], gt[0, keep]))
    assert evaluate_mesh(pred, gt_nan)["num_empty"] == 1
    roots = gt[:, 0].clone()
    roots[2] = torch.nan
    assert evaluate_mesh(pred, gt, pred_root=pred[:, 0], gt_root=roots)["num_empty"] == 1
    bad = pred.clone()
    bad[0, 0, 0] = torch.inf
    with pytest.raises(ValueError, match="pred_vertices: contains NaN or inf"):
        pa_pve(bad, gt)
    with pytest.raises(ValueError, match=r"pred_vertices: expected \(\.\.\., V, 3\)"):
        pve(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match=r"gt_root: expected \(3, 3\)"):
        pve(pred, gt, pred_root=pred[:, 0], gt_root=gt[:2, 0])
