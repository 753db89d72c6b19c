"""The 2D pose CPU-budget recipes (``configs/pose2d_*_cpu.yaml``), trained to their end over
several seeds, through `posekit train/eval`.

Every (config, seed) run trains the config as it is (its own data size, schedule and model),
then is evaluated by ``posekit eval`` on the config's validation split (512 unseen synthetic
people, occluders on half) and on the occluded split (the same people with 1-8 occluders
each), best checkpoint, the config's flip test. Reported per config: parameters, mean ± std
over seeds of PCK@0.2 (torso), PCKh@0.5, PCK@0.2 of occluded joints, the mean pixel error of
the 256x256 image, the occluded split's PCK@0.2, and the training wall time; then the
training curves (validation PCK@0.2 at each validation step, mean over seeds) as a table and
as ``curves.png`` in ``--out``.

    .venv/bin/python benchmarks/pose2d_cpu.py [--configs NAME ...] [--seeds 0 1 2]
        [--jobs 1] [--threads 2] [--out runs/pose2d_cpu] [--set KEY=VALUE ...]

Runs that finished are reused (delete their folder to rerun); a killed run resumes.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_helpers import config_val_params, mean_std, run_posekit

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], scale: float = 100.0) -> str:
    """``mean_std`` of fractions as percent (or of other values times ``scale``)."""
    return mean_std(values, scale)


# (the columns' lr_merged: % of left/right pairs put on one spot, docs/evaluation.md)
DEFAULT_CONFIGS = ("pose2d_hourglass_cpu", "pose2d_deeppose_cpu", "pose2d_compositional_cpu")


def _curve(run: Path) -> list[tuple[int, float]]:
    """(step, val/pck_0.2) rows of the run's metrics.csv."""
    path = run / "csv" / "metrics.csv"
    rows = []
    with path.open() as f:
        for r in csv.DictReader(f):
            v = r.get("val/pck_0.2") or ""
            if v:
                rows.append((int(r["step"]), float(v)))
    return rows


def _run(config: str, seed: int, out: Path, threads: int, extra: list[str]) -> dict:
    path = ROOT / "configs" / f"{config}.yaml"
    run = out / f"{config}_s{seed}"
    done = run / "train_seconds.txt"
    if not done.exists():
        t0 = time.perf_counter()
        run_posekit(
            ["train", str(path), "--out", str(run), "--quiet", "--resume",
             "--set", f"seed={seed}", "trainer.progress_bar=false", *extra],
            threads,
        )  # fmt: skip
        done.write_text(f"{time.perf_counter() - t0:.1f}\n")
    res: dict = {"config": config, "seed": seed, "train_s": float(done.read_text())}
    occluded = {**config_val_params(path), "val_occluder_probability": 1.0}
    for split, params in (("test", None), ("occluded", occluded)):
        target = run / f"eval_{split}.json"
        if not target.exists():
            args = ["eval", str(run / "checkpoints" / "best.ckpt"), "--quiet", "--out", str(target)]
            if params is not None:
                args += ["--set", f"data.val_params={json.dumps(params)}"]
            run_posekit(args, threads)
        res[split] = json.loads(target.read_text())["metrics"]
    res["curve"] = _curve(run)
    return res


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for config in dict.fromkeys(r["config"] for r in results):
        for r in (r for r in results if r["config"] == config):
            steps, pck = zip(*r["curve"]) if r["curve"] else ((), ())
            ax.plot(steps, [100 * p for p in pck], label=f"{config} s{r['seed']}", alpha=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation PCK@0.2 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="*", default=list(DEFAULT_CONFIGS))
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--threads", type=int, default=2, help="torch threads per run")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "pose2d_cpu")
    p.add_argument("--set", nargs="*", default=[], help="overrides for every run")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    todo = [(c, s) for c in a.configs for s in a.seeds]
    with ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(_run, c, s, a.out, a.threads, a.set) for c, s in todo]
        results = [f.result() for f in futures]
    print(f"seeds {a.seeds}; {a.threads} thread(s) per run, {a.jobs} run(s) at once\n")
    print(
        "| config | seeds | PCK@0.2 | PCKh@0.5 | occluded joints PCK@0.2 | error px | "
        "lr_merged | occluded split PCK@0.2 | train min |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for config in a.configs:
        rs = [r for r in results if r["config"] == config]
        t = [r["test"] for r in rs]
        print(
            f"| {config} | {len(rs)} | {pct([x['pck_0.2'] for x in t])} | "
            f"{pct([x['pckh_0.5'] for x in t])} | "
            f"{pct([x['pck_0.2_occluded'] for x in t])} | "
            f"{pct([x['mean_error_px'] for x in t], 1.0)} | "
            f"{pct([x.get('lr_merged', math.nan) for x in t])} | "
            f"{pct([r['occluded']['pck_0.2'] for r in rs])} | "
            f"{pct([r['train_s'] for r in rs], 1 / 60)} |"
        )
    print("\nValidation PCK@0.2 (%) during training, mean over seeds:\n")
    for config in a.configs:
        rs = [r for r in results if r["config"] == config]
        steps = sorted({s for r in rs for s, _ in r["curve"]})
        cells = []
        for s in steps:
            v = [p for r in rs for st, p in r["curve"] if st == s]
            cells.append(f"{s}: {100 * sum(v) / len(v):.1f}")
        print(f"- {config}: " + ", ".join(cells))
    _plot(results, a.out / "curves.png")
    tmp = a.out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, a.out / "results.json")


if __name__ == "__main__":
    main()
