"""Export a torch module to an ONNX file with named inputs and outputs and a dynamic batch.

`export_onnx` writes any model that follows the registry protocol (``forward(**inputs)``
returning a dict of tensors): the file's inputs are named after the keys of the example
inputs, its outputs after the keys of ``forward``'s dict, and dimension 0 of every input and
output is a dynamic ``batch`` axis. The posekit metadata (`model_metadata` plus the exporter,
opset and input / output shapes) is stored in the file (`posekit.engine.onnx_files`).

Exporters: ``"dynamo"`` runs ``torch.export.export`` with a dynamic batch dimension itself (it
fails loudly where ``torch.onnx.export`` would silently fix the batch), then converts the
program; ``"torchscript"`` is the tracer; ``"auto"`` tries dynamo, then the tracer. The
exporter used is stored in the metadata. A tracer can freeze a batch-dependent shape: check
the file at another batch size than the traced one (`posekit.engine.onnx_runtime.verify_onnx`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from posekit.engine.onnx_files import (
    METADATA_FORMAT,
    ProtoSaver,
    encode_metadata,
    save_atomically,
)
from posekit.models import registered_name

__all__ = [
    "BATCH_AXIS",
    "DEFAULT_OPSET",
    "EXPORTERS",
    "MODEL_CONFIG_METADATA_KEYS",
    "export_onnx",
    "input_normalization_metadata",
    "model_inputs",
    "model_metadata",
]

#: ONNX opset written by default (ONNX Runtime >= 1.14 runs it).
DEFAULT_OPSET = 18
#: ``exporter`` choices of `export_onnx`.
EXPORTERS = ("auto", "dynamo", "torchscript")
#: Name of the dynamic dimension 0 of every input and output.
BATCH_AXIS = "batch"
#: Config fields that `model_metadata` also records as top-level entries, when the model's
#: config has them (the skeleton of the joints; the lifters' input coordinate convention).
MODEL_CONFIG_METADATA_KEYS = ("skeleton", "input_coords")
#: Weights above this size go to ``<name>.onnx.data`` (protobuf refuses messages over 2 GiB).
_EMBED_LIMIT_BYTES = 1_800_000_000


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
        model: the model; its ``config`` dataclass (if any) is recorded whole and its
            `MODEL_CONFIG_METADATA_KEYS` fields separately, and its input normalization (if
            any) as ``input_normalization`` (`input_normalization_metadata`).
        task, name, preset: the task family, registry name and preset (left out when None;
            ``name`` defaults to the registry name of the model's class).
        extra: more JSON-serializable entries (e.g. ``checkpoint``, ``step``).

    Returns:
        A JSON-serializable dict.
    """
    meta: dict[str, Any] = {}
    if name is None:
        name = registered_name(model)
    for key, value in (("task", task), ("model", name), ("preset", preset)):
        if value is not None:
            meta[key] = value
    config = getattr(model, "config", None)
    if config is not None and dataclasses.is_dataclass(config):
        meta["config"] = json.loads(json.dumps(dataclasses.asdict(config), default=str))
        for key in MODEL_CONFIG_METADATA_KEYS:
            if hasattr(config, key):
                meta[key] = getattr(config, key)
    normalization = input_normalization_metadata(model)
    if normalization is not None:
        meta["input_normalization"] = normalization
    meta.update(extra)
    return meta


def input_normalization_metadata(model: nn.Module) -> dict[str, Any] | None:
    """The input normalization a model applies inside ``forward`` (the lifters' ``input_mean``
    / ``input_std`` buffers), as ``{"mean": list, "std": list, "applied_in_graph": True}``;
    None when the model has no such buffers."""
    mean, std = getattr(model, "input_mean", None), getattr(model, "input_std", None)
    if not (isinstance(mean, Tensor) and isinstance(std, Tensor)):
        return None
    return {
        "mean": mean.detach().cpu().double().tolist(),
        "std": std.detach().cpu().double().tolist(),
        "applied_in_graph": True,
    }


# --- export --------------------------------------------------------------------------------


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
    """Export a model to ONNX, atomically (`posekit.engine.onnx_files.save_atomically`).

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
    saver.set_metadata(encode_metadata(meta))
    save_atomically(saver, path, external_data, check)
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
        shape[0] = BATCH_AXIS
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
        batch = torch.export.Dim(BATCH_AXIS, min=1)
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
) -> ProtoSaver:
    import onnx

    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {k: {0: BATCH_AXIS} for k in [*inputs, *output_names]}
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
    return ProtoSaver(onnx.load_model_from_string(buffer.getvalue()))
