"""Export a ``posekit train`` checkpoint to ONNX, checked against torch (`export_checkpoint`).

The model is rebuilt from the checkpoint alone, exported with a dynamic batch
(`posekit.engine.onnx_export.export_onnx`) and run with ONNX Runtime at another batch size than
the traced one (`posekit.engine.onnx_runtime.verify_onnx`); the file is renamed into place only
when it matches torch within ``tolerance``. The checkpoint's experiment, step and model are
stored in the file's metadata, so predictors need nothing else. With ``quantize="int8"`` the
verified float32 model is quantized and checked instead by `posekit.engine.quantize.export_int8`.

The lower-level names (`export_onnx`, `OnnxRunner`, `read_onnx_metadata`, ...) are re-exported
here from `posekit.engine.onnx_export`, `posekit.engine.onnx_runtime` and
`posekit.engine.onnx_files`, where they are defined.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posekit.engine.onnx_export import (
    DEFAULT_OPSET,
    EXPORTERS,
    export_onnx,
    model_inputs,
    model_metadata,
)
from posekit.engine.onnx_files import METADATA_PREFIX, onnx_files, read_onnx_metadata
from posekit.engine.onnx_runtime import OnnxRunner, verify_onnx
from posekit.engine.quantize import (
    DEFAULT_METHOD,
    INT8_TOLERANCE_MM,
    QUANTIZE_CHOICES,
    export_int8,
)

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
    (`posekit.engine.quantize.export_int8`; the tasks of
    `~posekit.engine.quantize.quantize_tasks` only) and written only when its joints are, on
    average, at most ``quantize_tolerance_mm`` (default
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
    from posekit._io import remove_stale_temporaries
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.evaluate import module_from_checkpoint

    if batch_size < 2:
        raise ValueError(f"batch_size: expected >= 2, got {batch_size}")
    if quantize is not None:
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

    for target in (Path(out), Path(str(out) + ".data")):  # what a killed earlier export left
        remove_stale_temporaries(target)
    if quantize is None:
        path = export_float(out)
        return CheckpointExport(Path(path), read_onnx_metadata(path), diffs[-1], verify_batch)
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
