"""`posekit.tasks.pose2d.real_images` on ../shared/data/real/mmpose_samples: stub models that
return the ground truth (exact, shifted by known fractions of the torso, in another layout),
the untrained floor, the pictures, and the benchmark's refusal of a missing folder.

The expected numbers are counted here from the readers' annotations or are literals from the
files (people per set), never values the module under test computed. Skips when ../shared/data
is absent (a user's clone).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.data.pose2d import TopDownCrops, convert_skeleton
from posekit.engine.base import get_task
from posekit.engine.config import load_config
from posekit.geometry.crops import apply_affine
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.real_images import (
    REAL_IMAGE_SETS,
    evaluate_real_images,
    load_real_image_set,
    real_image_sets,
    score_across_layouts,
    untrained_floor,
)
from posekit.tasks.pose2d.real_pictures import write_real_image_pictures

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / ".." / "shared" / "data" / "real" / "mmpose_samples"
SETS = list(REAL_IMAGE_SETS)
INPUT_HW = (128, 96)
# People per set (annotated / with a labelled joint): COCO 14 annotations, two without
# keypoints (40083 #2, 196141 #2); MPII 5 entries; CrowdPose 3 + 2, annotation 131039 without
# keypoints; Human3.6M 4 frames.
PEOPLE = {"coco": (14, 12), "mpii": (5, 5), "crowdpose": (5, 4), "h36m": (4, 4)}

Shift = Callable[[np.ndarray, str], np.ndarray]


@pytest.fixture(scope="module")
def real() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real sample data not present at {REAL} (../shared/data is not shipped)")
    return REAL


def _key(image: torch.Tensor) -> str:
    return hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest()


class GroundTruthModel:
    """Returns each crop's ground truth (the set's keypoints by name in ``skeleton``), moved by
    ``shift(keypoints_image, set_skeleton)`` image pixels, in crop pixels; 0 where unknown.
    Crops are recognised by their pixels."""

    def __init__(
        self, root: Path, skeleton: str, shift: Shift | None = None, sets: list[str] = SETS
    ) -> None:
        self.input_size = INPUT_HW
        self.skeleton_name = skeleton
        self.table: dict[str, np.ndarray] = {}
        for name in sets:
            source = load_real_image_set(root, name)
            for item in TopDownCrops(source, INPUT_HW, train=False, min_labelled=0):
                gt = item["keypoints_image"].numpy().astype(np.float64)
                if shift is not None:
                    gt = gt + shift(gt, source.skeleton)
                kp, _ = convert_skeleton(gt, np.ones(len(gt), bool), source.skeleton, skeleton)
                crop = apply_affine(torch.from_numpy(kp).double(), item["affine"].double())
                self.table[_key(item["image"])] = np.nan_to_num(crop.numpy())

    def predict_crops(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kp = np.stack([self.table[_key(im)] for im in images])
        return torch.from_numpy(kp).float(), torch.ones(kp.shape[:2])


def _labelled(root: Path, name: str) -> list[np.ndarray]:
    """(J, 2) keypoints (NaN: not labelled) of every person with a labelled joint."""
    source = load_real_image_set(root, name)
    people = []
    for i in range(len(source)):
        kp = source.sample(i).keypoints2d
        people += [k for k in kp if np.isfinite(k).all(-1).any()]
    return people


def _torso(kp: np.ndarray, skeleton: str) -> float:
    sk = get_skeleton(skeleton)
    d = kp[sk.index("r_shoulder")] - kp[sk.index("l_hip")]
    return float(np.hypot(d[0], d[1]))


def test_sets_found_and_refusals(real: Path, tmp_path: Path) -> None:
    assert real_image_sets(real) == ["coco", "mpii", "crowdpose", "h36m"]
    assert real_image_sets(tmp_path) == []
    stub = GroundTruthModel.__new__(GroundTruthModel)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_real_images(stub, tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="none of the sets' files"):
        evaluate_real_images(stub, tmp_path)
    with pytest.raises(ValueError, match="expected one of coco, mpii, crowdpose, h36m, got 'lsp'"):
        evaluate_real_images(stub, real, ["lsp"])
    with pytest.raises(ValueError, match=r"set 'mpii': no annotation file"):
        load_real_image_set(tmp_path, "mpii")


@pytest.fixture(scope="module")
def perfect_own(real: Path) -> dict:
    """Per set, the ground truth in the set's own layout."""
    return {
        name: evaluate_real_images(
            GroundTruthModel(real, load_real_image_set(real, name).skeleton, sets=[name]),
            real,
            [name],
        )[name]
        for name in SETS
    }


@pytest.mark.parametrize("name", SETS)
def test_ground_truth_scores_100_percent(name: str, real: Path, perfect_own: dict) -> None:
    s = perfect_own[name]
    people = _labelled(real, name)
    labelled = sum(int(np.isfinite(k).all(-1).sum()) for k in people)
    with_torso = [k for k in people if np.isfinite(_torso(k, s.skeleton))]
    assert (s.people_annotated, s.people) == PEOPLE[name]
    assert s.unscored_joints == ()
    m = s.evaluation.metrics
    assert m["joints_labelled"] == labelled
    assert m["joints_pck"] == sum(int(np.isfinite(k).all(-1).sum()) for k in with_torso)
    assert m["people_without_torso"] == len(people) - len(with_torso)
    assert s.pck == 1.0 and s.pckh == 1.0
    assert m["mean_error_px"] < 1e-3  # the crop -> image round trip, float32
    assert s.pred_px.shape == s.gt_px.shape == (len(people), len(people[0]), 2)
    assert s.head_norm == "head length"  # none of these files has head boxes


@pytest.mark.parametrize("name", SETS)
def test_shift_by_fractions_of_the_torso(name: str, real: Path) -> None:
    """Even joints 0.19 torso to the right (inside PCK@0.2), odd ones 0.21 (outside)."""

    def shift(gt: np.ndarray, skeleton: str) -> np.ndarray:
        t = _torso(gt, skeleton)
        frac = np.where(np.arange(len(gt)) % 2 == 0, 0.19, 0.21)
        out = np.zeros_like(gt)
        out[:, 0] = frac * (t if np.isfinite(t) else 0.0)
        return out

    skeleton = load_real_image_set(real, name).skeleton
    model = GroundTruthModel(real, skeleton, shift, [name])
    s = evaluate_real_images(model, real, [name])[name]
    hit = total = 0
    errors = []
    for kp in _labelled(real, name):
        t = _torso(kp, skeleton)
        labelled = np.flatnonzero(np.isfinite(kp).all(-1))
        errors += [(0.19 if j % 2 == 0 else 0.21) * (t if np.isfinite(t) else 0) for j in labelled]
        if np.isfinite(t):
            total += len(labelled)
            hit += int((labelled % 2 == 0).sum())
    assert 0 < hit < total
    assert s.evaluation.metrics["joints_pck"] == total
    assert s.pck == hit / total
    assert s.evaluation.metrics["mean_error_px"] == pytest.approx(np.mean(errors), abs=1e-3)


# Head length by hand where the files have no head boxes (none of these has): MPII and
# CrowdPose head top to neck, Human3.6M head top to neck/nose, COCO nose to the shoulders' middle.
HEAD = {
    "coco": ("nose", ("l_shoulder", "r_shoulder")),
    "mpii": ("head_top", ("neck",)),
    "crowdpose": ("head_top", ("neck",)),
    "h36m": ("head_top", ("neck_nose",)),
}


def _head(kp: np.ndarray, skeleton: str, name: str) -> float:
    sk = get_skeleton(skeleton)
    a, bs = HEAD[name]
    d = kp[sk.index(a)] - np.mean([kp[sk.index(b)] for b in bs], axis=0)
    return float(np.hypot(d[0], d[1]))


@pytest.mark.parametrize("name", SETS)
def test_shift_by_fractions_of_the_head(name: str, real: Path) -> None:
    """Even joints 0.48 head length down (inside PCKh@0.5), odd ones 0.52 (outside)."""
    skeleton = load_real_image_set(real, name).skeleton

    def shift(gt: np.ndarray, skeleton: str) -> np.ndarray:
        h = _head(gt, skeleton, name)
        out = np.zeros_like(gt)
        out[:, 1] = np.where(np.arange(len(gt)) % 2 == 0, 0.48, 0.52) * np.nan_to_num(h)
        return out

    model = GroundTruthModel(real, skeleton, shift, [name])
    s = evaluate_real_images(model, real, [name])[name]
    hit = total = 0
    for kp in _labelled(real, name):
        if np.isfinite(_head(kp, skeleton, name)):
            labelled = np.flatnonzero(np.isfinite(kp).all(-1))
            total += len(labelled)
            hit += int((labelled % 2 == 0).sum())
    assert 0 < hit < total
    assert s.evaluation.metrics["joints_pckh"] == total
    assert s.pckh == hit / total


def test_a_layout_without_torso_joints_has_no_pck() -> None:
    gt = torch.rand(3, 21, 2) * 100
    ev = score_across_layouts(gt.clone(), "hand21", gt, "hand21")
    assert math.isnan(ev.metrics["pck_0.2"]) and ev.metrics["joints_pck"] == 0
    assert ev.metrics["people_without_torso"] == 3 and ev.metrics["joints_labelled"] == 63


def test_head_boxes_win_over_the_head_length() -> None:
    gt = torch.zeros(2, 16, 2)
    sk = get_skeleton("mpii16")
    gt[:, sk.index("head_top")] = torch.tensor([0.0, -40.0])  # head length 40 px (neck at 0)
    gt[:, sk.index("r_shoulder")] = torch.tensor([-30.0, 10.0])
    gt[:, sk.index("l_hip")] = torch.tensor([30.0, 90.0])  # torso 100 px
    pred = gt.clone()
    pred[:, sk.index("l_wrist"), 0] += 15.0  # inside 0.5 x 40, outside 0.5 x 20
    head = torch.tensor([20.0, float("nan")])  # person 0: a head box of size 20 px
    ev = score_across_layouts(pred, "mpii16", gt, "mpii16", head)
    assert ev.per_joint["PCKh@0.5"][sk.index("l_wrist")] == 0.5
    assert ev.metrics["pckh_0.5"] == (2 * 16 - 1) / (2 * 16)
    assert ev.metrics["pck_0.2"] == 1.0


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        ("mpii", ("pelvis", "thorax", "neck", "head_top")),
        ("crowdpose", ("neck", "head_top")),
        ("h36m", ("pelvis", "spine", "thorax", "neck_nose", "head_top")),
        ("coco", ()),
    ],
)
def test_a_coco17_model_scores_only_the_joints_it_has(
    name: str, dropped: tuple[str, ...], real: Path
) -> None:
    s = evaluate_real_images(GroundTruthModel(real, "coco17", sets=[name]), real, [name])[name]
    assert s.unscored_joints == dropped and s.model_skeleton == "coco17"
    sk = get_skeleton(s.skeleton)
    keep = [j for j, n in enumerate(sk.joints) if n not in dropped]
    people = _labelled(real, name)
    with_torso = [k for k in people if np.isfinite(_torso(k, s.skeleton))]
    assert s.evaluation.metrics["joints_pck"] == sum(
        int(np.isfinite(k[keep]).all(-1).sum()) for k in with_torso
    )
    assert s.pck == 1.0 and s.pckh == 1.0
    per_joint = s.evaluation.per_joint["PCK@0.2"]
    assert per_joint.shape == (sk.num_joints,)
    assert all(per_joint[sk.index(j)].isnan() for j in dropped)
    assert not per_joint[keep].isnan().any()


def test_untrained_floor_is_the_seeds_mean_and_leaves_the_rng(real: Path) -> None:
    config = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml")
    sets = ["coco", "h36m"]
    state = torch.get_rng_state()
    floor = untrained_floor(config, real, sets, seeds=(0, 1))
    assert torch.equal(state, torch.get_rng_state())
    by_seed = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        by_seed.append(evaluate_real_images(get_task("pose2d")(config), real, sets))
    for name in sets:
        pcks = [r[name].pck for r in by_seed]
        assert floor[name].pck == pytest.approx(np.mean(pcks), abs=1e-12)
        assert [d["pck_0.2"] for d in floor[name].seed_metrics] == pcks
        assert floor[name].pckh == pytest.approx(np.mean([r[name].pckh for r in by_seed]))
        assert floor[name].pck < 0.5  # random weights do not find people


def test_pictures_are_written_per_set(real: Path, tmp_path: Path) -> None:
    scores = evaluate_real_images(GroundTruthModel(real, "coco17"), real, ["coco", "h36m"])
    paths = write_real_image_pictures(scores, real, tmp_path, prefix="gt_", max_people=5)
    assert paths == [tmp_path / "gt_coco.png", tmp_path / "gt_h36m.png"]
    coco = cv2.imread(str(paths[0]))
    h36m = cv2.imread(str(paths[1]))
    assert coco is not None and h36m is not None
    assert coco.shape[1] > h36m.shape[1]  # 5 tiles in a row against 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt_coco.png", "gt_h36m.png"]


def test_benchmark_refuses_a_missing_folder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "real_photos", ROOT / "benchmarks" / "real_photos.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit) as exc:
        bench.main(["x.ckpt", "--root", str(tmp_path / "nowhere")])
    assert "no real-image folder at" in str(exc.value.code) and "nowhere" in str(exc.value.code)
