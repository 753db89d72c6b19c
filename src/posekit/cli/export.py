"""``posekit export CHECKPOINT --format onnx [--quantize int8]``: an ONNX file checked against
torch (an int8 one against the float32 torch model on the validation inputs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posekit.cli.errors import CliError

__all__ = [
    "ONNX_TOLERANCE",
    "QUANTIZE_CHOICES",
    "add_parser",
    "default_output",
    "format_size",
    "run",
]

#: Largest accepted ``max |ONNX Runtime - torch|`` (`posekit.engine.export.ONNX_TOLERANCE`).
ONNX_TOLERANCE = 1e-4
#: ``--quantize`` values (`posekit.engine.quantize.QUANTIZE_CHOICES`; not imported here so
#: that ``posekit --help`` stays fast).
QUANTIZE_CHOICES = ("int8",)

_EPILOG = """\
examples:
  posekit export runs/lift_martinez_tiny/checkpoints/best.ckpt
  posekit export best.ckpt --out models/martinez.onnx --opset 17
  posekit export best.ckpt --quantize int8          # writes best.int8.onnx

The model is rebuilt from the checkpoint alone and exported with a dynamic batch axis; inputs
and outputs keep the names of the model's forward (e.g. keypoints2d, visibility -> joints3d).
The file is run with ONNX Runtime (CPU) on example inputs of another batch size and compared
with torch; it is written only when the largest difference is <= 1e-4. The posekit metadata
(task, model, preset, skeleton, input normalization) is stored in the file, so
`posekit predict --backend onnx` needs nothing else. Large models (> ~1.8 GB of weights) keep
their weights in <name>.onnx.data beside the .onnx file: move both together.

--quantize int8 (lifting models: martinez, lcn, smplr_dae) writes an int8 model for ONNX
Runtime on the CPU (weights int8 per output unit, activations quantized per batch at run time;
the first and last layers stay float32): for the full Martinez model ~3x the float32 ONNX
Runtime throughput (141k vs 45k poses/s at batch 1024, 2 threads; benchmarks/lift_speed.py).
The float32 export is checked as above; then the int8 model is run on up to 4096 poses of the
checkpoint's validation data and written only when its joints are on average at most 2 mm
from the float32 torch model's. The measured deviation is stored in the metadata
(posekit.quantization). Default output: <checkpoint stem>.int8.onnx.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX, verified against torch with ONNX Runtime",
        description="Export a checkpoint written by `posekit train` for inference.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file written by posekit train")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="output format")
    p.add_argument(
        "--out", type=Path, default=None, help="file to write (default: <checkpoint>.onnx)"
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default: 18)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=2,
        help="batch of the example input the model is traced with (>= 2; the exported "
        "batch axis is dynamic)",
    )
    p.add_argument(
        "--exporter",
        choices=("auto", "dynamo", "torchscript"),
        default="auto",
        help="torch exporter: dynamo (torch.export), torchscript (tracer), or auto (dynamo, "
        "then the tracer)",
    )
    p.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default=None,
        help="write an int8-quantized model, checked against float32 on the validation data "
        "(lifting models; --format onnx)",
    )
    p.set_defaults(func=run)


def default_output(checkpoint: Path, quantize: str | None = None) -> Path:
    """``<dir>/<stem>.onnx``, or ``<dir>/<stem>.<quantize>.onnx`` (``best.int8.onnx``)."""
    if quantize is not None:
        return checkpoint.with_suffix(f".{quantize}.onnx")
    return checkpoint.with_suffix(".onnx")


def format_size(num_bytes: int) -> str:
    """``1.2 MB``, ``126 kB``, ``512 B`` (decimal units)."""
    if num_bytes >= 1_000_000:
        return f"{num_bytes / 1e6:.1f} MB"
    if num_bytes >= 1_000:
        return f"{num_bytes / 1e3:.0f} kB"
    return f"{num_bytes} B"


def _shapes(entries: dict[str, Any]) -> str:
    return ", ".join(f"{k} ({', '.join(str(d) for d in v['shape'])})" for k, v in entries.items())


def run(args: argparse.Namespace) -> int:
    from posekit.engine.export import export_checkpoint
    from posekit.engine.onnx_files import onnx_files

    if args.batch_size < 2:
        raise CliError(f"--batch-size: expected >= 2, got {args.batch_size}")
    quantize = getattr(args, "quantize", None)
    if quantize is not None and args.format != "onnx":
        raise CliError(f"--quantize {quantize}: only with --format onnx, got {args.format}")
    out = args.out if args.out is not None else default_output(args.checkpoint, quantize)
    try:
        done = export_checkpoint(
            args.checkpoint,
            out,
            args.opset,
            args.batch_size,
            args.exporter,
            ONNX_TOLERANCE,
            quantize=quantize,
        )
    except RuntimeError as err:
        raise CliError(str(err)) from None
    written = done.metadata
    size = sum(f.stat().st_size for f in onnx_files(out))
    files = " + ".join(str(f) for f in onnx_files(out))
    print(
        f"model {written['model']} ({written.get('preset', '?')}, task {written['task']}, "
        f"step {written['step']}); exporter {written['exporter']}, opset {written['opset']}"
    )
    print(f"inputs: {_shapes(written['inputs'])}; outputs: {_shapes(written['outputs'])}")
    if done.quantization is None:
        print(
            f"onnx: {files} ({format_size(size)}); ONNX Runtime vs torch max |diff| = "
            f"{done.max_abs_diff:.2g} (≤ {ONNX_TOLERANCE:g}: OK, batch {done.verify_batch})"
        )
        return 0
    q, check = done.quantization, done.quantization["check"]
    print(
        f"float32: ONNX Runtime vs torch max |diff| = {done.max_abs_diff:.2g} "
        f"(≤ {ONNX_TOLERANCE:g}: OK, batch {done.verify_batch})"
    )
    print(
        f"{q['dtype']} ({q['method']}; {len(q['quantized_layers'])} layers int8, "
        f"{len(q['float_layers'])} float32): {check['output']} "
        f"{check['mean_joint_deviation_mm']:.2f} mm per joint from torch float32 (max "
        f"{check['max_joint_deviation_mm']:.1f} mm) on {check['samples']} validation samples "
        f"(≤ {check['tolerance_mm']:g} mm: OK)"
    )
    print(f"onnx: {files} ({format_size(size)})")
    return 0
