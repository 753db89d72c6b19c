"""Tests of posekit.losses.pose3d: naive references, masks and weights, NaN safety, shapes."""

from __future__ import annotations

import re

import pytest
import torch

from posekit.losses import joint_l1_loss, joint_mse_loss, mpjpe_loss
from posekit.metrics import mpjpe

LOSSES = [mpjpe_loss, joint_l1_loss, joint_mse_loss]


def _poses(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    gt = 0.3 * torch.randn(n, 17, 3, generator=gen, dtype=torch.float64)
    pred = gt + 0.05 * torch.randn(n, 17, 3, generator=gen, dtype=torch.float64)
    return pred, gt


def _naive(loss, d: torch.Tensor) -> torch.Tensor:
    """Per-joint error of ``d = pred - gt`` for each loss, written out per joint."""
    if loss is mpjpe_loss:
        return (d**2).sum(-1).sqrt()
    if loss is joint_l1_loss:
        return d.abs().sum(-1) / d.shape[-1]
    return (d**2).sum(-1) / d.shape[-1]


@pytest.mark.parametrize("loss", LOSSES)
def test_matches_a_naive_reference(loss):
    pred, gt = _poses()
    torch.testing.assert_close(loss(pred, gt), _naive(loss, pred - gt).mean())


def test_mpjpe_loss_agrees_with_the_metric_on_root_relative_poses():
    pred, gt = _poses()
    pred, gt = pred - pred[:, :1], gt - gt[:, :1]  # root-relative, root at 0
    torch.testing.assert_close(mpjpe_loss(pred, gt), mpjpe(pred, gt).mean())


@pytest.mark.parametrize("loss", LOSSES)
def test_visibility_masks_joints_even_with_nan_ground_truth(loss):
    pred, gt = _poses()
    vis = torch.ones(6, 17, dtype=torch.bool)
    vis[0, 4] = vis[2, 9] = False
    gt_nan = gt.clone()
    gt_nan[~vis] = float("nan")
    pred = pred.clone().requires_grad_(True)
    value = loss(pred, gt_nan, vis)
    expected = _naive(loss, (pred - gt).detach())[vis].mean()
    torch.testing.assert_close(value.detach(), expected)
    value.backward()
    assert pred.grad.isfinite().all()
    assert (pred.grad[~vis] == 0).all() and (pred.grad[vis] != 0).any()


@pytest.mark.parametrize("loss", LOSSES)
def test_float_visibility_is_a_weight(loss):
    pred, gt = _poses()
    w = torch.rand(6, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    per_joint = _naive(loss, pred - gt)
    torch.testing.assert_close(loss(pred, gt, w), (w * per_joint).sum() / w.sum())
    # integer visibility (0 / 1 / 2 as in COCO) counts > 0 as visible, unweighted
    v = torch.tensor([0, 1, 2]).repeat(6, 6)[:, :17]
    torch.testing.assert_close(loss(pred, gt, v), per_joint[v > 0].mean())


@pytest.mark.parametrize("loss", LOSSES)
def test_no_visible_joint_gives_zero_not_nan(loss):
    pred, gt = _poses()
    pred.requires_grad_(True)
    value = loss(pred, gt, torch.zeros(6, 17))
    value.backward()
    assert value.item() == 0.0
    assert (pred.grad == 0).all()


def test_mpjpe_loss_gradient_is_finite_at_a_perfect_joint():
    pred, gt = _poses()
    pred = pred.clone()
    pred[:, 0] = gt[:, 0]  # e.g. the zero root of two root-relative poses
    pred.requires_grad_(True)
    mpjpe_loss(pred, gt).backward()
    assert pred.grad.isfinite().all()
    assert (pred.grad[:, 0] == 0).all()


@pytest.mark.parametrize("loss", LOSSES)
def test_shape_errors(loss):
    pred, gt = _poses()
    with pytest.raises(ValueError, match=re.escape("gt: expected (6, 17, 3) like pred")):
        loss(pred, gt[:3])
    with pytest.raises(ValueError, match=re.escape("gt: expected (..., J, D) with J=17")):
        loss(pred, gt[:, :16])
    with pytest.raises(ValueError, match=re.escape("visibility: expected (6, 17)")):
        loss(pred, gt, torch.ones(6, 16))
