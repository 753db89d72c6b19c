"""The lifting ablations on the fixed synthetic lifting benchmark, through `posekit train/eval`.

Every run trains a tiny config (`configs/lift_*_tiny.yaml`, synthetic poses: a 20,000-pose
training pool and a disjoint 2,000-pose validation pool from the engine's sampler, pool seeds
fixed in the configs; virtual cameras of `posekit.data.lifting.VirtualCameraSampler`: any
azimuth, elevation -5..25 deg, 3.5-6 m, f = 1150 px ± 10 %, 1000x1000 images) for ``--steps``
steps with seed 0, then evaluates its best checkpoint on the fixed validation set (4,096 pairs)
with ground-truth 2D, Gaussian 2D noise (5 px) and structured noise (jitter 2 % of the box,
5 % left/right swaps, 10 % dropped joints, 5 % outliers 10–30 % of the box away).

    .venv/bin/python benchmarks/lift_ablations.py [--steps 4000] [--only NAME ...]

Prints one markdown table (MPJPE / PA-MPJPE in mm) and writes runs under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRUCTURED = (
    "{jitter_sigma: 0.02, swap_prob: 0.05, drop_prob: 0.1, outlier_prob: 0.05, "
    "outlier_radius: [0.1, 0.3], units: bbox}"
)
NOISES = {"gt": "null", "gauss5px": "5", "structured": STRUCTURED}
CAMERA = ["model.overrides.input_coords=camera", "data.params.coords=camera"]

# name -> (config, overrides); the Martinez rows follow the ablation table of Martinez et al.
RUNS: dict[str, tuple[str, list[str]]] = {
    "martinez (tiny: BN, residual, max-norm, 2 blocks, pixel)": ("martinez", []),
    "martinez - batch norm": ("martinez", ["model.overrides.batch_norm=false"]),
    "martinez - residual": ("martinez", ["model.overrides.residual=false"]),
    "martinez + dropout 0.5": ("martinez", ["model.overrides.dropout=0.5"]),
    "martinez, camera coords": ("martinez", CAMERA),
    "martinez, 1 block": ("martinez", ["model.overrides.num_blocks=1"]),
    "martinez, 4 blocks": ("martinez", ["model.overrides.num_blocks=4"]),
    "lcn 1-NN, pixel": ("lcn", ["model.overrides.hops=1"]),
    "lcn 2-NN, pixel": ("lcn", ["model.overrides.hops=2"]),
    "lcn 3-NN, pixel": ("lcn", ["model.overrides.hops=3"]),
    "lcn 2-NN, camera coords": ("lcn", ["model.overrides.hops=2", *CAMERA]),
    "smplr_dae (trained with structured noise)": ("smplr_dae", []),
}


def _posekit(*args: str) -> None:
    cmd = [sys.executable, "-m", "posekit.cli.main", *args, "--quiet"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "lift_ablations")
    p.add_argument("--only", nargs="*", default=None, help="substrings of run names to keep")
    a = p.parse_args()
    print(f"tiny configs, {a.steps} steps, seed 0; MPJPE / PA-MPJPE in mm on 4,096 val pairs\n")
    print("| run | params changed | GT 2D | Gaussian 5 px | structured | train s |")
    print("|---|---|--:|--:|--:|--:|")
    for i, (name, (model, sets)) in enumerate(RUNS.items()):
        if a.only and not any(s in name for s in a.only):
            continue
        run = a.out / f"{i:02d}_{model}"
        t0 = time.perf_counter()
        _posekit(
            "train", f"configs/lift_{model}_tiny.yaml", "--out", str(run),
            "--set", f"trainer.max_steps={a.steps}", *sets,
        )  # fmt: skip
        train_s = time.perf_counter() - t0
        cells = []
        for noise, value in NOISES.items():
            out = run / f"eval_{noise}.json"
            _posekit(
                "eval", str(run / "checkpoints" / "best.ckpt"), "--out", str(out),
                "--set", f"data.params.val_noise={value}",
            )  # fmt: skip
            m = json.loads(out.read_text())["metrics"]
            cells.append(f"{m['mpjpe_mm']:.1f} / {m['pa_mpjpe_mm']:.1f}")
        print(f"| {name} | {' '.join(sets) or '-'} | {' | '.join(cells)} | {train_s:.0f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
