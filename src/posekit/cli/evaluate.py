"""``posekit eval CHECKPOINT``: metrics of a trained checkpoint, summary and per joint."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from posekit.cli.train import add_set_option, collect_overrides

__all__ = ["add_parser", "default_output", "format_report"]

_EPILOG = """\
examples:
  posekit eval runs/lift_martinez_tiny/checkpoints/best.ckpt
  posekit eval best.ckpt --data real_h36m_poses --set data.val_size=0
  posekit eval best.ckpt --data h36m_npz --set data.val_params.data_3d=data_3d_h36m.npz \\
      data.val_params.cameras=cameras.pkl data.val_size=0

The model is rebuilt from the checkpoint alone. Without --data it is evaluated on the
validation data of its own experiment. The results are written as JSON next to the checkpoint
(<name>.eval.json, or <name>.eval.<source>.json with --data) or to --out.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint: metric table with per-joint errors, saved as JSON",
        description="Evaluate a checkpoint written by `posekit train`.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file written by posekit train")
    p.add_argument(
        "--data",
        default=None,
        metavar="SOURCE",
        help="data source to evaluate on (default: the experiment's validation data)",
    )
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="JSON file to write")
    p.add_argument("--device", default="cpu", help="device to run on (cpu, cuda, cuda:1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def default_output(checkpoint: Path, source: str | None) -> Path:
    """``<dir>/<stem>.eval.json``, or ``<stem>.eval.<source>.json`` for another data source."""
    if source is None:
        return checkpoint.with_name(f"{checkpoint.stem}.eval.json")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", source)
    return checkpoint.with_name(f"{checkpoint.stem}.eval.{safe}.json")


def _fmt(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "-" if value != value else f"{value:.4g}" if abs(value) < 10 else f"{value:.1f}"


def format_report(report: Any) -> str:
    """The summary table and the per-joint table of an `EvalReport`, as text."""
    from posekit.metrics import format_joint_table

    ev = report.evaluation
    lines = [
        f"checkpoint: {report.checkpoint} (task {report.task}, model {report.model} "
        f"{report.preset}, step {report.step})",
        f"data: {report.data_source} ({ev.num_samples} samples)",
        "",
        f"{'metric':<14} {'value':>10}",
        "-" * 25,
    ]
    lines += [f"{k:<14} {_fmt(v):>10}" for k, v in ev.metrics.items()]
    if ev.per_joint:
        totals = {
            "MPJPE (mm)": ev.metrics.get("mpjpe_mm", float("nan")),
            "PA-MPJPE (mm)": ev.metrics.get("pa_mpjpe_mm", float("nan")),
        }
        total = {k: v for k, v in totals.items() if k in ev.per_joint}
        lines += [
            "",
            "per joint:",
            format_joint_table(ev.per_joint, ev.skeleton, total=total or None),
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from posekit.engine.checkpoint import atomic_write
    from posekit.engine.evaluate import evaluate_checkpoint, report_to_dict

    report = evaluate_checkpoint(
        args.checkpoint,
        source=args.data,
        overrides=collect_overrides(args.overrides),
        device=args.device,
        progress=not args.quiet,
    )
    print(format_report(report))
    out = args.out if args.out is not None else default_output(args.checkpoint, args.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report_to_dict(report), indent=2) + "\n"
    atomic_write(out, text.encode())
    print(f"\nwrote {out}")
    return 0
