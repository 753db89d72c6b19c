"""Tests for posekit.metrics.oks_nms (OKS-NMS of one image's people) and its use in top-down
evaluation (`posekit.tasks.pose2d.multiperson.people_from_crops`).

Expected values come from hand arithmetic or from `_naive_oks`, a loop over joints written
from the COCO formula, never from the functions under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from posekit.metrics.coco import COCO_SIGMAS
from posekit.metrics.multiperson import PeopleDetections
from posekit.metrics.oks_nms import (
    keypoint_box_areas,
    oks_nms,
    pairwise_oks,
    soft_oks_nms,
    suppress_people,
)
from posekit.tasks.pose2d.multiperson import people_from_crops


def _naive_oks(a: list[list[float]], b: list[list[float]], sigmas: list[float]) -> float:
    """COCO's OKS of two detections, scale = mean of their keypoint-box areas."""

    def area(p: list[list[float]]) -> float:
        xs = [x for x, _ in p if math.isfinite(x)]
        ys = [y for _, y in p if math.isfinite(y)]
        return (max(xs) - min(xs)) * (max(ys) - min(ys)) if xs else 0.0

    s2 = (area(a) + area(b)) / 2
    terms = []
    for (ax, ay), (bx, by), sig in zip(a, b, sigmas, strict=True):
        if all(math.isfinite(v) for v in (ax, ay, bx, by)):
            d2 = (ax - bx) ** 2 + (ay - by) ** 2
            terms.append(math.exp(-d2 / (2 * s2 * (2 * sig) ** 2)))
    return sum(terms) / len(terms) if terms else 0.0


def _person(x0: float, y0: float) -> torch.Tensor:
    """A coco17 person with a 100 x 200 keypoint box whose top-left corner is (x0, y0)."""
    g = torch.Generator().manual_seed(3)
    kp = torch.rand(17, 2, generator=g, dtype=torch.float64) * torch.tensor([100.0, 200.0])
    kp[0], kp[1] = torch.tensor([0.0, 0.0]), torch.tensor([100.0, 200.0])
    return kp + torch.tensor([x0, y0])


@pytest.fixture
def three() -> tuple[torch.Tensor, torch.Tensor, dict[tuple[int, int], float]]:
    """Person A (score 0.8), its duplicate A' = A + 1.5 px (score 0.9), person B far away
    (score 0.5), and their naive OKS."""
    a = _person(100.0, 50.0)
    kp = torch.stack([a, a + 1.5, _person(400.0, 60.0)])
    scores = torch.tensor([0.8, 0.9, 0.5], dtype=torch.float64)
    lists = [k.tolist() for k in kp]
    oks = {
        (i, j): _naive_oks(lists[i], lists[j], list(COCO_SIGMAS))
        for i in range(3)
        for j in range(3)
    }
    assert oks[0, 1] > 0.9 and oks[0, 2] < 1e-6 and oks[1, 2] < 1e-6  # what the tests rely on
    return kp, scores, oks


def test_pairwise_oks_by_hand() -> None:
    kp = torch.tensor(
        [
            [[0.0, 0.0], [10.0, 10.0]],  # box 10 x 10
            [[1.0, 0.0], [11.0, 10.0]],  # the same shifted 1 px: box 10 x 10
            [[0.0, 0.0], [20.0, 10.0]],  # box 20 x 10
        ]
    )
    sig = torch.tensor([0.1, 0.1], dtype=torch.float64)
    oks = pairwise_oks(kp, sig)
    # d^2 = 1 at both joints, s^2 = 100, (2 sigma)^2 = 0.04: e = 1 / (2 * 100 * 0.04) = 1/8
    assert float(oks[0, 1]) == pytest.approx(math.exp(-1 / 8), rel=1e-12)
    # s^2 = (100 + 200) / 2 = 150; joint 0: d = 0; joint 1: d^2 = 100, e = 100 / 12
    assert float(oks[0, 2]) == pytest.approx((1 + math.exp(-100 / 12)) / 2, rel=1e-12)
    assert torch.equal(oks, oks.T) and torch.allclose(
        oks.diagonal(), torch.ones(3, dtype=oks.dtype)
    )
    assert keypoint_box_areas(kp).tolist() == [100.0, 100.0, 200.0]


def test_pairwise_oks_leaves_out_unplaced_joints() -> None:
    nan = float("nan")
    kp = torch.tensor(
        [
            [[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]],
            [[1.0, 0.0], [11.0, 10.0], [nan, nan]],  # joint 2 not placed: box still 10 x 10
            [[nan, nan], [nan, nan], [nan, nan]],  # nothing placed
        ]
    )
    oks = pairwise_oks(kp, torch.tensor([0.1, 0.1, 0.1], dtype=torch.float64))
    assert float(oks[0, 1]) == pytest.approx(math.exp(-1 / 8), rel=1e-12)  # joints 0 and 1 only
    assert oks[2].tolist() == [0.0, 0.0, 0.0] and oks[:, 2].tolist() == [0.0, 0.0, 0.0]
    assert keypoint_box_areas(kp).tolist() == [100.0, 100.0, 0.0]


def test_oks_nms_drops_the_lower_scored_duplicate_and_keeps_another_person(three) -> None:
    kp, scores, oks = three
    sig = torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    assert oks_nms(kp, scores, sig).tolist() == [1, 2]  # A dropped: OKS with A' > 0.9
    # a threshold above their OKS keeps all three, best score first
    assert oks_nms(kp, scores, sig, threshold=oks[0, 1] + 1e-6).tolist() == [1, 0, 2]
    # equal scores keep input order: A (index 0) is kept, A' dropped
    assert oks_nms(kp, torch.tensor([0.5, 0.5, 0.5]), sig).tolist() == [0, 2]
    assert oks_nms(kp[:0], scores[:0], sig).tolist() == []


def test_soft_oks_nms_decays_the_duplicate_instead_of_dropping_it(three) -> None:
    kp, scores, oks = three
    sig = torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    keep, decayed = soft_oks_nms(kp, scores, sig)  # Gaussian, sigma 0.9
    # A' first; A decays to 0.8 exp(-oks^2 / 0.9) (~0.27), below B's 0.5: B second, A last
    a_after = 0.8 * math.exp(-(oks[0, 1] ** 2) / 0.9) * math.exp(-(oks[0, 2] ** 2) / 0.9)
    assert keep.tolist() == [1, 2, 0]
    expected = [0.9, 0.5 * math.exp(-(oks[1, 2] ** 2) / 0.9), a_after]
    assert decayed.tolist() == pytest.approx(expected, rel=1e-9)
    assert decayed[1] == pytest.approx(0.5)  # the other person keeps its score
    # linear: A's OKS with A' is >= 0.9, so 0.8 (1 - oks); B's is below, so it is untouched
    keep, decayed = soft_oks_nms(kp, scores, sig, method="linear")
    assert keep.tolist() == [1, 2, 0]
    assert decayed.tolist() == pytest.approx([0.9, 0.5, 0.8 * (1 - oks[0, 1])], rel=1e-9)
    # a score threshold above A's decayed score, and a detection cap, both leave A out
    assert a_after < 0.3
    assert soft_oks_nms(kp, scores, sig, score_threshold=0.3)[0].tolist() == [1, 2]
    assert soft_oks_nms(kp, scores, sig, max_detections=2)[0].tolist() == [1, 2]


def test_suppress_people_keeps_joint_scores_in_step(three) -> None:
    kp, scores, oks = three
    js = torch.arange(3.0)[:, None].expand(3, 17).clone()  # row n holds n
    people = PeopleDetections(kp.float(), scores.float(), js)
    assert suppress_people(people, "coco17", "none") is people
    greedy = suppress_people(people, "coco17", "oks")
    assert greedy.scores.tolist() == pytest.approx([0.9, 0.5])
    assert greedy.joint_scores[:, 0].tolist() == [1.0, 2.0]
    assert torch.equal(greedy.keypoints, people.keypoints[[1, 2]])
    soft = suppress_people(people, "coco17", "soft_oks")
    assert soft.joint_scores[:, 0].tolist() == [1.0, 2.0, 0.0]
    assert float(soft.scores[2]) == pytest.approx(0.8 * math.exp(-(oks[0, 1] ** 2) / 0.9), rel=1e-5)
    with pytest.raises(ValueError, match="nms: expected one of none, oks, soft_oks, got 'greedy'"):
        suppress_people(people, "coco17", "greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"detections.keypoints: expected 14 joints \(lsp14\)"):
        suppress_people(people, "lsp14", "oks")


def test_bad_inputs_name_the_argument(three) -> None:
    kp, scores, _ = three
    sig = torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"scores: expected \(N,\) with N=3"):
        oks_nms(kp, scores[:2], sig)
    with pytest.raises(ValueError, match=r"sigmas: expected \(J,\) with N=3, J=17, got \(14,\)"):
        oks_nms(kp, scores, sig[:14])
    with pytest.raises(ValueError, match="method: expected 'gaussian' or 'linear'"):
        soft_oks_nms(kp, scores, sig, method="box")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_detections: expected an integer >= 1"):
        soft_oks_nms(kp, scores, sig, max_detections=0)
    with pytest.raises(ValueError, match="threshold: expected a number > 0"):
        soft_oks_nms(kp, scores, sig, threshold=0.0)


def test_topdown_people_are_rescored_then_suppressed(three) -> None:
    kp, _, oks = three
    # crops: A and A' from image 0, B from image 1; image 2 has no crop
    js = torch.full((3, 17), 0.9)
    js[1, :8], js[1, 8:] = 0.1, 0.7  # rescored: mean of the scores above 0.2 = 0.7
    js[2, :] = 0.5
    index = torch.tensor([0, 0, 1])
    none = people_from_crops(kp.float(), js, index, 3, "coco17", nms="none")
    assert [len(p.scores) for p in none] == [2, 1, 0]
    assert none[0].scores.tolist() == pytest.approx([0.9, 0.7])
    assert none[1].scores.tolist() == pytest.approx([0.5])
    greedy = people_from_crops(kp.float(), js, index, 3, "coco17")  # default: OKS-NMS
    assert [len(p.scores) for p in greedy] == [1, 1, 0]
    assert torch.equal(greedy[0].keypoints[0], kp[0].float())  # A (0.9) kept, A' (0.7) dropped
    soft = people_from_crops(kp.float(), js, index, 3, "coco17", nms="soft_oks")
    assert soft[0].scores.tolist() == pytest.approx(
        [0.9, 0.7 * math.exp(-(oks[0, 1] ** 2) / 0.9)], rel=1e-5
    )
    linear = people_from_crops(
        kp.float(), js, index, 3, "coco17", nms="soft_oks", soft_nms="linear"
    )
    assert linear[0].scores.tolist() == pytest.approx([0.9, 0.7 * (1 - oks[0, 1])], rel=1e-4)
    with pytest.raises(ValueError, match="nms: expected one of none, oks, soft_oks"):
        people_from_crops(kp.float(), js, index, 3, "coco17", nms="nms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"image_index: expected values in \[0, 2\)"):
        people_from_crops(kp.float(), js, index + 1, 2, "coco17")
