"""CrowdPose evaluation as its own tools run it: 14 sigmas, the 0.53 x box scale, AP(E/M/H).

The reference numbers are CrowdPose's evaluation constants (crowdposetools' ``computeOks``:
sigmas ``[.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79] / 10`` in
file order, scale ``bbox[2] * bbox[3] * 0.53``; easy / medium / hard split at crowd index 0.2
and 0.8), the raw json, and APs of ranked lists worked out by hand in the comments. The real
sample is read from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.metrics.multiperson import (
    PeopleDetections,
    SceneTruth,
    multiperson_evaluation,
    oks_sigmas,
    scene_ground_truth,
)
from posekit.skeletons import LSP14, MPII16

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"
# crowdposetools' sigmas, file order: l/r shoulder, elbow, wrist, hip, knee, ankle, head, neck
FILE_SIGMAS = [s / 10 for s in (0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87,
                                0.89, 0.89, 0.79, 0.79)]  # fmt: skip
FILE_NAMES = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip",
              "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "head_top", "neck")  # fmt: skip


def _crowdpose_json() -> Path:
    path = REAL / "crowdpose" / "test_crowdpose.json"
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    return path


def test_lsp14_sigmas_are_crowdposes() -> None:
    sig = oks_sigmas("lsp14")
    for name, expected in zip(FILE_NAMES, FILE_SIGMAS, strict=True):
        assert float(sig[LSP14.index(name)]) == pytest.approx(expected, abs=1e-12), name
    mpii = oks_sigmas("mpii16")  # the same names in another layout get the same sigmas
    assert float(mpii[MPII16.index("head_top")]) == pytest.approx(0.079)
    assert float(mpii[MPII16.index("neck")]) == pytest.approx(0.079)
    coco_mean = np.mean([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
                         0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089])  # fmt: skip
    assert float(mpii[MPII16.index("pelvis")]) == pytest.approx(coco_mean)  # no sigma of its own


def _scene(seed: int, crowd: float | None) -> tuple[SceneTruth, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(1, 14, 2, generator=g) * torch.tensor([80.0, 160.0]) + 100.0
    flags = torch.full((1, 14), 2, dtype=torch.int64)
    return SceneTruth(kp, flags, torch.tensor([12800.0]), crowd), kp[0]


def _crowd_scenes() -> tuple[list[SceneTruth], list[PeopleDetections]]:
    """Five one-person images: crowd index 0.1, 0.2, 0.5, 0.8 and none."""
    truths, found = [], []
    cases = [
        (0.1, [("exact", 0.7)]),
        (0.2, [("ghost", 0.9), ("exact", 0.5)]),  # a false positive at (0, 0) ranked first
        (0.5, [("exact", 0.4)]),
        (0.8, [("far", 0.6)]),  # 200 px off: a miss
        (None, []),
    ]
    for seed, (crowd, dets) in enumerate(cases):
        truth, kp = _scene(seed, crowd)
        truths.append(truth)
        pick = {"exact": kp, "ghost": torch.zeros(14, 2), "far": kp + 200.0}
        found.append(
            PeopleDetections(
                torch.stack([pick[d] for d, _ in dets]) if dets else torch.zeros(0, 14, 2),
                torch.tensor([s for _, s in dets]),
            )
        )
    return truths, found


def test_crowd_ap_easy_medium_hard() -> None:
    truths, found = _crowd_scenes()
    m = multiperson_evaluation(truths, found, "lsp14").metrics
    assert m["ap_crowd_easy"] == pytest.approx(1.0)  # 0.1: its person, found
    # medium: 0.2 (0.2 is medium) and 0.5. Ranked: ghost 0.9 (FP), exact 0.5 (TP), exact 0.4
    # (TP) of 2 people: precision 0, 1/2, 2/3; interpolated 2/3 at every recall: AP 2/3.
    assert m["ap_crowd_medium"] == pytest.approx(2 / 3)
    assert m["ap_crowd_hard"] == pytest.approx(0.0)  # 0.8 (0.8 is hard): missed
    assert m["num_images"] == 5 and m["num_people"] == 5  # the image without index counts here
    # other bounds: easy {0.1, 0.2} -> ranked 0.9 FP, 0.7 TP, 0.5 TP: AP 2/3; medium
    # {0.5, 0.8} -> 0.6 FP, 0.4 TP of 2: precision 0, 1/2: AP 1/2 up to recall 1/2, 0 past it
    m = multiperson_evaluation(truths, found, "lsp14", crowd_index_splits=(0.5, 0.9)).metrics
    assert m["ap_crowd_easy"] == pytest.approx(2 / 3)
    assert m["ap_crowd_medium"] == pytest.approx(0.5 * 51 / 101)
    assert math.isnan(m["ap_crowd_hard"])  # no image


def test_no_crowd_index_no_crowd_keys() -> None:
    truths, found = _crowd_scenes()
    plain = [SceneTruth(t.keypoints, t.flags, t.area_px2) for t in truths]
    m = multiperson_evaluation(plain, found, "lsp14").metrics
    assert not any(k.startswith("ap_crowd") for k in m)
    with pytest.raises(ValueError, match=r"crowd_index_splits: expected \(a, b\) with a <= b"):
        multiperson_evaluation(truths, found, "lsp14", crowd_index_splits=(0.8, 0.2))


def test_real_crowdpose_sample_scores_as_crowdposetools() -> None:
    from posekit.data.datasets import COCODataset

    path = _crowdpose_json()
    raw = json.loads(path.read_text())
    ds = COCODataset(path)
    truths = [scene_ground_truth(ds.sample(i)) for i in range(len(ds))]
    assert [t.crowd_index for t in truths] == pytest.approx([0.33, 0.39])
    # annotation 123803: bbox [106.01, 13.43, 273.15, 352.42], no area: 0.53 w h
    assert float(truths[0].area_px2[0]) == pytest.approx(0.53 * 273.15 * 352.42, rel=1e-6)

    # The annotations read back as detections: AP 1, both images medium (0.33, 0.39).
    exact = []
    for t in truths:
        used = (t.flags > 0).any(-1)
        exact.append(
            PeopleDetections(t.keypoints[used].nan_to_num(0.0), torch.ones(int(used.sum())))
        )
    m = multiperson_evaluation(truths, exact, "lsp14").metrics
    assert m["ap"] == pytest.approx(1.0) and m["ap_crowd_medium"] == pytest.approx(1.0)
    assert math.isnan(m["ap_crowd_easy"]) and math.isnan(m["ap_crowd_hard"])

    # Image 103319: annotation 129014 found exactly (0.9), annotation 127068 10 px to the right
    # (0.8). Its OKS by crowdposetools' formula from the raw json:
    ann = next(a for a in raw["annotations"] if a["id"] == 127068)
    v = ann["keypoints"][2::3]
    w, h = ann["bbox"][2], ann["bbox"][3]

    def oks(scale: float) -> float:
        terms = [math.exp(-(10.0**2) / (2 * scale * (2 * s) ** 2))
                 for s, vis in zip(FILE_SIGMAS, v, strict=True) if vis > 0]  # fmt: skip
        return sum(terms) / len(terms)

    thresholds = np.linspace(0.5, 0.95, 10)
    n = int((oks(0.53 * w * h) >= thresholds).sum())  # thresholds at which it is found
    assert n != int((oks(w * h) >= thresholds).sum())  # the scale matters here
    # Found: AP 1 at that threshold; else recall stops at 1/2 with precision 1: AP 51/101.
    expected = (n + (10 - n) * 51 / 101) / 10
    t = truths[1]
    assert ds.sample(1).meta["annotation_ids"].tolist() == [127068, 129014]
    shifted = t.keypoints.clone()
    shifted[0, :, 0] += 10.0
    dets = PeopleDetections(shifted[[1, 0]], torch.tensor([0.9, 0.8]))
    m = multiperson_evaluation([t], [dets], "lsp14").metrics
    assert m["ap"] == pytest.approx(expected)
    assert m["ap_crowd_medium"] == pytest.approx(expected)
