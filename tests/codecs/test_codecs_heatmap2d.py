"""Tests of posekit.codecs.heatmap2d: naive references, round trips, weights, shapes, dtypes."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs import Heatmap2D, gaussian_blur_2d, taylor_refine_2d

INPUT = (64, 48)  # (H, W)
MAP = (16, 12)  # (h, w): stride 4 on both axes
STRIDE = 4.0


def naive_encode(codec: Heatmap2D, keypoints: np.ndarray, visibility: np.ndarray):
    """Pixel-by-pixel reference of Heatmap2D.encode (plain Python loops)."""
    (H, W), (h, w), s = codec.input_size, codec.heatmap_size, codec.sigma
    B, J, _ = keypoints.shape
    heatmaps = np.zeros((B, J, h, w))
    weights = np.zeros((B, J))
    for b in range(B):
        for j in range(J):
            x, y = keypoints[b, j]
            if not (math.isfinite(x) and math.isfinite(y)) or visibility[b, j] <= 0:
                continue
            mx = (x + 0.5) * w / W - 0.5
            my = (y + 0.5) * h / H - 0.5
            if not (
                -0.5 - 3 * s <= mx <= w - 0.5 + 3 * s and -0.5 - 3 * s <= my <= h - 0.5 + 3 * s
            ):
                continue
            weights[b, j] = 1.0
            for r in range(h):
                for c in range(w):
                    heatmaps[b, j, r, c] = math.exp(-((c - mx) ** 2 + (r - my) ** 2) / (2 * s * s))
    return heatmaps, weights


def to_map(keypoints: torch.Tensor) -> torch.Tensor:
    """Input pixels → heatmap cells for INPUT/MAP (edge-aligned, stride 4)."""
    return (keypoints + 0.5) / STRIDE - 0.5


def from_map(cells: torch.Tensor) -> torch.Tensor:
    return (cells + 0.5) * STRIDE - 0.5


def test_encode_matches_naive_reference():
    codec = Heatmap2D(INPUT, MAP, sigma=1.5)
    g = torch.Generator().manual_seed(1)
    kp = torch.rand(3, 5, 2, generator=g, dtype=torch.float64) * torch.tensor([60.0, 80.0]) - 6
    kp[0, 1] = torch.tensor([-40.0, 10.0])  # 3 sigma box off the map: weight 0
    kp[1, 2, 0] = float("nan")  # missing: weight 0
    kp[2, 3] = torch.tensor([-3.0, 30.0])  # just outside, tail on the map: weight 1
    vis = torch.ones(3, 5)
    vis[2, 0] = 0
    heatmaps, weights = codec.encode(kp, vis)
    ref_h, ref_w = naive_encode(codec, kp.numpy(), vis.numpy())
    np.testing.assert_allclose(heatmaps.numpy(), ref_h, atol=1e-12)
    np.testing.assert_array_equal(weights.numpy(), ref_w)
    assert weights[2, 3] == 1 and heatmaps[2, 3].max() > 0.01
    assert not heatmaps.isnan().any()
    h32, w32 = codec.encode(kp.float(), vis)
    assert w32.dtype == torch.float32 and (w32.numpy() == ref_w).all()
    np.testing.assert_allclose(h32.numpy(), ref_h, atol=1e-6)


def test_encode_weights_and_zero_maps():
    codec = Heatmap2D(INPUT, MAP)
    kp = torch.tensor([[[20.0, 30.0], [float("nan"), 3.0], [10.0, float("inf")], [500.0, 5.0]]])
    vis = torch.tensor([[True, True, True, True]])
    heatmaps, weights = codec.encode(kp, vis)
    assert weights.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert heatmaps[0, 1:].abs().max() == 0
    assert heatmaps[0, 0].max() > 0.5
    # visibility of any dtype: float 0 / int 0 / bool False are invisible
    for v in (torch.tensor([[0.0, 2.0, 1, 1]]), torch.tensor([[0, 1, 1, 1]])):
        _, w = codec.encode(kp, v)
        assert w[0, 0] == 0


def test_peak_is_one_at_cell_centre():
    codec = Heatmap2D(INPUT, MAP)
    kp = from_map(torch.tensor([[[5.0, 7.0]]]))
    heatmaps, _ = codec.encode(kp)
    assert heatmaps[0, 0, 7, 5] == pytest.approx(1.0)
    assert heatmaps[0, 0].argmax() == 7 * 12 + 5


finite_cells = st.tuples(st.floats(-0.5, 11.5), st.floats(-0.5, 15.5))


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(finite_cells, min_size=6, max_size=6), blur=st.booleans())
def test_round_trip_dark_below_005_cell(cells, blur):
    # 2 samples x 3 joints, sub-pixel locations anywhere on the map (edges included).
    u = torch.tensor(cells, dtype=torch.float64).reshape(2, 3, 2)
    codec = Heatmap2D(INPUT, MAP, blur=blur)
    for dtype in (torch.float64, torch.float32):
        kp = from_map(u).to(dtype)
        heatmaps, weights = codec.encode(kp)
        decoded, conf = codec.decode(heatmaps)
        assert decoded.dtype == dtype and conf.dtype == dtype
        err_cells = (decoded.double() - kp.double()).abs() / STRIDE
        assert err_cells.max() < 0.05
        if not blur:  # the log of a clean Gaussian is a quadratic: the Newton step is exact
            assert err_cells.max() < (1e-9 if dtype == torch.float64 else 1e-4)
        assert (weights == 1).all() and (conf > 0.5).all()


@settings(max_examples=30, deadline=None)
@given(cells=st.lists(finite_cells, min_size=4, max_size=4))
def test_quarter_and_argmax_bounds(cells):
    u = torch.tensor(cells, dtype=torch.float64).reshape(1, 4, 2)
    codec = Heatmap2D(INPUT, MAP)
    heatmaps, _ = codec.encode(from_map(u))
    plain, _ = dataclasses.replace(codec, decode_method="argmax").decode(heatmaps)
    quarter, _ = dataclasses.replace(codec, decode_method="quarter").decode(heatmaps)
    err_plain = (to_map(plain) - u).abs()
    err_quarter = (to_map(quarter) - u).abs()
    assert err_plain.max() <= 0.5 + 1e-9
    assert (to_map(plain) - to_map(plain).round()).abs().max() < 1e-9  # cell centres
    interior = (u >= 1) & (u <= torch.tensor([10.0, 14.0]))  # both neighbours exist
    assert (err_quarter[interior] <= 0.25 + 1e-9).all()
    assert err_quarter.max() <= 0.5 + 1e-9


def naive_taylor(log_map: np.ndarray, ix: int, iy: int) -> tuple[float, float]:
    """Reference DARK step on one map with numpy: solve H d = -g at the nearest interior cell."""
    h, w = log_map.shape
    cx, cy = min(max(ix, 1), w - 2), min(max(iy, 1), h - 2)

    def L(r, c):
        return log_map[cy + r, cx + c]

    g = np.array([(L(0, 1) - L(0, -1)) / 2, (L(1, 0) - L(-1, 0)) / 2])
    hxy = (L(1, 1) - L(1, -1) - L(-1, 1) + L(-1, -1)) / 4
    hess = np.array(
        [[L(0, 1) - 2 * L(0, 0) + L(0, -1), hxy], [hxy, L(1, 0) - 2 * L(0, 0) + L(-1, 0)]]
    )
    if not (hess[0, 0] < 0 and np.linalg.det(hess) > 0):
        return float(ix), float(iy)
    d = -np.linalg.solve(hess, g)
    x = min(max(cx + d[0], ix - 1), ix + 1)
    y = min(max(cy + d[1], iy - 1), iy + 1)
    return float(x), float(y)


def test_taylor_refine_matches_naive_on_noisy_maps():
    g = torch.Generator().manual_seed(3)
    maps = torch.rand(3, 4, 7, 9, generator=g, dtype=torch.float64) + 0.1
    maps[0, 0] = 1.0  # flat map: Hessian 0, no refinement
    logs = maps.log()
    flat_idx = maps.reshape(3, 4, -1).argmax(-1)
    ix, iy = flat_idx % 9, flat_idx // 9
    out = taylor_refine_2d(logs, ix, iy)
    for b in range(3):
        for j in range(4):
            ref = naive_taylor(logs[b, j].numpy(), int(ix[b, j]), int(iy[b, j]))
            np.testing.assert_allclose(out[b, j].numpy(), ref, atol=1e-10)
    assert out[0, 0].tolist() == [0.0, 0.0]


def test_gaussian_blur_matches_naive_convolution():
    g = torch.Generator().manual_seed(4)
    maps = torch.rand(2, 3, 7, 9, generator=g, dtype=torch.float64)
    sigma = 1.0
    r = 3  # ceil(3 sigma)
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
    k2 = np.outer(k, k) / k.sum() ** 2
    ref = np.zeros(maps.shape)
    m = maps.numpy()
    for y in range(7):
        for x in range(9):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    if 0 <= y + dy < 7 and 0 <= x + dx < 9:  # zero padding
                        ref[:, :, y, x] += k2[dy + r, dx + r] * m[:, :, y + dy, x + dx]
    np.testing.assert_allclose(gaussian_blur_2d(maps, sigma).numpy(), ref, atol=1e-12)


def test_blur_makes_dark_robust_to_noise():
    g = torch.Generator().manual_seed(0)
    codec = Heatmap2D((64, 64), (32, 32), sigma=2.0)
    u = 8 + torch.rand(2, 50, 2, generator=g, dtype=torch.float64) * 15
    kp = (u + 0.5) * 2 - 0.5
    heatmaps, _ = codec.encode(kp)
    noisy = heatmaps + 0.05 * torch.randn(heatmaps.shape, generator=g, dtype=torch.float64)
    noisy = noisy.clamp_min(0)
    errors = {}
    for method, blur in [("dark", True), ("dark", False), ("quarter", False), ("argmax", False)]:
        out, _ = dataclasses.replace(codec, decode_method=method, blur=blur).decode(noisy)
        errors[method, blur] = ((out - kp) / 2).norm(dim=-1).mean().item()
    # measured: 0.05 (dark+blur), 0.27 (dark), 0.34 (quarter), 0.50 (argmax) cells
    assert errors["dark", True] < 0.1
    assert errors["dark", True] < 0.5 * errors["dark", False]
    assert errors["dark", True] < errors["quarter", False] < errors["argmax", False]


def test_soft_argmax_decode_on_log_target():
    codec = Heatmap2D(INPUT, MAP, sigma=1.5, decode_method="soft_argmax")
    u = torch.tensor([[[5.3, 7.8], [6.0, 8.5]]], dtype=torch.float64)  # >= 3 sigma inside
    heatmaps, _ = codec.encode(from_map(u))
    logits = heatmaps.clamp_min(1e-300).log()  # softmax(log g) = g / sum(g): mean = centre
    out, conf = codec.decode(logits)
    assert (to_map(out) - u).abs().max() < 0.01
    torch.testing.assert_close(conf, logits.amax(dim=(-2, -1)))  # the raw maximum
    logits.requires_grad_()
    codec.decode(logits)[0].sum().backward()
    assert logits.grad is not None and logits.grad.isfinite().all()


def test_batch_samples_are_independent():
    codec = Heatmap2D(INPUT, MAP)
    g = torch.Generator().manual_seed(5)
    kp = torch.rand(4, 6, 2, generator=g) * torch.tensor([47.0, 63.0])
    heatmaps, _ = codec.encode(kp)
    out, conf = codec.decode(heatmaps)
    for b in range(4):
        hb, _ = codec.encode(kp[b : b + 1])
        torch.testing.assert_close(hb[0], heatmaps[b])
        ob, cb = codec.decode(hb)
        torch.testing.assert_close(ob[0], out[b])
        torch.testing.assert_close(cb[0], conf[b])
    assert not torch.allclose(out[0], out[1])


def test_empty_map_decodes_with_zero_confidence():
    codec = Heatmap2D(INPUT, MAP)
    for method in ("dark", "quarter", "argmax"):
        out, conf = dataclasses.replace(codec, decode_method=method).decode(
            torch.zeros(1, 2, 16, 12)
        )
        assert out.isfinite().all() and (conf == 0).all()


def test_shape_errors():
    codec = Heatmap2D(INPUT, MAP)
    with pytest.raises(
        ValueError, match=re.escape("keypoints: expected (B, J, 2), got (4, 17, 3)")
    ):
        codec.encode(torch.zeros(4, 17, 3))
    with pytest.raises(ValueError, match=re.escape("visibility: expected (B, J) with B=4, J=17")):
        codec.encode(torch.zeros(4, 17, 2), torch.ones(4, 16))
    with pytest.raises(ValueError, match=re.escape("heatmaps: expected (B, J, 16, 12), got")):
        codec.decode(torch.zeros(2, 17, 12, 16))
    with pytest.raises(ValueError, match="keypoints: expected a floating-point tensor"):
        codec.encode(torch.zeros(4, 17, 2, dtype=torch.long))


def test_config_validation():
    with pytest.raises(ValueError, match="heatmap_size: expected 2 ints >= 3"):
        Heatmap2D(INPUT, (2, 12))
    with pytest.raises(ValueError, match="input_size: expected a sequence of 2 ints"):
        Heatmap2D(64, MAP)
    with pytest.raises(ValueError, match="sigma: expected a positive number"):
        Heatmap2D(INPUT, MAP, sigma=0.0)
    with pytest.raises(ValueError, match="decode_method: expected one of"):
        Heatmap2D(INPUT, MAP, decode_method="taylor")
    assert Heatmap2D([64, 48], [16, 12]).input_size == (64, 48)
