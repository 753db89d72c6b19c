"""Tests for posekit.metrics.coco: OKS AP through pycocotools, from arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posekit.metrics import COCO_SIGMAS, coco_keypoint_ap


def _people(n: int = 12, k: int = 17, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(100, 400, size=(n, 1, 2))
    kps = centre + rng.uniform(-60, 60, size=(n, k, 2))
    vis = np.full((n, k), 2)
    vis[0, :3] = 0
    return kps, vis


def test_perfect_predictions_give_ap_one(capsys: pytest.CaptureFixture[str]) -> None:
    kps, vis = _people()
    areas = np.full(len(kps), 120.0**2)
    out = coco_keypoint_ap(kps, vis, kps, gt_areas=areas)
    keys = "ap ap50 ap75 ap_medium ap_large ar ar50 ar75 ar_medium ar_large"
    assert list(out) == keys.split()
    assert out["ap"] == pytest.approx(1.0) and out["ar"] == pytest.approx(1.0)
    assert out["ap_large"] == pytest.approx(1.0)
    assert math.isnan(out["ap_medium"])  # no medium person: pycocotools' -1 becomes NaN
    assert capsys.readouterr().out == ""  # pycocotools' printing is captured


def test_shifted_predictions_lower_ap() -> None:
    kps, vis = _people()
    boxes = np.concatenate([kps.min(1), kps.max(1) - kps.min(1)], -1)
    perfect = coco_keypoint_ap(kps, vis, kps, gt_boxes_xywh=boxes)
    shifted = coco_keypoint_ap(kps, vis, kps + 6.0, gt_boxes_xywh=boxes)
    far = coco_keypoint_ap(kps, vis, kps + 40.0, gt_boxes_xywh=boxes)
    assert perfect["ap"] == pytest.approx(1.0)
    assert far["ap"] < shifted["ap"] < perfect["ap"]
    # Torch inputs work the same.
    again = coco_keypoint_ap(
        torch.from_numpy(kps),
        torch.from_numpy(vis),
        torch.from_numpy(kps + 6.0),
        gt_boxes_xywh=boxes,
    )
    assert again["ap"] == pytest.approx(shifted["ap"])


def test_multi_image_scores_and_false_positives() -> None:
    kps, vis = _people(6)
    img = np.array([0, 0, 1, 1, 2, 2])
    dt = np.concatenate([kps, kps[:2] + 300.0])  # two extra detections far from anyone
    dt_img = np.concatenate([img, [0, 1]])
    low = np.concatenate([np.ones(6), [0.1, 0.1]])
    high = np.concatenate([np.full(6, 0.5), [0.9, 0.9]])
    kw = {"gt_image_ids": img, "dt_image_ids": dt_img, "gt_areas": np.full(6, 150.0**2)}
    ranked_well = coco_keypoint_ap(kps, vis, dt, low, **kw)
    ranked_badly = coco_keypoint_ap(kps, vis, dt, high, **kw)
    assert ranked_well["ap"] == pytest.approx(1.0)
    assert ranked_badly["ap"] < 1.0
    empty = coco_keypoint_ap(
        kps, vis, np.zeros((0, 17, 2)), np.zeros(0), gt_image_ids=img, dt_image_ids=np.zeros(0)
    )
    assert empty["ap"] == 0.0


def test_custom_sigmas_and_nan_rules() -> None:
    kps, vis = _people(8, k=5)
    with pytest.raises(ValueError, match="sigmas: required for K = 5"):
        coco_keypoint_ap(kps, vis, kps)
    sig = np.full(5, 0.05)
    assert coco_keypoint_ap(kps, vis, kps, sigmas=sig, gt_areas=np.full(8, 1e4))[
        "ap"
    ] == pytest.approx(1.0)
    wide = coco_keypoint_ap(kps, vis, kps + 5.0, sigmas=sig * 4, gt_areas=np.full(8, 1e4))
    tight = coco_keypoint_ap(kps, vis, kps + 5.0, sigmas=sig, gt_areas=np.full(8, 1e4))
    assert wide["ap"] > tight["ap"]
    gt_nan = kps.copy()
    gt_nan[1, 2] = np.nan  # treated as not labelled: the detection there does not matter
    dt = kps.copy()
    dt[1, 2] += 500.0
    assert coco_keypoint_ap(gt_nan, vis, dt, sigmas=sig, gt_areas=np.full(8, 1e4))[
        "ap"
    ] == pytest.approx(1.0)
    bad = kps.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="dt_keypoints: contains NaN"):
        coco_keypoint_ap(kps, vis, bad, sigmas=sig)
    with pytest.raises(ValueError, match=r"dt_keypoints: expected \(M, K, 2\) with"):
        coco_keypoint_ap(kps, vis, kps[:, :4], sigmas=sig)
    with pytest.raises(ValueError, match="dt_image_ids: required"):
        coco_keypoint_ap(kps, vis, kps[:3], sigmas=sig)
    assert len(COCO_SIGMAS) == 17
