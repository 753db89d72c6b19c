"""3D hand pose from depth: V2V-PoseNet vs the depth-image baselines, over seeds, and how each
holds up under sensor noise, missing depth and distance — through `posekit train/eval`.

Every (model, seed) run trains ``configs/hand_<model>_tiny.yaml`` (``--steps`` steps, the
config's data: 8,192 synthetic depth maps of left and right hands), then ``posekit eval``
scores its best checkpoint on the validation split (512 maps from an unseen seed) and on
robustness splits (256 maps each, unseen seed): the clean rendered depth, stronger sensor noise,
missing-depth holes, and three distance bands. Reported: mean ± std over seeds of the mean joint
error (mm), the mean worst joint per frame, the success rate (share of frames whose worst joint
is within 20 / 40 mm) and its AUC over 0–80 mm, the share of joints outside the cube, training
time; the per-condition errors; the per-joint errors of the validation split; and
``success.png`` (success rate vs threshold) in ``--out``.

    .venv/bin/python benchmarks/hand_models.py [--models v2v regression heatmaps]
        [--seeds 0 1 2] [--steps 2000] [--jobs 1] [--threads 2] [--out runs/hand_models]
        [--no-robustness] [--refiner CKPT] [--set KEY=VALUE ...]

Runs that finished are reused (delete their folder to rerun); a killed run resumes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_helpers import config_val_params, mean_std, run_posekit

ROOT = Path(__file__).resolve().parents[1]
#: name -> (config under configs/, extra --set overrides). The ``_r18`` rows are the baselines
#: with the full preset's ResNet-18 trunk at the same 64x64 input (11.8M / 15.4M parameters,
#: 0.28 / 0.47 GFLOPs against V2V tiny's 0.86M / 0.98 GFLOPs): a capacity control.
MODELS: dict[str, tuple[str, list[str]]] = {
    "v2v": ("hand_v2v_tiny", []),
    "regression": ("hand_regression_tiny", []),
    "heatmaps": ("hand_heatmaps_tiny", []),
    "regression_r18": (
        "hand_regression_tiny",
        ["model.preset=full", "model.overrides.input_size=[64, 64]"],
    ),
    "heatmaps_r18": (
        "hand_heatmaps_tiny",
        ["model.preset=full", "model.overrides.input_size=[64, 64]"],
    ),
}
DEFAULT_MODELS = ("v2v", "regression", "heatmaps")
THRESHOLDS_MM = (10, 20, 30, 40, 50, 60, 70, 80)

_ROBUST_SEED = 2_000_033  # unseen by training and by the validation split
#: name -> hand-generator options of a 256-map evaluation split (on top of the config's).
CONDITIONS: dict[str, dict] = {
    "clean depth (no sensor model)": {"noise": False},
    "sensor as trained": {},
    "noise sigma x3": {"sensor": {"noise_sigma_m": 0.0045}},
    "noise sigma x7": {"sensor": {"noise_sigma_m": 0.0105}},
    "holes 15 %": {"sensor": {"hole_fraction": [0.15, 0.15]}},
    "holes 30 %": {"sensor": {"hole_fraction": [0.3, 0.3]}},
    "distance 0.30-0.40 m": {"distance_m": [0.3, 0.4]},
    "distance 0.40-0.55 m": {"distance_m": [0.4, 0.55]},
    "distance 0.55-0.70 m": {"distance_m": [0.55, 0.7]},
}


def _curve(run: Path) -> list[tuple[int, float]]:
    """(step, val/mean_joint_error_mm) rows of the run's metrics.csv."""
    rows = []
    with (run / "csv" / "metrics.csv").open() as f:
        for r in csv.DictReader(f):
            v = r.get("val/mean_joint_error_mm") or ""
            if v:
                rows.append((int(r["step"]), float(v)))
    return rows


def _eval(
    run: Path, name: str, params: dict | None, threads: int, sets: list[str] | None = None
) -> dict:
    target = run / f"eval_{name}.json"
    if not target.exists():
        args = ["eval", str(run / "checkpoints" / "best.ckpt"), "--quiet", "--out", str(target)]
        extra = list(sets or [])
        if params is not None:
            extra.append(f"data.val_params={json.dumps(params)}")
        if extra:
            args += ["--set", *extra]
        run_posekit(args, threads)
    return json.loads(target.read_text())


def _run(
    model: str, seed: int, out: Path, steps: int, threads: int, robust: bool, extra: list[str]
) -> dict:
    config_name, model_sets = MODELS[model]
    config = ROOT / "configs" / f"{config_name}.yaml"
    run = out / f"{model}_s{seed}"
    done = run / "train_seconds.txt"
    if not done.exists():
        t0 = time.perf_counter()
        run_posekit(
            ["train", str(config), "--out", str(run), "--quiet", "--resume",
             "--set", f"seed={seed}", f"trainer.max_steps={steps}",
             f"trainer.val_every={max(1, steps // 8)}", "trainer.progress_bar=false",
             *model_sets, *extra],
            threads,
        )  # fmt: skip
        done.write_text(f"{time.perf_counter() - t0:.1f}\n")
    val = _eval(run, "val", None, threads)
    res: dict = {"model": model, "seed": seed, "train_s": float(done.read_text())}
    res["val"] = val["metrics"]
    res["per_joint"] = val.get("per_joint", {})
    res["curve"] = _curve(run)
    if robust:
        base = {**config_val_params(config), "val_num": 256, "val_seed": _ROBUST_SEED}
        res["conditions"] = {
            name: _eval(run, f"cond{i}", {**base, **opts}, threads)["metrics"]
            for i, (name, opts) in enumerate(CONDITIONS.items())
        }
    return res


def _reference_errors(config: Path, refiner: Path | None) -> dict[str, float]:
    """Distance (mm) from the cube centre to the hand's centre (mean of its joints) on the
    config's validation split: median, 90th percentile, max."""
    import numpy as np

    from posekit.engine.config import load_config
    from posekit.tasks.hand.module import hand_cubes

    sets = ["codec.target=centre", "model.overrides.num_joints=1"]
    if refiner is not None:
        sets.append(f"codec.refiner={refiner}")
    cfg = load_config(ROOT / "configs" / "hand_refiner_tiny.yaml", sets)
    cfg.data.params.update({k: v for k, v in config_val_params(config).items() if k != "num"})
    cubes = hand_cubes(cfg, "val", cfg.data.source, dict(cfg.data.params))
    d = (
        np.array(
            [
                float((c["keypoints"][0] - c["reference"]).norm())
                for c in (cubes[i] for i in range(len(cubes)))
            ]
        )
        * 1000.0
    )
    return {
        "median": float(np.median(d)),
        "p90": float(np.percentile(d, 90)),
        "max": float(d.max()),
    }


def _plot(results: list[dict], models: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    xs = [0, *THRESHOLDS_MM]
    for model in models:
        rs = [r for r in results if r["model"] == model]
        ys = [0.0] + [
            100 * sum(r["val"][f"success_{t}mm"] for r in rs) / len(rs) for t in THRESHOLDS_MM
        ]
        ax.plot(xs, ys, marker="o", label=f"{model} (mean of {len(rs)} seeds)")
    ax.set_xlabel("maximum allowed distance to ground truth (mm)")
    ax.set_ylabel("frames with every joint within it (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS), choices=list(MODELS))
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--threads", type=int, default=2, help="torch threads per run")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "hand_models")
    p.add_argument("--no-robustness", action="store_true")
    p.add_argument(
        "--refiner",
        type=Path,
        default=None,
        help="a hand_refiner_tiny checkpoint: also score every run with it (evaluation only)",
    )
    p.add_argument("--set", nargs="*", default=[], help="overrides for every run")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    todo = [(m, s) for m in a.models for s in a.seeds]
    with ThreadPoolExecutor(a.jobs) as pool:
        futures = [
            pool.submit(_run, m, s, a.out, a.steps, a.threads, not a.no_robustness, a.set)
            for m, s in todo
        ]
        results = [f.result() for f in futures]
    if a.refiner is not None:
        for r in results:
            run = a.out / f"{r['model']}_s{r['seed']}"
            r["refined"] = _eval(run, "refined", None, a.threads, [f"codec.refiner={a.refiner}"])
    print(f"seeds {a.seeds}; {a.steps} steps; {a.threads} thread(s) per run, {a.jobs} at once\n")
    print(
        "| model | seeds | mean joint error (mm) | worst joint (mm) | success 20 mm (%) | "
        "success 40 mm (%) | AUC 0-80 mm (%) | joints outside cube (%) | train min |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for model in a.models:
        rs = [r for r in results if r["model"] == model]
        v = [r["val"] for r in rs]
        print(
            f"| {model} | {len(rs)} | {mean_std([x['mean_joint_error_mm'] for x in v])} | "
            f"{mean_std([x['max_joint_error_mm'] for x in v])} | "
            f"{mean_std([x['success_20mm'] for x in v], 100)} | "
            f"{mean_std([x['success_40mm'] for x in v], 100)} | "
            f"{mean_std([x['success_auc'] for x in v], 100)} | "
            f"{mean_std([x['outside_cube'] for x in v], 100, 2)} | "
            f"{mean_std([r['train_s'] for r in rs], 1 / 60)} |"
        )
    print("\nValidation mean joint error (mm) during training, mean over seeds:\n")
    for model in a.models:
        rs = [r for r in results if r["model"] == model]
        steps = sorted({s for r in rs for s, _ in r["curve"]})
        cells = []
        for s in steps:
            v = [e for r in rs for st, e in r["curve"] if st == s]
            cells.append(f"{s}: {sum(v) / len(v):.1f}")
        print(f"- {model}: " + ", ".join(cells))
    if not a.no_robustness:
        print("\nMean joint error (mm) per condition (256 maps each, unseen seed):\n")
        print("| condition | " + " | ".join(a.models) + " |")
        print("|---|" + "--:|" * len(a.models))
        for name in CONDITIONS:
            cells = []
            for m in a.models:
                errs = [r["conditions"][name]["mean_joint_error_mm"] for r in results
                        if r["model"] == m]  # fmt: skip
                cells.append(mean_std(errs))
            print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nPer-joint mean error (mm), validation split, mean over seeds:\n")
    for model in a.models:
        cols = [r["per_joint"].get("mean error (mm)") or {} for r in results if r["model"] == model]
        cols = [c for c in cols if c]
        if cols:
            means = {j: sum(c[j] for c in cols) / len(cols) for j in cols[0]}
            print(f"- {model}: " + ", ".join(f"{j} {m:.1f}" for j, m in means.items()))
    if a.refiner is not None:
        config = ROOT / "configs" / "hand_v2v_tiny.yaml"
        print("\nCube centre to the hand's centre (mean of its joints), validation split, mm:\n")
        print("| reference point | median | 90th percentile | max |")
        print("|---|--:|--:|--:|")
        for label, ref in (("centre of mass", None), ("refined", a.refiner)):
            e = _reference_errors(config, ref)
            print(f"| {label} | {e['median']:.1f} | {e['p90']:.1f} | {e['max']:.1f} |")
        print("\nWith the refiner at evaluation only (models trained on the centre of mass):\n")
        print("| model | mean joint error, centre of mass (mm) | refined (mm) |")
        print("|---|--:|--:|")
        for model in a.models:
            rs = [r for r in results if r["model"] == model]
            print(
                f"| {model} | {mean_std([r['val']['mean_joint_error_mm'] for r in rs])} | "
                f"{mean_std([r['refined']['metrics']['mean_joint_error_mm'] for r in rs])} |"
            )
    _plot(results, a.models, a.out / "success.png")
    tmp = a.out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, a.out / "results.json")


if __name__ == "__main__":
    main()
