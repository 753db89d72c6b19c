"""``posekit eval`` as a user runs it: a lifter scored on the user's own file (the same number
as ``posekit predict`` gives), how much data it scored, and the errors that say what to give."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_toy_data import toy_lift, toy_overrides

from posekit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"
COCO = ROOT.parent / "shared" / "data" / "real" / "mmpose_samples" / "coco" / "test_coco.json"

# A camera unlike the training one (focal 1150 px, 1000 x 1000).
K600 = [[600.0, 0.0, 301.0], [0.0, 600.0, 251.0], [0.0, 0.0, 1.0]]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_eval_train")
    args = ["train", str(CONFIG), "--quiet", "--set"]
    assert main([*args, *toy_overrides(out, **{"trainer.max_steps": 40})]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


def _cases_json(path: Path, n: int = 40) -> Path:
    """Toy poses 5 m in front of the focal-600 camera (root on the optical axis, as in the
    toy training data), as a keypoints JSON with K and per-person joints3d (camera metres)."""
    joints = toy_lift("val", 0, finite=n).get_batch(torch.arange(n))["joints3d"].double()
    cam = (joints + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)).numpy()
    K = np.array(K600)
    px = cam[..., :2] / cam[..., 2:] * 600.0 + K[:2, 2]
    people = [
        {"keypoints": p.tolist(), "joints3d": (c - c[0]).tolist()}
        for p, c in zip(px, cam, strict=True)
    ]
    path.write_text(json.dumps({"skeleton": "h36m17", "K": K600, "people": people}))
    return path


def test_eval_of_a_users_file_equals_predict(checkpoint: Path, tmp_path: Path, capsys) -> None:
    cases = _cases_json(tmp_path / "cases.json")
    assert main(["eval", str(checkpoint), "--data", str(cases), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"data: {cases} (keypoints_file): scored 40 of 40 samples (all)" in out
    assert "mpjpe_mm" in out and "per joint:" in out
    report = json.loads((checkpoint.parent / "best.eval.cases.json").read_text())
    assert report["num_samples"] == report["num_available"] == 40
    assert report["data"] == {"source": "keypoints_file", "params": {"path": str(cases)}}
    # posekit predict on the same file, scored by hand against the file's joints3d
    assert main(["predict", str(checkpoint), str(cases), "--out", str(tmp_path / "p"),
                 "--no-pictures"]) == 0  # fmt: skip
    pred = json.loads((tmp_path / "p" / "cases.json").read_text())["frames"][0]["people"]
    gt = [p["joints3d"] for p in json.loads(cases.read_text())["people"]]
    lifted = np.array([p["joints3d_m"] for p in pred])
    mpjpe = np.linalg.norm(lifted - np.array(gt), axis=-1).mean() * 1000.0
    assert report["metrics"]["mpjpe_mm"] == pytest.approx(mpjpe, abs=0.02)  # JSON rounds to 10 µm


def test_a_bad_file_is_one_line_naming_file_and_field(
    checkpoint: Path, tmp_path: Path, capsys
) -> None:
    bad = tmp_path / "nok.json"
    bad.write_text(json.dumps({"skeleton": "h36m17", "people": [{"keypoints": [[1, 2]] * 17}]}))
    assert main(["eval", str(checkpoint), "--data", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}: K: missing" in err and len(err.splitlines()) == 1
    assert main(["eval", str(checkpoint), "--data", str(tmp_path / "none.npz"), "--quiet"]) == 2
    assert "none.npz: no such file" in capsys.readouterr().err


def test_eval_says_how_many_samples_it_scored_of_how_many(checkpoint: Path, capsys) -> None:
    assert main(["eval", str(checkpoint), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "scored 256 samples drawn at random from an unlimited sampler (data.val_size=256)" in out
    finite = ["--set", "data.val_params={finite: 300}"]
    assert main(["eval", str(checkpoint), "--quiet", *finite]) == 0
    out = capsys.readouterr().out
    assert (
        "scored 256 of 300 samples (evenly spaced; data.val_size=256, --set data.val_size=0 "
        "scores all)" in out
    )
    assert main(["eval", str(checkpoint), "--quiet", *finite, "data.val_size=0"]) == 0
    assert "scored 300 of 300 samples (all)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "key"),
    [("coco", "annotations"), ("mpii", "annotations"), ("lsp", "root")],
)
def test_pose2d_sources_say_which_set_to_give(source: str, key: str) -> None:
    """What ``posekit eval POSE2D.ckpt --data coco`` meets without its annotations file."""
    from posekit.engine.config import load_config
    from posekit.tasks.pose2d.module import Pose2DModule

    config = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml")
    with pytest.raises(ValueError) as err:
        Pose2DModule.evaluation_batches(config, source, {})  # as posekit eval --data SOURCE
    msg = str(err.value)
    assert f"parameter {key!r} missing" in msg and f"--set data.val_params.{key}=PATH" in msg
    from posekit.engine.sources import build_source

    with pytest.raises(ValueError, match=rf"--set data\.params\.{key}=PATH"):
        build_source(source, "train", 0, {}, task="pose2d")


@pytest.mark.skipif(not COCO.is_file(), reason=f"COCO sample absent ({COCO})")
def test_coco_source_with_its_annotations() -> None:
    from posekit.engine.sources import build_source

    data = build_source("coco", "val", 0, {"annotations": str(COCO)}, task="pose2d")
    assert len(data) > 0
