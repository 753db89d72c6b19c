"""``posekit eval CHECKPOINT``: metrics of a trained checkpoint, summary and per joint."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from posekit.cli.train import add_set_option, collect_overrides

__all__ = ["add_parser", "coverage", "default_output", "format_report"]

_EPILOG = """\
examples:
  posekit eval runs/lift_martinez_tiny/checkpoints/best.ckpt
  posekit eval best.ckpt --data real_h36m_poses --set data.val_size=0
  posekit eval best.ckpt --data real_h36m_poses --set 'data.val_params={val_subjects: [S7]}'
  posekit eval best.ckpt --data my_cases.npz      # a lifter on your own 2D + K + 3D
  posekit eval best.ckpt --data h36m_npz --set data.val_params.data_3d=data_3d_h36m.npz \\
      data.val_params.cameras=cameras.pkl data.val_size=0
  posekit eval pose2d.ckpt --data coco --set data.val_params.annotations=person_keypoints.json

The model is rebuilt from the checkpoint alone. Without --data it is evaluated on the
validation data of its own experiment. The "data:" line says how many samples were scored, of
how many: data.val_size (the experiment's, 4096 by default) samples are scored; --set
data.val_size=0 scores every item of a finite source once. A lifter reads a file given
to --data (every sample of it): a keypoints JSON whose frames have "K" and whose people have
"joints3d" (camera frame, metres, h36m17), or an npz with keypoints2d (N, J, 2) px, K (N, 3, 3)
or (3, 3), joints3d (N, J, 3) m and optional visibility (N, J); see
posekit.tasks.lift.keypoints_file. The results are written as JSON next to the checkpoint
(<name>.eval.json, <name>.eval.<source>.json with --data, <name>.eval.<file stem>.json with a
file) or to --out.
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
        metavar="SOURCE|FILE",
        help="data source to evaluate on (default: the experiment's validation data); for a "
        "lifter also a .json / .npz file of 2D keypoints, K and 3D ground truth",
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


def coverage(report: Any) -> str:
    """How much of its data an `EvalReport` scored, e.g. ``4,096 of 13,018 samples (evenly
    spaced; data.val_size=4096, --set data.val_size=0 scores all)``."""
    n = report.evaluation.num_samples
    total = getattr(report, "num_available", None)
    size = getattr(report, "val_size", None)
    if getattr(report, "drawn", False):
        pool = f" from {total:,} items" if total is not None else " from an unlimited sampler"
        text = f"{n:,} samples drawn at random{pool} (data.val_size={size}"
        if total is not None:
            return text + "; --set data.val_size=0 scores every item once)"
        return text + ")"
    if total is None:
        return f"{n:,} samples"
    if n >= total:
        return f"{n:,} of {total:,} samples (all)"
    return (
        f"{n:,} of {total:,} samples (evenly spaced; data.val_size={size}, "
        "--set data.val_size=0 scores all)"
    )


def format_report(report: Any) -> str:
    """The summary table and the per-joint table of an `EvalReport`, as text."""
    from posekit.metrics import format_joint_table

    ev = report.evaluation
    data = report.data_source
    if getattr(report, "data_file", None):
        data = f"{report.data_file} ({report.data_source})"
    lines = [
        f"checkpoint: {report.checkpoint} (task {report.task}, model {report.model} "
        f"{report.preset}, step {report.step})",
        f"data: {data}: scored {coverage(report)}",
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
    name = Path(report.data_file).stem if report.data_file else args.data
    out = args.out if args.out is not None else default_output(args.checkpoint, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report_to_dict(report), indent=2) + "\n"
    atomic_write(out, text.encode())
    print(f"\nwrote {out}")
    return 0
