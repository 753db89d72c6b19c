"""Int8 quantization of exported ONNX models for ONNX Runtime on the CPU.

A float32 export (`posekit.engine.export`) runs at most at the float32 GEMM peak; ONNX Runtime's
int8 GEMMs (u8 x s8, AVX-512 VNNI / AVX2 on x86) do several times the work per cycle. This
module turns a verified float32 file into an int8 one (`quantize_onnx`) and measures what it
costs (`joint_deviation_mm`); `posekit.engine.export.export_checkpoint` ``quantize="int8"``
chains export, quantization and the check.

Pipeline of `quantize_onnx`:

1. ONNX Runtime's pre-processing (``quant_pre_process``: shape inference, constant folding;
   e.g. LCN's masked weights become constants).
2. `fold_batch_norm`: every ``BatchNormalization`` that follows a ``Gemm`` is folded into its
   weights and bias, ``W' = W * s``, ``b' = (b - mean) * s + beta`` with
   ``s = gamma / sqrt(var + eps)`` per output unit (the dynamo exporter folds Martinez's, the
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
   two): they hold ~1 % of the Martinez FLOPs, but 8 bits on the input keypoints and on the
   output metres cost the most accuracy.

Why these choices, measured by ``benchmarks/lift_speed.py --int8-only`` on a full Martinez
trained 3000 steps (validation MPJPE 70.6 mm), 2-core AMD EPYC with AVX-512 VNNI, batch 1024,
2 threads (poses/s; mean joint distance to float32 torch on 7952 validation poses):
float32 ONNX Runtime 45k; int8 dynamic 141k, 0.88 mm (MPJPE 70.60 → 70.63 mm); static 151k,
2.60 mm; dynamic with the first and last layers int8 too 150k, 6.80 mm. Static ranges, fixed
once for all inputs, are coarser than each batch's own: ~7 % faster, but outside the 2 mm
bound (`INT8_TOLERANCE_MM`).
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

__all__ = [
    "CHECK_SAMPLES",
    "DEFAULT_METHOD",
    "INT8_OPS",
    "INT8_TOLERANCE_MM",
    "QUANTIZE_CHOICES",
    "QUANTIZE_METHODS",
    "QUANTIZE_TASKS",
    "QuantizeResult",
    "export_int8",
    "fold_batch_norm",
    "gemm_to_matmul",
    "int8_op_counts",
    "joint_deviation_mm",
    "quantize_onnx",
    "validation_inputs",
]

#: ``quantize`` values of `posekit.engine.export.export_checkpoint` (``--quantize``).
QUANTIZE_CHOICES = ("int8",)
#: ``method`` values of `quantize_onnx`.
QUANTIZE_METHODS = ("static", "dynamic")
#: Tasks whose checkpoints can be exported as int8: task → the output the check compares
#: (joints in metres; the check is the mean joint distance to torch float32, in mm).
QUANTIZE_TASKS = {"lift": "joints3d"}
#: ``method`` of `export_int8` (the faster one at the accuracy of the full Martinez model).
DEFAULT_METHOD = "dynamic"
#: Validation inputs `export_int8` takes (the first half calibrates ``"static"``).
CHECK_SAMPLES = 4096
#: Largest accepted mean joint deviation (mm) of an int8 lifter from its float32 torch model
#: on the validation inputs: ~3 % of a trained lifter's MPJPE (62.9 mm for Martinez et al. on
#: Human3.6M, 70.6 mm for the full Martinez of benchmarks/lift_speed.py, whose int8 model
#: deviates by 0.88 mm and costs 0.03 mm of MPJPE: the deviation is not along the error).
INT8_TOLERANCE_MM = 2.0
#: Operators that carry int8 arithmetic in a quantized graph (QDQ, QOperator or dynamic).
INT8_OPS = (
    "DequantizeLinear",
    "QuantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QLinearMatMul",
    "QGemm",
    "QLinearAdd",
)


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


# --- graph rewrites --------------------------------------------------------------------------


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _remove_unused_initializers(model: Any) -> None:
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def fold_batch_norm(model: Any) -> int:
    """Fold every inference-mode ``BatchNormalization`` that follows a ``Gemm`` into it, in
    place.

    Folded when the Gemm has constant weights and bias (initializers), ``transA = 0``, its
    output feeds only the BatchNormalization, and the BN's scale, bias, mean and variance are
    constants. Per output unit n: ``s = gamma / sqrt(var + eps)``,
    ``W'[n] = alpha W[n] s``, ``b' = (beta_gemm C - mean) s + beta_bn``.

    Args:
        model: an ``onnx.ModelProto``.

    Returns:
        The number of BatchNormalization nodes folded.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    for out in graph.output:
        uses[out.name] = uses.get(out.name, 0) + 1

    replace: dict[int, Any] = {}  # id(gemm) → folded gemm
    drop: set[int] = set()  # id(bn)
    for bn in graph.node:
        if bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue
        gemm = producer.get(bn.input[0])
        if gemm is None or gemm.op_type != "Gemm" or uses.get(gemm.output[0], 0) != 1:
            continue
        ga, ba = _attrs(gemm), _attrs(bn)
        if ga.get("transA", 0) or ba.get("training_mode", 0):
            continue
        if gemm.input[1] not in inits or (len(gemm.input) > 2 and gemm.input[2] not in inits):
            continue
        if not all(name in inits for name in bn.input[1:5]):
            continue
        gamma, beta, mean, var = (
            numpy_helper.to_array(inits[n]).astype(np.float64) for n in bn.input[1:5]
        )
        w = numpy_helper.to_array(inits[gemm.input[1]])
        dtype = w.dtype
        trans_b = bool(ga.get("transB", 0))
        w = ga.get("alpha", 1.0) * w.astype(np.float64)  # (N, K) with transB, else (K, N)
        n_out = w.shape[0] if trans_b else w.shape[1]
        if gamma.shape != (n_out,):
            continue
        c = np.zeros(n_out)
        if len(gemm.input) > 2 and gemm.input[2]:
            c_const = numpy_helper.to_array(inits[gemm.input[2]]).astype(np.float64)
            if c_const.size not in (1, n_out):
                continue  # a (M, N) bias: not a per-unit bias
            c = ga.get("beta", 1.0) * np.broadcast_to(c_const.reshape(-1), (n_out,))
        s = gamma / np.sqrt(var + ba.get("epsilon", 1e-5))  # (N,)
        w = w * (s[:, None] if trans_b else s[None, :])
        b = (c - mean) * s + beta
        w_name, b_name = f"{gemm.input[1]}_bn_folded", f"{bn.output[0]}_bn_folded_bias"
        graph.initializer.extend(
            [
                numpy_helper.from_array(w.astype(dtype), w_name),
                numpy_helper.from_array(b.astype(dtype), b_name),
            ]
        )
        replace[id(gemm)] = helper.make_node(
            "Gemm",
            [gemm.input[0], w_name, b_name],
            [bn.output[0]],
            name=gemm.name or bn.name,
            transB=int(trans_b),
        )
        drop.add(id(bn))
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    _remove_unused_initializers(model)
    return len(drop)


def gemm_to_matmul(model: Any) -> int:
    """Rewrite, in place, every ``Gemm`` with constant weights as ``MatMul`` (+ ``Add`` of its
    bias): the dynamic quantizer quantizes MatMul only.

    Returns:
        The number of Gemm nodes rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, count = [], 0
    for node in graph.node:
        a = _attrs(node) if node.op_type == "Gemm" else {}
        if (
            node.op_type != "Gemm"
            or a.get("transA", 0)
            or node.input[1] not in inits
            or (len(node.input) > 2 and node.input[2] and node.input[2] not in inits)
        ):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        w = a.get("alpha", 1.0) * (w.T if a.get("transB", 0) else w)  # (K, N)
        w_name = f"{node.input[1]}_kn"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w, w.dtype), w_name))
        name = node.name or node.output[0]
        if len(node.input) > 2 and node.input[2]:
            bias = a.get("beta", 1.0) * numpy_helper.to_array(inits[node.input[2]])
            b_name = f"{node.input[2]}_scaled" if a.get("beta", 1.0) != 1.0 else node.input[2]
            if b_name != node.input[2]:
                graph.initializer.append(numpy_helper.from_array(bias, b_name))
            mm = f"{node.output[0]}_matmul"
            nodes.append(helper.make_node("MatMul", [node.input[0], w_name], [mm], name=name))
            nodes.append(
                helper.make_node("Add", [mm, b_name], [node.output[0]], name=f"{name}_bias")
            )
        else:
            nodes.append(
                helper.make_node("MatMul", [node.input[0], w_name], [node.output[0]], name=name)
            )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    _remove_unused_initializers(model)
    return count


def int8_op_counts(path_or_model: Any) -> dict[str, int]:
    """How many nodes of each `INT8_OPS` type a model has (missing types left out)."""
    import onnx

    model = path_or_model
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load_model(str(path_or_model), load_external_data=False)
    counts: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in INT8_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


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
        src: the float32 model (as written by `posekit.engine.export.export_onnx`).
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
    from posekit.engine.export import OnnxRunner

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
        ValueError: a task other than `QUANTIZE_TASKS`, a bad method or tolerance.
        RuntimeError: no validation data, or a deviation above ``tolerance_mm``.
    """
    import onnx

    from posekit.engine.export import (
        _encode_metadata,
        _ProtoSaver,
        _save_atomically,
        read_onnx_metadata,
    )

    name, task = config.model.name, config.task
    if task not in QUANTIZE_TASKS:
        raise ValueError(
            f"int8 quantization of {name!r} (task {task}) is not supported: it is checked "
            f"for the tasks {', '.join(QUANTIZE_TASKS)} only (the lifting models martinez, "
            f"lcn, smplr_dae); export {name!r} in float32 (without quantize)"
        )
    if method not in QUANTIZE_METHODS:
        raise ValueError(f"method: expected one of {QUANTIZE_METHODS}, got {method!r}")
    if not tolerance_mm > 0:
        raise ValueError(f"tolerance_mm: expected > 0, got {tolerance_mm}")
    output = QUANTIZE_TASKS[task]
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
        saver = _ProtoSaver(proto)
        saver.set_metadata(_encode_metadata(meta))
        _save_atomically(saver, out, external_data=False)
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
