"""The pose2d task: metrics, step-indexed batches, and training every 2D model through the
engine on a small rendered synthetic set (posekit's own data source)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.engine.config import load_config
from posekit.engine.datamodule import StepBatchSampler
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.evaluation import head_length, pose2d_evaluation

ROOT = Path(__file__).resolve().parents[2]


def test_evaluation_of_exact_and_shifted_predictions() -> None:
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(5, 17, 2, generator=g) * 200 + 20
    vis = torch.ones(5, 17, dtype=torch.bool)
    vis[:, 3] = False  # occluded
    ev = pose2d_evaluation(gt.clone(), gt, vis, "coco17")
    assert ev.metrics["pck_0.2"] == 1.0 and ev.metrics["pckh_0.5"] == 1.0
    assert ev.metrics["mean_error_px"] == 0.0 and ev.metrics["occluded_joints"] == 5
    assert ev.per_joint["PCK@0.2"].shape == (17,)
    # Shift every joint by 0.3 torso: PCK@0.2 fails everywhere, the error is exact.
    torso = torch.linalg.vector_norm(gt[:, 6] - gt[:, 11], dim=-1)  # r_shoulder - l_hip
    pred = gt + torch.stack([0.3 * torso, torch.zeros(5)], -1)[:, None]
    ev = pose2d_evaluation(pred, gt, vis, "coco17")
    assert ev.metrics["pck_0.2"] == 0.0
    assert ev.metrics["mean_error_px"] == pytest.approx(float(0.3 * torso.mean()), rel=1e-5)
    # Unlabelled joints (NaN) are left out.
    gt2 = gt.clone()
    gt2[:, 0] = float("nan")
    assert pose2d_evaluation(gt2.nan_to_num(), gt2, vis, "coco17").metrics["pck_0.2"] == 1.0


def test_head_length_uses_the_dataset_head_size_when_given() -> None:
    gt = torch.zeros(2, 17, 2)
    gt[:, 5] = torch.tensor([-10.0, 0.0])  # l_shoulder
    gt[:, 6] = torch.tensor([10.0, 0.0])
    gt[:, 0] = torch.tensor([0.0, -40.0])  # nose
    assert torch.allclose(head_length(gt, "coco17"), torch.tensor([40.0, 40.0]))
    pred = gt.clone()
    pred[:, 9] += torch.tensor([15.0, 0.0])  # l_wrist off by 15 px
    head = torch.tensor([20.0, float("nan")])  # image 0: a head box of 20 px (PCKh@0.5: 10 px)
    ev = pose2d_evaluation(pred, gt, torch.ones(2, 17, dtype=torch.bool), "coco17", head)
    assert ev.per_joint["PCKh@0.5"][9] == pytest.approx(0.5)


def test_step_batches_are_a_function_of_the_step() -> None:
    a = StepBatchSampler(100, 8, seed=3)
    b = StepBatchSampler(100, 8, seed=3, start_step=17)
    assert next(iter(b)) == a.batch_at(17)
    r0 = StepBatchSampler(100, 8, seed=3, rank=0, world=2).batch_at(2)
    r1 = StepBatchSampler(100, 8, seed=3, rank=1, world=2).batch_at(2)
    assert not {i for i, _ in r0} & {i for i, _ in r1}
    small = StepBatchSampler(5, 8, seed=0)  # fewer items than a batch: with replacement
    assert len(small.batch_at(0)) == 8 and small.batch_at(0) != small.batch_at(1)


@pytest.fixture(scope="module")
def data_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pose2d_data")
    return {"root": str(root), "num": 8, "val_num": 4, "size": [128, 128], "progress": False}


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("hourglass", []),
        ("hourglass", ["model.overrides.integral=false", "loss.intermediate_supervision=false"]),
        ("deeppose", []),
        ("compositional", ["eval.flip_test=true"]),
    ],
)
def test_every_2d_model_trains_and_evaluates(
    model: str, extra: list[str], data_params: dict, tmp_path: Path
) -> None:
    from posekit.engine.evaluate import evaluate_checkpoint
    from posekit.engine.run import train

    torch.set_num_threads(1)
    sets = [
        f"data.params={data_params}",
        "trainer.max_steps=3",
        "trainer.batch_size=4",
        "trainer.val_every=3",
        "trainer.num_workers=0",
        "trainer.progress_bar=false",
        *extra,
    ]
    config = load_config(ROOT / "configs" / f"pose2d_{model}_tiny.yaml", sets)
    result = train(config, tmp_path / "run", progress=False)
    assert result.global_step == 3
    assert result.evaluation is not None and result.evaluation.skeleton == "coco17"
    report = evaluate_checkpoint(result.best_checkpoint, progress=False)
    assert report.task == "pose2d" and report.evaluation.num_samples == 4
    assert set(report.evaluation.per_joint) == {"PCK@0.2", "PCKh@0.5", "error (px)"}
    # The validation loop inside training and `posekit eval` of the best checkpoint (the
    # last step here) score the same predictions of the same people.
    for key in ("pck_0.2", "mean_error_px"):
        assert report.evaluation.metrics[key] == pytest.approx(result.metrics[key], abs=1e-6)
    # The summary error is the mean of the per-joint errors over labelled joints: a
    # mis-scaled or mis-mapped prediction path would not give the same number twice.
    per_joint_px = report.evaluation.per_joint["error (px)"]
    assert float(per_joint_px.nanmean()) > 0.0


def test_another_tasks_section_key_is_refused_for_pose2d() -> None:
    cfg = ROOT / "configs" / "pose2d_hourglass_tiny.yaml"
    with pytest.raises(ValueError, match=r"unknown key 'loss\.name'; valid keys: heatmap_weight"):
        load_config(cfg, ["loss.name=mpjpe"])
    with pytest.raises(ValueError, match=r"unknown key 'loss\.flip_test'"):
        load_config(cfg, ["loss.flip_test=true"])
    assert load_config(cfg, ["eval.flip_test=true"]).eval.flip_test is True


def test_predict_runs_the_training_codec_with_the_flip_test(
    data_params: dict, tmp_path: Path
) -> None:
    """``posekit predict`` honours ``eval.flip_test``: with it, the keypoints are the mean of
    the image's and the mirrored image's (mirrored back, left and right swapped), as in
    validation; without it, the image's alone."""
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.predict import load_predictor
    from posekit.engine.run import train
    from posekit.skeletons import get_skeleton

    torch.set_num_threads(1)
    sets = [
        f"data.params={data_params}",
        "trainer.max_steps=2",
        "trainer.batch_size=4",
        "trainer.val_every=2",
        "trainer.num_workers=0",
        "trainer.progress_bar=false",
    ]
    config = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml", sets)
    ckpt = train(config, tmp_path / "run", progress=False).best_checkpoint
    saved = torch.load(ckpt, weights_only=True)
    saved[METADATA_KEY]["experiment"]["eval"]["flip_test"] = True
    flip_ckpt = tmp_path / "flip.ckpt"
    torch.save(saved, flip_ckpt)

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    plain, flipped = load_predictor(ckpt), load_predictor(flip_ckpt)
    assert (plain.flip_test, flipped.flip_test) == (False, True)
    a = plain.predict(image).keypoints[0]
    m = plain.predict(np.ascontiguousarray(image[:, ::-1])).keypoints[0]
    perm = get_skeleton("coco17").flip_permutation
    m_back = m[perm] * np.array([-1.0, 1.0]) + np.array([image.shape[1] - 1.0, 0.0])
    both = flipped.predict(image).keypoints[0]
    np.testing.assert_allclose(both, 0.5 * (a + m_back), atol=0.05)
    assert np.abs(both - a).max() > 0.05  # the flip test changed the answer


@pytest.mark.parametrize("layout", ["mpii16", "lsp14", "h36m17"])
def test_head_length_of_every_builtin_layout_is_head_top_to_neck(layout: str) -> None:
    # each built-in layout's head length is a distance between two of its own joints (the
    # mpii16 entry once named a joint "upper_neck" that mpii16 lacks: a KeyError)
    sk = get_skeleton(layout)
    gt = torch.zeros(1, sk.num_joints, 2)
    neck = "neck_nose" if layout == "h36m17" else "neck"
    gt[0, sk.index("head_top")] = torch.tensor([3.0, -30.0])
    gt[0, sk.index(neck)] = torch.tensor([3.0, -5.0])
    assert head_length(gt, layout).tolist() == [25.0]


def _upright_person() -> torch.Tensor:
    """coco17 keypoints of one upright person facing the camera (left side at larger x)."""
    sk = get_skeleton("coco17")
    gt = torch.zeros(1, 17, 2)
    for name, x, y in [
        ("nose", 50, 10), ("l_eye", 53, 8), ("r_eye", 47, 8), ("l_ear", 56, 9),
        ("r_ear", 44, 9), ("l_shoulder", 65, 30), ("r_shoulder", 35, 30),
        ("l_elbow", 70, 55), ("r_elbow", 30, 55), ("l_wrist", 72, 80), ("r_wrist", 28, 80),
        ("l_hip", 60, 80), ("r_hip", 40, 80), ("l_knee", 62, 120), ("r_knee", 38, 120),
        ("l_ankle", 63, 160), ("r_ankle", 37, 160),
    ]:  # fmt: skip
        gt[0, sk.index(name)] = torch.tensor([float(x), float(y)])
    return gt


def test_left_right_errors_count_merged_and_swapped_sides() -> None:
    sk = get_skeleton("coco17")
    gt = _upright_person()
    vis = torch.ones(1, 17, dtype=torch.bool)
    # torso = |r_shoulder - l_hip| = |(35, 30) - (60, 80)| = 55.9 px: pairs >= 22.4 px apart
    # count: shoulders (30), elbows (40), wrists (44), hips (20: no), knees (24), ankles (26)
    # -> 5 of the 8 pairs (eyes 6, ears 12 and hips 20 px are too close to tell)
    ev = pose2d_evaluation(gt.clone(), gt, vis, "coco17")
    assert ev.metrics["lr_merged"] == 0.0 and ev.metrics["lr_swapped"] == 0.0
    merged = gt.clone()
    for a, b in sk.flip_pairs:  # both sides at the pair's midpoint
        merged[0, a] = merged[0, b] = 0.5 * (gt[0, a] + gt[0, b])
    ev = pose2d_evaluation(merged, gt, vis, "coco17")
    assert ev.metrics["lr_merged"] == 1.0 and ev.metrics["lr_swapped"] == 0.0
    swapped = gt.clone()
    for a, b in sk.flip_pairs[4:6]:  # wrists and hips swapped; hips are not counted
        swapped[0, [a, b]] = gt[0, [b, a]]
    ev = pose2d_evaluation(swapped, gt, vis, "coco17")
    assert ev.metrics["lr_swapped"] == pytest.approx(1 / 5)
    assert ev.metrics["lr_merged"] == 0.0
