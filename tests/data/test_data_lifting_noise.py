"""Tests of posekit.data.lifting.noise: each error kind, its probability, units, seeding."""

from __future__ import annotations

import math
import re

import pytest
import torch

from posekit.data.lifting.noise import NoiseConfig, StructuredNoise, structured_noise
from posekit.skeletons import H36M17

B = 20_000  # large enough that a frequency is within ~0.01 of its probability (4 sigma)


def _poses(n: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Distinct random 2D poses in pixels, about 200 px across."""
    gen = torch.Generator().manual_seed(seed)
    return 300 + 60 * torch.randn(n, 17, 2, generator=gen, dtype=dtype)


def _noise(kp, vis=None, seed=0, **cfg):
    gen = torch.Generator().manual_seed(seed)
    return structured_noise(kp, vis, H36M17, NoiseConfig(**cfg), gen)


def _tol(p: float, n: int) -> float:
    return 4 * math.sqrt(p * (1 - p) / n) + 1e-9


def test_default_config_is_the_identity():
    kp = _poses(8)
    noisy, vis = _noise(kp)
    assert torch.equal(noisy, kp)
    assert vis.dtype == kp.dtype and (vis == 1).all()


def test_same_seed_same_noise_and_different_seed_different_noise():
    kp = _poses(64)
    cfg = {"jitter_sigma": 0.02, "swap_prob": 0.3, "drop_prob": 0.2, "outlier_prob": 0.1}
    a, va = _noise(kp, seed=3, **cfg)
    b, vb = _noise(kp, seed=3, **cfg)
    c, _ = _noise(kp, seed=4, **cfg)
    assert torch.equal(a, b) and torch.equal(va, vb)
    assert not torch.equal(a, c)
    noise = StructuredNoise(cfg, "h36m17", seed=3)
    d, vd = noise(kp)
    assert torch.equal(d, a) and torch.equal(vd, va)
    e, _ = noise(kp)  # the generator moves on
    assert not torch.equal(e, a)


def test_swap_probability_one_swaps_every_left_right_pair():
    kp = _poses(5)
    vis = (torch.rand(5, 17, generator=torch.Generator().manual_seed(1)) > 0.3).double()
    noisy, vis_after = _noise(kp, vis, swap_prob=1.0)
    perm = H36M17.flip_permutation
    assert torch.equal(noisy, kp[:, perm])
    assert torch.equal(vis_after, vis[:, perm])
    l_wrist, r_wrist = H36M17.index("l_wrist"), H36M17.index("r_wrist")
    assert torch.equal(noisy[:, l_wrist], kp[:, r_wrist])
    assert torch.equal(noisy[:, 0], kp[:, 0])  # the pelvis has no partner


def test_swap_probability_is_respected():
    kp = _poses(B)
    noisy, _ = _noise(kp, swap_prob=0.3)
    pairs = torch.tensor(H36M17.flip_pairs)  # (P, 2)
    left, right = pairs[:, 0], pairs[:, 1]
    swapped = (noisy[:, left] == kp[:, right]).all(-1)  # (B, P)
    kept = (noisy[:, left] == kp[:, left]).all(-1)
    assert (swapped ^ kept).all()  # a pair is either swapped or untouched
    assert (noisy[:, right][swapped] == kp[:, left][swapped]).all()  # both sides move
    assert abs(swapped.double().mean().item() - 0.3) < _tol(0.3, swapped.numel())
    # pairs swap independently of each other
    both = (swapped[:, 0] & swapped[:, 1]).double().mean().item()
    assert abs(both - 0.09) < _tol(0.09, B)


def test_drop_probability_fill_and_already_invisible_joints():
    kp = _poses(B)
    vis = torch.ones(B, 17, dtype=torch.bool)
    vis[:, 3] = False  # never visible: must stay invisible and not be counted as a drop
    noisy, vis_after = _noise(kp, vis, drop_prob=0.2)
    assert vis_after.dtype == torch.bool
    assert not vis_after[:, 3].any()
    assert torch.equal(noisy[:, 3], kp[:, 3])
    dropped = vis & ~vis_after
    assert abs(dropped[:, vis[0]].double().mean().item() - 0.2) < _tol(0.2, B * 16)
    assert (noisy[dropped] == 0).all()
    assert torch.equal(noisy[~dropped], kp[~dropped])
    # centroid fill: the mean of the sample's visible joints before noise
    noisy_c, vis_c = _noise(kp[:50], vis[:50], drop_prob=0.5, drop_fill="centroid")
    centroid = kp[:50][:, vis[0]].mean(1)  # (50, 2)
    dropped_c = vis[:50] & ~vis_c.bool()
    rows = dropped_c.nonzero()[:, 0]
    torch.testing.assert_close(noisy_c[dropped_c], centroid[rows])


def test_outliers_probability_and_radius_in_absolute_units():
    kp = _poses(B)
    noisy, vis_after = _noise(kp, outlier_prob=0.1, outlier_radius=(20.0, 30.0), units="absolute")
    assert (vis_after == 1).all()  # an outlier stays visible
    moved = (noisy != kp).any(-1)  # (B, J)
    assert abs(moved.double().mean().item() - 0.1) < _tol(0.1, moved.numel())
    length = torch.linalg.vector_norm(noisy - kp, dim=-1)[moved]
    assert length.min() >= 20 - 1e-9 and length.max() <= 30 + 1e-9
    # directions are uniform: the mean displacement is near zero
    shift = (noisy - kp)[moved]
    assert shift.mean(0).abs().max() < 0.02 * 25


def test_jitter_sigma_in_absolute_units_and_invisible_joints_untouched():
    kp = _poses(B)
    vis = torch.ones(B, 17)
    vis[:, 7] = 0
    noisy, vis_after = _noise(kp, vis, jitter_sigma=2.0, units="absolute")
    assert torch.equal(vis_after, vis)
    assert torch.equal(noisy[:, 7], kp[:, 7])
    d = (noisy - kp)[:, vis[0] > 0]  # (B, 16, 2)
    assert abs(d.std().item() - 2.0) < 0.02
    assert abs(d.mean().item()) < 0.01


def test_bbox_units_scale_with_the_pose():
    kp = _poses(16)
    cfg = {"jitter_sigma": 0.05, "outlier_prob": 0.3, "units": "bbox"}
    a, _ = _noise(kp, **cfg)
    b, _ = _noise(10 * kp, **cfg)
    torch.testing.assert_close(b, 10 * a)
    # one fully invisible sample: scale 0, no noise, no NaN
    vis = torch.ones(16, 17)
    vis[0] = 0
    c, _ = _noise(kp, vis, **cfg)
    assert c.isfinite().all() and torch.equal(c[0], kp[0])


def test_float32_and_visibility_none_dtype():
    kp = _poses(4, dtype=torch.float32)
    noisy, vis = _noise(kp, jitter_sigma=0.1, drop_prob=0.5)
    assert noisy.dtype == torch.float32 and vis.dtype == torch.float32


def test_shape_and_config_errors():
    with pytest.raises(
        ValueError, match=re.escape("keypoints: expected (B, 17, 2), got (4, 16, 2)")
    ):
        _noise(torch.zeros(4, 16, 2))
    with pytest.raises(ValueError, match=re.escape("visibility: expected (B, 17), got (4, 16)")):
        _noise(torch.zeros(4, 17, 2), torch.ones(4, 16))
    with pytest.raises(ValueError, match="swap_prob: expected a probability"):
        NoiseConfig(swap_prob=1.5)
    with pytest.raises(ValueError, match="outlier_radius"):
        NoiseConfig(outlier_radius=(3.0, 1.0))
    with pytest.raises(ValueError, match="units"):
        NoiseConfig(units="mm")
    with pytest.raises(ValueError, match="drop_fill"):
        NoiseConfig(drop_fill="nan")
    assert NoiseConfig.coerce({"outlier_radius": [1, 2]}).outlier_radius == (1.0, 2.0)
