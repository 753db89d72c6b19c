"""3D human pose from RGB crops: the routes to 3D compared on one synthetic test set — volumetric
heatmaps (coarse-to-fine), integral regression, direct regression, and 2D heatmaps + a lifter —
with the occlusion augmentation and coarse-to-fine supervision switched off, over seeds, through
`posekit train/eval`.

Every (run, seed) trains a ``configs/pose3d_*_cpu.yaml`` recipe (64x64 crops of the 8,192
rendered people with h36m17 joints, ``--steps`` steps x 32) and ``posekit eval`` scores its best
checkpoint on the validation split (512 people from an unseen seed, no occluders) and on the
occluded split (the same people with 1-8 pasted objects of the shapes the augmentation never
uses: blobs and the gift-box cut-out). The ``lift2d`` route chains
``configs/pose2d_h36m17_cpu.yaml`` (the hourglass on the same data and crops) with
``configs/lift_martinez_tiny.yaml`` (trained on synthetic poses) and is scored here with the
same metrics. Reported: mean ± std over seeds of MPJPE (root-relative, the root placed in depth
by the training set's mean bone lengths), PA-MPJPE, MPJPE at the true root depth, 3DPCK@150 mm,
root position error and absolute MPJPE (root translation by least squares from the 2D), the 2D
error and the depth error; the occluded split; the validation curves; and, when
``../shared/data`` is present, each run on the project's four real Human3.6M frames.

    .venv/bin/python benchmarks/pose3d_models.py [--runs volumetric integral direct lift2d
        volumetric_noc2f integral_noocc integral_6000] [--seeds 0] [--steps 3000] [--jobs 1]
        [--threads 2] [--out runs/pose3d_models] [--pictures 4]

``volumetric_noc2f`` has 32 depth bins on both stacks (no coarse-to-fine), ``integral_noocc``
no occlusion augmentation, ``integral_6000`` twice the steps (the plateau check).

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

from run_helpers import ROOT, config_val_params, mean_std, run_posekit

#: name -> (config under configs/, extra --set overrides).
RUNS: dict[str, tuple[str, list[str]]] = {
    "volumetric": ("pose3d_volumetric_cpu", []),
    "integral": ("pose3d_integral_cpu", []),
    "direct": ("pose3d_direct_cpu", []),
    "volumetric_noc2f": ("pose3d_volumetric_cpu", ["model.overrides.depth_bins=[32,32]"]),
    "integral_noocc": ("pose3d_integral_cpu", ["codec.occlusion_probability=0"]),
    # the plateau check: the integral recipe with twice the steps (its own cosine schedule)
    "integral_6000": ("pose3d_integral_cpu", ["trainer.max_steps=6000", "trainer.val_every=500"]),
}
LIFT2D = ("pose2d_h36m17_cpu", "lift_martinez_tiny")
DEFAULT_RUNS = ("volumetric", "integral", "direct", "lift2d")
#: the occluded test split: every image occluded, by shapes the augmentation never draws.
OCCLUDED = {"val_occluder_probability": 1.0, "val_occluder_shapes": ["blob", "gift"]}


def _curve(run: Path, key: str = "val/mpjpe_mm") -> list[tuple[int, float]]:
    """(step, ``key``) rows of the run's metrics.csv."""
    rows = []
    with (run / "csv" / "metrics.csv").open() as f:
        for r in csv.DictReader(f):
            v = r.get(key) or ""
            if v:
                rows.append((int(r["step"]), float(v)))
    return rows


def _train(config: Path, run: Path, seed: int, steps: int, threads: int, sets: list[str]) -> float:
    done = run / "train_seconds.txt"
    if not done.exists():
        t0 = time.perf_counter()
        run_posekit(
            ["train", str(config), "--out", str(run), "--quiet", "--resume",
             "--set", f"seed={seed}", f"trainer.max_steps={steps}",
             f"trainer.val_every={max(1, steps // 6)}", "trainer.progress_bar=false", *sets],
            threads,
        )  # fmt: skip
        done.write_text(f"{time.perf_counter() - t0:.1f}\n")
    return float(done.read_text())


def _eval(run: Path, name: str, params: dict | None, threads: int) -> dict:
    target = run / f"eval_{name}.json"
    if not target.exists():
        args = ["eval", str(run / "checkpoints" / "best.ckpt"), "--quiet", "--out", str(target)]
        if params is not None:
            args += ["--set", f"data.val_params={json.dumps(params)}", "data.val_size=0"]
        run_posekit(args, threads)
    return json.loads(target.read_text())


def _h36m_frames(run: Path, threads: int) -> dict | None:
    """The run scored on the project's four real Human3.6M frames (``../shared/data``; None
    when absent): how far synthetic-only training transfers, on a very small sample."""
    from posekit.data.lifting.pools import shared_data_dir

    folder = shared_data_dir() / "real" / "mmpose_samples" / "h36m"
    if not (folder / "test_h36m_body3d.npz").is_file():
        return None
    target = run / "eval_h36m_frames.json"
    if not target.exists():
        params = {
            "annotations": str(folder / "test_h36m_body3d.npz"),
            "cameras": str(folder / "cameras.pkl"),
        }
        args = ["eval", str(run / "checkpoints" / "best.ckpt"), "--quiet", "--out", str(target),
                "--data", "h36m_images", "--set", f"data.val_params={json.dumps(params)}",
                "data.val_size=0"]  # fmt: skip
        run_posekit(args, threads)
    return json.loads(target.read_text())["metrics"]


def _run(name: str, seed: int, out: Path, steps: int, threads: int) -> dict:
    if name == "lift2d":
        return _run_lift2d(seed, out, steps, threads)
    config_name, sets = RUNS[name]
    config = ROOT / "configs" / f"{config_name}.yaml"
    run = out / f"{name}_s{seed}"
    train_s = _train(config, run, seed, steps, threads, sets)
    occluded = {**config_val_params(config), **OCCLUDED}
    return {
        "run": name,
        "seed": seed,
        "train_s": train_s,
        "val": _eval(run, "val", None, threads)["metrics"],
        "occluded": _eval(run, "occluded", occluded, threads)["metrics"],
        "h36m": _h36m_frames(run, threads),
        "curve": _curve(run),
    }


def _lift2d_metrics(pose2d_ckpt: Path, lifter_ckpt: Path, params: dict) -> dict:
    """The chained route on the validation people of the pose3d data ``params``: the pose2d
    model on each person box (as ``posekit predict``), its keypoints lifted, the root placed
    by least squares from the 2D; scored with `evaluate_pose3d`."""
    import numpy as np
    import torch

    from posekit.data.keypoints_json import KeypointsFrame
    from posekit.engine.predict import load_predictor
    from posekit.geometry.absolute import solve_root_translation
    from posekit.metrics import evaluate_pose3d
    from posekit.tasks.pose3d.sources import synthetic_body3d

    pose2d, lifter = load_predictor(pose2d_ckpt), load_predictor(lifter_ckpt)
    val = synthetic_body3d("val", 0, **{**params, "progress": False})
    preds, gts, kps, gt_kps, Ks = [], [], [], [], []
    for i in range(len(val)):
        s = val[i]
        p2 = pose2d.predict(s.image, s.bbox[:1])
        frame = KeypointsFrame(
            "h36m17", p2.keypoints.astype(np.float64), np.ones((1, 17)),
            s.image.shape[:2], s.K.astype(np.float64), None, f"val[{i}]",
        )  # fmt: skip
        preds.append(lifter.predict(frame).joints3d[0])
        gts.append(s.joints3d[0])
        kps.append(p2.keypoints[0])
        gt_kps.append(s.keypoints2d[0])
        Ks.append(s.K)
    pred = torch.from_numpy(np.stack(preds)).double()
    gt = torch.from_numpy(np.stack(gts)).double()
    kp = torch.from_numpy(np.stack(kps)).double()
    K = torch.from_numpy(np.stack(Ks)).double()
    m = evaluate_pose3d(pred, gt - gt[:, :1])
    t = solve_root_translation(kp, pred - pred[:, :1], K)
    absolute = pred - pred[:, :1] + t[:, None]
    m["root_error_mm"] = float((absolute[:, 0] - gt[:, 0]).norm(dim=-1).mean() * 1000)
    m["abs_mpjpe_mm"] = float((absolute - gt).norm(dim=-1).mean() * 1000)
    m["mean_error_px"] = float((kp - torch.from_numpy(np.stack(gt_kps))).norm(dim=-1).mean())
    m["depth_error_mm"] = float(
        ((pred[..., 2] - pred[:, :1, 2]) - (gt[..., 2] - gt[:, :1, 2])).abs().mean() * 1000
    )
    return m


def _run_lift2d(seed: int, out: Path, steps: int, threads: int) -> dict:
    pose2d_name, lift_name = LIFT2D
    pose2d_cfg = ROOT / "configs" / f"{pose2d_name}.yaml"
    pose2d_run, lift_run = out / f"pose2d_h36m17_s{seed}", out / f"lifter_s{seed}"
    t2 = _train(pose2d_cfg, pose2d_run, seed, steps, threads, [])
    tl = _train(ROOT / "configs" / f"{lift_name}.yaml", lift_run, seed, 4000, threads, [])
    params = config_val_params(ROOT / "configs" / "pose3d_integral_cpu.yaml")
    res: dict = {"run": "lift2d", "seed": seed, "train_s": t2 + tl}
    for split, extra in (("val", {}), ("occluded", OCCLUDED)):
        target = pose2d_run / f"lift2d_{split}.json"
        if not target.exists():
            m = _lift2d_metrics(
                pose2d_run / "checkpoints" / "best.ckpt",
                lift_run / "checkpoints" / "best.ckpt",
                {**params, **extra},
            )
            target.write_text(json.dumps(m))
        res[split] = json.loads(target.read_text())
    res["curve"] = []
    return res


def _pictures(run: Path, n: int, dest: Path) -> None:
    """Predictions of a run's best checkpoint on ``n`` validation images (2D over the image,
    3D beside it, the ground truth in the title) as one PNG."""
    import numpy as np

    from posekit.engine.predict import load_predictor
    from posekit.tasks.pose3d.predictor import pose3d_picture
    from posekit.tasks.pose3d.sources import synthetic_body3d
    from posekit.viz import contact_sheet
    from posekit.viz._figure import save_png

    predictor = load_predictor(run / "checkpoints" / "best.ckpt")
    params = config_val_params(ROOT / "configs" / "pose3d_integral_cpu.yaml")
    val = synthetic_body3d("val", 0, **{**params, "progress": False})
    pics = []
    for i in np.linspace(0, len(val) - 1, n).round().astype(int):
        s = val[int(i)]
        pred = predictor.predict(s.image, s.bbox[:1], s.K.astype(np.float64))
        pics.append(pose3d_picture(s.image, pred))
    save_png(dest, contact_sheet(pics, columns=1))


def _row(label: str, rs: list[dict], split: str) -> str:
    v = [r[split] for r in rs]

    def col(key: str, scale: float = 1.0) -> str:
        return mean_std([x.get(key, float("nan")) for x in v], scale)

    return (
        f"| {label} | {len(rs)} | {col('mpjpe_mm')} | {col('pa_mpjpe_mm')} | "
        f"{col('mpjpe_gt_root_mm')} | {col('pck3d_150mm', 100)} | {col('root_error_mm')} | "
        f"{col('abs_mpjpe_mm')} | {col('mean_error_px')} | {col('depth_error_mm')} | "
        f"{mean_std([r['train_s'] for r in rs], 1 / 60)} |"
    )


HEADER = (
    "| route | seeds | MPJPE mm | PA-MPJPE mm | MPJPE, true root depth mm | 3DPCK@150 % | "
    "root error mm | absolute MPJPE mm | 2D error px | depth error mm | train min |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="*", default=list(DEFAULT_RUNS), choices=[*RUNS, "lift2d"])
    p.add_argument("--seeds", nargs="*", type=int, default=[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--threads", type=int, default=2, help="torch threads per run")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "pose3d_models")
    p.add_argument("--pictures", type=int, default=0, help="pictures of N people per run")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    todo = [(r, s) for r in a.runs for s in a.seeds]
    with ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(_run, r, s, a.out, a.steps, a.threads) for r, s in todo]
        results = [f.result() for f in futures]
    print(f"seeds {a.seeds}; {a.steps} steps; {a.threads} thread(s) per run, {a.jobs} at once\n")
    splits = (
        ("val", "validation split (512 people, no occluders)"),
        ("occluded", "occluded split (the same people, unseen occluders)"),
    )
    for split, title in splits:
        print(f"{title}:\n\n{HEADER}")
        for name in a.runs:
            rs = [r for r in results if r["run"] == name]
            print(_row(name, rs, split))
        print()
    real = [r for r in results if r.get("h36m")]
    if real:
        print("The four real Human3.6M frames of ../shared/data (S1, S5, S7, S8; a sanity check,")
        print("not a benchmark), mean over seeds:\n")
        print("| route | MPJPE mm | PA-MPJPE mm | MPJPE, true root depth mm | 2D error px |")
        print("|---|--:|--:|--:|--:|")
        for name in a.runs:
            h = [r["h36m"] for r in real if r["run"] == name]
            if h:
                keys = ("mpjpe_mm", "pa_mpjpe_mm", "mpjpe_gt_root_mm", "mean_error_px")
                cells = [mean_std([x[k] for x in h]) for k in keys]
                print(f"| {name} | " + " | ".join(cells) + " |")
        print()
    print("Validation MPJPE (mm) during training, mean over seeds:\n")
    for name in a.runs:
        rs = [r for r in results if r["run"] == name and r["curve"]]
        steps = sorted({s for r in rs for s, _ in r["curve"]})
        cells = []
        for s in steps:
            v = [e for r in rs for st, e in r["curve"] if st == s]
            cells.append(f"{s}: {sum(v) / len(v):.0f}")
        if cells:
            print(f"- {name}: " + ", ".join(cells))
    if a.pictures:
        for name in a.runs:
            if name != "lift2d":
                run = a.out / f"{name}_s{a.seeds[0]}"
                _pictures(run, a.pictures, a.out / f"{name}_s{a.seeds[0]}.png")
    tmp = a.out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, a.out / "results.json")


if __name__ == "__main__":
    main()
