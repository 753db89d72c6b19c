"""Tests of posekit.codecs.soft_argmax: naive reference, centres, stability, gradients."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs import soft_argmax_2d, soft_argmax_3d


def naive_soft_argmax(maps: np.ndarray, beta: float) -> np.ndarray:
    """Loop reference over every cell of every (B, J) map; returns (B, J, ndim) in (x, y[, z])."""
    B, J = maps.shape[:2]
    spatial = maps.shape[2:]
    out = np.zeros((B, J, len(spatial)))
    for b in range(B):
        for j in range(J):
            m = max(beta * v for v in maps[b, j].ravel())
            total = 0.0
            acc = np.zeros(len(spatial))
            for index in np.ndindex(*spatial):
                p = math.exp(beta * maps[b, j][index] - m)
                total += p
                acc += p * np.array(index[::-1], dtype=float)  # (.., y, x) index → (x, y, ..)
            out[b, j] = acc / total
    return out


def gaussian_logits(
    shape: tuple[int, ...], centre: tuple[float, ...], sigma: float
) -> torch.Tensor:
    """Log of a Gaussian, -|p - c|^2 / (2 sigma^2), on a grid of ``shape`` (axes ..., y, x);
    ``centre`` in (x, y, ...) order."""
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float64) for n in shape], indexing="ij")
    sq = sum((g - c) ** 2 for g, c in zip(grids[::-1], centre))
    return -sq / (2 * sigma**2)


@pytest.mark.parametrize("beta", [0.5, 1.0, 7.0])
def test_2d_matches_naive(beta):
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64) * 3
    out = soft_argmax_2d(maps, beta)
    np.testing.assert_allclose(out.numpy(), naive_soft_argmax(maps.numpy(), beta), atol=1e-10)
    out32 = soft_argmax_2d(maps.float(), beta)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out.numpy(), atol=1e-5)


def test_3d_matches_naive():
    g = torch.Generator().manual_seed(1)
    maps = torch.randn(2, 2, 3, 4, 5, generator=g, dtype=torch.float64) * 2
    out = soft_argmax_3d(maps, 1.5)
    np.testing.assert_allclose(out.numpy(), naive_soft_argmax(maps.numpy(), 1.5), atol=1e-10)
    assert soft_argmax_3d(maps.float()).dtype == torch.float32


@settings(max_examples=40, deadline=None)
@given(cx=st.floats(6.0, 17.0), cy=st.floats(6.0, 11.0))
def test_2d_gaussian_logits_decode_to_centre(cx, cy):
    # softmax of a Gaussian's log is the sampled Gaussian: its mean is the centre (the map
    # holds >= 4 sigma on each side, the sampling bias is ~exp(-2 pi^2 sigma^2)).
    logits = gaussian_logits((18, 24), (cx, cy), 1.5)[None, None]
    out = soft_argmax_2d(logits)
    np.testing.assert_allclose(out[0, 0].numpy(), [cx, cy], atol=1e-3)


@settings(max_examples=30, deadline=None)
@given(centre=st.tuples(st.floats(5.0, 9.0), st.floats(5.0, 10.0), st.floats(5.0, 6.0)))
def test_3d_gaussian_logits_decode_to_centre(centre):
    logits = gaussian_logits((12, 16, 15), centre, 1.2)[None, None]
    out = soft_argmax_3d(logits)
    np.testing.assert_allclose(out[0, 0].numpy(), centre, atol=1e-3)


def test_sharp_blob_with_large_beta_decodes_to_peak():
    # A peak-1 Gaussian target on a zero background: beta 1 is pulled to the map centre
    # (every background cell weighs exp(0) = 1), a large beta recovers the peak.
    x, y = 3, 10
    blob = torch.exp(gaussian_logits((16, 16), (x, y), 1.0))[None, None].float()
    assert (soft_argmax_2d(blob, 1.0)[0, 0] - torch.tensor([x, y])).abs().max() > 2
    np.testing.assert_allclose(soft_argmax_2d(blob, 200.0)[0, 0].numpy(), [x, y], atol=1e-4)
    vol = torch.exp(gaussian_logits((8, 16, 16), (x, y, 2), 1.0))[None, None]
    np.testing.assert_allclose(soft_argmax_3d(vol, 200.0)[0, 0].numpy(), [x, y, 2], atol=1e-4)


def test_numerically_stable_for_large_logits():
    maps = torch.zeros(1, 2, 4, 5)
    maps[0, 0, 1, 3] = 1e4  # exp(1e4) overflows without the max subtraction
    maps[0, 1] = -1e4
    out = soft_argmax_3d(maps[:, :, None].expand(1, 2, 3, 4, 5).contiguous() * 1.0)
    assert out.isfinite().all()
    out2 = soft_argmax_2d(maps)
    assert out2[0, 0].tolist() == [3.0, 1.0]
    assert out2[0, 1].tolist() == pytest.approx([2.0, 1.5])  # uniform: the map centre
    maps.requires_grad_()
    soft_argmax_2d(maps, 10.0).sum().backward()
    assert maps.grad is not None and maps.grad.isfinite().all()


def test_gradcheck_2d_and_3d():
    g = torch.Generator().manual_seed(2)
    maps2 = torch.randn(2, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: soft_argmax_2d(m, 2.0), (maps2,))
    maps3 = torch.randn(1, 2, 3, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: soft_argmax_3d(m, 0.7), (maps3,))
    out = soft_argmax_2d(maps2 * 50.0)
    (grad,) = torch.autograd.grad(out.sum(), maps2)
    assert grad.isfinite().all() and grad.abs().sum() > 0


def test_gradient_moves_estimate_towards_target():
    logits = gaussian_logits((10, 10), (4.0, 4.0), 1.5)[None, None].requires_grad_()
    target = torch.tensor([6.0, 5.0], dtype=torch.float64)
    loss = (soft_argmax_2d(logits)[0, 0] - target).abs().sum()
    loss.backward()
    stepped = logits.detach() - 5.0 * logits.grad
    new_loss = (soft_argmax_2d(stepped)[0, 0] - target).abs().sum()
    assert new_loss < loss.detach()


def test_shape_and_beta_errors():
    with pytest.raises(
        ValueError, match=re.escape("heatmaps: expected (B, J, H, W), got (3, 4, 5)")
    ):
        soft_argmax_2d(torch.zeros(3, 4, 5))
    with pytest.raises(
        ValueError, match=re.escape("volumes: expected (B, J, D, H, W), got (3, 4)")
    ):
        soft_argmax_3d(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="beta: expected a positive number"):
        soft_argmax_2d(torch.zeros(1, 1, 3, 3), beta=-1.0)
    with pytest.raises(ValueError, match="heatmaps: expected a floating-point tensor"):
        soft_argmax_2d(torch.zeros(1, 1, 3, 3, dtype=torch.long))
