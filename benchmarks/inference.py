"""Inference speed of every registered model: torch vs ONNX Runtime, against the matmul peak.

For each model × preset (``tiny``, ``full``) and each batch (1, and a throughput batch: the
largest power of two <= 1024 with batch × FLOPs/sample <= 2 GFLOP, or ``--batch``):

- latency: median of the timed calls after warm-up (ms per call), and throughput
  (samples/s = batch / median) of ``model(**example_input(batch))`` in torch (eval,
  ``inference_mode``) and of the same model exported with
  `posekit.engine.onnx_export.export_onnx` and run by ONNX Runtime (CPUExecutionProvider),
  both with ``--threads`` threads;
- FLOPs per sample (`posekit.models.count_flops`: matmuls and convolutions, 2 per
  multiply-add), achieved FLOP/s = FLOPs/sample × samples/s, and that as a fraction of the
  machine's peak: the best float32 matmul FLOP/s of n × n products, n in (512, 1024, 2048),
  with the same thread count, of ``torch.matmul`` (`posekit.engine.perf.measure_matmul_flops`)
  and of ONNX Runtime's ``MatMul`` (`measure_onnx_matmul_flops`), whichever is higher (torch's
  BLAS can leave AVX-512 unused on AMD CPUs, ONNX Runtime's MLAS does not). Both peaks are
  measured before and after the models and the best counts (a busy machine only lowers them).

Timed calls per measurement: as many as fit in ``--budget`` seconds, between 3 and
``--repeat``. On a machine shared with other jobs, the medians move by tens of percent between
runs: the 1-min load average is printed before and after.

    .venv/bin/python benchmarks/inference.py [--models NAME ...] [--presets tiny full]
        [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from posekit.engine.onnx_export import export_onnx
from posekit.engine.onnx_runtime import OnnxRunner
from posekit.engine.perf import (
    measure_matmul_flops,
    measure_onnx_matmul_flops,
    time_callable,
    torch_threads,
)
from posekit.models import count_flops, count_parameters, create_model, list_models

THROUGHPUT_FLOP_BUDGET = 2e9
MAX_BATCH = 1024


@dataclass
class Row:
    model: str
    preset: str
    params: int
    flops: float
    batch: int
    torch_ms: float
    onnx_ms: float | None
    note: str = ""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def throughput_batch(flops_per_sample: float) -> int:
    """Largest power of two <= MAX_BATCH with batch × FLOPs <= the budget (at least 1)."""
    batch = 1
    while batch * 2 <= MAX_BATCH and batch * 2 * flops_per_sample <= THROUGHPUT_FLOP_BUDGET:
        batch *= 2
    return batch


def median_ms(fn, warmup: int, repeat: int, budget_s: float) -> float:
    start = time.perf_counter()
    fn()  # first call (also a warm-up) sizes the number of repeats
    one = max(time.perf_counter() - start, 1e-6)
    n = int(min(repeat, max(3, budget_s / one)))
    return time_callable(fn, warmup=max(0, warmup - 1), repeat=n).median_s * 1e3


def human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}{unit}"
    return f"{n:.3g}{unit}"


def bench_model(
    name: str, preset: str, batches: list[int] | None, args: argparse.Namespace, tmp: Path
) -> list[Row]:
    model = create_model(name, preset).eval()
    flops = count_flops(model)
    params = count_parameters(model)
    sizes = sorted(set(batches or [1, throughput_batch(flops)]))
    onnx_path, note = tmp / f"{name}_{preset}.onnx", ""
    runner = None
    if not args.no_onnx:
        try:
            export_onnx(model, model.example_input(2), onnx_path, metadata={"model": name})
            runner = OnnxRunner(onnx_path, threads=args.threads)
        except Exception as err:  # report and keep benchmarking torch
            note = f"ONNX export failed: {type(err).__name__}"
    rows = []
    for batch in sizes:
        inputs = model.example_input(batch)
        with torch_threads(args.threads), torch.inference_mode():
            torch_ms = median_ms(lambda x=inputs: model(**x), args.warmup, args.repeat, args.budget)
        onnx_ms = None
        if runner is not None:
            feed = {k: v.numpy() for k, v in inputs.items()}
            onnx_ms = median_ms(lambda x=feed: runner(x), args.warmup, args.repeat, args.budget)
        rows.append(Row(name, preset, params, flops, batch, torch_ms, onnx_ms, note))
    for f in tmp.iterdir():
        f.unlink()
    return rows


def format_table(rows: list[Row], peak: float) -> str:
    head = (
        "| model | preset | params | FLOPs/sample | batch | torch ms | torch samples/s "
        "| torch FLOP/s | % peak | ORT ms | ORT samples/s | ORT FLOP/s | % peak | ORT speed-up |"
    )
    lines = [head, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        t_sps = r.batch / (r.torch_ms / 1e3)
        cells = [
            r.model,
            r.preset,
            human(r.params),
            human(r.flops),
            str(r.batch),
            f"{r.torch_ms:.3g}",
            human(t_sps),
            human(t_sps * r.flops),
            f"{100 * t_sps * r.flops / peak:.2g}%",
        ]
        if r.onnx_ms is None:
            cells += ["-", "-", "-", "-", r.note or "-"]
        else:
            o_sps = r.batch / (r.onnx_ms / 1e3)
            cells += [
                f"{r.onnx_ms:.3g}",
                human(o_sps),
                human(o_sps * r.flops),
                f"{100 * o_sps * r.flops / peak:.2g}%",
                f"{r.torch_ms / r.onnx_ms:.2f}x",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help="default: every model")
    parser.add_argument("--presets", nargs="+", default=["tiny", "full"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="batch sizes")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=30, help="most timed calls")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--no-onnx", action="store_true", help="torch only")
    parser.add_argument(
        "--quick", action="store_true", help="fewer calls: --warmup 2 --repeat 10 --budget 1"
    )
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.repeat, args.budget = 2, 10, 1.0
    import onnxruntime

    load_before = os.getloadavg()[0]
    peaks = {
        "torch": [measure_matmul_flops(args.threads, torch.float32)],
        "ORT": [measure_onnx_matmul_flops(args.threads)],
    }
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, threads: "
        f"{args.threads} (torch and ORT intra-op), CPU: {cpu_name()}, {os.cpu_count()} cores"
    )
    print(
        f"latency: median of up to {args.repeat} calls ({args.budget:g} s budget) after "
        f"{args.warmup} warm-up calls\n"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models or list_models():
            for preset in args.presets:
                rows += bench_model(name, preset, args.batch, args, Path(tmp))
                print(f"  done {name} {preset}", flush=True)
    peaks["torch"].append(measure_matmul_flops(args.threads, torch.float32))
    peaks["ORT"].append(measure_onnx_matmul_flops(args.threads))
    best = {k: max(v) for k, v in peaks.items()}
    peak = max(best.values())
    print(
        f"\npeak: float32 matmul, best of n in (512, 1024, 2048), {args.threads} threads: "
        f"{peak / 1e9:.1f} GFLOP/s; "
        + "; ".join(
            f"{k} {best[k] / 1e9:.1f} (before {v[0] / 1e9:.1f}, after {v[1] / 1e9:.1f})"
            for k, v in peaks.items()
        )
        + "\n"
    )
    print(format_table(rows, peak))
    print(f"\n1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
