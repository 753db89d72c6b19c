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
    ckpt["posekit"]["task"] = "pose9d"
    other_task = tmp_path / "pose9d.ckpt"
    torch.save(ckpt, other_task)
    assert main(["eval", str(other_task)]) == 2
    assert "cannot evaluate this checkpoint: unknown task 'pose9d'" in capsys.readouterr().err
    ckpt["posekit"]["task"] = "lift"
    ckpt["posekit"]["model"]["name"] = "v9v"
    other_model = tmp_path / "v9v.ckpt"
    torch.save(ckpt, other_model)
    assert main(["eval", str(other_model)]) == 2
    assert "holds model 'v9v', unknown to this posekit" in capsys.readouterr().err


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


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("posekit train: error: "), err
    assert "Traceback" not in err
    return lines[0].removeprefix("posekit train: error: ")


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def test_a_run_that_cannot_start_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"  # does not exist yet
    base = ["train", str(CONFIG), "--quiet", "--set", *toy_overrides(out)]
    # An unknown source is refused before anything is made; a source that rejects its
    # parameters fails inside Lightning's setup, after the run directory was made: what this
    # run made (output_dir included) is removed.
    for extra, want in (
        ("data.source=nope", "data.source: unknown data source 'nope'; registered sources"),
        ("data.val_source=nope", "data.val_source: unknown data source 'nope'"),
        ("data.params={bogus: 1}", "bad parameters {'bogus': 1}"),
        ("model.overrides.num_blocks=many", "model.overrides: martinez cannot use"),
        ("model.name=nope", "model: unknown model 'nope'; known models:"),
    ):
        assert main([*base, extra]) == 2, extra
        assert not out.exists(), extra
        assert want in _one_line(capsys.readouterr().err)
    # In a directory an earlier run left (no checkpoint), a failing run removes only what it
    # made and changes nothing of the rest.
    run = out / "toy"
    assert main([*base, "trainer.max_steps=2", "trainer.val_every=0"]) == 0
    (run / "checkpoints" / "last.ckpt").unlink()
    (run / "notes.txt").write_text("mine")
    capsys.readouterr()
    before = _tree(run)
    assert main([*base, "data.params={bogus: 1}"]) == 2
    _one_line(capsys.readouterr().err)
    assert _tree(run) == before


def test_malformed_input_exits_2_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["train", str(empty)]) == 2
    assert _one_line(capsys.readouterr().err) == f"{empty}: empty; expected at least task and model"
    assert main(["train", str(CONFIG), "--set", "trainer.max_steps="]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith("--set trainer.max_steps=: no value after '='") and str(CONFIG) not in msg
    assert main(["train", str(CONFIG), "--set", "trainer.max_steps=-3"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg == "--set trainer.max_steps=-3: trainer.max_steps: expected > 0, got -3"
    # A random-bytes checkpoint to resume: named, and no advice to unpickle it.
    run = tmp_path / "toy"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(bytes(range(256)) * 16)
    args = ["train", str(CONFIG), "--quiet", "--resume", "--set", *toy_overrides(tmp_path)]
    assert main(args) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"{run / 'checkpoints' / 'last.ckpt'}: not a readable checkpoint")
    assert "weights_only" not in msg and "trusted" not in msg
