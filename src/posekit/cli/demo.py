"""``posekit demo``: the main job on the embedded default (synthetic data, no download).

It generates a small synthetic data set, trains the tiny models, evaluates them, predicts
with them and writes an HTML report with pictures and tables into a folder it names at the
end, saying how far it is while it runs. Steps (``--quick`` shrinks every count, for tests):

1. synthetic bodies (RGB, 2D/3D keypoints, occluders) and hand depth maps, as shards;
2. a 2D→3D lifter (``configs/lift_martinez_tiny.yaml`` with the demo's sizes) trained on
   synthetic poses seen by virtual cameras;
3. the lifter evaluated on a disjoint synthetic validation set (metrics, per joint, plots);
4. the lifter predicting 3D from the rendered people's 2D keypoints;
5. a 2D pose model (``configs/pose2d_hourglass_cpu.yaml`` with the demo's sizes) trained
   top-down on rendered bodies, evaluated with PCK on unseen renders, drawn on them, its
   predictions lifted to 3D by the lifter, and scored on the real annotated photos of the
   shared data when present (beside the same network untrained);
6. a 3D hand model (the ``hand`` task's demo config with the demo's sizes) trained on
   synthetic hand depth maps, evaluated on unseen ones and drawn;
7. the report: ``<out>/report/index.html``.

Every run writes into ``--out`` (default ``runs/demo``); an earlier demo there is replaced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoSizes", "add_parser", "run"]


@dataclass(frozen=True)
class DemoSizes:
    """How much the demo does (the defaults fit ~13 minutes on 2 CPU cores)."""

    bodies: int = 64
    hands: int = 16
    lift_steps: int = 3000
    lift_pool: int = 20000
    pose2d_train: int = 4096
    pose2d_val: int = 128
    pose2d_steps: int = 1200
    hand_train: int = 1024
    hand_val: int = 128
    hand_steps: int = 150
    pose3d_train: int = 512
    pose3d_val: int = 128
    pose3d_steps: int = 200
    pictures: int = 4
    extra: dict[str, Any] = field(default_factory=dict)


QUICK = DemoSizes(
    bodies=6,
    hands=4,
    lift_steps=40,
    lift_pool=512,
    pose2d_train=12,
    pose2d_val=6,
    pose2d_steps=4,
    hand_train=8,
    hand_val=4,
    hand_steps=3,
    pose3d_train=8,
    pose3d_val=4,
    pose3d_steps=3,
    pictures=2,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: synthesize data, train and evaluate the tiny models, HTML report",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quick", action="store_true", help="tiny counts: a smoke run of minutes")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    p.set_defaults(func=run)


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.step, self.t0 = total, 0, time.perf_counter()

    def __call__(self, what: str) -> None:
        self.step += 1
        el = time.perf_counter() - self.t0
        print(f"[{self.step}/{self.total}] {what}  (elapsed {el:.0f} s)", flush=True)

    def note(self, text: str) -> None:
        print(f"      {text}", flush=True)


def _synthesize(out: Path, sizes: DemoSizes, seed: int, say: _Progress) -> dict[str, Any]:
    from posekit.data.datasets import SyntheticDataset
    from posekit.data.synthetic.writer import synthesize
    from posekit.viz import contact_sheet, draw_sample

    say(f"synthesizing {sizes.bodies} bodies (256x256 RGB) and {sizes.hands} hand depth maps")
    t0 = time.perf_counter()
    synthesize(out / "bodies", "body", sizes.bodies, seed, (256, 256), progress=False)
    synthesize(out / "hands", "hand", sizes.hands, seed, (128, 128), progress=False)
    bodies = SyntheticDataset(out / "bodies")
    hands = SyntheticDataset(out / "hands")
    say.note(f"{len(bodies)} bodies, {len(hands)} hands in {time.perf_counter() - t0:.1f} s")
    n = min(12, len(bodies))
    return {
        "bodies": bodies,
        "body_sheet": contact_sheet([draw_sample(bodies.sample(i)) for i in range(n)], 4),
        "hand_sheet": contact_sheet([draw_sample(hands.sample(i)) for i in range(len(hands))]),
        "seconds": time.perf_counter() - t0,
    }


def _train_lifter(out: Path, sizes: DemoSizes, seed: int, say: _Progress) -> dict[str, Any]:
    from posekit.cli.demo_config import task_config
    from posekit.engine.run import train

    val_poses = max(256, sizes.lift_pool // 10)
    config = task_config(
        "lift",
        name="demo_lift_martinez_tiny",
        seed=seed,
        data__params__num_poses=sizes.lift_pool,
        data__params__val_poses=val_poses,
        data__val_size=min(2048, val_poses * 4),
        trainer__max_steps=sizes.lift_steps,
        trainer__val_every=max(1, min(1000, sizes.lift_steps)),
        trainer__progress_bar=False,
    )
    say(
        f"training the lifter: martinez tiny, {sizes.lift_steps} steps x batch 256 on "
        f"synthetic poses ({sizes.lift_pool} training poses, virtual cameras)"
    )
    t0 = time.perf_counter()
    result = train(config, out / "lift", progress=False)
    took = time.perf_counter() - t0
    say.note(
        f"done in {took:.0f} s; validation MPJPE {result.metrics.get('mpjpe_mm', np.nan):.1f}"
        f" mm, PA-MPJPE {result.metrics.get('pa_mpjpe_mm', np.nan):.1f} mm"
    )
    return {"result": result, "seconds": took}


def _evaluate_lifter(lift: dict[str, Any], say: _Progress) -> dict[str, Any]:
    import torch

    from posekit.engine.evaluate import evaluate_checkpoint, module_from_checkpoint
    from posekit.viz.plots3d import plot_pose3d_vs_gt

    say("evaluating the lifter on the synthetic validation set")
    ckpt = lift["result"].best_checkpoint
    report = evaluate_checkpoint(ckpt, progress=False)
    module, config, _ = module_from_checkpoint(ckpt)
    batches, _ = module.evaluation_batches(config)
    batch = next(iter(batches))
    with torch.no_grad():
        pred = module.model(batch["keypoints2d"][:4], batch["visibility"][:4])["joints3d"]
    pics = [
        plot_pose3d_vs_gt(
            p.numpy(), g.numpy(), module.skeleton_name, frame="camera", title=f"validation pose {i}"
        )
        for i, (p, g) in enumerate(zip(pred, batch["joints3d"][:4], strict=True))
    ]
    m = report.evaluation.metrics
    say.note(
        f"MPJPE {m['mpjpe_mm']:.1f} mm, PA-MPJPE {m['pa_mpjpe_mm']:.1f} mm on "
        f"{report.evaluation.num_samples} pairs"
    )
    return {"report": report, "pictures": pics}


def _lift_rendered(bodies: Any, ckpt: str, sizes: DemoSizes, say: _Progress) -> list[Any]:
    """The lifter on the rendered people's 2D keypoints, drawn beside their images."""
    import torch

    from posekit.data.keypoints_json import KeypointsFrame
    from posekit.engine.predict import load_predictor
    from posekit.skeletons.convert import convert_keypoints
    from posekit.tasks.lift.predictor import lift_picture
    from posekit.viz.plots3d import plot_pose3d_vs_gt

    say(f"lifting the 2D keypoints of {sizes.pictures} rendered images to 3D")
    predictor = load_predictor(ckpt)
    out = []
    for i in range(min(sizes.pictures, len(bodies))):
        s = bodies.sample(i)
        H, W = s.image.shape[:2]
        kp = s.keypoints2d
        in_frame = (
            (kp[..., 0] >= 0) & (kp[..., 0] <= W - 1) & (kp[..., 1] >= 0) & (kp[..., 1] <= H - 1)
        )
        frame = KeypointsFrame(
            skeleton=s.skeleton,
            keypoints=s.keypoints2d.astype(np.float64),
            scores=in_frame.astype(np.float64),  # in-frame joints, occluded or not
            image_size=s.image.shape[:2],
            K=np.asarray(s.K, np.float64),
            image=None,
            source=f"sample {i}",
        )
        pred = predictor.predict(frame)
        pic = lift_picture(frame, pred, image=s.image)
        if s.joints3d is not None and len(pred.joints3d):
            gt, _ = convert_keypoints(
                torch.from_numpy(s.joints3d[0]).double(), None, s.skeleton, pred.skeleton
            )
            gt = (gt - gt[:1]).numpy()
            cmp = plot_pose3d_vs_gt(
                pred.joints3d[0],
                gt,
                pred.skeleton,
                frame="camera",
                title=f"image {i}, person 0 vs ground truth",
            )
            out.append((pic, cmp))
        else:
            out.append((pic, None))
    return out


def run(args: argparse.Namespace) -> int:
    import torch

    from posekit.cli._demo_hand import run_hand
    from posekit.cli._demo_pose2d import run_pose2d
    from posekit.cli._demo_pose3d import run_pose3d
    from posekit.viz.metric_plots import plot_training_curves
    from posekit.viz.report import Report

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    else:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if cores <= 2 and load >= cores:
            print(
                f"note: this machine is busy (load {load:.1f} on {cores} cores); "
                "--threads 1 trains faster under a competing load (benchmarks/under_load.py)"
            )
    sizes = QUICK if args.quick else DemoSizes()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    say = _Progress(8)
    print(f"posekit demo: seed {args.seed}, writing to {out}" + (" (quick)" if args.quick else ""))
    data = _synthesize(out / "data", sizes, args.seed, say)
    lift = _train_lifter(out, sizes, args.seed, say)
    ev = _evaluate_lifter(lift, say)
    lifted = _lift_rendered(data["bodies"], lift["result"].best_checkpoint, sizes, say)
    pose2d = run_pose2d(out, sizes, args.seed, say, lift["result"].best_checkpoint)
    hand = run_hand(out, sizes, args.seed, say)
    pose3d = run_pose3d(out, sizes, args.seed, say)

    say("writing the report")
    rep = Report("posekit demo: synthetic humans, trained and measured")
    rep.add_section(
        "What this is",
        f"Everything here was made by `posekit demo` (seed {args.seed}) on this machine in "
        f"{time.perf_counter() - say.t0:.0f} s, from nothing but installed packages: bodies of "
        "the anny body model rendered with OpenGL (EGL), a lifter and a 2D pose model trained "
        "with PyTorch Lightning, evaluated by posekit's metrics.",
    )
    rep.add_section(
        "Synthetic data",
        f"{len(data['bodies'])} bodies and hand depth maps generated in {data['seconds']:.1f} s.",
    )
    rep.add_image(data["body_sheet"], "Rendered bodies with 2D keypoints (hollow red: occluded)")
    rep.add_image(data["hand_sheet"], "Hand depth maps (sensor noise, holes) with 21 joints")
    r = lift["result"]
    rep.add_section(
        "2D → 3D lifting (Martinez et al. 2017, tiny)",
        f"Trained {r.global_step} steps in {lift['seconds']:.0f} s on synthetic poses seen by "
        "virtual Human3.6M-like cameras; evaluated on a disjoint synthetic pose pool with "
        "ground-truth 2D. Root-relative errors in millimetres.",
    )
    csv = Path(r.run_dir) / "csv" / "metrics.csv"
    if csv.is_file():
        rep.add_image(plot_training_curves(csv), "Training curves")
    rep.add_evaluation(ev["report"].evaluation, "Lifter on synthetic validation poses")
    for pic in ev["pictures"]:
        rep.add_image(pic, "Prediction (colour) over ground truth (grey)")
    rep.add_section(
        "The lifter on the rendered images",
        "2D keypoints of rendered people lifted to 3D (left: the 2D input).",
    )
    for pic, cmp in lifted:
        rep.add_image(pic, "2D input and lifted 3D pose")
        if cmp is not None:
            rep.add_image(cmp, "Lifted pose (colour) over the rendered person's 3D joints (grey)")
    pose2d["add_to_report"](rep)
    hand["add_to_report"](rep)
    pose3d["add_to_report"](rep)
    index = rep.write(out / "report")
    print(f"\ndone in {time.perf_counter() - say.t0:.0f} s. Report: {index}")
    print(f"lifter checkpoint: {r.best_checkpoint}")
    if pose2d.get("checkpoint"):
        print(f"2D pose checkpoint: {pose2d['checkpoint']}")
    print(f"hand checkpoint: {hand['checkpoint']}")
    print(f"3D pose checkpoint: {pose3d['checkpoint']}")
    return 0
