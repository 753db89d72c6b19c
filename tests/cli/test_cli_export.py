"""``posekit export`` on a trained tiny Martinez checkpoint, and its refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posekit.engine.export as export_mod
from posekit.cli.main import main
from posekit.engine.evaluate import module_from_checkpoint
from posekit.engine.export import OnnxRunner, read_onnx_metadata

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"

from engine_toy_data import toy_overrides  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of a finished tiny Martinez run (8 steps on the toy source)."""
    out = tmp_path_factory.mktemp("cli_export")
    overrides = toy_overrides(out, **{"trainer.max_steps": 8, "data.val_size": 64})
    assert main(["train", str(CONFIG), "--quiet", "--set", *overrides]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


def test_export_writes_a_verified_onnx_file_that_describes_itself(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(checkpoint)]) == 0
    onnx_path = checkpoint.with_suffix(".onnx")
    out = capsys.readouterr().out
    assert f"onnx: {onnx_path} (" in out and " MB)" in out
    assert "ONNX Runtime vs torch max |diff| = " in out and "(≤ 0.0001: OK, batch 3)" in out
    assert "model martinez (tiny, task lift, step 8)" in out
    assert "inputs: keypoints2d (batch, 17, 2), visibility (batch, 17); " in out
    assert "outputs: joints3d (batch, 17, 3)" in out
    assert sorted(p.name for p in onnx_path.parent.iterdir() if "onnx" in p.name) == ["best.onnx"]

    meta = read_onnx_metadata(onnx_path)
    module, _, _ = module_from_checkpoint(checkpoint)
    model = module.model
    assert (meta["task"], meta["model"], meta["preset"]) == ("lift", "martinez", "tiny")
    assert (meta["skeleton"], meta["input_coords"]) == ("h36m17", "pixel")
    assert (meta["checkpoint"], meta["step"]) == ("best.ckpt", 8)
    assert meta["experiment"]["model"]["name"] == "martinez"  # what predict needs
    norm = meta["input_normalization"]
    assert np.allclose(norm["mean"], model.input_mean.numpy())
    assert np.allclose(norm["std"], model.input_std.numpy())
    assert not np.allclose(norm["std"], 1.0)  # the trained statistics, not the defaults
    # The file alone predicts what the checkpoint predicts, at any batch size.
    inputs = model.example_input(5)
    with torch.no_grad():
        expected = model(**inputs)["joints3d"].numpy()
    got = OnnxRunner(onnx_path)(inputs)["joints3d"]
    assert np.abs(got - expected).max() <= 1e-4


def test_export_options(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sub" / "m.onnx"
    args = ["export", str(checkpoint), "--format", "onnx", "--out", str(target)]
    assert main([*args, "--opset", "17", "--batch-size", "4", "--exporter", "torchscript"]) == 0
    out = capsys.readouterr().out
    assert f"onnx: {target} (" in out and "exporter torchscript, opset 17" in out
    assert "OK, batch 5" in out
    meta = read_onnx_metadata(target)
    assert meta["opset"] == 17 and meta["exporter"] == "torchscript"
    assert main([*args, "--batch-size", "1"]) == 2
    assert "--batch-size: expected >= 2, got 1" in capsys.readouterr().err


def test_export_refuses_what_is_not_a_posekit_checkpoint(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.ckpt"
    assert main(["export", str(missing)]) == 2
    assert f"checkpoint not found: {missing}" in capsys.readouterr().err
    text = tmp_path / "notes.ckpt"
    text.write_text("hello\n")
    assert main(["export", str(text)]) == 2
    assert f"posekit export: error: {text}: not a readable checkpoint" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    assert main(["export", str(foreign)]) == 2
    assert "not a posekit checkpoint" in capsys.readouterr().err
    # An ONNX file given where a checkpoint is expected.
    onnx_file = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint), "--out", str(onnx_file)]) == 0
    capsys.readouterr()
    assert main(["export", str(onnx_file), "--out", str(tmp_path / "again.onnx")]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.ckpt", "m.onnx", "notes.ckpt"]


def test_export_above_tolerance_fails_and_writes_nothing(
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export_mod, "verify_onnx", lambda *args, **kwargs: 3e-3)
    target = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "ONNX Runtime vs torch max |diff| = 0.003 > 0.0001" in err
    assert "nothing written" in err
    assert not any(tmp_path.iterdir())
