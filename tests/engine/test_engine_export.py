"""ONNX export: every registered model against ONNX Runtime, atomic files, metadata, runner."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from posekit.engine.onnx_export import DEFAULT_OPSET, export_onnx, model_inputs, model_metadata
from posekit.engine.onnx_files import ProtoSaver, onnx_files, read_onnx_metadata
from posekit.engine.onnx_runtime import OnnxRunner, verify_onnx
from posekit.models import create_model, list_models

TOL = 1e-4

#: Models whose tiny preset cannot be exported for a known ONNX limitation: name → reason.
#: Add an entry only with the limitation it hits.
KNOWN_ONNX_LIMITATIONS: dict[str, str] = {}


class Toy(nn.Module):
    """Two outputs in a non-alphabetical order, a batch-dependent shape, no shape checks."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def example_input(self, batch_size: int = 2) -> dict[str, Tensor]:
        gen = torch.Generator().manual_seed(0)
        return {"x": torch.randn(batch_size, 5, 4, generator=gen)}

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        y = self.lin(x)  # (B, 5, 3)
        return {"zeta": y.sum(-1), "alpha": torch.cat([y.new_zeros(x.shape[0], 1, 3), y], 1)}


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_exports_and_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    if name in KNOWN_ONNX_LIMITATIONS:
        pytest.skip(f"{name}: known ONNX limitation: {KNOWN_ONNX_LIMITATIONS[name]}")
    model = create_model(name, "tiny")
    example = model.example_input(2)
    path = export_onnx(model, example, tmp_path / f"{name}.onnx", metadata={"model": name})
    assert onnx_files(path) == [path]  # weights embedded: one file
    runner = OnnxRunner(path)
    assert runner.input_names == list(model_inputs(model, example))
    with torch.no_grad():
        expected = model.eval()(**example)
    assert runner.output_names == list(expected)
    # Batch axis is dynamic: other batch sizes than the traced one, 1 included.
    for batch in (3, 1):
        assert verify_onnx(model, path, batch_size=batch) <= TOL
    shapes = model.output_shapes(3)
    got = runner(model.example_input(3))
    assert {k: v.shape for k, v in got.items()} == {k: tuple(s) for k, s in shapes.items()}
    meta = read_onnx_metadata(path)
    assert meta["model"] == name and meta["format"] == 1
    assert meta["exporter"] in ("dynamo", "torchscript")
    assert set(meta["inputs"]) == set(example) and set(meta["outputs"]) == set(expected)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_outputs_are_named_after_forward_keys_with_a_dynamic_batch(
    exporter: str, tmp_path: Path
) -> None:
    model = Toy()
    path = export_onnx(model, None, tmp_path / "toy.onnx", exporter=exporter, metadata={})
    runner = OnnxRunner(path)
    assert runner.input_names == ["x"] and runner.output_names == ["zeta", "alpha"]
    assert read_onnx_metadata(path)["exporter"] == exporter
    assert verify_onnx(model, path, batch_size=7) <= TOL
    out = runner(torch.ones(4, 5, 4), as_torch=True)  # one array for a one-input model
    assert isinstance(out["alpha"], Tensor) and out["alpha"].shape == (4, 6, 3)
    assert read_onnx_metadata(path)["outputs"]["alpha"]["shape"] == ["batch", 6, 3]


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_external_data_travels_with_the_model_and_is_removed_when_embedded(
    exporter: str, tmp_path: Path
) -> None:
    model = Toy()
    path = tmp_path / "toy.onnx"
    export_onnx(model, None, path, exporter=exporter, external_data=True)
    data = tmp_path / "toy.onnx.data"
    # (The dynamo writer keeps tensors under its size threshold inline: the file may be empty.)
    assert onnx_files(path) == [path, data]
    assert sorted(os.listdir(tmp_path)) == ["toy.onnx", "toy.onnx.data"]  # no temporaries
    assert verify_onnx(model, path) <= TOL
    # Moved together to another folder, the pair still runs.
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in onnx_files(path):
        f.rename(moved / f.name)
    assert verify_onnx(model, moved / "toy.onnx") <= TOL
    # Re-exported with embedded weights: the stale data file goes.
    export_onnx(model, None, moved / "toy.onnx", exporter=exporter, external_data=False)
    assert sorted(os.listdir(moved)) == ["toy.onnx"]
    assert verify_onnx(model, moved / "toy.onnx") <= TOL


def test_a_failed_export_leaves_nothing_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Toy()
    path = tmp_path / "toy.onnx"
    export_onnx(model, None, path, exporter="torchscript", external_data=True)
    before = _listing(tmp_path)

    def refuse(staged: Path) -> None:
        assert staged.is_file() and staged.parent != tmp_path  # checked before the rename
        raise ValueError("not good enough")

    with torch.no_grad():
        model.lin.weight.add_(1.0)
    with pytest.raises(ValueError, match="not good enough"):
        export_onnx(model, None, path, exporter="torchscript", external_data=True, check=refuse)
    assert _listing(tmp_path) == before

    # A writer that dies half-way through the weights.
    def broken_save(self: object, staged: Path, external_data: bool) -> None:
        staged.with_name(staged.name + ".data").write_bytes(b"\0" * 10)
        staged.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ProtoSaver, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(model, None, path, exporter="torchscript", external_data=True)
    assert _listing(tmp_path) == before
    with pytest.raises(OSError, match="disk full"):
        export_onnx(model, None, tmp_path / "new.onnx", exporter="torchscript")
    assert _listing(tmp_path) == before

    # A model the exporter cannot take: nothing written either.
    class NotADict(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x * 2

    with pytest.raises(ValueError, match="must return a dict of tensors"):
        export_onnx(NotADict(), torch.ones(2, 3), tmp_path / "bad.onnx")
    assert _listing(tmp_path) == before


def test_metadata_round_trips_through_the_file(tmp_path: Path) -> None:
    model = create_model("martinez", "tiny")
    mean, std = torch.randn(17, 2), torch.rand(17, 2) + 0.5
    model.set_input_normalization(mean, std)
    meta = model_metadata(model, task="lift", preset="tiny", checkpoint="best.ckpt", step=16)
    assert meta["model"] == "martinez"  # found in the registry
    path = export_onnx(model, model.example_input(2), tmp_path / "m.onnx", metadata=meta)
    read = read_onnx_metadata(path)
    assert OnnxRunner(path).metadata == read
    for key in ("task", "model", "preset", "skeleton", "input_coords", "checkpoint", "step"):
        assert read[key] == meta[key]
    assert (read["task"], read["skeleton"], read["input_coords"]) == ("lift", "h36m17", "pixel")
    assert read["config"]["width"] == model.config.width
    norm = read["input_normalization"]
    assert np.allclose(norm["mean"], mean.numpy()) and np.allclose(norm["std"], std.numpy())
    assert read["inputs"]["keypoints2d"] == {"shape": ["batch", 17, 2], "dtype": "float32"}
    assert read["opset"] == DEFAULT_OPSET
    # The normalization is in the graph: raw keypoints in, the torch result out.
    assert verify_onnx(model, path) <= TOL


def test_runner_and_verify_report_mistakes(tmp_path: Path) -> None:
    model = create_model("smplr_dae", "tiny")
    path = export_onnx(model, None, tmp_path / "dae.onnx")
    runner = OnnxRunner(path, threads=1)
    example = model.example_input(2)
    with pytest.raises(ValueError, match="expected inputs keypoints2d, visibility; missing: vis"):
        runner({"keypoints2d": example["keypoints2d"]})
    with pytest.raises(ValueError, match="unknown: image"):
        runner({**example, "image": example["keypoints2d"]})
    with pytest.raises(ValueError, match="pass a dict"):
        runner(example["keypoints2d"])
    # Booleans and numpy arrays are cast to the input types.
    out = runner(
        {"keypoints2d": example["keypoints2d"].numpy(), "visibility": np.ones((2, 17), bool)}
    )
    assert out["joints3d"].dtype == np.float32
    # verify_onnx sees a model that changed after export.
    with torch.no_grad():
        next(model.parameters()).add_(0.5)
    assert verify_onnx(model, path) > TOL
    with pytest.raises(FileNotFoundError):
        OnnxRunner(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="ONNX Runtime cannot load it"):
        OnnxRunner(tmp_path / "junk.onnx")
    with pytest.raises(ValueError, match="not an ONNX model"):
        read_onnx_metadata(tmp_path / "junk.onnx")
    with pytest.raises(ValueError, match="exporter: expected one of"):
        export_onnx(model, None, tmp_path / "x.onnx", exporter="tvm")
    with pytest.raises(ValueError, match="needs a traced batch of at least 2, got 1"):
        export_onnx(model, model.example_input(1), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


class DataDependent(nn.Module):
    """Python control flow on values: torch.export refuses it, the tracer records one branch."""

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"y": x * 2 if bool(x.sum() > 0) else x}


def test_auto_falls_back_to_the_tracer_when_torch_export_fails(tmp_path: Path) -> None:
    model, x = DataDependent(), torch.ones(2, 3)
    with pytest.raises(RuntimeError, match="failed:\n  dynamo: "):
        export_onnx(model, x, tmp_path / "d.onnx", exporter="dynamo")
    assert not any(tmp_path.iterdir())
    path = export_onnx(model, x, tmp_path / "d.onnx")
    assert read_onnx_metadata(path)["exporter"] == "torchscript"
    assert verify_onnx(model, path, torch.ones(5, 3)) <= TOL
