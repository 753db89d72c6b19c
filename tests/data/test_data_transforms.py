"""Augmentation (one affine per sample, colour jitter) and flip test-time augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.data.transforms import (
    AugmentConfig,
    AugmentParams,
    augment_matrix,
    color_jitter,
    crop_and_augment,
    flip_back_heatmaps,
    flip_back_keypoints,
    flip_image,
    flip_matrix,
    inside_crop,
    sample_augment,
)
from posekit.geometry.crops import apply_affine, crop_matrix, warp_image
from posekit.skeletons import COCO17

L_WRIST, R_WRIST = COCO17.index("l_wrist"), COCO17.index("r_wrist")


def test_sample_augment_is_deterministic_and_in_range() -> None:
    cfg = AugmentConfig()
    a = [sample_augment(np.random.default_rng(s), cfg) for s in range(200)]
    assert a[:5] == [sample_augment(np.random.default_rng(s), cfg) for s in range(5)]
    rot = np.array([p.rotation_rad for p in a])
    assert np.abs(rot).max() <= math.radians(30) + 1e-12
    assert 0.2 < (rot == 0).mean() < 0.6  # rotation_probability 0.6
    scale = np.array([p.scale for p in a])
    assert scale.min() >= 0.75 and scale.max() <= 1.25
    assert 0.35 < np.mean([p.flip for p in a]) < 0.65
    for name in ("brightness", "contrast", "saturation"):
        v = np.array([getattr(p, name) for p in a])
        assert v.min() >= 0.8 and v.max() <= 1.2
    off = AugmentConfig(0, 0, (1, 1), 0, 0, 0, 0)
    assert sample_augment(np.random.default_rng(0), off) == AugmentParams()
    with pytest.raises(ValueError, match="scale_range"):
        AugmentConfig(scale_range=(1.2, 0.8))


def test_augment_matrix_composes_crop_and_flip() -> None:
    center = torch.tensor([50.0, 40.0], dtype=torch.float64)
    p = AugmentParams(rotation_rad=0.3, scale=1.1)
    M = augment_matrix(center, 80.0, (64, 48), p)
    torch.testing.assert_close(M, crop_matrix(center, 80.0, (64, 48), 0.3, 1.1))
    Mf = augment_matrix(
        center, 80.0, (64, 48), AugmentParams(rotation_rad=0.3, scale=1.1, flip=True)
    )
    pts = torch.rand(5, 2, dtype=torch.float64) * 100
    a, b = apply_affine(pts, M), apply_affine(pts, Mf)
    torch.testing.assert_close(b[:, 0], 47 - a[:, 0])
    torch.testing.assert_close(b[:, 1], a[:, 1])
    F = flip_matrix(48)
    torch.testing.assert_close(apply_affine(apply_affine(pts, F), F), pts)


def _blob_image(xy: tuple[float, float], size_hw: tuple[int, int] = (120, 160)) -> np.ndarray:
    H, W = size_hw
    yy, xx = np.mgrid[0:H, 0:W]
    g = np.exp(-((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / (2 * 3.0**2))
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 1] = np.round(255 * g)
    return img


def _centroid(img: np.ndarray) -> np.ndarray:
    w = img[..., 1].astype(np.float64)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


@pytest.mark.parametrize("seed", range(6))
def test_crop_and_augment_keeps_image_and_keypoints_aligned(seed: int) -> None:
    rng = np.random.default_rng(seed)
    wrist = (70.0 + 10 * rng.uniform(), 55.0 + 10 * rng.uniform())
    image = _blob_image(wrist)
    kp = np.full((1, 17, 2), np.nan, np.float32)
    kp[0, L_WRIST] = wrist
    kp[0, 0] = (80, 60)  # nose: inside
    vis = np.zeros((1, 17), bool)
    vis[0, [0, L_WRIST]] = True
    params = sample_augment(rng, AugmentConfig(rotation_probability=1.0, flip_probability=0.5))
    params = AugmentParams(params.rotation_rad, params.scale, params.flip)  # no colour change
    center = torch.tensor([75.0, 60.0], dtype=torch.float64)
    crop, kp_c, vis_c, M = crop_and_augment(
        image, kp, vis, center, 90.0, (64, 48), params, "coco17"
    )
    j = R_WRIST if params.flip else L_WRIST  # a flip moves the left wrist into the right slot
    assert vis_c[0, j] and not vis_c[0, L_WRIST + R_WRIST - j]
    np.testing.assert_allclose(kp_c[0, j], _centroid(crop), atol=0.15)
    assert np.isnan(kp_c[0, 1]).all() and not vis_c[0, 1]  # unknown stays unknown
    torch.testing.assert_close(
        torch.from_numpy(kp_c[0, j]).double(),
        apply_affine(torch.tensor([wrist], dtype=torch.float64), M)[0],
        atol=1e-4,  # keypoints come back as float32
        rtol=0,
    )
    np.testing.assert_array_equal(crop, warp_image(image, M, (64, 48)))


def test_keypoints_leaving_the_crop_become_invisible() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    kp = np.array([[[50, 50], [5, 50], [50, 98]]], np.float32)
    vis = np.ones((1, 3), bool)
    center = torch.tensor([50.0, 50.0], dtype=torch.float64)
    _, kp_c, vis_c, _ = crop_and_augment(
        image, kp, vis, center, 40.0, (32, 32), AugmentParams(), [0, 1, 2]
    )
    np.testing.assert_array_equal(vis_c, [[True, False, False]])
    assert np.isfinite(kp_c).all()  # positions are kept, only visibility drops
    assert inside_crop(np.array([[-0.5, 0.0], [31.5, 0.0], [np.nan, 0.0]]), (32, 32)).tolist() == [
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="visibility"):
        crop_and_augment(image, kp, vis[:, :2], center, 40.0, (32, 32), AugmentParams(), "coco17")


def test_color_jitter() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    assert color_jitter(img, AugmentParams()) is img
    grey = color_jitter(img, AugmentParams(saturation=0.0))
    assert np.abs(grey[..., 0].astype(int) - grey[..., 1]).max() <= 1
    dark = color_jitter(img, AugmentParams(brightness=0.5))
    assert abs(dark.mean() - img.mean() / 2) < 1
    flat = color_jitter(img, AugmentParams(contrast=0.0))
    assert flat.std() < 1
    with pytest.raises(ValueError, match="uint8"):
        color_jitter(img.astype(np.float32), AugmentParams(brightness=0.9))


def test_flip_back_heatmaps_needs_no_shift() -> None:
    """Targets of the mirrored image, flipped back, equal the original targets exactly."""
    codec = Heatmap2D(input_size=(64, 48), heatmap_size=(16, 12), sigma=1.5)
    torch.manual_seed(0)
    kp = torch.rand(3, 17, 2, dtype=torch.float64) * torch.tensor([47.0, 63.0], dtype=torch.float64)
    hm, _ = codec.encode(kp)
    mirrored = torch.stack((47 - kp[..., 0], kp[..., 1]), -1)[:, COCO17.flip_permutation]
    hm_m, _ = codec.encode(mirrored)
    torch.testing.assert_close(flip_back_heatmaps(hm_m, "coco17"), hm, atol=1e-12, rtol=0)
    # and the keypoints decoded from the mirrored heatmaps map back the same way
    dec_m, _ = codec.decode(hm_m)
    torch.testing.assert_close(flip_back_keypoints(dec_m, 48, COCO17), kp, atol=0.05, rtol=0)
    img = torch.rand(2, 3, 8, 6)
    torch.testing.assert_close(flip_image(flip_image(img)), img)
    assert torch.equal(flip_image(img)[..., 0], img[..., -1])
    with pytest.raises(ValueError, match="J=17"):
        flip_back_heatmaps(hm[:, :16], "coco17")
