"""Tests for posekit.metrics.hand: mean joint error and the success-rate curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.metrics import (
    SUCCESS_THRESHOLDS_M,
    evaluate_hand,
    max_joint_error,
    mean_joint_error,
    success_rate_curve,
)


def test_hand_computed_curve() -> None:
    gt = torch.zeros(4, 2, 3, dtype=torch.float64)
    pred = gt.clone()
    pred[0, 1, 0] = 0.005  # worst joint 5 mm
    pred[1, 0, 1] = 0.030  # 30 mm
    pred[2, 1, 2] = 0.100  # 100 mm: never a success in 0..80 mm
    torch.testing.assert_close(
        max_joint_error(pred, gt), torch.tensor([0.005, 0.03, 0.1, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        mean_joint_error(pred, gt), torch.tensor([0.0025, 0.015, 0.05, 0.0], dtype=torch.float64)
    )
    curve = success_rate_curve(pred, gt, thresholds_m=[0.0, 0.005, 0.02, 0.05, 0.08])
    torch.testing.assert_close(
        curve, torch.tensor([0.25, 0.5, 0.5, 0.75, 0.75], dtype=torch.float64)
    )
    assert len(SUCCESS_THRESHOLDS_M) == 81 and SUCCESS_THRESHOLDS_M[-1] == 0.08
    out = evaluate_hand(pred, gt)
    assert out["mean_joint_error_mm"] == pytest.approx(1000 * (0.0025 + 0.015 + 0.05) / 4)
    assert out["max_joint_error_mm"] == pytest.approx(1000 * 0.135 / 4)
    full = success_rate_curve(pred, gt).numpy()
    assert out["success_auc"] == pytest.approx(full.mean())
    assert list(out)[-2:] == ["num_samples", "num_empty"]


def test_masks_and_empty_frames() -> None:
    gen = torch.Generator().manual_seed(0)
    gt = torch.randn(5, 21, 3, generator=gen, dtype=torch.float64)
    pred = gt + 0.01 * torch.randn(5, 21, 3, generator=gen, dtype=torch.float64)
    vis = torch.ones(5, 21)
    vis[0, 3] = 0
    pred_bad = pred.clone()
    pred_bad[0, 3] += 1.0  # hidden by the mask
    torch.testing.assert_close(
        max_joint_error(pred_bad, gt, vis)[0], max_joint_error(pred, gt, vis)[0]
    )
    vis[2] = 0
    worst = max_joint_error(pred, gt, vis)
    assert worst[2].isnan() and worst[[0, 1, 3, 4]].isfinite().all()
    ref = np.mean([(worst[[0, 1, 3, 4]] <= 0.04).double().mean().item()])
    assert success_rate_curve(pred, gt, vis, thresholds_m=[0.04]).item() == pytest.approx(ref)
    out = evaluate_hand(pred, gt, vis)
    assert out["num_empty"] == 1 and out["num_samples"] == 5
    assert success_rate_curve(pred, gt, torch.zeros(5, 21)).isnan().all()
    assert math.isnan(evaluate_hand(pred, gt, torch.zeros(5, 21))["mean_joint_error_mm"])
    with pytest.raises(ValueError, match="pred: contains NaN"):
        mean_joint_error(pred * torch.nan, gt)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_curve_is_monotone(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    gt = torch.randn(8, 14, 3, generator=gen, dtype=torch.float64)
    pred = gt + 0.02 * torch.randn(8, 14, 3, generator=gen, dtype=torch.float64)
    curve = success_rate_curve(pred, gt)
    assert (curve.diff() >= 0).all() and 0 <= curve.min() and curve.max() <= 1
