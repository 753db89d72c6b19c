"""Tests for posekit.metrics.pose3d: MPJPE, PA-MPJPE, N-MPJPE, 3DPCK, AUC, summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import roma
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.metrics import (
    PCK3D_THRESHOLDS_M,
    auc3d,
    evaluate_pose3d,
    joint_errors,
    mpjpe,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
)


def _poses(n: int, seed: int = 0, noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    gt = 0.3 * torch.randn(n, 17, 3, generator=gen, dtype=torch.float64)
    pred = gt + noise * torch.randn(n, 17, 3, generator=gen, dtype=torch.float64)
    return pred, gt


def _np_pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Naive per-sample reference: numpy SVD, reflection fix, scale from the trace."""
    out = []
    for x, y in zip(pred, gt):
        mx, my = x.mean(0), y.mean(0)
        x0, y0 = x - mx, y - my
        u, sv, vt = np.linalg.svd(x0.T @ y0)
        d = np.sign(np.linalg.det(u @ vt))
        rot = vt.T @ np.diag([1, 1, d]) @ u.T  # maps x0 onto y0
        s = (sv * [1, 1, d]).sum() / (x0**2).sum()
        out.append(np.linalg.norm(s * x0 @ rot.T + my - y, axis=-1).mean())
    return np.array(out)


def test_hand_computed_mpjpe() -> None:
    gt = torch.zeros(1, 3, 3, dtype=torch.float64)
    gt[0, 1] = torch.tensor([1.0, 0, 0])
    gt[0, 2] = torch.tensor([0, 1.0, 0])
    pred = gt.clone()
    pred[0, 1] += torch.tensor([0.003, 0.004, 0.0])  # 5 mm on joint 1
    torch.testing.assert_close(mpjpe(pred, gt), torch.tensor([0.005 / 3], dtype=torch.float64))
    # A global translation vanishes root-relative, not in absolute coordinates.
    shifted = gt + 0.01
    assert mpjpe(shifted, gt).item() == pytest.approx(0.0, abs=1e-15)
    assert mpjpe(shifted, gt, root=None).item() == pytest.approx(0.01 * math.sqrt(3))
    errs = joint_errors(pred, gt)
    torch.testing.assert_close(errs[0], torch.tensor([0.0, 0.005, 0.0], dtype=torch.float64))


def test_matches_naive_references() -> None:
    pred, gt = _poses(40, seed=1)
    p, g = pred.numpy(), gt.numpy()
    p_rel, g_rel = p - p[:, :1], g - g[:, :1]
    err = np.linalg.norm(p_rel - g_rel, axis=-1)
    np.testing.assert_allclose(mpjpe(pred, gt).numpy(), err.mean(-1), atol=1e-12)
    np.testing.assert_allclose(pa_mpjpe(pred, gt).numpy(), _np_pa_mpjpe(p, g), atol=1e-12)
    # N-MPJPE as in VideoPose3D's n_mpjpe, on root-relative poses.
    s = (p_rel * g_rel).sum((1, 2)) / (p_rel**2).sum((1, 2))
    n_ref = np.linalg.norm(s[:, None, None] * p_rel - g_rel, axis=-1).mean(-1)
    np.testing.assert_allclose(n_mpjpe(pred, gt).numpy(), n_ref, atol=1e-12)
    np.testing.assert_allclose(pck3d(pred, gt).numpy(), (err <= 0.15).mean(-1))
    curve = np.stack([(err <= t).mean(-1) for t in PCK3D_THRESHOLDS_M], -1)
    np.testing.assert_allclose(auc3d(pred, gt).numpy(), curve.mean(-1), atol=1e-12)
    assert len(PCK3D_THRESHOLDS_M) == 31 and PCK3D_THRESHOLDS_M[-1] == 0.15


def test_summary_keys_and_units() -> None:
    pred, gt = _poses(10, seed=2)
    out = evaluate_pose3d(pred, gt)
    assert list(out) == [
        "mpjpe_mm",
        "pa_mpjpe_mm",
        "n_mpjpe_mm",
        "pck3d_150mm",
        "auc3d",
        "num_samples",
        "num_empty",
    ]
    assert out["mpjpe_mm"] == pytest.approx(1000 * mpjpe(pred, gt).mean().item())
    assert out["pa_mpjpe_mm"] == pytest.approx(1000 * pa_mpjpe(pred, gt).mean().item())
    assert out["n_mpjpe_mm"] == pytest.approx(1000 * n_mpjpe(pred, gt).mean().item())
    assert out["pa_mpjpe_mm"] <= out["n_mpjpe_mm"] <= out["mpjpe_mm"]
    assert out["num_samples"] == 10 and out["num_empty"] == 0
    assert all(isinstance(v, float) for k, v in out.items() if not k.startswith("num_"))
    assert "pck3d_100mm" in evaluate_pose3d(pred, gt, pck_threshold_m=0.1)


def test_root_choices() -> None:
    pred, gt = _poses(6, seed=3)
    hips = [1, 4]
    p_root, g_root = pred[:, hips].mean(1, keepdim=True), gt[:, hips].mean(1, keepdim=True)
    ref = ((pred - p_root) - (gt - g_root)).norm(dim=-1).mean(-1)
    torch.testing.assert_close(mpjpe(pred, gt, root=hips), ref)
    with pytest.raises(ValueError, match=r"root: expected joint indices in \[0, 17\)"):
        mpjpe(pred, gt, root=17)


def test_visibility_mask_equals_subset() -> None:
    pred, gt = _poses(8, seed=4)
    vis = torch.ones(8, 17, dtype=torch.bool)
    vis[:, [5, 9]] = False
    keep = [j for j in range(17) if j not in (5, 9)]
    torch.testing.assert_close(mpjpe(pred, gt, vis), mpjpe(pred[:, keep], gt[:, keep]))
    torch.testing.assert_close(pa_mpjpe(pred, gt, vis), pa_mpjpe(pred[:, keep], gt[:, keep]))
    torch.testing.assert_close(n_mpjpe(pred, gt, vis), n_mpjpe(pred[:, keep], gt[:, keep]))
    torch.testing.assert_close(pck3d(pred, gt, vis), pck3d(pred[:, keep], gt[:, keep]))
    # Corrupting a masked joint of the prediction changes nothing.
    bad = pred.clone()
    bad[:, 5] = 100.0
    torch.testing.assert_close(pa_mpjpe(bad, gt, vis), pa_mpjpe(pred, gt, vis))
    # Float visibility: > 0 is visible.
    torch.testing.assert_close(mpjpe(pred, gt, vis.double() * 2), mpjpe(pred, gt, vis))
    assert joint_errors(pred, gt, vis)[:, 5].isnan().all()


def test_nan_ground_truth_is_masked() -> None:
    pred, gt = _poses(5, seed=5)
    gt_nan = gt.clone()
    gt_nan[:, 7] = torch.nan
    vis = torch.ones(5, 17, dtype=torch.bool)
    vis[:, 7] = False
    for fn in (mpjpe, pa_mpjpe, n_mpjpe, pck3d, auc3d):
        torch.testing.assert_close(fn(pred, gt_nan), fn(pred, gt, vis))


def test_empty_samples_are_counted() -> None:
    pred, gt = _poses(4, seed=6)
    vis = torch.ones(4, 17)
    vis[1] = 0  # nothing visible
    vis[2, 0] = 0  # root missing: cannot be made root-relative
    for fn in (mpjpe, pa_mpjpe, n_mpjpe, pck3d, auc3d):
        out = fn(pred, gt, vis)
        assert out[1].isnan(), fn.__name__
        assert out[[0, 3]].isfinite().all()
    assert mpjpe(pred, gt, vis)[2].isnan()
    out = evaluate_pose3d(pred, gt, vis)
    assert out["num_samples"] == 4 and out["num_empty"] == 2
    ref = 1000 * mpjpe(pred[[0, 3]], gt[[0, 3]]).mean().item()
    assert out["mpjpe_mm"] == pytest.approx(ref)
    assert math.isfinite(out["pa_mpjpe_mm"])
    # Every sample empty: NaN means, never a crash.
    none = evaluate_pose3d(pred, gt, torch.zeros(4, 17))
    assert none["num_empty"] == 4 and math.isnan(none["mpjpe_mm"])


def test_nan_prediction_raises() -> None:
    pred, gt = _poses(2)
    pred[1, 3, 0] = torch.nan
    for fn in (mpjpe, pa_mpjpe, n_mpjpe, pck3d, evaluate_pose3d):
        with pytest.raises(ValueError, match="pred: contains NaN or inf"):
            fn(pred, gt)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"pred: expected \(\.\.\., J, 3\), got \(4, 17, 2\)"):
        mpjpe(torch.zeros(4, 17, 2), torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match=r"gt: expected \(4, 17, 3\) \(the shape of pred\)"):
        mpjpe(torch.zeros(4, 17, 3), torch.zeros(5, 17, 3))
    with pytest.raises(ValueError, match=r"gt: expected \(\.\.\., J, 3\) with J=17"):
        pa_mpjpe(torch.zeros(4, 17, 3), torch.zeros(4, 16, 3))
    with pytest.raises(ValueError, match=r"visibility: expected \(4, 17\), got \(4, 16\)"):
        mpjpe(torch.zeros(4, 17, 3), torch.zeros(4, 17, 3), torch.ones(4, 16))
    with pytest.raises(ValueError, match="align"):
        joint_errors(torch.zeros(1, 3, 3), torch.zeros(1, 3, 3), align="rigid")  # type: ignore[arg-type]


def test_numpy_and_lists_in_tensors_out() -> None:
    pred, gt = _poses(3, seed=7)
    out = mpjpe(pred.numpy(), gt.numpy().tolist())
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    torch.testing.assert_close(out, mpjpe(pred, gt))
    assert mpjpe(pred.float(), gt.float()).dtype == torch.float32
    # Any leading dims; a single pose gives a 0-d result.
    assert mpjpe(pred.reshape(3, 1, 17, 3), gt.reshape(3, 1, 17, 3)).shape == (3, 1)
    assert pa_mpjpe(pred[0], gt[0]).shape == ()


def test_differentiable_in_prediction() -> None:
    pred, gt = _poses(4, seed=8)
    pred.requires_grad_()
    (mpjpe(pred, gt).sum() + pa_mpjpe(pred, gt).sum() + n_mpjpe(pred, gt).sum()).backward()
    assert pred.grad is not None and pred.grad.isfinite().all() and pred.grad.abs().sum() > 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.2, 5.0), shift=st.floats(-3.0, 3.0))
def test_pa_mpjpe_invariant_to_similarity(seed: int, scale: float, shift: float) -> None:
    pred, gt = _poses(6, seed=seed % 1000)
    rot = roma.random_rotmat(6, dtype=torch.float64)
    moved = scale * pred @ rot.mT + shift
    torch.testing.assert_close(pa_mpjpe(moved, gt), pa_mpjpe(pred, gt), atol=1e-10, rtol=0)
    torch.testing.assert_close(n_mpjpe(scale * pred, gt), n_mpjpe(pred, gt), atol=1e-10, rtol=0)
    assert mpjpe(gt, gt).abs().max() == 0
    assert pa_mpjpe(gt, gt).abs().max() < 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), t1=st.floats(0.0, 0.3), t2=st.floats(0.0, 0.3))
def test_pck3d_monotone_in_threshold(seed: int, t1: float, t2: float) -> None:
    pred, gt = _poses(5, seed=seed % 1000, noise=0.1)
    lo, hi = sorted((t1, t2))
    assert (pck3d(pred, gt, threshold_m=lo) <= pck3d(pred, gt, threshold_m=hi)).all()
