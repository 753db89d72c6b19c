"""Tests of posekit.codecs.volumetric3d: naive reference, half-bin bound, soft-argmax, shapes."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs import Volumetric3D

# D, H, W = 12, 10, 8 cells; the input crop is 40 x 32 px (stride 4); 12 bins over 1.2 m.
CODEC = Volumetric3D((12, 10, 8), (40, 32), depth_range_m=1.2, sigma=1.5)
BIN_M = 0.1


def naive_encode(codec: Volumetric3D, kp: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Voxel-by-voxel reference of Volumetric3D.encode (all joints visible)."""
    (D, H, W), (H_in, W_in), R, s = (
        codec.heatmap_size,
        codec.input_size,
        codec.depth_range_m,
        codec.sigma,
    )
    B, J = z.shape
    out = np.zeros((B, J, D, H, W))
    for b in range(B):
        for j in range(J):
            mx = (kp[b, j, 0] + 0.5) * W / W_in - 0.5
            my = (kp[b, j, 1] + 0.5) * H / H_in - 0.5
            mz = (z[b, j] + R / 2) * D / R - 0.5
            for k in range(D):
                for r in range(H):
                    for c in range(W):
                        d2 = (c - mx) ** 2 + (r - my) ** 2 + (k - mz) ** 2
                        out[b, j, k, r, c] = math.exp(-d2 / (2 * s * s))
    return out


def cells_to_inputs(cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y, z) cells of CODEC → (pixels (B, J, 2), depth_rel_m (B, J))."""
    return (cells[..., :2] + 0.5) * 4 - 0.5, (cells[..., 2] + 0.5) * BIN_M - 0.6


def test_encode_matches_naive_reference():
    g = torch.Generator().manual_seed(0)
    cells = torch.rand(2, 3, 3, generator=g, dtype=torch.float64) * torch.tensor([7, 9, 11])
    kp, z = cells_to_inputs(cells)
    volumes, weights = CODEC.encode(kp, z)
    assert volumes.shape == (2, 3, 12, 10, 8)
    np.testing.assert_allclose(
        volumes.numpy(), naive_encode(CODEC, kp.numpy(), z.numpy()), atol=1e-12
    )
    assert (weights == 1).all()
    v32, _ = CODEC.encode(kp.float(), z.float())
    assert v32.dtype == torch.float32
    np.testing.assert_allclose(v32.numpy(), volumes.numpy(), atol=1e-6)


def test_bin_centres_and_range_edges():
    assert CODEC.bin_size_m == pytest.approx(BIN_M)
    # bin k is centred on (k + 0.5) * 0.1 - 0.6 m; the root (z = 0) sits on the edge of bins 5, 6
    z = torch.tensor([[-0.55, 0.05, 0.55]], dtype=torch.float64)
    kp = torch.full(
        (1, 3, 2), 13.5, dtype=torch.float64
    )  # the centre of cell 3: (3 + 0.5) * 4 - 0.5
    volumes, _ = CODEC.encode(kp, z)
    assert volumes.reshape(1, 3, 12, -1).amax(-1).argmax(-1).tolist() == [[0, 6, 11]]
    kp_dec, z_dec, conf = CODEC.decode(volumes)
    np.testing.assert_allclose(z_dec.numpy(), z.numpy(), atol=1e-12)
    np.testing.assert_allclose(kp_dec.numpy(), kp.numpy(), atol=1e-12)
    np.testing.assert_allclose(conf.numpy(), 1.0)


def test_weights_for_invisible_nan_and_out_of_range():
    kp = torch.full((1, 4, 2), 16.0)
    z = torch.tensor([[0.0, 0.1, float("nan"), 5.0]])  # 5 m: far beyond 0.6 m + 3 sigma
    vis = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    volumes, weights = CODEC.encode(kp, z, vis)
    assert weights.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert volumes[0, 1:].abs().max() == 0 and not volumes.isnan().any()


in_volume = st.tuples(st.floats(-0.5, 7.5), st.floats(-0.5, 9.5), st.floats(-0.5, 11.5))


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(in_volume, min_size=4, max_size=4))
def test_argmax_error_bounded_by_half_cell(cells):
    c = torch.tensor(cells, dtype=torch.float64).reshape(2, 2, 3)
    kp, z = cells_to_inputs(c)
    volumes, _ = CODEC.encode(kp, z)
    kp_dec, z_dec, _ = CODEC.decode(volumes)
    # argmax returns cell centres: the quantisation error is at most half a cell per axis,
    # i.e. 2 px in x, y and half a bin (0.05 m) in depth.
    assert (kp_dec - kp).abs().max() <= 2.0 + 1e-9
    assert (z_dec - z).abs().max() <= BIN_M / 2 + 1e-9


BIG = Volumetric3D((16, 12, 12), (48, 48), depth_range_m=1.6, sigma=1.5)  # 0.1 m bins
# Keypoints whose Gaussian fits in BIG (>= 3 sigma = 4.5 cells from every edge cell).
fitting = st.tuples(st.floats(4.5, 6.5), st.floats(4.5, 6.5), st.floats(4.5, 10.5))


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(fitting, min_size=3, max_size=3))
def test_soft_argmax_round_trip_on_log_target(cells):
    c = torch.tensor(cells, dtype=torch.float64).reshape(1, 3, 3)
    kp, z = (c[..., :2] + 0.5) * 4 - 0.5, (c[..., 2] + 0.5) * 0.1 - 0.8
    volumes, _ = BIG.encode(kp, z)
    soft = dataclasses.replace(BIG, decode_method="soft_argmax")
    # soft-argmax reads logits: softmax(log g) = g / sum(g), whose mean is the centre
    kp_soft, z_soft, _ = soft.decode(volumes.clamp_min(1e-300).log())
    assert (kp_soft - kp).abs().max() < 0.02 * 4  # < 0.02 cell
    assert (z_soft - z).abs().max() < 0.02 * 0.1


def test_soft_argmax_decode_beats_argmax_quantisation():
    # Sub-bin depths across one bin, with the Gaussian inside the volume (3 sigma margin):
    # argmax error grows to half a bin, soft-argmax on the target's log stays ~0.
    codec = BIG
    soft = dataclasses.replace(codec, decode_method="soft_argmax")
    frac = torch.linspace(0.0, 0.99, 12, dtype=torch.float64)
    z = (7.0 + frac + 0.5) * 0.1 - 0.8  # cells 7.0 .. 7.99
    kp = (torch.stack([5.0 + frac, 6.0 - frac], -1) + 0.5) * 4 - 0.5
    volumes, _ = codec.encode(kp[None], z[None])
    _, z_arg, _ = codec.decode(volumes)
    kp_soft, z_soft, _ = soft.decode(volumes.clamp_min(1e-300).log())
    err_arg = (z_arg - z).abs().max().item()
    err_soft = (z_soft - z).abs().max().item()
    # measured: argmax 0.046 m (~half a bin), soft-argmax 1.4e-7 m
    assert 0.045 < err_arg <= 0.05 + 1e-9
    assert err_soft < 0.02 * err_arg
    assert (kp_soft - kp).abs().max() < 0.05  # px


def test_batch_with_different_keypoints_and_dtypes():
    g = torch.Generator().manual_seed(2)
    cells = torch.rand(3, 4, 3, generator=g, dtype=torch.float64) * torch.tensor([7, 9, 11])
    kp, z = cells_to_inputs(cells)
    for dtype in (torch.float32, torch.float64):
        volumes, _ = CODEC.encode(kp.to(dtype), z.to(dtype))
        kp_dec, z_dec, conf = CODEC.decode(volumes)
        assert kp_dec.dtype == z_dec.dtype == conf.dtype == dtype
        for b in range(3):
            one, _ = CODEC.encode(kp[b : b + 1].to(dtype), z[b : b + 1].to(dtype))
            torch.testing.assert_close(one[0], volumes[b])
        assert (kp_dec.double() - kp).abs().max() <= 2.0 + 1e-5
        assert (z_dec.double() - z).abs().max() <= 0.05 + 1e-6


def test_soft_argmax_decode_gradcheck():
    soft = dataclasses.replace(Volumetric3D((3, 4, 3), (8, 6), 1.0), decode_method="soft_argmax")
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 2, 3, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)

    def f(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kp, z, _ = soft.decode(v)
        return kp, z

    assert torch.autograd.gradcheck(f, (logits,))


def test_shape_errors_and_config():
    with pytest.raises(ValueError, match=re.escape("depth_rel_m: expected (B, J) with B=2, J=3")):
        CODEC.encode(torch.zeros(2, 3, 2), torch.zeros(2, 4))
    with pytest.raises(
        ValueError, match=re.escape("keypoints_px: expected (B, J, 2), got (2, 3, 3)")
    ):
        CODEC.encode(torch.zeros(2, 3, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=re.escape("volumes: expected (B, J, 12, 10, 8), got")):
        CODEC.decode(torch.zeros(1, 2, 10, 10, 8))
    with pytest.raises(ValueError, match="depth_range_m: expected a positive number"):
        Volumetric3D((4, 4, 4), (8, 8), depth_range_m=0)
    with pytest.raises(ValueError, match="decode_method: expected one of"):
        Volumetric3D((4, 4, 4), (8, 8), decode_method="dark")
