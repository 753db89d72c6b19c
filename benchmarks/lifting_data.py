"""Speed of the lifting data: synthetic pose pool generation and LiftingDataset throughput.

Measures (prints a table; record it in benchmarks/RESULTS.md with the machine and date):

- ``SyntheticPosePool``: time to generate ``--num-poses`` penetration-free poses (cache off),
  AnnyBody construction excluded (built first);
- ``LiftingDataset.sample_batch``: pairs per second at batch ``--batch`` for both input
  coordinate systems and the three noise options (median of ``--repeats`` timed runs);
- ``LiftingDataset[i]`` (the per-item DataLoader path): items per second.

Usage::

    python benchmarks/lifting_data.py [--num-poses 100000] [--batch 1024] [--repeats 5]
        [--threads N] [--gen-threads N]

On a 2-core machine whose cores other processes also use, torch's OpenMP regions stall
(oversubscription): ``--gen-threads 1`` then generates several times faster than 2 threads.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch

from posekit.data.lifting import LiftingDataset, PosePool, SyntheticPosePool

NOISES = (
    ("none", None),
    ("gaussian 5 px", 5.0),
    (
        "structured",
        {"jitter_sigma": 0.01, "drop_prob": 0.1, "swap_prob": 0.02, "outlier_prob": 0.02},
    ),
)


def pairs_per_s(ds: LiftingDataset, batch: int, batches: int, repeats: int) -> float:
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        ds.sample_batch(batch, gen)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batches):
            ds.sample_batch(batch, gen)
        rates.append(batch * batches / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-poses", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as is)")
    parser.add_argument("--gen-threads", type=int, default=None, help="threads for generation")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    print(
        f"# lifting data — {datetime.date.today()} — {cpu}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )

    rows = []
    if args.num_poses > 0:
        from posekit.body import AnnyBody

        body = AnnyBody()
        pool = SyntheticPosePool(
            args.num_poses, seed=0, body=body, cache=False, num_threads=args.gen_threads
        )
        threads = args.gen_threads or torch.get_num_threads()
        name = f"SyntheticPosePool({args.num_poses}) generation, {threads} thread(s)"
        rows.append((name, f"{pool.generation_s:.1f} s"))
    else:
        pool = PosePool(0.3 * torch.randn(100_000, 17, 3))
    for coords in ("pixel", "camera"):
        for label, noise in NOISES:
            ds = LiftingDataset(pool, coords=coords, noise=noise)
            rate = pairs_per_s(ds, args.batch, args.batches, args.repeats)
            name = f"sample_batch({args.batch}) {coords}, noise {label}"
            rows.append((name, f"{rate:,.0f} pairs/s"))
    ds = LiftingDataset(pool)
    t0 = time.perf_counter()
    for i in range(2000):
        ds[i]
    rows.append(("dataset[i] (per item)", f"{2000 / (time.perf_counter() - t0):,.0f} items/s"))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
