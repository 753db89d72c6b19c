"""Synthetic engine throughput: samples/s end to end (sample, render, encode) per worker.

One worker = one process with one thread (torch and llvmpipe), as `posekit data synth
--workers K` runs them; K workers on K cores scale about linearly (shards are independent).
Peak memory is the process's maximum resident set size. Targets: >= 40 body samples/s and
>= 100 hand samples/s per core.

    .venv/bin/python benchmarks/synthetic.py [--num 200] [--tasks body hand]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time


def _measure(task: str, num: int, size: tuple[int, int] | None) -> None:
    from posekit.data.synthetic.shards import sample_rng, shard_bytes
    from posekit.data.synthetic.writer import DEFAULT_SIZES, make_generator, single_thread_worker

    single_thread_worker()  # as `posekit data synth --workers K` sets up each worker

    size = size or DEFAULT_SIZES[task]
    t0 = time.perf_counter()
    gen = make_generator(task, size, {})
    for i in range(3):  # warm-up: model build, GL context, caches
        gen(10**6 + i, sample_rng(1, i))
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    samples = [gen(i, sample_rng(0, i)) for i in range(num)]
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = shard_bytes(samples)
    enc_s = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = gen_s + enc_s
    print(
        f"| {task} | {size[0]}x{size[1]} | {num} | {1000 * gen_s / num:.1f} | "
        f"{1000 * enc_s / num:.1f} | **{num / total:.1f}** | {len(data) / num / 1024:.0f} | "
        f"{rss_mb:.0f} | {setup_s:.1f} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num", type=int, default=200)
    p.add_argument("--tasks", nargs="+", default=["body", "hand"])
    p.add_argument("--size", type=int, nargs=2, default=None)
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    size = tuple(a.size) if a.size else None
    if a._child:
        _measure(a._child, a.num, size)
        return
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    print(f"CPU: {cpu}, {os.cpu_count()} cores; one worker = one process, 1 thread")
    print(f"1-min load average before: {os.getloadavg()[0]:.2f}\n")
    print(
        "| task | size | samples | generate ms/sample | encode ms/sample | samples/s/worker "
        "| kB/sample | peak RSS MB | setup s |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for task in a.tasks:  # a fresh process per task, so peak memory is the task's own
        cmd = [sys.executable, __file__, "--num", str(a.num), "--_child", task]
        if size:
            cmd += ["--size", *map(str, size)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        print(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
