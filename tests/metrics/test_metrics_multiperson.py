"""Tests for posekit.metrics.multiperson: mmpose's rescoring, COCO results lists, detections
at (0, 0), and the ground truth's area taken from the dataset.

Expected values are hand arithmetic (the AP of a ranked list is worked out in the comments)
or pycocotools run directly on hand-built COCO dicts.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.data.sample import Sample
from posekit.metrics.multiperson import (
    PeopleDetections,
    SceneTruth,
    coco_results,
    multiperson_evaluation,
    rescore_people,
    scene_ground_truth,
)

NAN = float("nan")


def _person(x0: float, y0: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(17, 2, generator=g) * torch.tensor([80.0, 160.0]) + torch.tensor([x0, y0])


def test_rescore_people_is_the_mean_of_joint_scores_above_the_threshold() -> None:
    js = torch.tensor([[0.1, 0.5, 0.9], [0.1, 0.2, 0.15], [0.3, NAN, 0.5]])
    # (0.5 + 0.9) / 2; none above 0.2 (0.2 itself is not above); (0.3 + 0.5) / 2, NaN left out
    assert rescore_people(js).tolist() == pytest.approx([0.7, 0.0, 0.4])
    assert rescore_people(js, threshold=0.0).tolist() == pytest.approx([0.5, 0.15, 0.4])
    boxes = torch.tensor([0.5, 1.0, 2.0])
    assert rescore_people(js, box_scores=boxes).tolist() == pytest.approx([0.35, 0.0, 0.8])
    with pytest.raises(ValueError, match=r"box_scores: expected \(N,\) with N=3"):
        rescore_people(js, box_scores=boxes[:2])


def test_coco_results_hold_joint_scores_in_the_visibility_slot() -> None:
    kp = torch.tensor(
        [[[0.0, 0.0], [10.0, 20.0], [NAN, NAN]], [[4.0, 4.0], [6.0, 8.0], [5.0, 6.0]]]
    )
    people = PeopleDetections(
        kp, torch.tensor([0.6, 0.3]), torch.tensor([[0.5, 0.9, 0.8], [0.1, 0.1, 0.4]])
    )
    bare = PeopleDetections(
        torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]), torch.tensor([0.7])
    )
    res = coco_results([people, bare], [42, 7])
    assert [r["image_id"] for r in res] == [42, 42, 7]
    assert all(r["category_id"] == 1 for r in res)
    # the unplaced joint sits at the mean of the placed ones (5, 10), score 0
    assert res[0]["keypoints"] == pytest.approx([0, 0, 0.5, 10, 20, 0.9, 5, 10, 0])
    assert res[0]["score"] == pytest.approx((0.5 + 0.9) / 2)  # its 0.8 is not a placed joint's
    assert res[1]["score"] == pytest.approx(0.4)  # only 0.4 is above 0.2
    assert res[2]["keypoints"] == pytest.approx([1, 2, 1, 3, 4, 1, 5, 6, 1])  # no joint scores
    assert res[2]["score"] == pytest.approx(0.7)  # nothing to rescore: the person score
    kept = coco_results([people], [42], rescore=False)
    assert [r["score"] for r in kept] == pytest.approx([0.6, 0.3])
    with pytest.raises(ValueError, match=r"image_ids: expected one id per image \(2\), got 1"):
        coco_results([people, bare], [42])


def test_coco_results_load_into_pycocotools() -> None:
    people = [_person(50.0, 40.0, 1), _person(300.0, 60.0, 2)]
    ann = []
    for n, p in enumerate(people):
        kp = np.concatenate([p.double().numpy(), np.full((17, 1), 2.0)], 1).reshape(-1)
        box = [*p.min(0).values.tolist(), *(p.max(0).values - p.min(0).values).tolist()]
        ann.append({"id": n + 1, "image_id": 5, "category_id": 1, "keypoints": kp.tolist(),
                    "num_keypoints": 17, "area": 12800.0, "bbox": box, "iscrowd": 0})  # fmt: skip
    found = PeopleDetections(torch.stack(people), torch.ones(2), torch.full((2, 17), 0.8))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": [{"id": 5}], "annotations": ann,
                      "categories": [{"id": 1, "name": "person"}]}  # fmt: skip
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(coco_results([found], [5])), iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_a_detection_at_the_origin_is_kept_and_scored() -> None:
    p = _person(200.0, 150.0)
    flags = torch.full((1, 17), 2, dtype=torch.int64)
    truth = [SceneTruth(p[None], flags, torch.tensor([12800.0]))]
    zero = torch.zeros(17, 2)
    nothing = torch.full((17, 2), NAN)  # no joint placed: put at (0, 0)
    for ghost in (zero, nothing):
        # Ranked: the ghost (0.9, false positive), then the exact person (0.5, true positive):
        # precision 0 then 1/2 at recall 0 then 1; interpolated 1/2 at every recall: AP 0.5.
        found = PeopleDetections(torch.stack([ghost, p]), torch.tensor([0.9, 0.5]))
        ev = multiperson_evaluation(truth, [found], "coco17")
        assert ev.metrics["ap"] == pytest.approx(0.5) and ev.metrics["num_detections"] == 2
        # Ranked below the person it comes after full recall: AP 1.
        found = PeopleDetections(torch.stack([ghost, p]), torch.tensor([0.1, 0.5]))
        assert multiperson_evaluation(truth, [found], "coco17").metrics["ap"] == pytest.approx(1.0)


def test_scene_ground_truth_takes_the_datasets_own_area_and_crowd_index() -> None:
    kp = np.array([[[10.0, 10.0], [30.0, 50.0]], [[40.0, 20.0], [60.0, 30.0]]], np.float32)
    image = np.zeros((64, 80, 3), np.uint8)
    box = np.array([[5, 5, 35, 55], [35, 15, 65, 35]], np.float32)  # 30 x 50, 30 x 20
    kp14 = np.repeat(kp, 7, axis=1)  # (2, 14, 2): lsp14 people
    s = Sample(kp14, np.ones((2, 14), bool), "lsp14", image=image, bbox=box)
    t = scene_ground_truth(s)
    assert t.area_px2.tolist() == [1500.0, 600.0] and t.crowd_index is None  # the boxes
    s.meta = {"area": np.array([321.0, 0.0], np.float32), "crowd_index": 0.45}
    t = scene_ground_truth(s)
    assert t.area_px2.tolist() == [321.0, 600.0]  # the file's area; none (0): the box's
    assert t.crowd_index == pytest.approx(0.45)
    s.meta = {"area": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(ValueError, match=r"sample.meta\['area'\]: expected one area per person"):
        scene_ground_truth(s)
    with pytest.raises(ValueError, match="crowd_index: expected a finite number or None"):
        SceneTruth(t.keypoints, t.flags, t.area_px2, math.nan)
