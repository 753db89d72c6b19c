"""Training under CPU contention: the tiny pose2d hourglass, quiet and beside busy processes.

Times training steps of ``configs/pose2d_hourglass_tiny.yaml`` (the demo's 2D model: tiny
Stacked Hourglass, 128x128 crops, one data-loading worker) through `posekit.engine.run.train`
- the real `Pose2DModule`, `ImageDataModule` and top-down crops, on a small in-memory set of
random images with one random person each (``--images`` of ``--size`` px; no rendering) - with
the machine quiet and with ``--burners`` single-threaded CPU-burning processes beside it.

Each setting runs in a fresh Python process (thread pools and ``OMP_*`` variables are fixed
when torch loads). Settings:

- ``before``: the data-loading workers keep the libraries' own thread pools
  (``trainer.worker_threads=0``) and OpenMP threads spin-wait as long as the runtime's
  defaults say (libgomp ``GOMP_SPINCOUNT=300000``, about 3 ms; Intel ``KMP_BLOCKTIME=200``);
- ``after``: as shipped: one torch / OpenCV thread per worker (``trainer.worker_threads=1``,
  `posekit.engine.datamodule.init_worker_threads`) and the short OpenMP spin the ``posekit``
  command sets before torch loads (`posekit.cli.OPENMP_DEFAULTS`);
- ``1thread``: ``after`` with one torch thread in the training process (``--threads 1`` of
  ``posekit demo``), for reference;
- ``workers`` / ``spin``: one half of the fix each (one thread per worker with the runtime's
  spin; posekit's spin with the workers' default pools), to tell the two apart.

Per setting: wall seconds per step and CPU seconds per step (the training process and its
data-loading workers, from ``/proc``), measured over ``--steps`` steps after ``--warmup``
steps. ``ideal x``: the slowdown a fair scheduler gives when the step's threads share the
``C`` cores with the burners: ``max(1, (K + T) / C)`` for ``K`` burners and ``T`` busy threads
of the step (torch's threads, at most ``C``); ``/ideal``: measured slowdown over that (1.0 is
proportional; more means the contention costs extra, e.g. spinning threads). ``cpu x``: CPU
time per step over the quiet one (1.0: no CPU wasted under load).

    .venv/bin/python benchmarks/under_load.py [--burners 4] [--steps 6] [--settings before,after]

Tests never run this (it takes minutes); results go to benchmarks/RESULTS.md with the
machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE = "under_load:random_people"

#: The OpenMP runtimes' own wait settings (what a process gets without posekit's).
RUNTIME_DEFAULTS = {"GOMP_SPINCOUNT": "300000", "KMP_BLOCKTIME": "200"}

#: name -> (OpenMP wait: "runtime" or "posekit", trainer.worker_threads, torch threads or 0)
SETTINGS: dict[str, tuple[str, int, int]] = {
    "before": ("runtime", 0, 0),
    "after": ("posekit", 1, 0),
    "1thread": ("posekit", 1, 1),
    "workers": ("runtime", 1, 0),
    "spin": ("posekit", 0, 0),
}


# --- the data source (imported by the child by its path "under_load:random_people") ---------


def random_people(split: str, seed: int, *, num: int = 64, size: int = 128) -> list[Any]:
    """``num`` random ``size``x``size`` RGB images with one random coco17 person each."""
    import numpy as np

    from posekit.data.sample import Sample

    rng = np.random.default_rng(seed + (0 if split == "train" else 1))
    out = []
    for _ in range(num):
        centre = rng.uniform(0.35, 0.65, size=2) * size
        kp = (centre + rng.normal(scale=0.15 * size, size=(1, 17, 2))).astype(np.float32)
        kp = kp.clip(0, size - 1)
        lo, hi = kp.min(1), kp.max(1)
        out.append(
            Sample(
                keypoints2d=kp,
                visibility=np.ones((1, 17), bool),
                skeleton="coco17",
                image=rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8),
                bbox=np.concatenate([lo, hi], 1).astype(np.float32),
            )
        )
    return out


# --- the measured process ---------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), seconds, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


def _tree_cpu() -> float:
    """CPU seconds of this process and its live children (the data-loading workers)."""
    me = os.getpid()
    total = _cpu_seconds(me)
    for pid in _children(me):
        try:
            total += _cpu_seconds(pid)
        except OSError:
            pass
    return total


def _child(a: argparse.Namespace) -> None:
    import importlib
    import tempfile

    importlib.import_module("posekit.cli")  # posekit's OpenMP defaults, before torch
    import torch
    from lightning.pytorch.callbacks import Callback

    from posekit.engine.config import load_config
    from posekit.engine.run import train

    if a.threads:
        torch.set_num_threads(a.threads)
    marks: dict[str, float] = {}

    class Clock(Callback):
        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == a.warmup:
                marks["t0"], marks["c0"] = time.perf_counter(), _tree_cpu()

        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == a.warmup + a.steps:
                marks["t1"], marks["c1"] = time.perf_counter(), _tree_cpu()

    sets = [
        "name=under_load",
        f"data.source={SOURCE}",
        f"data.params={{num: {a.images}, size: {a.size}}}",
        "data.val_params={num: 4}",
        f"trainer.max_steps={a.warmup + a.steps}",
        "trainer.val_every=0",
        f"trainer.batch_size={a.batch}",
        f"trainer.num_workers={a.workers}",
        f"trainer.worker_threads={a.worker_threads}",
        "trainer.accelerator=cpu",
        "trainer.log_every=1",
        "optim.warmup_steps=0",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml", sets)
        train(config, Path(tmp) / "run", callbacks=[Clock()], progress=False, log_progress=False)
    n = a.steps
    print(
        json.dumps(
            {
                "wall": (marks["t1"] - marks["t0"]) / n,
                "cpu": (marks["c1"] - marks["c0"]) / n,
                "threads": torch.get_num_threads(),
            }
        )
    )


# --- the driver -------------------------------------------------------------------------------


def _burn() -> None:  # pragma: no cover - a busy loop in a subprocess
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def _measure(a: argparse.Namespace, setting: str) -> dict[str, float]:
    wait, worker_threads, threads = SETTINGS[setting]
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", *RUNTIME_DEFAULTS):
        env.pop(name, None)  # torch's default threads (one per core); the waits below
    if wait == "runtime":
        env.update(RUNTIME_DEFAULTS)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable,
        __file__,
        "--_child",
        f"--steps={a.steps}",
        f"--warmup={a.warmup}",
        f"--images={a.images}",
        f"--size={a.size}",
        f"--batch={a.batch}",
        f"--workers={a.workers}",
        f"--threads={threads}",
        f"--worker-threads={worker_threads}",
    ]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
    if run.returncode != 0:
        raise SystemExit(f"{setting}: the measured process failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--burners", type=int, default=4, help="CPU-burning processes (K)")
    p.add_argument("--steps", type=int, default=6, help="timed training steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--images", type=int, default=64, help="images in the training set")
    p.add_argument("--size", type=int, default=128, help="image side, px")
    p.add_argument("--batch", type=int, default=16, help="batch size")
    p.add_argument("--workers", type=int, default=1, help="data-loading workers")
    p.add_argument(
        "--settings", default="before,after", help=f"comma list of {', '.join(SETTINGS)}"
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._child:
        _child(a)
        return
    settings = [s for s in a.settings.split(",") if s]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        p.error(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}")
    cores = len(os.sched_getaffinity(0))
    print(
        f"under_load: {time.strftime('%Y-%m-%d %H:%M')}, {cores} cores, {a.burners} burners, "
        f"{a.steps} steps (after {a.warmup}) of batch {a.batch}, {a.images} images of "
        f"{a.size} px, {a.workers} worker(s); load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    quiet: dict[str, dict[str, float]] = {}
    loaded: dict[str, dict[str, float]] = {}
    for s in settings:
        quiet[s] = _measure(a, s)
        print(f"  {s} quiet: {quiet[s]}", flush=True)
    import multiprocessing as mp

    burners = [mp.Process(target=_burn, daemon=True) for _ in range(a.burners)]
    for b in burners:
        b.start()
    try:
        time.sleep(1.0)
        for s in settings:
            loaded[s] = _measure(a, s)
            print(f"  {s} loaded: {loaded[s]}", flush=True)
    finally:
        for b in burners:
            b.terminate()
        for b in burners:
            b.join()
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print(
        "| setting | torch threads | quiet s/step | quiet CPU s/step | loaded s/step "
        "| loaded CPU s/step | slowdown x | ideal x | /ideal | cpu x |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for s in settings:
        q, lo = quiet[s], loaded[s]
        busy = min(int(q["threads"]), cores)
        ideal = max(1.0, (a.burners + busy) / cores)
        slow = lo["wall"] / q["wall"]
        print(
            f"| {s} | {q['threads']} | {q['wall']:.3f} | {q['cpu']:.3f} | {lo['wall']:.3f} | "
            f"{lo['cpu']:.3f} | {slow:.2f} | {ideal:.2f} | {slow / ideal:.2f} | "
            f"{lo['cpu'] / q['cpu']:.2f} |"
        )


if __name__ == "__main__":
    main()
