"""``posekit train`` / ``eval`` / ``models`` as a user runs them (tiny config, in-test data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from posekit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"

from engine_toy_data import toy_overrides  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (16 steps); returns its run directory."""
    out = tmp_path_factory.mktemp("cli_train")
    args = [
        "train",
        str(CONFIG),
        "--quiet",
        "--set",
        *toy_overrides(out, **{"trainer.max_steps": 16}),
    ]
    assert main(args) == 0
    return out / "toy"


def test_train_prints_where_it_writes_and_the_results(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", str(CONFIG), "--quiet", "--out", str(tmp_path / "run"), "--set"]
    assert main([*args, *toy_overrides(tmp_path, **{"trainer.max_steps": 4})]) == 0
    out = capsys.readouterr().out
    assert f"run directory: {tmp_path / 'run'}" in out
    assert "model martinez (tiny, 287,024 parameters)" in out
    assert f"best checkpoint: {tmp_path / 'run' / 'checkpoints' / 'best.ckpt'}" in out
    assert "final validation:" in out and "mpjpe_mm" in out and "pa_mpjpe_mm" in out
    assert (trained / "checkpoints" / "best.ckpt").is_file()
    # The same command plus --resume continues it (here: longer).
    more = toy_overrides(tmp_path, **{"trainer.max_steps": 6})
    assert main([*args, *more, "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'} at step 4" in out
    assert "changed since the checkpoint: trainer.max_steps: 4 -> 6" in out
    assert "done: step 6 (2 steps in" in out


def test_train_errors_exit_2(
    tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(CONFIG), "--set", "optim.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'optim.lrr'; valid keys: optimizer, lr, weight_decay" in err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    # A finished run is not overwritten; resuming it with another model is refused.
    base = ["train", str(CONFIG), "--quiet", "--set", *toy_overrides(trained.parent)]
    assert main(base) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*base, "model.name=lcn", "--resume"]) == 2
    assert "holds a 'lift' checkpoint of model 'martinez'" in capsys.readouterr().err


def test_eval_prints_the_per_joint_table_and_writes_json(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = trained / "checkpoints" / "best.ckpt"
    assert main(["eval", str(ckpt), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mpjpe_mm" in out and "pa_mpjpe_mm" in out and "per joint:" in out
    for joint in ("pelvis", "l_wrist", "r_ankle", "head_top"):
        assert joint in out
    assert "MPJPE (mm)" in out and "PA-MPJPE (mm)" in out and "total" in out
    report = json.loads((trained / "checkpoints" / "best.eval.json").read_text())
    assert report["task"] == "lift" and report["model"] == "martinez"
    assert set(report["per_joint"]["MPJPE (mm)"]) >= {"pelvis", "l_wrist"}
    assert report["num_samples"] == 256 and report["metrics"]["mpjpe_mm"] > 0

    out_file = tmp_path / "sub" / "r.json"
    args = ["eval", str(ckpt), "--quiet", "--out", str(out_file), "--set", "data.val_size=64"]
    assert main(args) == 0
    assert json.loads(out_file.read_text())["num_samples"] == 64
    assert f"wrote {out_file}" in capsys.readouterr().out


def test_eval_refuses_wrong_or_broken_checkpoints(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.ckpt"
    assert main(["eval", str(missing)]) == 2
    assert f"checkpoint not found: {missing}" in capsys.readouterr().err
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes((trained / "checkpoints" / "last.ckpt").read_bytes()[:5000])
    assert main(["eval", str(broken)]) == 2
    assert f"{broken}: not a readable checkpoint" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    assert main(["eval", str(foreign)]) == 2
    assert "not a posekit checkpoint" in capsys.readouterr().err
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["posekit"]["task"] = "hand"
    other_task = tmp_path / "hand.ckpt"
    torch.save(ckpt, other_task)
    assert main(["eval", str(other_task)]) == 2
    assert "cannot evaluate this checkpoint: unknown task 'hand'" in capsys.readouterr().err
    ckpt["posekit"]["task"] = "lift"
    ckpt["posekit"]["model"]["name"] = "v2v"
    other_model = tmp_path / "v2v.ckpt"
    torch.save(ckpt, other_model)
    assert main(["eval", str(other_model)]) == 2
    assert "holds model 'v2v', unknown to this posekit" in capsys.readouterr().err


def test_eval_refuses_a_data_source_of_another_task(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine_toy_data import toy_lift

    from posekit.engine.sources import register_data_source

    register_data_source("cli_test_images", "pose2d", toy_lift)
    ckpt = trained / "checkpoints" / "last.ckpt"
    assert main(["eval", str(ckpt), "--data", "cli_test_images", "--quiet"]) == 2
    assert "yields 'pose2d' samples, not 'lift'" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "--data", "engine_toy_data:toy_lift", "--quiet"]) == 0
    assert (trained / "checkpoints" / "last.eval.engine_toy_data_toy_lift.json").is_file()


def test_models_lists_parameters_and_flops(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "martinez", "smplr_dae"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs/sample" in out and "params" in out
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[:2] for r in rows] == [
        ["martinez", "tiny"],
        ["martinez", "full"],
        ["smplr_dae", "tiny"],
        ["smplr_dae", "full"],
    ]
    assert rows[0][2] == "287k" and rows[1][2] == "4.29M"
    assert main(["models", "nope"]) == 2


def test_help_lists_the_new_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("train", "eval", "models"):
        assert cmd in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--resume" in capsys.readouterr().out
