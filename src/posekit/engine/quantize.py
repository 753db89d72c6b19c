"""Int8 quantization of exported ONNX models for ONNX Runtime on the CPU.

`quantize_onnx` turns a float32 ONNX file (`posekit.engine.onnx_export.export_onnx`) into an
int8 one; `export_int8` writes the int8 export of a checkpoint's model, checked against the
float32 torch model on the checkpoint's validation inputs (`joint_deviation_mm`);
`posekit.engine.export.export_checkpoint` ``quantize="int8"`` calls it.

Pipeline of `quantize_onnx`:

1. ONNX Runtime's pre-processing (``quant_pre_process``: shape inference, constant folding;
   e.g. LCN's masked weights become constants).
2. `posekit.engine.onnx_graph.fold_batch_norm`: every ``BatchNormalization`` that follows a
   ``Gemm`` is folded into its weights and bias (the dynamo exporter folds Martinez's, the
   TorchScript exporter and LCN's graph keep them). A BatchNormalization left over is refused:
   quantizing before the fold would quantize weights whose scale BN changes afterwards.
3. Quantization (``method``):

   - ``"dynamic"`` (the default): each ``Gemm`` rewritten as ``MatMul`` + ``Add`` (the
     dynamic quantizer takes MatMul only); weights int8, symmetric, one scale per output
     unit; activations uint8, their range taken per batch at run time
     (``DynamicQuantizeLinear`` → ``MatMulInteger``, fused by ONNX Runtime); no calibration.
   - ``"static"``: the same weights; activations uint8 with ranges calibrated (min / max) on
     given inputs; QDQ format, which ONNX Runtime fuses into ``QGemm`` / ``QLinearAdd``
     kernels at load time (Relu and residual Add included).

   The first and the last ``Gemm`` stay float32 (``float_ends``, when there are more than
   two): 8 bits on the input keypoints and on the output metres cost the most accuracy.

Speed and accuracy of these choices: ``benchmarks/lift_speed.py --int8-only``
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posekit.engine.onnx_files import (
    ProtoSaver,
    encode_metadata,
    read_onnx_metadata,
    save_atomically,
)
from posekit.engine.onnx_graph import fold_batch_norm, gemm_to_matmul
from posekit.engine.onnx_runtime import OnnxRunner
from posekit.engine.tasks import get_task_spec, list_tasks

__all__ = [
    "CHECK_SAMPLES",
    "DEFAULT_METHOD",
    "INT8_TOLERANCE_MM",
    "QUANTIZE_CHOICES",
    "QUANTIZE_METHODS",
    "QuantizeResult",
    "export_int8",
    "joint_deviation_mm",
    "quantize_onnx",
    "quantize_tasks",
    "validation_inputs",
]

#: ``quantize`` values of `posekit.engine.export.export_checkpoint` (``--quantize``).
QUANTIZE_CHOICES = ("int8",)
#: ``method`` values of `quantize_onnx`.
QUANTIZE_METHODS = ("static", "dynamic")
#: ``method`` of `export_int8` (within `INT8_TOLERANCE_MM` on the full Martinez model, where
#: ``"static"`` is not; benchmarks/RESULTS.md).
DEFAULT_METHOD = "dynamic"
#: Validation inputs `export_int8` takes (the first half calibrates ``"static"``).
CHECK_SAMPLES = 4096
#: Largest accepted mean joint deviation (mm) of an int8 lifter from its float32 torch model
#: on the validation inputs: a few percent of a trained lifter's MPJPE.
INT8_TOLERANCE_MM = 2.0


def quantize_tasks() -> dict[str, str]:
    """Tasks whose checkpoints can be exported as int8: task → the output `export_int8`
    checks (joints in metres, compared by `joint_deviation_mm` with the float32 torch
    model's); their `TaskSpec.quantize_output`."""
    specs = (get_task_spec(t) for t in list_tasks())
    return {s.name: s.quantize_output for s in specs if s.quantize_output is not None}


@dataclass
class QuantizeResult:
    """What `quantize_onnx` did.

    Attributes:
        path: the int8 file.
        method: ``static`` or ``dynamic``.
        folded_batch_norms: BatchNormalization nodes folded into a Gemm.
        quantized_layers, float_layers: the Gemm layers quantized / kept float32, named after
            their weights (``blocks.0.layer1.0``: the torch module).
        calibration_samples: inputs the static ranges were calibrated on (0: dynamic).
        details: the settings, JSON-serializable (stored in the file's metadata).
    """

    path: Path
    method: str
    folded_batch_norms: int
    quantized_layers: list[str]
    float_layers: list[str]
    calibration_samples: int
    details: dict[str, Any] = field(default_factory=dict)


# --- quantization ----------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantizer logs advice on the root logger; keep it out of the CLI."""
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


class _Reader:
    """A ``CalibrationDataReader`` over a list of feeds, cast to the model's input types."""

    def __init__(self, feeds: Sequence[Mapping[str, Any]], dtypes: Mapping[str, Any]) -> None:
        self._it = iter(feeds)
        self._dtypes = dtypes

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = next(self._it, None)
        if feed is None:
            return None
        return {k: np.ascontiguousarray(v, dtype=self._dtypes.get(k)) for k, v in feed.items()}


def _input_dtypes(model: Any) -> dict[str, Any]:
    from onnx import helper

    return {
        i.name: helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
        for i in model.graph.input
    }


def quantize_onnx(
    src: str | Path,
    dst: str | Path,
    method: str = DEFAULT_METHOD,
    calibration: Sequence[Mapping[str, np.ndarray]] = (),
    float_ends: bool = True,
) -> QuantizeResult:
    """Quantize a float32 ONNX file to int8 (see the module docstring).

    Args:
        src: the float32 model (as written by `posekit.engine.onnx_export.export_onnx`).
        dst: the int8 file to write (not atomic: write to a temporary place and move it).
        method: ``"static"`` (calibrated QDQ) or ``"dynamic"``.
        calibration: input feeds (name → (B, ...) float32 array), for ``"static"``.
        float_ends: keep the first and the last Gemm in float32 (when there are more than two).

    Returns:
        A `QuantizeResult`.

    Raises:
        ValueError: unknown method, no calibration feeds for ``"static"``, no Gemm to quantize,
            or a BatchNormalization that cannot be folded.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in QUANTIZE_METHODS:
        raise ValueError(f"method: expected one of {QUANTIZE_METHODS}, got {method!r}")
    if method == "static" and not calibration:
        raise ValueError("static quantization needs calibration inputs, got none")
    src, dst = Path(src), Path(dst)
    with tempfile.TemporaryDirectory(prefix="posekit-quantize-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        with _quiet():
            # (Symbolic shape inference is skipped: where it fails, ONNX Runtime leaves
            # sym_shape_infer_temp.onnx in the working directory; ONNX shape inference runs.)
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load_model(str(pre))
        folded = fold_batch_norm(model)
        left = [
            n.name or n.output[0] for n in model.graph.node if n.op_type == "BatchNormalization"
        ]
        if left:
            raise ValueError(
                f"{src.name}: BatchNormalization {', '.join(left)} does not follow a Gemm with "
                "constant weights and cannot be folded; int8 quantization needs it folded"
            )
        gemm_nodes = [n for n in model.graph.node if n.op_type == "Gemm"]
        if not gemm_nodes:
            raise ValueError(f"{src.name}: no Gemm (fully connected layer) to quantize")
        for i, node in enumerate(gemm_nodes):
            node.name = node.name or f"gemm_{i}"  # layers are selected by node name
        gemms = [n.name for n in gemm_nodes]
        layer = {n.name: _layer_name(n.input[1]) for n in gemm_nodes}
        keep = [gemms[0], gemms[-1]] if float_ends and len(gemms) > 2 else []
        quantized = [g for g in gemms if g not in keep]
        samples = 0
        with _quiet():
            if method == "static":
                onnx.save_model(model, str(pre))
                samples = sum(int(next(iter(f.values())).shape[0]) for f in calibration)
                quantize_static(
                    str(pre),
                    str(dst),
                    _Reader(calibration, _input_dtypes(model)),
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["Gemm", "Relu", "Add"],
                    nodes_to_quantize=None,
                    nodes_to_exclude=keep,
                    per_channel=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                )
            else:
                gemm_to_matmul(model)
                onnx.save_model(model, str(pre))
                quantize_dynamic(
                    str(pre),
                    str(dst),
                    op_types_to_quantize=["MatMul"],
                    nodes_to_exclude=keep,
                    per_channel=True,
                    weight_type=QuantType.QInt8,
                )
    details: dict[str, Any] = {
        "dtype": "int8",
        "method": method,
        "weights": "int8, symmetric, per output unit",
        "activations": (
            "uint8, per tensor, calibrated min/max (QDQ)"
            if method == "static"
            else "uint8, per tensor, per batch at run time"
        ),
        "folded_batch_norms": folded,
        "quantized_layers": [layer[g] for g in quantized],
        "float_layers": [layer[g] for g in keep],
        "calibration_samples": samples,
    }
    return QuantizeResult(
        dst, method, folded, details["quantized_layers"], details["float_layers"], samples, details
    )


def _layer_name(weight: str) -> str:
    """``blocks.0.layer1.0`` for the weight ``blocks.0.layer1.0.weight`` (BN-folded or not)."""
    return weight.removesuffix("_bn_folded").removesuffix(".weight")


def joint_deviation_mm(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and largest distance between corresponding joints, in millimetres.

    Shapes:
        a, b: (B, J, 3) metres.

    Returns:
        ``(mean, max)`` of ``|a - b|`` over the B * J joints, mm.

    Raises:
        ValueError: shapes differ or are not (B, J, 3).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected two (B, J, 3) arrays of one shape, got {a.shape}, {b.shape}")
    d = np.linalg.norm(a - b, axis=-1) * 1000.0  # (B, J) mm
    return float(d.mean()), float(d.max())


# --- checkpoints -----------------------------------------------------------------------------


def validation_inputs(
    module: Any, config: Any, input_names: Sequence[str], max_samples: int = CHECK_SAMPLES
) -> list[dict[str, Tensor]]:
    """The first ``max_samples`` validation inputs of a checkpoint's experiment, as batches.

    Args:
        module: the task module (`posekit.engine.evaluate.module_from_checkpoint`).
        config: its experiment; its validation source is read (``evaluation_batches``).
        input_names: the model's input names, taken from each batch.
        max_samples: how many samples at most.

    Returns:
        Batches ``{name: (B, ...) tensor}`` with ``sum(B) <= max_samples``.

    Raises:
        RuntimeError: the validation data cannot be built here, is empty, or lacks an input.
    """
    from posekit.engine.base import val_source

    source = val_source(config)[0]
    try:
        batches, _ = module.evaluation_batches(config)
        feeds: list[dict[str, Tensor]] = []
        count = 0
        for batch in batches:
            missing = [k for k in input_names if k not in batch]
            if missing:
                raise KeyError(f"validation batches lack the model inputs {', '.join(missing)}")
            take = min(int(batch[input_names[0]].shape[0]), max_samples - count)
            feeds.append({k: batch[k][:take] for k in input_names})
            count += take
            if count >= max_samples:
                break
    except Exception as err:  # data sources raise many types; the message names the source
        raise RuntimeError(
            f"the int8 model is checked on the checkpoint's validation data (source "
            f"{source!r}), which cannot be read here: {type(err).__name__}: {err}"
        ) from None
    if count == 0:
        raise RuntimeError(f"the validation data (source {source!r}) is empty")
    return feeds


def _numpy_feeds(feeds: Sequence[Mapping[str, Tensor]]) -> list[dict[str, np.ndarray]]:
    return [{k: v.detach().cpu().numpy() for k, v in f.items()} for f in feeds]


def _deviation(
    model: nn.Module, path: Path, feeds: Sequence[Mapping[str, Tensor]], output: str
) -> tuple[float, float, int]:
    """(mean, max) joint distance in mm between ONNX Runtime on ``path`` and torch, and the
    number of samples."""
    runner = OnnxRunner(path)
    was_training = model.training
    model.eval()
    got, ref = [], []
    try:
        with torch.no_grad():
            for feed in feeds:
                ref.append(model(**feed)[output].double().cpu().numpy())
                got.append(np.asarray(runner(dict(feed))[output], np.float64))
    finally:
        model.train(was_training)
    mean, worst = joint_deviation_mm(np.concatenate(got), np.concatenate(ref))
    return mean, worst, sum(len(r) for r in ref)


def export_int8(
    module: Any,
    config: Any,
    out: str | Path,
    export_float: Callable[[Path], Path],
    method: str = DEFAULT_METHOD,
    tolerance_mm: float = INT8_TOLERANCE_MM,
    max_samples: int = CHECK_SAMPLES,
) -> dict[str, Any]:
    """Write the int8 export of a checkpoint's model, checked on its validation inputs.

    The float32 model is written by ``export_float`` (verified against torch there) into a
    temporary folder beside ``out``, quantized (`quantize_onnx`), and run with ONNX Runtime on
    up to ``max_samples`` validation inputs (``"static"``: the first half calibrates, the second
    half checks); the mean distance of its joints to the float32 torch model's must be at most
    ``tolerance_mm``. Then the file, with the float32 export's metadata plus
    ``quantization`` (method, layers, the measured deviation), is renamed into place; on any
    failure nothing is written.

    Args:
        module: the task module of the checkpoint; config: its experiment.
        out: the ``.onnx`` file to write.
        export_float: writes the verified float32 ONNX model to the given path, returns it.
        method: ``"dynamic"`` or ``"static"`` (`quantize_onnx`).
        tolerance_mm: largest accepted mean joint deviation, mm.
        max_samples: validation inputs taken.

    Returns:
        The ``quantization`` metadata entry.

    Raises:
        ValueError: a task other than `quantize_tasks`, a bad method or tolerance.
        RuntimeError: no validation data, or a deviation above ``tolerance_mm``.
    """
    import onnx

    name, task = config.model.name, config.task
    supported = quantize_tasks()
    if task not in supported:
        raise ValueError(
            f"int8 quantization of {name!r} (task {task}) is not supported: it is checked "
            f"for the tasks {', '.join(supported)} only; export {name!r} in float32 "
            "(without quantize)"
        )
    if method not in QUANTIZE_METHODS:
        raise ValueError(f"method: expected one of {QUANTIZE_METHODS}, got {method!r}")
    if not tolerance_mm > 0:
        raise ValueError(f"tolerance_mm: expected > 0, got {tolerance_mm}")
    output = supported[task]
    model = module.model
    input_names = list(model.example_input(2))
    feeds = validation_inputs(module, config, input_names, max_samples)
    calibration: list[dict[str, Tensor]] = []
    checked = feeds
    if method == "static":
        calibration, checked = _halves(feeds)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        float_path = export_float(tmp / "float32.onnx")
        result = quantize_onnx(float_path, tmp / "int8.onnx", method, _numpy_feeds(calibration))
        mean, worst, count = _deviation(model, result.path, checked, output)
        if not mean <= tolerance_mm:
            raise RuntimeError(
                f"the int8 model of {name!r} ({method}) is {mean:.2f} mm per joint (max "
                f"{worst:.1f} mm) from torch float32 on {count} validation samples, more than "
                f"{tolerance_mm:g} mm; nothing written"
            )
        quantization = {
            **result.details,
            "check": {
                "reference": "torch float32 on validation inputs",
                "output": output,
                "samples": count,
                "mean_joint_deviation_mm": mean,
                "max_joint_deviation_mm": worst,
                "tolerance_mm": tolerance_mm,
            },
        }
        meta = read_onnx_metadata(float_path)
        meta["quantization"] = quantization
        proto = onnx.load_model(str(result.path))
        saver = ProtoSaver(proto)
        saver.set_metadata(encode_metadata(meta))
        save_atomically(saver, out, external_data=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return quantization


def _halves(
    feeds: list[dict[str, Tensor]],
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]]]:
    """Split batches at half the samples (a batch is cut in two where needed)."""
    total = sum(int(next(iter(f.values())).shape[0]) for f in feeds)
    if total < 2:
        raise RuntimeError(f"static quantization needs >= 2 validation samples, got {total}")
    first: list[dict[str, Tensor]] = []
    second: list[dict[str, Tensor]] = []
    seen = 0
    for feed in feeds:
        size = int(next(iter(feed.values())).shape[0])
        cut = min(max(total // 2 - seen, 0), size)
        if cut:
            first.append({k: v[:cut] for k, v in feed.items()})
        if cut < size:
            second.append({k: v[cut:] for k, v in feed.items()})
        seen += size
    return first, second
