"""``posekit train CONFIG``: train (or resume) an experiment described by a YAML file.

The ``posekit`` entry point (`posekit.cli.OPENMP_DEFAULTS`) makes OpenMP threads that wait
for work spin for about 0.1 ms instead of libgomp's 3 ms (Intel OpenMP's 200 ms) before they
sleep: under a competing CPU load the long spin burnt the CPU share of the step's partner
thread (benchmarks/under_load.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["add_parser", "collect_overrides"]

_EPILOG = """\
examples:
  posekit train configs/lift_martinez_tiny.yaml
  posekit train configs/lift_martinez_tiny.yaml --set optim.lr=1e-3 model.overrides.num_blocks=4
  posekit train configs/lift_martinez_tiny.yaml --resume          # continue a killed run
  posekit train configs/lift_lcn_full.yaml --devices 2 --set trainer.strategy=ddp

The run directory (default output_dir/name from the config, or --out) receives config.yaml,
checkpoints/{last,best}.ckpt, csv/metrics.csv and tb/ (TensorBoard); --resume continues all of
them. One run at a time per directory: a second one stops with an error.

Progress: a bar on a terminal; with trainer.progress_bar=false a plain line about once a
minute (step/total, loss, elapsed); --quiet prints neither.
"""


def collect_overrides(groups: list[list[str]] | None) -> list[str]:
    """Flatten repeated ``--set A=1 B=2 --set C=3`` groups into one list."""
    return [item for group in groups or [] for item in group]


def add_set_option(p: argparse.ArgumentParser) -> None:
    """The ``--set KEY=VALUE ...`` option shared by train and eval."""
    p.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="append",
        metavar="KEY=VALUE",
        help="override config values, e.g. optim.lr=1e-3 model.overrides.num_blocks=4 "
        "(values are YAML scalars)",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from an experiment config (resumable, multi-device)",
        description="Train a model from a YAML experiment config with PyTorch Lightning.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", type=Path, help="experiment YAML file (see configs/)")
    add_set_option(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from last.ckpt in the run directory (starts fresh if there is none)",
    )
    p.add_argument("--out", type=Path, default=None, help="run directory (default output_dir/name)")
    p.add_argument("--devices", default=None, help="devices per node (int or 'auto')")
    p.add_argument("--num-nodes", type=int, default=None, help="number of machines")
    p.add_argument("--accelerator", default=None, help="cpu, gpu, auto, ...")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar or lines, no Lightning banners"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from posekit.engine.config import load_config
    from posekit.engine.progress import format_duration
    from posekit.engine.run import check_experiment, find_resume, is_rank_zero, train
    from posekit.models import count_parameters, create_model

    overrides = collect_overrides(args.overrides)
    for flag, key in (
        ("devices", "devices"),
        ("num_nodes", "num_nodes"),
        ("accelerator", "accelerator"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"trainer.{key}={value}")
    config = load_config(args.config, overrides)
    check_experiment(config)
    run_dir = args.out if args.out is not None else config.run_dir
    progress = config.trainer.progress_bar and not args.quiet
    say = is_rank_zero()
    if say:
        m = config.model
        n = count_parameters(create_model(m.name, m.preset, **m.overrides))
        print(
            f"posekit train: {config.name}: task {config.task}, model {m.name} ({m.preset}, "
            f"{n:,} parameters), data {config.data.source}, {config.trainer.max_steps} steps "
            f"x batch {config.trainer.batch_size}"
        )
        print(f"run directory: {run_dir}  (config.yaml, checkpoints/, csv/, tb/)", flush=True)
    resume = find_resume(config, run_dir) if args.resume else None
    if say and args.resume:
        if resume is None:
            print(f"nothing to resume in {run_dir}: starting from step 0")
        else:
            print(f"resuming {resume.path} at step {resume.step}")
            for change in resume.changes:
                print(f"  changed since the checkpoint: {change}")
    t0 = time.perf_counter()
    result = train(
        config,
        run_dir,
        resume=resume or args.resume,
        progress=progress,
        log_progress=False if args.quiet else None,
    )
    if not say:
        return 0
    steps = result.global_step - (resume.step if resume is not None else 0)
    took = format_duration(time.perf_counter() - t0)
    print(f"done: step {result.global_step} ({steps} steps in {took})")
    if result.best_checkpoint:
        print(f"best checkpoint: {result.best_checkpoint}")
    print(f"last checkpoint: {result.last_checkpoint}")
    if result.metrics:
        print("final validation:")
        for key, value in result.metrics.items():
            print(f"  {key:<14} {value:10.4g}")
    return 0
