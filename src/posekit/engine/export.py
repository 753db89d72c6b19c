"""ONNX export of registered models, verification against torch, and an ONNX Runtime runner.

`export_onnx` writes any model that follows the registry protocol (``forward(**inputs)``
returning a dict of tensors) to an ONNX file whose inputs are named after the keys of
``model.example_input`` and whose outputs are named after the keys of ``forward``'s dict, with
a dynamic batch axis (dimension 0 of every input and output). `verify_onnx` runs the file with
ONNX Runtime and returns the largest absolute difference to torch; `OnnxRunner` runs it and
returns the same dict as ``forward`` (what ``posekit predict --backend onnx`` uses).

Exporters. torch's default ONNX exporter (``dynamo=True``) goes through ``torch.export``. When
a model's Python code turns the batch size into a constant (e.g. ``int()`` of a dimension),
``torch.onnx.export`` silently falls back to a *fixed* batch; so `export_onnx` runs
``torch.export.export`` itself with a dynamic batch dimension, which fails loudly instead, and
then (``exporter="auto"``) tries the TorchScript tracer. While exporting, posekit's own shape
checks keep symbolic sizes (see `_exporting`), so every registered model exports through
dynamo. The exporter used is stored in the file's metadata. Check the result with
`verify_onnx` at another batch size than the traced one (``posekit export`` does): a tracer
can freeze a batch-dependent shape.

Files. The dynamo exporter may write the weights to a side file ``<name>.onnx.data``. Here the
weights are embedded in the one ``.onnx`` file unless the model is too large for a protobuf
(2 GiB; ``external_data=None`` decides by size); then both files are written. Writes are atomic:
everything is written into a temporary folder beside ``path`` (same file system), fsync-ed and
renamed into place, the data file before the model, so a reader never sees a partial model;
on failure nothing new is left. A stale ``<name>.onnx.data`` of an earlier export to the same
path is removed when the new file embeds its weights. Move the two files together.

Metadata. The posekit description of the model is stored in the ONNX ``metadata_props`` as
``posekit.<key>`` → JSON text (`read_onnx_metadata` decodes it): ``format``, ``version``,
``exporter``, ``inputs``, ``outputs``, and what the caller gives (``task``, ``model``,
``preset``, ``skeleton``, ``config``, ``input_normalization``, ...; see `model_metadata`).
The input normalization of the lifting models (``input_mean`` / ``input_std``) is part of the
graph (applied inside ``forward``); the metadata records it and the input coordinate
convention (``config.input_coords``) so the file alone says what to feed it.

Int8. ``export_checkpoint(..., quantize="int8")`` writes the float32 model as above, quantizes
it (`posekit.engine.quantize`, lifting models) and checks it against the float32 torch model
on the checkpoint's validation inputs (mean joint distance, mm) instead of ``ONNX_TOLERANCE``;
the measured deviation is stored as ``posekit.quantization``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "DEFAULT_OPSET",
    "EXPORTERS",
    "METADATA_PREFIX",
    "ONNX_TOLERANCE",
    "CheckpointExport",
    "OnnxRunner",
    "export_checkpoint",
    "export_onnx",
    "model_inputs",
    "model_metadata",
    "onnx_files",
    "read_onnx_metadata",
    "verify_onnx",
]

#: ONNX opset written by default (ONNX Runtime >= 1.14 runs it).
DEFAULT_OPSET = 18
#: ``exporter`` choices of `export_onnx`.
EXPORTERS = ("auto", "dynamo", "torchscript")
#: Prefix of posekit's keys in the ONNX ``metadata_props``.
METADATA_PREFIX = "posekit."
#: Format of the posekit metadata (bumped when its meaning changes).
METADATA_FORMAT = 1
#: Weights above this size go to ``<name>.onnx.data`` (protobuf refuses messages over 2 GiB).
_EMBED_LIMIT_BYTES = 1_800_000_000
_BATCH = "batch"


# --- inputs and metadata -------------------------------------------------------------------


def model_inputs(model: nn.Module, inputs: Any = None, batch_size: int = 2) -> dict[str, Tensor]:
    """The inputs of ``model.forward`` as a name → tensor dict.

    Args:
        model: a registered model (has ``example_input(batch_size)``) or any module.
        inputs: a dict of keyword tensors, a tuple of positional tensors, one tensor, or None
            for ``model.example_input(batch_size)``. Positional tensors are named after the
            parameters of ``forward``.
        batch_size: batch of the example input when ``inputs`` is None.

    Raises:
        ValueError: no inputs and no ``example_input``, a non-tensor input, or more positional
            inputs than ``forward`` has parameters.
    """
    if inputs is None:
        example_input = getattr(model, "example_input", None)
        if example_input is None:
            raise ValueError(f"{type(model).__name__} has no example_input(); pass inputs")
        inputs = example_input(batch_size)
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    if isinstance(inputs, tuple):
        params = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(inputs) > len(params):
            raise ValueError(
                f"{len(inputs)} positional inputs but {type(model).__name__}.forward takes "
                f"{len(params)} ({', '.join(params)})"
            )
        inputs = dict(zip(params, inputs))
    if not isinstance(inputs, Mapping):
        raise ValueError(f"inputs: expected a dict, tuple or tensor, got {type(inputs).__name__}")
    bad = [k for k, v in inputs.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"inputs: expected tensors, got non-tensor values for {', '.join(bad)}")
    return dict(inputs)


def model_metadata(
    model: nn.Module,
    task: str | None = None,
    name: str | None = None,
    preset: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What a file needs to say about a model: task, name, preset, skeleton, config, inputs.

    Args:
        model: the model; its ``config`` dataclass (if any) is recorded whole, its skeleton
            (``config.skeleton``) and input coordinate convention (``config.input_coords``)
            separately, and its ``input_mean`` / ``input_std`` buffers (if any) as
            ``input_normalization`` ``{"mean": (J, 2) list, "std": (J, 2) list}``.
        task, name, preset: the task family, registry name and preset (left out when None;
            ``name`` defaults to the registry name of the model's class).
        extra: more JSON-serializable entries (e.g. ``checkpoint``, ``step``).

    Returns:
        A JSON-serializable dict.
    """
    meta: dict[str, Any] = {}
    if name is None:
        name = _registry_name(model)
    for key, value in (("task", task), ("model", name), ("preset", preset)):
        if value is not None:
            meta[key] = value
    config = getattr(model, "config", None)
    if config is not None and dataclasses.is_dataclass(config):
        meta["config"] = json.loads(json.dumps(dataclasses.asdict(config), default=str))
        for key in ("skeleton", "input_coords"):
            if hasattr(config, key):
                meta[key] = getattr(config, key)
    mean, std = getattr(model, "input_mean", None), getattr(model, "input_std", None)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        meta["input_normalization"] = {
            "mean": mean.detach().cpu().double().tolist(),
            "std": std.detach().cpu().double().tolist(),
            "applied_in_graph": True,
        }
    meta.update(extra)
    return meta


def _registry_name(model: nn.Module) -> str | None:
    from posekit.models.registry import _REGISTRY

    for spec in _REGISTRY.values():
        if spec.model_cls is type(model):
            return spec.name
    return None


def _encode_metadata(meta: Mapping[str, Any]) -> dict[str, str]:
    return {f"{METADATA_PREFIX}{k}": json.dumps(v) for k, v in meta.items()}


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The posekit metadata of an ONNX file (``{}`` when it has none); weights are not read.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an ONNX model.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends
        raise ValueError(f"{path}: not an ONNX model: {err}") from None
    return _decode_metadata({p.key: p.value for p in proto.metadata_props})


def _decode_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, text in props.items():
        if key.startswith(METADATA_PREFIX):
            try:
                meta[key[len(METADATA_PREFIX) :]] = json.loads(text)
            except json.JSONDecodeError:
                meta[key[len(METADATA_PREFIX) :]] = text
    return meta


# --- export --------------------------------------------------------------------------------


def onnx_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of an exported model: ``path`` and, if present, ``<path>.data``."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    return [p for p in (path, data) if p.is_file()]


def export_onnx(
    model: nn.Module,
    example_inputs: Any,
    path: str | os.PathLike[str],
    opset: int = DEFAULT_OPSET,
    metadata: Mapping[str, Any] | None = None,
    exporter: str = "auto",
    external_data: bool | None = None,
    dynamic_batch: bool = True,
    check: Callable[[Path], Any] | None = None,
) -> Path:
    """Export a model to ONNX, atomically (see the module docstring).

    The model is traced in eval mode (its mode is restored afterwards) on the device of its
    inputs; the file does not depend on it.

    Args:
        model: a module whose ``forward`` returns a dict of tensors.
        example_inputs: a dict of keyword tensors (``model.example_input(B)``), a tuple of
            positional tensors, one tensor, or None for ``model.example_input(2)``. With
            ``dynamic_batch`` the batch must be at least 2 (torch.export treats a size of 1 as
            a constant).
        path: the ``.onnx`` file to write (folders are created).
        opset: ONNX opset version.
        metadata: entries stored as ``posekit.<key>`` in ``metadata_props`` (JSON-encoded);
            defaults to `model_metadata` ``(model)``.
        exporter: ``"dynamo"`` (``torch.export``), ``"torchscript"`` (the tracer), or
            ``"auto"``: dynamo, then the tracer if dynamo fails.
        external_data: weights in ``<path>.data`` (True), embedded (False), or embedded when
            they fit in a protobuf (None).
        dynamic_batch: dimension 0 of every input and output is a named dynamic axis
            ``batch``; otherwise the example's batch is fixed.
        check: called with the written file while it is still in the temporary folder
            (e.g. a `verify_onnx` that raises above a tolerance); if it raises, nothing is
            renamed into place and the error propagates.

    Returns:
        ``path``.

    Raises:
        ValueError: bad ``exporter`` / ``opset``, inputs that are not tensors, a batch < 2
            with ``dynamic_batch``, or a forward that does not return a dict of tensors.
        RuntimeError: every exporter tried failed (the message holds each one's error).
        Whatever ``check`` raises.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter: expected one of {EXPORTERS}, got {exporter!r}")
    if opset < 7:
        raise ValueError(f"opset: expected >= 7, got {opset}")
    path = Path(path)
    inputs = model_inputs(model, example_inputs)
    small = [k for k, v in inputs.items() if v.dim() and v.shape[0] < 2]
    if dynamic_batch and small:
        raise ValueError(
            f"example inputs {', '.join(small)}: a dynamic batch needs a traced batch of at "
            f"least 2, got {inputs[small[0]].shape[0]}"
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(**inputs)
        if not isinstance(outputs, Mapping) or not all(
            isinstance(v, Tensor) for v in outputs.values()
        ):
            raise ValueError(
                f"{type(model).__name__}.forward must return a dict of tensors to be exported, "
                f"got {type(outputs).__name__}"
            )
        output_names = list(outputs)
        tried = ("dynamo", "torchscript") if exporter == "auto" else (exporter,)
        errors: list[str] = []
        for name in tried:
            try:
                if name == "dynamo":
                    saver = _export_dynamo(model, inputs, output_names, opset, dynamic_batch)
                else:
                    saver = _export_torchscript(model, inputs, output_names, opset, dynamic_batch)
                break
            except Exception as err:  # exporters raise many types; each is reported below
                errors.append(f"{name}: {type(err).__name__}: {_first_lines(err)}")
        else:
            raise RuntimeError(
                f"ONNX export of {type(model).__name__} failed:\n  " + "\n  ".join(errors)
            )
    finally:
        model.train(was_training)
    meta = dict(model_metadata(model) if metadata is None else metadata)
    meta.update(
        format=METADATA_FORMAT,
        version=_posekit_version(),
        exporter=name,
        opset=opset,
        inputs={k: _shape_text(v, dynamic_batch) for k, v in inputs.items()},
        outputs={k: _shape_text(v, dynamic_batch) for k, v in outputs.items()},
    )
    if external_data is None:
        weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        external_data = weight_bytes > _EMBED_LIMIT_BYTES
    saver.set_metadata(_encode_metadata(meta))
    _save_atomically(saver, path, external_data, check)
    return path


def _first_lines(err: BaseException, n: int = 3) -> str:
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    return " / ".join(lines[:n]) if lines else "(no message)"


def _posekit_version() -> str:
    from posekit import __version__

    return __version__


def _shape_text(t: Tensor, dynamic_batch: bool) -> dict[str, Any]:
    shape: list[Any] = list(t.shape)
    if dynamic_batch and shape:
        shape[0] = _BATCH
    return {"shape": shape, "dtype": str(t.dtype).removeprefix("torch.")}


@contextlib.contextmanager
def _exporting() -> Iterator[None]:
    """The exporters' chatter silenced (loggers, warnings, stdout) while exporting.

    (posekit's shape checks keep torch's symbolic sizes, see `posekit._checks.shape_of`, so
    the exported batch axis stays dynamic.)
    """
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class _DynamoSaver:
    """An ``ONNXProgram`` of the dynamo exporter, saved through its own writer."""

    def __init__(self, program: Any) -> None:
        self.program = program

    def set_metadata(self, props: Mapping[str, str]) -> None:
        self.program.model.metadata_props.update(props)

    def save(self, path: Path, external_data: bool) -> None:
        # ONNXProgram.save writes the weights to "<name>.data" beside `path` when external.
        self.program.save(str(path), external_data=external_data)


class _ProtoSaver:
    """An ``onnx.ModelProto`` (TorchScript exporter), saved with ``onnx.save_model``."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto

    def set_metadata(self, props: Mapping[str, str]) -> None:
        kept = [p for p in self.proto.metadata_props if p.key not in props]
        del self.proto.metadata_props[:]
        self.proto.metadata_props.extend(kept)
        for key, value in props.items():
            entry = self.proto.metadata_props.add()
            entry.key, entry.value = key, value

    def save(self, path: Path, external_data: bool) -> None:
        import onnx

        onnx.save_model(
            self.proto,
            str(path),
            save_as_external_data=external_data,
            all_tensors_to_one_file=True,
            location=path.name + ".data",
            size_threshold=0,
        )


def _export_dynamo(
    model: nn.Module,
    inputs: dict[str, Tensor],
    output_names: list[str],
    opset: int,
    dynamic_batch: bool,
) -> _DynamoSaver:
    # torch.export first: it raises when the model specializes the batch dimension, where
    # torch.onnx.export would quietly fall back to a fixed batch.
    dynamic_shapes = None
    if dynamic_batch:
        batch = torch.export.Dim(_BATCH, min=1)
        dynamic_shapes = {k: {0: batch} if v.dim() else None for k, v in inputs.items()}
    with _exporting():
        program = torch.export.export(
            model, (), kwargs=inputs, dynamic_shapes=dynamic_shapes, strict=False
        )
        onnx_program = torch.onnx.export(
            program,
            (),
            None,
            kwargs=inputs,
            dynamo=True,
            opset_version=opset,
            input_names=list(inputs),
            output_names=output_names,
            optimize=True,
            verbose=False,
        )
    if onnx_program is None:  # pragma: no cover - f=None always returns the program
        raise RuntimeError("torch.onnx.export returned no program")
    return _DynamoSaver(onnx_program)


def _export_torchscript(
    model: nn.Module,
    inputs: dict[str, Tensor],
    output_names: list[str],
    opset: int,
    dynamic_batch: bool,
) -> _ProtoSaver:
    import onnx

    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {k: {0: _BATCH} for k in [*inputs, *output_names]}
    buffer = io.BytesIO()
    with _exporting():
        torch.onnx.export(
            model,
            (),
            buffer,
            kwargs=inputs,
            dynamo=False,
            opset_version=opset,
            input_names=list(inputs),
            output_names=output_names,
            dynamic_axes=dynamic_axes,
        )
    return _ProtoSaver(onnx.load_model_from_string(buffer.getvalue()))


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _save_atomically(
    saver: _DynamoSaver | _ProtoSaver,
    path: Path,
    external_data: bool,
    check: Callable[[Path], Any] | None = None,
) -> None:
    """Write the model (and its data file) into a temporary folder beside ``path``, run
    ``check`` on it there, then rename it into place.

    The data file is renamed first: the model file never names weights that are not there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_name(path.name + ".data")
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        staged = tmp / path.name
        staged_data = tmp / data.name
        saver.save(staged, external_data)
        if not staged.is_file():
            raise RuntimeError(f"the exporter wrote no model file ({staged})")
        if external_data and not staged_data.is_file():
            raise RuntimeError(f"the exporter wrote no external data file ({staged_data})")
        for f in (staged_data, staged) if external_data else (staged,):
            os.chmod(f, 0o644)
            _fsync_file(f)
        if check is not None:
            check(staged)
        if external_data:
            os.replace(staged_data, data)
        os.replace(staged, path)
        if not external_data:
            with contextlib.suppress(FileNotFoundError):
                data.unlink()  # an earlier export's weights: this file embeds its own
        _fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- running and verifying -----------------------------------------------------------------

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


class OnnxRunner:
    """Run an exported model with ONNX Runtime, with the torch model's input and output names.

    Args:
        path: an ``.onnx`` file (its ``.data`` file, if any, beside it).
        threads: ONNX Runtime intra-op threads (None: its default, all cores).
        providers: execution providers, in order of preference.

    Attributes:
        input_names, output_names: as in the torch model's ``forward`` inputs / outputs.
        metadata: the posekit metadata of the file (`read_onnx_metadata`).

    Example:
        ``OnnxRunner("best.onnx")({"keypoints2d": kp, "visibility": vis})["joints3d"]``
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int | None = None,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {self.path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=list(providers)
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{self.path}: ONNX Runtime cannot load it: {err}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._input_dtypes = {
            i.name: _ORT_DTYPES.get(i.type, np.float32) for i in self.session.get_inputs()
        }
        self.metadata = _decode_metadata(self.session.get_modelmeta().custom_metadata_map)

    def __call__(
        self, inputs: Mapping[str, Any] | Tensor | np.ndarray, as_torch: bool = False
    ) -> dict[str, Any]:
        """Run the model.

        Args:
            inputs: name → array (torch tensors or numpy arrays; cast to the input's dtype),
                or one array for a single-input model.
            as_torch: return torch tensors instead of numpy arrays.

        Returns:
            output name → (B, ...) array, the keys of the torch model's ``forward``.

        Raises:
            ValueError: missing or unknown input names (the message lists the expected ones).
        """
        if not isinstance(inputs, Mapping):
            if len(self.input_names) != 1:
                raise ValueError(
                    f"{self.path.name} takes inputs {', '.join(self.input_names)}: pass a dict"
                )
            inputs = {self.input_names[0]: inputs}
        missing = [k for k in self.input_names if k not in inputs]
        unknown = [k for k in inputs if k not in self.input_names]
        if missing or unknown:
            raise ValueError(
                f"{self.path.name}: expected inputs {', '.join(self.input_names)}; "
                f"missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}"
            )
        feed = {k: self._array(k, v) for k, v in inputs.items()}
        results = self.session.run(self.output_names, feed)
        if as_torch:
            return {k: torch.from_numpy(np.asarray(v)) for k, v in zip(self.output_names, results)}
        return dict(zip(self.output_names, results))

    def _array(self, name: str, value: Any) -> np.ndarray:
        if isinstance(value, Tensor):
            value = value.detach().cpu().numpy()
        return np.ascontiguousarray(value, dtype=self._input_dtypes[name])


def verify_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    inputs: Any = None,
    batch_size: int = 3,
) -> float:
    """The largest absolute difference between ONNX Runtime (CPU) and torch on ``inputs``.

    Positions where both are NaN count as equal; NaN on one side only gives ``inf``.

    Args:
        model: the torch model (run in eval mode, ``no_grad``; its mode is restored).
        path: the exported file.
        inputs: as in `export_onnx`; None: ``model.example_input(batch_size)``. Verifying at
            another batch than the export's checks the dynamic batch axis.
        batch_size: batch of the example input when ``inputs`` is None.

    Returns:
        ``max |onnx - torch|`` over every output element (0.0 for empty outputs).

    Raises:
        ValueError: the file's outputs are not the model's (names or shapes).
    """
    inputs = model_inputs(model, inputs, batch_size)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected = model(**inputs)
    finally:
        model.train(was_training)
    got = OnnxRunner(path)(inputs)
    if set(got) != set(expected):
        raise ValueError(
            f"{path}: outputs {sorted(got)} differ from the model's {sorted(expected)}"
        )
    worst = 0.0
    for key, ref in expected.items():
        ref_np = ref.detach().cpu().double().numpy()
        out = np.asarray(got[key], dtype=np.float64)
        if out.shape != ref_np.shape:
            raise ValueError(
                f"{path}: output {key!r} has shape {out.shape}, the model's {ref_np.shape}"
            )
        if out.size == 0:
            continue
        both_nan = np.isnan(out) & np.isnan(ref_np)
        diff = np.where(both_nan, 0.0, np.abs(out - ref_np))
        diff = np.where(np.isnan(diff), np.inf, diff)
        worst = max(worst, float(diff.max()))
    return worst


#: Largest accepted ``max |ONNX Runtime - torch|`` of a checkpoint export.
ONNX_TOLERANCE = 1e-4


@dataclass
class CheckpointExport:
    """What `export_checkpoint` wrote and measured.

    Attributes:
        path: the ONNX file; metadata: its posekit metadata; max_abs_diff: ONNX Runtime vs
        torch on a batch of ``verify_batch`` example inputs (of the float32 model, also when
        the file is quantized); quantization: the ``quantization`` metadata entry of an int8
        file (method, layers, measured deviation; see `posekit.engine.quantize`), else None.
    """

    path: Path
    metadata: dict[str, Any]
    max_abs_diff: float
    verify_batch: int
    quantization: dict[str, Any] | None = None


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    opset: int | None = None,
    batch_size: int = 2,
    exporter: str = "auto",
    tolerance: float = ONNX_TOLERANCE,
    quantize: str | None = None,
    quantize_tolerance_mm: float | None = None,
    quantize_method: str | None = None,
) -> CheckpointExport:
    """Export a ``posekit train`` checkpoint to ONNX, checked against torch before it is
    renamed into place (the model is rebuilt from the checkpoint alone; the checkpoint's
    experiment is stored in the metadata, so predictors need nothing else).

    With ``quantize="int8"`` the verified float32 model is quantized to int8
    (`posekit.engine.quantize.export_int8`, lifting models only) and written only when its
    joints are, on average, at most ``quantize_tolerance_mm`` (default
    `~posekit.engine.quantize.INT8_TOLERANCE_MM`) from the float32 torch model's on the
    checkpoint's validation inputs; the measured deviation is stored in the metadata
    (``quantization``). ``quantize_method``: ``"dynamic"`` (default) or ``"static"``.

    Raises:
        FileNotFoundError, CheckpointError: a missing or foreign checkpoint.
        ValueError: ``batch_size < 2``; an unknown ``quantize``, or a model that cannot be
            quantized (the message says which can).
        RuntimeError: the export fails, ONNX Runtime differs from torch by more than
            ``tolerance``, or the int8 model deviates by more than ``quantize_tolerance_mm``
            (nothing is written then).
    """
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.evaluate import module_from_checkpoint

    if batch_size < 2:
        raise ValueError(f"batch_size: expected >= 2, got {batch_size}")
    if quantize is not None:
        from posekit.engine.quantize import QUANTIZE_CHOICES

        if quantize not in QUANTIZE_CHOICES:
            raise ValueError(
                f"quantize: expected one of {', '.join(QUANTIZE_CHOICES)} (or None for "
                f"float32), got {quantize!r}"
            )
    elif quantize_tolerance_mm is not None or quantize_method is not None:
        raise ValueError("quantize_tolerance_mm / quantize_method need quantize='int8'")
    checkpoint = Path(checkpoint)
    module, config, ckpt = module_from_checkpoint(checkpoint)
    model, meta = module.model, ckpt[METADATA_KEY]
    metadata = model_metadata(
        model,
        task=config.task,
        name=config.model.name,
        preset=meta["model"].get("preset", config.model.preset),
        checkpoint=checkpoint.name,
        step=int(ckpt.get("global_step", 0)),
        experiment=meta["experiment"],
    )
    verify_batch = batch_size + 1  # another batch than the traced one: the axis is dynamic
    verify_inputs = model.example_input(verify_batch)
    diffs: list[float] = []

    def check(staged: Path) -> None:
        diffs.append(verify_onnx(model, staged, verify_inputs))
        if not diffs[-1] <= tolerance:
            raise RuntimeError(
                f"ONNX Runtime vs torch max |diff| = {diffs[-1]:.2g} > {tolerance:g}: the "
                f"export of {config.model.name!r} does not match torch; nothing written"
            )

    def export_float(target: str | os.PathLike[str]) -> Path:
        return export_onnx(
            model,
            model.example_input(batch_size),
            target,
            opset=DEFAULT_OPSET if opset is None else opset,
            metadata=metadata,
            exporter=exporter,
            check=check,
        )

    if quantize is None:
        path = export_float(out)
        return CheckpointExport(Path(path), read_onnx_metadata(path), diffs[-1], verify_batch)
    from posekit.engine.quantize import DEFAULT_METHOD, INT8_TOLERANCE_MM, export_int8

    quantization = export_int8(
        module,
        config,
        out,
        export_float,
        method=DEFAULT_METHOD if quantize_method is None else quantize_method,
        tolerance_mm=INT8_TOLERANCE_MM if quantize_tolerance_mm is None else quantize_tolerance_mm,
    )
    path = Path(out)
    return CheckpointExport(path, read_onnx_metadata(path), diffs[-1], verify_batch, quantization)
