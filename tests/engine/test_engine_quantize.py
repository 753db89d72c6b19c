"""Int8 quantization of exported lifters: BatchNorm folding, int8 graphs, their accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import Tensor, nn

from posekit.engine.onnx_export import export_onnx
from posekit.engine.onnx_graph import fold_batch_norm, gemm_to_matmul, int8_op_counts
from posekit.engine.onnx_runtime import OnnxRunner
from posekit.engine.quantize import INT8_TOLERANCE_MM, joint_deviation_mm, quantize_onnx
from posekit.models import create_model


def _lifter(name: str = "martinez") -> nn.Module:
    """A tiny lifter with BatchNorm statistics and affine parameters far from the defaults."""
    torch.manual_seed(0)
    model = create_model(name, "tiny").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load_model(str(path)).graph.node]


@pytest.mark.parametrize("name", ["martinez", "lcn"])
def test_batch_norm_folds_into_the_gemm_exactly(name: str, tmp_path: Path) -> None:
    model = _lifter(name)
    # The TorchScript exporter keeps BatchNormalization nodes after the Gemms.
    src = export_onnx(model, None, tmp_path / "m.onnx", exporter="torchscript")
    proto = onnx.load_model(str(src))
    bns = sum(n.op_type == "BatchNormalization" for n in proto.graph.node)
    assert bns == 5
    assert fold_batch_norm(proto) == (bns if name == "martinez" else 0)
    if name == "lcn":
        # LCN's masked weights are computed in the graph: constant folding comes first
        # (quantize_onnx runs ONNX Runtime's pre-processing before folding).
        return
    assert "BatchNormalization" not in [n.op_type for n in proto.graph.node]
    folded = tmp_path / "folded.onnx"
    onnx.save_model(proto, str(folded))
    inputs = model.example_input(16)
    np.testing.assert_allclose(
        OnnxRunner(folded)(inputs)["joints3d"], OnnxRunner(src)(inputs)["joints3d"], atol=2e-6
    )
    # Rewritten as MatMul + Add (what the dynamic quantizer takes): the same function.
    assert gemm_to_matmul(proto) == 6 and "Gemm" not in [n.op_type for n in proto.graph.node]
    onnx.save_model(proto, str(folded))
    np.testing.assert_allclose(
        OnnxRunner(folded)(inputs)["joints3d"], OnnxRunner(src)(inputs)["joints3d"], atol=2e-6
    )


@pytest.mark.parametrize(
    ("name", "exporter", "method"),
    [
        ("martinez", "dynamo", "dynamic"),
        ("martinez", "torchscript", "dynamic"),
        ("lcn", "dynamo", "dynamic"),
        ("smplr_dae", "dynamo", "dynamic"),
        ("martinez", "dynamo", "static"),
    ],
)
def test_quantized_lifters_run_int8_and_stay_close_to_float(
    name: str, exporter: str, method: str, tmp_path: Path
) -> None:
    model = _lifter(name)
    src = export_onnx(model, None, tmp_path / "m.onnx", exporter=exporter)
    calibration = [{k: v.numpy() for k, v in model.example_input(256).items()}]
    done = quantize_onnx(src, tmp_path / "q.onnx", method, calibration)
    ops = _ops(done.path)
    assert "BatchNormalization" not in ops
    counts = int8_op_counts(done.path)
    if method == "dynamic":
        assert counts["MatMulInteger"] == len(done.quantized_layers) >= 2
        assert done.calibration_samples == 0
    else:
        assert counts["DequantizeLinear"] > counts["QuantizeLinear"] > 0
        assert done.calibration_samples == 256
    assert done.folded_batch_norms == (5 if name != "smplr_dae" else 3) * (
        exporter == "torchscript" or name == "lcn"
    )
    # First and last layer stay float32 (by the torch module name where the weights have one).
    assert len(done.float_layers) == 2
    if name == "martinez":
        assert done.float_layers == ["input_layer.0", "output_layer"]
        assert done.quantized_layers[0] == "blocks.0.layer1.0"
    assert done.details["method"] == method and done.details["dtype"] == "int8"
    inputs = model.example_input(300)  # another batch than the calibration's
    with torch.no_grad():
        ref = model(**inputs)["joints3d"].numpy()
    got = OnnxRunner(done.path)(inputs)["joints3d"]
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.all(got[:, 0] == 0)  # the root stays exactly 0
    mean, worst = joint_deviation_mm(got, ref)
    scale_mm = 1000 * np.linalg.norm(ref, axis=-1).mean()  # ~300 mm for these random models
    if method == "dynamic":
        assert 0 < mean <= INT8_TOLERANCE_MM, (mean, scale_mm)
    else:  # calibrated static ranges: coarser here (see the module docstring)
        assert 0 < mean <= 0.05 * scale_mm, (mean, scale_mm)
    assert worst < 0.2 * scale_mm


class InputNorm(nn.Module):
    """A BatchNorm on the input: nothing to fold it into."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
        self.lin = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"y": self.lin(self.bn(x))}


class NoLinear(nn.Module):
    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"y": x * 2}


def test_quantize_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    x = torch.randn(4, 4)
    feeds = [{"x": x.numpy()}]
    src = export_onnx(InputNorm(), x, tmp_path / "bn.onnx", exporter="torchscript")
    with pytest.raises(ValueError, match=r"BatchNormalization .* does not follow a Gemm"):
        quantize_onnx(src, tmp_path / "q.onnx", "dynamic")
    src = export_onnx(NoLinear(), x, tmp_path / "nl.onnx")
    with pytest.raises(ValueError, match="no Gemm"):
        quantize_onnx(src, tmp_path / "q.onnx", "dynamic")
    with pytest.raises(ValueError, match="method: expected one of"):
        quantize_onnx(src, tmp_path / "q.onnx", "int4", feeds)
    with pytest.raises(ValueError, match="static quantization needs calibration inputs"):
        quantize_onnx(src, tmp_path / "q.onnx", "static")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bn.onnx", "nl.onnx"]


def test_joint_deviation_mm() -> None:
    a = np.zeros((2, 3, 3))
    b = a.copy()
    b[0, 1] = [0.003, 0.004, 0.0]  # 5 mm
    assert joint_deviation_mm(a, b) == pytest.approx((5 / 6, 5.0))
    with pytest.raises(ValueError, match=r"expected two \(B, J, 3\) arrays"):
        joint_deviation_mm(a, b[:1])
    with pytest.raises(ValueError, match=r"expected two \(B, J, 3\) arrays"):
        joint_deviation_mm(a[..., :2], b[..., :2])
