"""Tests for posekit.metrics.pck: PCK@0.2 (LSP), PCKh@0.5 (MPII), per-joint values, AUC."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.metrics import (
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
from posekit.skeletons import LSP14, MPII16


def _keypoints(n: int, joints: int, seed: int = 0, noise: float = 8.0):
    gen = torch.Generator().manual_seed(seed)
    gt = 50 + 200 * torch.rand(n, joints, 2, generator=gen, dtype=torch.float64)
    pred = gt + noise * torch.randn(n, joints, 2, generator=gen, dtype=torch.float64)
    return pred, gt


def test_torso_and_head_and_box_sizes() -> None:
    gt = torch.zeros(1, 14, 2)
    gt[0, LSP14.index("r_shoulder")] = torch.tensor([10.0, 10.0])
    gt[0, LSP14.index("l_hip")] = torch.tensor([40.0, 50.0])
    assert torso_size(gt).item() == pytest.approx(50.0)
    boxes = torch.tensor([[0.0, 0.0, 30.0, 40.0], [10.0, 10.0, 13.0, 14.0]])
    torch.testing.assert_close(head_size(boxes), torch.tensor([30.0, 3.0]))  # 0.6 x diagonal
    torch.testing.assert_close(box_size(boxes), torch.tensor([40.0, 4.0]))
    kp = torch.tensor([[[0.0, 0.0], [10.0, 4.0], [100.0, 100.0]]])
    vis = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(keypoint_box_size(kp, vis), torch.tensor([10.0]))
    assert keypoint_box_size(kp, torch.zeros(1, 3)).isnan().all()


def test_hand_computed_pck() -> None:
    gt = torch.zeros(2, 14, 2, dtype=torch.float64)
    gt[:, LSP14.index("l_hip")] = torch.tensor([0.0, 100.0])  # torso = 100 px
    pred = gt.clone()
    pred[0, 3] += torch.tensor([19.0, 0.0])  # within 0.2 x 100
    pred[0, 4] += torch.tensor([0.0, 21.0])  # outside
    pred[1, :7] += 30.0  # 7 joints outside
    per_sample = pck(pred, gt, norm=torso_size(gt), threshold=0.2)
    torch.testing.assert_close(per_sample, torch.tensor([13 / 14, 7 / 14], dtype=torch.float64))
    out = evaluate_pck_lsp(pred, gt)
    assert out["pck"] == pytest.approx(20 / 28)
    assert out["threshold"] == 0.2 and out["num_samples"] == 2 and out["num_empty"] == 0
    # A joint exactly on the threshold counts as correct (<=).
    edge = gt.clone()
    edge[0, 5] += torch.tensor([20.0, 0.0])
    assert pck(edge, gt, norm=torso_size(gt), threshold=0.2)[0] == 1.0


def test_matches_naive_loop_and_pooling() -> None:
    pred, gt = _keypoints(30, 16, seed=1)
    vis = torch.rand(30, 16, generator=torch.Generator().manual_seed(2)) > 0.2
    boxes = torch.cat([gt.amin(1) - 5, gt.amin(1) + 20], -1)
    norm = head_size(boxes)
    correct, count = np.zeros(16), np.zeros(16)
    for i in range(30):
        for j in range(16):
            if vis[i, j]:
                count[j] += 1
                d = np.linalg.norm((pred[i, j] - gt[i, j]).numpy())
                correct[j] += d <= 0.5 * norm[i].item()
    np.testing.assert_allclose(
        pck_per_joint(pred, gt, vis, norm=norm, threshold=0.5).numpy(), correct / count
    )
    out = evaluate_pck(pred, gt, vis, norm=norm, threshold=0.5)
    assert out["pck"] == pytest.approx(correct.sum() / count.sum())
    curve = pck_curve(pred, gt, vis, norm=norm)
    assert curve.shape == (len(PCK_THRESHOLDS),) and curve[0] <= curve[-1]
    assert out["auc"] == pytest.approx(curve.mean().item())


def test_pckh_mpii_excludes_pelvis_and_thorax() -> None:
    pred, gt = _keypoints(10, 16, seed=3, noise=0.0)
    pred[:, MPII16.index("pelvis")] += 1000.0  # wrong, but left out of the headline
    pred[:, MPII16.index("thorax")] += 1000.0
    boxes = torch.tensor([[0.0, 0.0, 30.0, 40.0]]).repeat(10, 1)
    vis = torch.ones(10, 16)
    assert evaluate_pckh_mpii(pred, gt, vis, boxes)["pck"] == 1.0
    assert evaluate_pckh_mpii(pred, gt, vis, boxes, exclude=())["pck"] == pytest.approx(14 / 16)


def test_masks_empty_and_bad_norms() -> None:
    pred, gt = _keypoints(4, 14, seed=4)
    vis = torch.ones(4, 14)
    vis[1] = 0
    norm = torso_size(gt)
    norm[2] = 0.0  # unusable norm: the sample is empty
    gt_nan = gt.clone()
    gt_nan[3, 0] = torch.nan  # a missing joint, not an empty sample
    per = pck(pred, gt_nan, vis, norm=norm, threshold=0.2)
    assert per[1].isnan() and per[2].isnan() and per[[0, 3]].isfinite().all()
    d = normalized_distances(pred, gt_nan, vis, norm=norm)
    assert d[3, 0].isnan() and d[3, 1:].isfinite().all()
    out = evaluate_pck(pred, gt_nan, vis, norm=norm, threshold=0.2)
    assert out["num_samples"] == 4 and out["num_empty"] == 2
    none = evaluate_pck(pred, gt, torch.zeros(4, 14), norm=norm, threshold=0.2)
    assert none["num_empty"] == 4 and math.isnan(none["pck"])
    # A joint never visible gives NaN in the per-joint table.
    vis_j = torch.ones(4, 14)
    vis_j[:, 2] = 0
    assert pck_per_joint(pred, gt, vis_j, norm=torso_size(gt), threshold=0.2)[2].isnan()


def test_errors() -> None:
    pred, gt = _keypoints(3, 14)
    pred[0, 0, 0] = torch.nan
    with pytest.raises(ValueError, match="pred: contains NaN"):
        pck(pred, gt, norm=torch.ones(3), threshold=0.2)
    with pytest.raises(ValueError, match=r"pred: expected \(\.\.\., J, 2\), got \(3, 14, 3\)"):
        pck(torch.zeros(3, 14, 3), torch.zeros(3, 14, 3), norm=torch.ones(3), threshold=0.2)
    with pytest.raises(ValueError, match=r"norm: expected \(3,\), got \(4,\)"):
        pck(gt, gt, norm=torch.ones(4), threshold=0.2)
    with pytest.raises(ValueError, match=r"head_boxes: expected \(\.\.\., 4\)"):
        head_size(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"pred: expected \(\.\.\., 16, 2\)"):
        evaluate_pckh_mpii(gt, gt, torch.ones(3, 14), torch.zeros(3, 4))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), t1=st.floats(0.0, 1.0), t2=st.floats(0.0, 1.0))
def test_pck_monotone_in_threshold(seed: int, t1: float, t2: float) -> None:
    pred, gt = _keypoints(6, 14, seed=seed, noise=20.0)
    lo, hi = sorted((t1, t2))
    norm = torso_size(gt)
    assert (pck(pred, gt, norm=norm, threshold=lo) <= pck(pred, gt, norm=norm, threshold=hi)).all()
    # Identical keypoints are always correct.
    assert (pck(gt, gt, norm=norm, threshold=lo) == 1).all()
