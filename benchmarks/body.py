"""Speed of posekit's anny adapters against anny's own forward (the adapter overhead).

For each batch size, anny's forward is timed on precomputed delta transforms and phenotypes
(the least work anny can do for a batch of posed bodies); posekit's forward is timed from its
compact inputs (axis-angle pose, shape, transl) to a `BodyOutput` with joints in every layout.
Runs alternate between the two, so both see the same machine load. The table gives median
times, and the overhead as the median of the per-pair ratios (posekit / anny of back-to-back
runs, which cancels slow load changes) and from the minima (the least disturbed runs).

Usage::

    python benchmarks/body.py [--repeats 30] [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from collections.abc import Callable

import torch

from posekit.body import AnnyBody
from posekit.body.hand import AnnyHand, sample_hand_articulation


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _paired_times(
    a: Callable[[], object], b: Callable[[], object], repeats: int, device: torch.device
) -> tuple[list[float], list[float]]:
    """Wall times (ms) of ``a`` and of ``b``, alternating calls after a warm-up."""
    for _ in range(3):
        a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, acc in ((a, ta), (b, tb)):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            acc.append(1e3 * (time.perf_counter() - t0))
    return ta, tb


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    body = AnnyBody(device=device)
    hand = AnnyHand("R", device=device)
    g = torch.Generator().manual_seed(0)

    rows = []
    for B in args.batches:
        pose = (0.3 * torch.randn(B, 24, 3, generator=g)).to(device)
        shape = torch.rand(B, 6, generator=g).to(device)
        transl = torch.randn(B, 3, generator=g).to(device)
        deltas = body.bone_deltas(pose, transl)
        ta, tb = _paired_times(
            lambda: body.anny(pose_parameters=deltas, phenotype_kwargs=shape),  # noqa: B023
            lambda: body(pose, shape, transl),  # noqa: B023
            args.repeats,
            device,
        )
        rows.append(("AnnyBody", B, ta, tb))
    for B in args.batches:
        art = sample_hand_articulation(B, g).to(device)
        shape = torch.rand(B, 6, generator=g).to(device)
        orient = torch.zeros(B, 3, device=device)
        transl = torch.zeros(B, 3, device=device)
        deltas = hand.bone_deltas(art, orient, transl)
        ta, tb = _paired_times(
            lambda: hand.anny(pose_parameters=deltas, phenotype_kwargs=shape),  # noqa: B023
            lambda: hand(art, shape, transl, orient),  # noqa: B023
            args.repeats,
            device,
        )
        rows.append(("AnnyHand", B, ta, tb))

    print(
        f"# {datetime.date.today()} | {platform.processor() or platform.machine()} | "
        f"torch {torch.__version__} | {torch.get_num_threads()} threads | {device} | float32 | "
        f"median of {args.repeats}"
    )
    print("| model    | batch | anny fwd (ms) | posekit fwd (ms) | overhead (pairs) | (minima) |")
    print("|----------|------:|--------------:|-----------------:|-----------------:|---------:|")
    for name, B, ta, tb in rows:
        ma, mb = statistics.median(ta), statistics.median(tb)
        pairs = 100 * (statistics.median(b / a for a, b in zip(ta, tb)) - 1)
        minima = 100 * (min(tb) / min(ta) - 1)
        print(
            f"| {name:8s} | {B:5d} | {ma:13.2f} | {mb:16.2f} | {pairs:+15.1f}% | {minima:+7.1f}% |"
        )


if __name__ == "__main__":
    main()
