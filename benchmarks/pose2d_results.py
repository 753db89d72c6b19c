"""The 2D pose results table on the fixed synthetic benchmark, through `posekit train/eval`.

Data (`synthetic_body` source, coco17, 256x256 renders, one person per image, anny bodies,
procedural and photo backgrounds): 4,096 training images (seed 0, occluders on 50 % of them);
test split: 512 images of an unseen seed (1,000,003; occluders on 50 %); occluded split: the
same 512 bodies, poses and cameras with occluders on every image (1-8 pasted objects).

Every run trains a tiny config (128x128 crops, batch 32, Adam, cosine schedule, seed 0) for
``--steps`` steps and is evaluated on both splits (best checkpoint on the test split; flip
test off). Reported: PCK@0.2 (torso), PCKh-style @0.5 (head length: nose to the shoulders'
midpoint), PCK@0.2 of the occluded-but-labelled joints, mean error in pixels of the 256x256
image.

    .venv/bin/python benchmarks/pose2d_results.py [--steps 1200] [--jobs 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = {"num": 4096, "val_num": 512, "size": [256, 256]}
OCCLUDED = {**DATA, "val_occluder_probability": 1.0}

# name -> (config, overrides). The heatmap models train with heatmap MSE + the integral
# (soft-argmax) coordinate loss of their tiny configs; the last row is the paper's heatmap loss
# alone (which stays on its all-zero plateau at this budget).
RUNS: dict[str, tuple[str, list[str]]] = {
    "deeppose, 1 stage (one-shot regression)": ("deeppose", ["model.overrides.num_stages=1"]),
    "deeppose, 2 stages (cascade)": ("deeppose", []),
    "hourglass, 1 stack": ("hourglass", ["model.overrides.num_stacks=1"]),
    "hourglass, 2 stacks": ("hourglass", []),
    "hourglass, 2 stacks, last-stack loss only": (
        "hourglass",
        ["loss.intermediate_supervision=false"],
    ),
    "hourglass, 4 stacks": ("hourglass", ["model.overrides.num_stacks=4"]),
    "hourglass, 2 stacks, 36 ch (params of compositional)": (
        "hourglass",
        ["model.overrides.channels=36"],
    ),
    "compositional, 2 stacks": ("compositional", []),
    "hourglass, 2 stacks, heatmap MSE only (no integral loss)": (
        "hourglass",
        ["model.overrides.integral=false"],
    ),
}


def _posekit(*args: str) -> str:
    cmd = [sys.executable, "-m", "posekit.cli.main", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{res.stderr[-3000:]}")
    return res.stdout


def _prepare() -> None:
    """Render the three splits once (cached), before the runs read them in parallel."""
    from posekit.tasks.pose2d.sources import synthetic_body

    for split, params in (("train", DATA), ("val", DATA), ("val", OCCLUDED)):
        synthetic_body(split, 0, workers=2, **params)


def _run(i: int, name: str, model: str, sets: list[str], steps: int, out: Path) -> dict:
    from posekit.models import count_parameters, create_model, model_config

    run = out / f"{i:02d}_{model}"
    t0 = time.perf_counter()
    if not (run / "checkpoints" / "best.ckpt").exists():
        _posekit(
            "train", f"configs/pose2d_{model}_tiny.yaml", "--out", str(run), "--quiet",
            "--set", f"trainer.max_steps={steps}", f"data.params={json.dumps(DATA)}",
            f"trainer.val_every={steps}", *sets,
        )  # fmt: skip
    train_s = time.perf_counter() - t0
    res = {"name": name, "train_s": train_s}
    for split, params in (("test", DATA), ("occluded", OCCLUDED)):
        path = run / f"eval_{split}.json"
        _posekit(
            "eval", str(run / "checkpoints" / "best.ckpt"), "--quiet", "--out", str(path),
            "--set", f"data.val_params={json.dumps(params)}",
        )  # fmt: skip
        res[split] = json.loads(path.read_text())["metrics"]
    overrides = {s.split("=")[0].split(".")[-1]: s.split("=")[1] for s in sets if "overrides" in s}
    cfg = {k: (v == "true" if v in ("true", "false") else int(v)) for k, v in overrides.items()}
    if model in ("hourglass", "compositional"):
        cfg.setdefault("integral", True)
    res["params"] = count_parameters(create_model(model, "tiny", **cfg))
    res["config"] = str(model_config(model, "tiny", **cfg))
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (1 thread each)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "pose2d_results")
    p.add_argument("--only", nargs="*", default=None, help="substrings of run names to keep")
    a = p.parse_args()
    _prepare()
    todo = [
        (i, name, model, sets)
        for i, (name, (model, sets)) in enumerate(RUNS.items())
        if not a.only or any(s in name for s in a.only)
    ]
    with ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(_run, *t, a.steps, a.out) for t in todo]
        results = [f.result() for f in futures]
    print(f"tiny configs, {a.steps} steps x batch 32, seed 0; 512 test / 512 occluded images\n")
    print(
        "| model | params | PCK@0.2 | PCKh@0.5 | occluded joints PCK@0.2 | error px | "
        "occluded split: PCK@0.2 | occluded joints PCK@0.2 | train s |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        t, o = r["test"], r["occluded"]
        print(
            f"| {r['name']} | {r['params']:,} | {100 * t['pck_0.2']:.1f} | "
            f"{100 * t['pckh_0.5']:.1f} | {100 * t['pck_0.2_occluded']:.1f} | "
            f"{t['mean_error_px']:.1f} | {100 * o['pck_0.2']:.1f} | "
            f"{100 * o['pck_0.2_occluded']:.1f} | {r['train_s']:.0f} |"
        )
    (a.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
