"""Tests of the structured-light depth sensor model (shadows, noise, holes, rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.synthetic.depth_sensor import (
    DepthSensorConfig,
    noise_sigma,
    projector_shadow,
    simulate_depth_sensor,
)


def naive_shadow(depth: np.ndarray, fx: float, baseline_m: float) -> np.ndarray:
    """Pixel by pixel: shadowed if a measured pixel to the right has a smaller projector column."""
    H, W = depth.shape
    out = np.zeros((H, W), bool)
    for y in range(H):
        for u in range(W):
            if depth[y, u] <= 0:
                continue
            up = u - fx * baseline_m / depth[y, u]
            out[y, u] = any(
                depth[y, v] > 0 and v - fx * baseline_m / depth[y, v] < up for v in range(u + 1, W)
            )
    return out


def box_scene(h=20, w=60, z_fg=0.5, z_bg=1.0) -> np.ndarray:
    d = np.full((h, w), z_bg, np.float32)
    d[5:15, 30:40] = z_fg
    return d


def test_shadow_of_a_box_is_a_band_on_its_left():
    fx, b = 60.0, 0.075
    shadow = projector_shadow(box_scene(), fx, b)
    # background pixel u is hidden when u - fx·b/z_bg > 30 - fx·b/z_fg: u - 4.5 > 21
    assert shadow[5:15, 26:30].all() and not shadow[5:15, :26].any()
    assert not shadow[5:15, 30:].any() and not shadow[:5].any() and not shadow[15:].any()
    # the projector on the other side: the band is on the right (u + 4.5 < 39 + 9)
    right = projector_shadow(box_scene(), fx, -b)
    assert right[5:15, 40:44].all() and right.sum() == shadow.sum() == 40


def test_shadow_matches_the_naive_reference():
    rng = np.random.default_rng(0)
    d = np.full((12, 50), 1.2, np.float32)
    d[:, 20:30] = 0.6
    d[3:9, 5:12] = 0.45
    d[:, 40:44] = 0.0  # no measurement: never casts a shadow
    d += rng.uniform(0, 0.01, d.shape).astype(np.float32) * (d > 0)
    for b in (0.075, -0.075, 0.0):
        expected = naive_shadow(d, 80.0, b) if b >= 0 else naive_shadow(d[:, ::-1], 80.0, -b)
        expected = expected if b >= 0 else expected[:, ::-1]
        np.testing.assert_array_equal(projector_shadow(d, 80.0, b), expected)


def test_noiseless_sensor_returns_the_input():
    d = box_scene()
    d[0, :5] = 0
    out = simulate_depth_sensor(d, np.ones_like(d), 60.0, np.random.default_rng(0),
                                DepthSensorConfig.noiseless())  # fmt: skip
    np.testing.assert_array_equal(out, d)


def test_rounding_range_and_determinism():
    d = box_scene() + np.float32(0.0004)
    cfg = DepthSensorConfig(max_range_m=0.9)
    a = simulate_depth_sensor(d, np.ones_like(d), 60.0, np.random.default_rng(1), cfg)
    b = simulate_depth_sensor(d, np.ones_like(d), 60.0, np.random.default_rng(1), cfg)
    c = simulate_depth_sensor(d, np.ones_like(d), 60.0, np.random.default_rng(2), cfg)
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert a.dtype == np.float32 and a.shape == d.shape
    mm = a[a > 0] * 1000
    np.testing.assert_allclose(mm, np.round(mm), atol=1e-3)  # whole millimetres
    assert a.max() <= 0.9 and (a[:, :25] == 0).all()  # the 1 m wall is out of range


def test_noise_sigma_model():
    cfg = DepthSensorConfig()
    assert noise_sigma(np.float32(0.5), np.float32(1.0), cfg) == pytest.approx(1.5e-3, rel=1e-5)
    near, far = noise_sigma(np.array([0.3, 0.7], np.float32), np.ones(2, np.float32), cfg)
    assert far / near == pytest.approx((0.7 / 0.3) ** 2, rel=1e-4)
    # Nguyen et al. 2012: at 60° the angle term is 4 · 0.1 mm / sqrt(z)
    grazing = noise_sigma(np.float32(0.5), np.float32(0.5), cfg)
    assert grazing - 1.5e-3 == pytest.approx(4e-4 / np.sqrt(0.5), rel=1e-3)


def test_grazing_angles_and_edges_lose_pixels():
    d = np.full((40, 60), 0.8, np.float32)
    cos = np.ones_like(d)
    cos[:, 30:] = np.cos(np.deg2rad(89.0))  # beyond the default grazing range: always lost
    cfg = DepthSensorConfig(noise_sigma_m=0.0, angle_noise_m=0.0, hole_fraction=(0.0, 0.0),
                            pixel_dropout=0.0, projector_baseline_m=0.0)  # fmt: skip
    out = simulate_depth_sensor(d, cos, 60.0, np.random.default_rng(3), cfg)
    assert (out[:, 30:] == 0).all() and (out[:, :29] > 0).all()
    d[10:20, 10:20] = 0.0  # a hole: its rim loses about half its pixels
    out = simulate_depth_sensor(d, np.ones_like(d), 60.0, np.random.default_rng(3), cfg)
    rim = np.zeros_like(d, bool)
    rim[9:21, 9:21] = True
    rim[10:20, 10:20] = False
    rim[9, 9] = rim[9, 20] = rim[20, 9] = rim[20, 20] = False  # corners touch no hole pixel
    assert 0.25 < (out[rim] == 0).mean() < 0.75
    assert (out[25:, 25:29] > 0).all()


def test_config_validation():
    with pytest.raises(ValueError, match="hole_fraction"):
        DepthSensorConfig(hole_fraction=(0.2, 0.1))
    with pytest.raises(ValueError, match="grazing_deg"):
        DepthSensorConfig(grazing_deg=(80.0, 70.0))
    with pytest.raises(ValueError, match="edge_dropout"):
        DepthSensorConfig(edge_dropout=1.5)
    with pytest.raises(ValueError, match=r"depth_m: expected \(H, W\)"):
        simulate_depth_sensor(np.zeros(5), np.zeros(5), 60.0, np.random.default_rng(0))
