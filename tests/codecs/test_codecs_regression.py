"""Tests of posekit.codecs.regression: convention, grid_sample agreement, round trips, shapes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs import ALIGN_CORNERS, Regression2D

CODEC = Regression2D((6, 8))  # H = 6, W = 8


def test_edges_centres_and_naive_formula():
    kp = torch.tensor([[[-0.5, -0.5], [7.5, 5.5], [3.5, 2.5], [0.0, 0.0], [2.0, 4.0]]])
    coords, weights = CODEC.encode(kp)
    # outer edges of the border pixels at -1 / +1, crop centre at 0, pixel 0 at -1 + 1/W
    expected = [[-1, -1], [1, 1], [0, 0], [-1 + 1 / 8, -1 + 1 / 6]]
    np.testing.assert_allclose(coords[0, :4].numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(coords[0, 4].numpy(), [(2 * 2 + 1) / 8 - 1, (2 * 4 + 1) / 6 - 1])
    assert (weights == 1).all()


def test_grid_sample_reads_the_pixel_at_the_keypoint():
    # An image whose channels hold each pixel's own x and y: bilinear grid_sample at the encoded
    # coordinates (with ALIGN_CORNERS) must return the keypoint itself, anywhere between pixel
    # centres (the interpolation of a linear ramp is exact).
    H, W = 6, 8
    ys, xs = torch.meshgrid(torch.arange(float(H)), torch.arange(float(W)), indexing="ij")
    image = torch.stack([xs, ys])[None].double().expand(3, 2, H, W)  # (B, 2, H, W)
    g = torch.Generator().manual_seed(0)
    kp = torch.rand(3, 5, 2, generator=g, dtype=torch.float64) * torch.tensor([W - 1.0, H - 1.0])
    coords, _ = CODEC.encode(kp)
    sampled = F.grid_sample(image, coords[:, :, None, :], align_corners=ALIGN_CORNERS)
    np.testing.assert_allclose(sampled[..., 0].transpose(1, 2).numpy(), kp.numpy(), atol=1e-12)
    # and the other convention would be wrong, so the constant matters
    wrong = F.grid_sample(image, coords[:, :, None, :], align_corners=not ALIGN_CORNERS)
    assert (wrong[..., 0].transpose(1, 2) - kp).abs().max() > 0.05


def test_affine_grid_identity_matches_pixel_centres():
    # affine_grid with the identity gives, at output pixel (i, j), the normalised coordinates of
    # that pixel's centre: exactly Regression2D.encode of (j, i).
    H, W = 6, 8
    grid = F.affine_grid(torch.eye(2, 3)[None].double(), [1, 1, H, W], align_corners=ALIGN_CORNERS)
    ys, xs = torch.meshgrid(torch.arange(float(H)), torch.arange(float(W)), indexing="ij")
    kp = torch.stack([xs, ys], -1).reshape(1, H * W, 2).double()
    coords, _ = CODEC.encode(kp)
    np.testing.assert_allclose(coords.reshape(1, H, W, 2).numpy(), grid.numpy(), atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=4, max_size=4),
    size=st.tuples(st.integers(1, 300), st.integers(1, 300)),
)
def test_round_trip(points, size):
    codec = Regression2D(size)
    kp = torch.tensor(points, dtype=torch.float64).reshape(2, 2, 2)
    coords, _ = codec.encode(kp)
    torch.testing.assert_close(codec.decode(coords), kp, rtol=0, atol=1e-9)
    inside = (kp >= -0.5) & (kp <= torch.tensor([size[1] - 0.5, size[0] - 0.5]))
    assert ((coords.abs() <= 1 + 1e-12) == inside).all()  # [-1, 1] iff inside the crop
    c32, _ = codec.encode(kp.float())
    assert c32.dtype == torch.float32
    torch.testing.assert_close(codec.decode(c32).double(), kp, rtol=0, atol=1e-3)


def test_missing_joints_get_zero_weight_and_finite_targets():
    kp = torch.tensor([[[1.0, 2.0], [float("nan"), 1.0], [3.0, 3.0]]])
    coords, weights = CODEC.encode(kp, torch.tensor([[1, 1, 0]]))
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    assert coords.isfinite().all() and (coords[0, 1:] == 0).all()


def test_decode_gradcheck():
    coords = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(CODEC.decode, (coords,))


def test_shape_errors_and_config():
    with pytest.raises(
        ValueError, match=re.escape("keypoints: expected (B, J, 2), got (4, 17, 3)")
    ):
        CODEC.encode(torch.zeros(4, 17, 3))
    with pytest.raises(ValueError, match=re.escape("coords: expected (B, J, 2), got (17, 2)")):
        CODEC.decode(torch.zeros(17, 2))
    with pytest.raises(ValueError, match=re.escape("visibility: expected (B, J), got (17,)")):
        CODEC.encode(torch.zeros(4, 17, 2), torch.ones(17))
    with pytest.raises(ValueError, match="input_size: expected 2 ints >= 1"):
        Regression2D((0, 8))
