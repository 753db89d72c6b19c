"""The bottomup task and multi-person evaluation: COCO AP of exact people, the decode path fed
with ground-truth maps, a few training steps on rendered multi-person scenes, and top-down
inference over the ground-truth boxes with a pose2d checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posekit.engine.config import load_config
from posekit.metrics.multiperson import (
    PeopleDetections,
    SceneTruth,
    multiperson_evaluation,
    scene_ground_truth,
    truth_from_batch,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scene_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("bottomup_scenes")
    return {
        "root": str(root),
        "num": 4,
        "val_num": 3,
        "size": [128, 128],
        "people": [2, 3],
        "progress": False,
    }


def _config(scene_params: dict, extra: tuple[str, ...] = ()) -> object:
    sets = [
        "model.overrides.input_size=[128, 128]",
        f"data.params={scene_params}",
        "trainer.max_steps=3",
        "trainer.batch_size=2",
        "trainer.val_every=3",
        "trainer.num_workers=0",
        "trainer.progress_bar=false",
        *extra,
    ]
    return load_config(ROOT / "configs" / "bottomup_hourglass_tiny.yaml", sets)


def test_exact_people_score_ap_1_and_wrong_ones_less() -> None:
    g = torch.Generator().manual_seed(0)
    truths, exact, shifted = [], [], []
    for _ in range(3):
        kp = torch.rand(2, 17, 2, generator=g) * 60 + torch.tensor(
            [[[20.0, 20.0]], [[120.0, 90.0]]]
        )
        flags = torch.full((2, 17), 2, dtype=torch.int64)
        flags[:, 3] = 0  # not labelled
        truths.append(SceneTruth(kp, flags, torch.full((2,), 3000.0)))
        exact.append(PeopleDetections(kp.clone(), torch.tensor([0.9, 0.8])))
        shifted.append(PeopleDetections(kp + 6.0, torch.tensor([0.9, 0.8])))
    ev = multiperson_evaluation(truths, exact, "coco17")
    assert ev.metrics["ap"] == pytest.approx(1.0) and ev.metrics["ar"] == pytest.approx(1.0)
    assert ev.metrics["num_people"] == 6 and ev.metrics["num_detections"] == 6
    assert multiperson_evaluation(truths, shifted, "coco17").metrics["ap"] < 0.9
    none = [PeopleDetections(torch.zeros(0, 17, 2), torch.zeros(0)) for _ in truths]
    assert multiperson_evaluation(truths, none, "coco17").metrics["ap"] == 0.0
    with pytest.raises(ValueError, match="one entry per image"):
        multiperson_evaluation(truths, exact[:2], "coco17")


def test_ground_truth_maps_through_the_decode_path_give_high_ap(scene_params: dict) -> None:
    from posekit.engine.datamodule import val_loader
    from posekit.tasks.bottomup.module import BottomUpModule, bottomup_images

    torch.set_num_threads(1)
    config = _config(scene_params)
    module = BottomUpModule(config)
    scenes = bottomup_images(config, "val", "synthetic_body", dict(config.data.params))
    truths, detections = [], []
    for batch in val_loader(scenes, 0, 16):
        P = int(batch["num_people"].max())
        kp, w = batch["keypoints"][:, :P], batch["target_weight"][:, :P]
        kp = torch.where(w[..., None] > 0, kp, torch.zeros_like(kp))
        heatmaps, _, index = module.codec.ae.encode(kp, w)  # (B, J, h, w), (B, P, J)
        B, J, h, wd = heatmaps.shape
        tags = torch.zeros(B, J, h * wd)  # person p's joints carry tag 2 p + 2
        for b in range(B):
            for p in range(P):
                for j in range(J):
                    if index[b, p, j] >= 0:
                        tags[b, j, index[b, p, j]] = 2.0 * p + 2.0
        found = module.codec.decode_people(heatmaps, tags.reshape(B, J, h, wd), batch["affine_inv"])
        detections += found
        truths += truth_from_batch(batch)
    assert sum(len(d.scores) for d in detections) >= sum(
        int((t.flags > 0).any(-1).sum()) for t in truths
    )
    # The decode's own error (4-pixel cells refined by a quarter cell) costs a little AP at
    # the strict OKS thresholds of the smallest people: 128x128 input here (256: about 0.99).
    ev = multiperson_evaluation(truths, detections, "coco17")
    assert ev.metrics["ap50"] > 0.9 and ev.metrics["ap"] > 0.6


def test_bottomup_trains_and_evaluates(scene_params: dict, tmp_path: Path) -> None:
    from posekit.engine.evaluate import evaluate_checkpoint
    from posekit.engine.run import train

    torch.set_num_threads(1)
    result = train(_config(scene_params), tmp_path / "run", progress=False)
    assert result.global_step == 3
    assert result.evaluation is not None and result.evaluation.num_samples == 3
    report = evaluate_checkpoint(result.best_checkpoint, progress=False)
    assert report.task == "bottomup" and report.evaluation.num_samples == 3
    # The validation loop inside training and `posekit eval` score the same detections.
    for key in ("ap", "ar"):
        assert report.evaluation.metrics[key] == pytest.approx(result.metrics[key], abs=1e-9)
    assert report.evaluation.metrics["num_people"] >= 6
    # The flip test reaches the codec: tags of both images are concatenated (D -> 2 D).
    flip = evaluate_checkpoint(result.best_checkpoint, overrides=["eval.flip_test=true"])
    assert flip.evaluation.num_samples == 3
    from posekit.engine.evaluate import module_from_checkpoint

    module, _, _ = module_from_checkpoint(result.best_checkpoint, ["eval.flip_test=true"])
    hm, tags = module.predict_maps(torch.zeros(1, 3, *module.input_size))
    assert tags.shape[1] == 2 * module.codec.tag_dim * hm.shape[1]


def test_bottomup_refuses_a_model_without_tags(scene_params: dict) -> None:
    from posekit.tasks.bottomup.module import BottomUpModule

    with pytest.raises(ValueError, match="must output 'heatmaps' and 'tags'"):
        BottomUpModule(_config(scene_params, ("model.overrides.tag_dim=0",)))


def test_topdown_over_ground_truth_boxes(scene_params: dict, tmp_path: Path) -> None:
    from posekit.engine.run import train
    from posekit.engine.sources import build_source
    from posekit.tasks.pose2d.multiperson import topdown_multiperson_evaluation

    torch.set_num_threads(1)
    single = {"root": str(tmp_path / "single"), "num": 4, "val_num": 2, "size": [128, 128]}
    sets = [
        f"data.params={ {**single, 'progress': False} }",
        "trainer.max_steps=2",
        "trainer.batch_size=2",
        "trainer.val_every=2",
        "trainer.num_workers=0",
        "trainer.progress_bar=false",
    ]
    config = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml", sets)
    result = train(config, tmp_path / "topdown", progress=False)
    ev = topdown_multiperson_evaluation(result.best_checkpoint, "synthetic_body", scene_params)
    scenes = build_source("synthetic_body", "val", 0, scene_params)
    people = sum(scenes.sample(i).num_people for i in range(len(scenes)))
    # One detection per ground-truth box, each scored (the AP of an untrained network is
    # not checked: it is near zero by design).
    assert ev.metrics["num_boxes"] == people == ev.metrics["num_detections"]
    truth = scene_ground_truth(scenes.sample(0))
    assert truth.keypoints.shape == (scenes.sample(0).num_people, 17, 2)
    assert bool((truth.area_px2 > 0).all())


def test_tag_push_sigma_reaches_the_loss_and_the_grouping_threshold() -> None:
    from posekit.engine.config import load_config
    from posekit.tasks.bottomup.module import BottomUpModule

    root = Path(__file__).resolve().parents[2]
    cfg = root / "configs" / "bottomup_hourglass_tiny.yaml"
    module = BottomUpModule(load_config(cfg, ["loss.tag_push_sigma=0.25"]))
    assert module.codec.ae.tag_threshold == pytest.approx(0.25 * 1.0)
    module = BottomUpModule(
        load_config(cfg, ["loss.tag_push_sigma=0.25", "codec.tag_threshold=2.0"])
    )
    assert module.codec.ae.tag_threshold == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"loss\.tag_push_sigma: expected > 0"):
        load_config(cfg, ["loss.tag_push_sigma=0"])
