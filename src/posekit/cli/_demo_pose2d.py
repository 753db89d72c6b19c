"""The 2D pose part of ``posekit demo``: render bodies, train the Stacked Hourglass of the CPU
recipe (``configs/pose2d_hourglass_cpu.yaml`` with the demo's sizes) top-down on them, evaluate
it on unseen renders, draw its predictions, lift them to 3D, and score it on the real annotated
photos of the project's shared data when they are present (beside an untrained model)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_pose2d"]


def run_pose2d(
    out: Path, sizes: Any, seed: int, say: Any, lifter: str | None = None
) -> dict[str, Any]:
    """Train, evaluate and draw the tiny hourglass; returns what the report shows."""
    from posekit.cli.demo_config import task_config
    from posekit.engine.predict import load_predictor
    from posekit.engine.run import train
    from posekit.viz import contact_sheet
    from posekit.viz.overlay import draw_skeleton

    params = {
        "root": str(out / "data" / "pose2d"),
        "num": sizes.pose2d_train,
        "val_num": sizes.pose2d_val,
        "data_seed": seed,
        "size": [256, 256],
        "workers": 2 if sizes.pose2d_train > 64 else 1,
        "progress": False,
        "hair_probability": 0.85,
    }
    config = task_config(
        "pose2d",
        name="demo_pose2d_hourglass",
        seed=seed,
        data__params=params,
        trainer__max_steps=sizes.pose2d_steps,
        trainer__val_every=sizes.pose2d_steps,
        trainer__batch_size=min(32, sizes.pose2d_train),
        trainer__num_workers=1 if sizes.pose2d_train > 64 else 0,
        trainer__progress_bar=False,
    )
    say(
        f"2D pose: rendering {sizes.pose2d_train} + {sizes.pose2d_val} bodies, training the "
        f"Stacked Hourglass (2 stacks, 64 channels) {sizes.pose2d_steps} steps x batch 32"
    )
    t0 = time.perf_counter()
    result = train(config, out / "pose2d", progress=False)
    took = time.perf_counter() - t0
    ev = result.evaluation
    m = result.metrics
    say.note(
        f"done in {took:.0f} s; on {ev.num_samples if ev else 0} unseen people: PCK@0.2 "
        f"{100 * m.get('pck_0.2', np.nan):.1f} %, PCKh@0.5 {100 * m.get('pckh_0.5', np.nan):.1f} %"
    )
    from posekit.data.datasets import SyntheticDataset

    val = SyntheticDataset(next((out / "data" / "pose2d").glob("val*")))
    predictor = load_predictor(result.best_checkpoint)
    pics, preds = [], []
    for i in range(min(8, len(val))):
        s = val.sample(i)
        pred = predictor.predict(s.image, s.bbox)
        preds.append((s, pred))
        gt = draw_skeleton(s.image, s.keypoints2d, s.visibility, s.skeleton)
        guess = draw_skeleton(s.image, pred.keypoints, pred.scores > 0.2, pred.skeleton)
        pics.append(np.concatenate([gt, guess], 1))
    sheet = contact_sheet(pics, columns=2) if pics else None
    lifted = _lift_predictions(preds[:2], lifter) if lifter and preds else []
    real = _real_photos(result.best_checkpoint, out / "pose2d" / "real_photos", say)

    def add_to_report(rep: Any) -> None:
        rep.add_section(
            "2D pose: Stacked Hourglass (Newell et al. 2016, 2 stacks, 64 channels)",
            f"Trained top-down for {result.global_step} steps ({took:.0f} s, rendering "
            f"included) on {sizes.pose2d_train} rendered bodies with occluders, evaluated on "
            f"{sizes.pose2d_val} renders of an unseen seed. PCK@0.2 is torso-normalized; "
            "PCKh@0.5 uses the nose-to-shoulders head length (no head boxes in coco17); "
            "'occluded' counts labelled joints hidden by the body or an occluder; lr_merged "
            "is the share of left/right joint pairs predicted on one spot. A model this early "
            "in training has not yet learnt which way a person faces: it puts a pair's left "
            "and right joint on the same limb (see 'left and right' in benchmarks/RESULTS.md "
            "and docs/evaluation.md).",
        )
        if ev is not None:
            rep.add_table({k: v for k, v in ev.metrics.items()}, caption="Validation metrics")
            rep.add_joint_table(ev.per_joint, ev.skeleton, caption="Per joint")
        if sheet is not None:
            rep.add_image(sheet, "Unseen renders: ground truth (left) and prediction (right)")
        for pic in lifted:
            rep.add_image(pic, "Predicted 2D keypoints lifted to 3D by the lifter trained above")
        if real is not None:
            rep.add_section(
                "The same model on real photos",
                "Real annotated images (COCO, MPII, CrowdPose, Human3.6M frames; the "
                "project's shared data), one crop per annotated person over its ground-truth "
                "box, scored with the same PCK in each set's own joint layout (joints the "
                "model lacks are not scored), beside the same network with random weights "
                "(mean of 3 seeds): how far training on synthetic people alone transfers. "
                "A handful of people per set: differences of a few points are noise.",
            )
            rep.add_table(
                real["rows"], real["headers"], caption="PCK@0.2 (torso), PCKh@0.5, %", digits=1
            )
            for name, path in real["pictures"]:
                rep.add_image(path, f"{name}: prediction (skeleton) and ground truth (crosses)")

    return {
        "checkpoint": result.best_checkpoint,
        "metrics": m,
        "add_to_report": add_to_report,
    }


def _real_photos(checkpoint: str, out: Path, say: Any) -> dict[str, Any] | None:
    """The checkpoint and an untrained floor on the shared real photos, if present."""
    from posekit.data.lifting.pools import shared_data_dir
    from posekit.tasks.pose2d.real_images import (
        evaluate_real_images,
        real_image_sets,
        untrained_floor,
    )
    from posekit.tasks.pose2d.real_pictures import write_real_image_pictures

    root = shared_data_dir() / "real" / "mmpose_samples"
    if not root.is_dir() or not real_image_sets(root):
        say.note(f"no real photos at {root}: the real-photo check is skipped")
        return None
    scores = evaluate_real_images(checkpoint, root)
    floor = untrained_floor(checkpoint, root, seeds=(0, 1, 2))
    rows = [
        [
            name,
            sc.people,
            100 * sc.pck,
            100 * sc.pckh,
            100 * floor[name].pck,
            100 * floor[name].pckh,
        ]
        for name, sc in scores.items()
    ]
    headers = ["set", "people", "PCK@0.2", "PCKh@0.5", "untrained PCK@0.2", "untrained PCKh@0.5"]
    pictures = write_real_image_pictures(scores, root, out)
    line = ", ".join(
        f"{n} {100 * s.pck:.0f} % (untrained {100 * floor[n].pck:.0f} %)" for n, s in scores.items()
    )
    say.note(f"on real photos, PCK@0.2: {line}")
    return {"rows": rows, "headers": headers, "pictures": [(p.stem, p) for p in pictures]}


def _lift_predictions(preds: list[Any], lifter: str) -> list[np.ndarray]:
    """Pictures of 2D predictions lifted to 3D (pixels → 3D through the frame's K)."""
    from posekit.data.keypoints_json import KeypointsFrame
    from posekit.engine.predict import load_predictor
    from posekit.tasks.lift.predictor import lift_picture

    lift = load_predictor(lifter)
    out = []
    for s, pred in preds:
        frame = KeypointsFrame(
            skeleton=pred.skeleton,
            keypoints=pred.keypoints.astype(np.float64),
            scores=(pred.scores > 0.2).astype(np.float64),
            image_size=s.image.shape[:2],
            K=np.asarray(s.K, np.float64),
            image=None,
            source="demo",
        )
        out.append(lift_picture(frame, lift.predict(frame), image=s.image))
    return out
