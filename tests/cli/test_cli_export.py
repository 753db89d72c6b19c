"""``posekit export`` on a trained tiny Martinez checkpoint, and its refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posekit.engine.export as export_mod
from posekit.cli.main import main
from posekit.engine.evaluate import module_from_checkpoint
from posekit.engine.onnx_files import read_onnx_metadata
from posekit.engine.onnx_runtime import OnnxRunner

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


def test_cli_constants_match_the_engine() -> None:
    """The CLI keeps copies (so that ``posekit --help`` imports no engine module)."""
    from posekit.cli import export as cli_export
    from posekit.engine.quantize import QUANTIZE_CHOICES

    assert cli_export.ONNX_TOLERANCE == export_mod.ONNX_TOLERANCE
    assert cli_export.QUANTIZE_CHOICES == QUANTIZE_CHOICES


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


# --- --quantize int8 ---------------------------------------------------------------------------


def test_quantize_int8_writes_a_checked_int8_model_that_predict_runs(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shutil

    from posekit.engine.onnx_graph import int8_op_counts
    from posekit.engine.quantize import INT8_TOLERANCE_MM, joint_deviation_mm

    ckpt = tmp_path / "best.ckpt"
    shutil.copy(checkpoint, ckpt)
    assert main(["export", str(ckpt), "--format", "onnx", "--quantize", "int8"]) == 0
    target = tmp_path / "best.int8.onnx"  # the default name keeps best.onnx for float32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "best.int8.onnx"]
    out = capsys.readouterr().out
    assert "float32: ONNX Runtime vs torch max |diff| = " in out
    assert "int8 (dynamic; 4 layers int8, 2 float32): joints3d " in out
    assert "mm per joint from torch float32" in out and "on 64 validation samples" in out
    assert f"(≤ {INT8_TOLERANCE_MM:g} mm: OK)" in out and f"onnx: {target} (" in out

    counts = int8_op_counts(target)
    assert counts["MatMulInteger"] == 4 and counts["DynamicQuantizeLinear"] == 4
    meta = read_onnx_metadata(target)
    assert (meta["task"], meta["model"], meta["skeleton"]) == ("lift", "martinez", "h36m17")
    q = meta["quantization"]
    assert (q["dtype"], q["method"], q["folded_batch_norms"]) == ("int8", "dynamic", 0)
    assert q["float_layers"] == ["input_layer.0", "output_layer"]
    check = q["check"]
    assert check["samples"] == 64 and check["tolerance_mm"] == INT8_TOLERANCE_MM
    assert 0 < check["mean_joint_deviation_mm"] <= INT8_TOLERANCE_MM
    # The file runs on its own, close to the float32 torch model on other inputs.
    module, _, _ = module_from_checkpoint(checkpoint)
    inputs = module.model.example_input(100)
    with torch.no_grad():
        expected = module.model(**inputs)["joints3d"].numpy()
    mean, _ = joint_deviation_mm(OnnxRunner(target)(inputs)["joints3d"], expected)
    assert mean <= INT8_TOLERANCE_MM

    # posekit predict takes the int8 file and says so.
    from test_cli_predict import COCO

    kp = tmp_path / "k.json"
    kp.write_text(json.dumps({"skeleton": "coco17", "image_size": [480, 640],
                              "people": [{"keypoints": COCO}]}))  # fmt: skip
    docs = {}
    for name, args in {"torch": [str(ckpt)], "int8": [str(target), "--backend", "onnx"]}.items():
        pred = tmp_path / name
        assert main(["predict", *args, str(kp), "--out", str(pred), "--no-pictures"]) == 0
        docs[name] = json.loads((pred / "k.json").read_text())
    assert (docs["int8"]["backend"], docs["int8"]["precision"]) == ("onnx", "int8")
    assert (docs["torch"]["backend"], docs["torch"]["precision"]) == ("torch", "float32")
    j = {k: np.array(d["frames"][0]["people"][0]["joints3d_m"]) for k, d in docs.items()}
    # (This COCO pose is far from the 8-step model's toy training data, its output is large:
    # compare relative to its size.)
    size = np.linalg.norm(j["torch"], axis=-1).mean()
    assert np.linalg.norm(j["int8"] - j["torch"], axis=-1).mean() <= 0.01 * size


def test_quantize_static_through_the_api(checkpoint: Path, tmp_path: Path) -> None:
    """Static quantization calibrates on the first half of the validation inputs and is
    checked on the second."""
    from posekit.engine.export import export_checkpoint
    from posekit.engine.onnx_graph import int8_op_counts

    done = export_checkpoint(
        checkpoint,
        tmp_path / "s.onnx",
        quantize="int8",
        quantize_method="static",
        quantize_tolerance_mm=50.0,  # static ranges are coarser on this model (see quantize.py)
    )
    assert done.quantization is not None
    assert done.quantization["method"] == "static"
    assert done.quantization["calibration_samples"] == 32
    assert done.quantization["check"]["samples"] == 32
    assert done.metadata["quantization"] == done.quantization
    assert int8_op_counts(done.path)["DequantizeLinear"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx"]


def test_quantize_refusals_write_nothing(
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import posekit.engine.quantize as quantize_mod
    from posekit.engine.export import export_checkpoint

    target = tmp_path / "q.onnx"
    base = ["export", str(checkpoint), "--out", str(target)]
    for bad, message in (
        (["--quantize", "int4"], "argument --quantize: invalid choice: 'int4'"),
        (["--format", "tflite", "--quantize", "int8"], "argument --format: invalid choice"),
    ):
        with pytest.raises(SystemExit) as exc:
            main([*base, *bad])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"quantize: expected one of int8 .* got 'fp16'"):
        export_checkpoint(checkpoint, target, quantize="fp16")
    with pytest.raises(ValueError, match="need quantize='int8'"):
        export_checkpoint(checkpoint, target, quantize_method="static")
    with pytest.raises(ValueError, match="method: expected one of"):
        export_checkpoint(checkpoint, target, quantize="int8", quantize_method="qat")
    # A model family that is not checked for int8 (here: lifters made unsupported).
    monkeypatch.setattr(quantize_mod, "quantize_tasks", lambda: {"pose2d": "keypoints"})
    assert main([*base, "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "int8 quantization of 'martinez' (task lift) is not supported" in err
    assert "export 'martinez' in float32 (without quantize)" in err
    monkeypatch.undo()
    # Above the bound: refused, nothing written (the old file, if any, kept).
    monkeypatch.setattr(quantize_mod, "joint_deviation_mm", lambda a, b: (2.5, 9.0))
    assert main([*base, "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "the int8 model of 'martinez' (dynamic) is 2.50 mm per joint (max 9.0 mm)" in err
    assert "from torch float32 on 64 validation samples, more than 2 mm; nothing written" in err
    assert not any(tmp_path.iterdir())
    # Validation data that cannot be read here: a clear error, nothing written.
    monkeypatch.setattr(
        "posekit.tasks.lift.module.LiftModule.evaluation_batches",
        classmethod(lambda cls, config: (_ for _ in ()).throw(OSError("no such shard"))),
    )
    assert main([*base, "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "checked on the checkpoint's validation data (source 'engine_toy_data:toy_lift')" in err
    assert "OSError: no such shard" in err
    assert not any(tmp_path.iterdir())
