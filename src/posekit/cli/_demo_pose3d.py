"""The 3D pose part of ``posekit demo``: render bodies with 3D joints, train the pose3d task's
demo model (its `TaskSpec.demo_config`, integral regression on 64x64 crops, with the demo's
sizes) on them, evaluate it on unseen renders and draw its 3D predictions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_pose3d"]


def run_pose3d(out: Path, sizes: Any, seed: int, say: Any) -> dict[str, Any]:
    """Train, evaluate and draw the demo's pose3d model; returns what the report shows."""
    from posekit.cli.demo_config import task_config
    from posekit.engine.predict import load_predictor
    from posekit.engine.run import train
    from posekit.tasks.pose3d.predictor import pose3d_picture
    from posekit.tasks.pose3d.sources import synthetic_body3d
    from posekit.viz import contact_sheet

    params = {
        "root": str(out / "data" / "pose3d"),
        "num": sizes.pose3d_train,
        "val_num": sizes.pose3d_val,
        "data_seed": seed,
        "size": [128, 128],
        "workers": 2 if sizes.pose3d_train > 64 else 1,
        "progress": False,
    }
    config = task_config(
        "pose3d",
        name="demo_pose3d",
        seed=seed,
        data__params=params,
        trainer__max_steps=sizes.pose3d_steps,
        trainer__val_every=sizes.pose3d_steps,
        trainer__batch_size=min(32, sizes.pose3d_train),
        trainer__num_workers=1 if sizes.pose3d_train > 64 else 0,
        trainer__progress_bar=False,
    )
    name = f"{config.model.name} {config.model.preset}"
    say(
        f"3D pose from images: rendering {sizes.pose3d_train} + {sizes.pose3d_val} bodies, "
        f"training {name} (64x64 crops) {sizes.pose3d_steps} steps x batch "
        f"{config.trainer.batch_size}"
    )
    t0 = time.perf_counter()
    result = train(config, out / "pose3d", progress=False)
    took = time.perf_counter() - t0
    ev = result.evaluation
    m = dict(ev.metrics) if ev is not None else dict(result.metrics)
    say.note(
        f"done in {took:.0f} s; on {ev.num_samples if ev else 0} unseen people: MPJPE "
        f"{m.get('mpjpe_mm', np.nan):.0f} mm, PA-MPJPE {m.get('pa_mpjpe_mm', np.nan):.0f} mm"
    )
    val = synthetic_body3d("val", seed, **params)
    predictor = load_predictor(result.best_checkpoint)
    pics = []
    for i in range(min(sizes.pictures, len(val))):
        s = val[i]
        pred = predictor.predict(s.image, s.bbox[:1], s.K.astype(np.float64))
        pics.append(pose3d_picture(s.image, pred))
    sheet = contact_sheet(pics, columns=1) if pics else None

    def add_to_report(rep: Any) -> None:
        rep.add_section(
            f"3D pose from images: {name}",
            f"Trained for {result.global_step} steps ({took:.0f} s, rendering included) on "
            f"{sizes.pose3d_train} rendered people (h36m17 joints in camera metres), with "
            "occluders pasted on half of the training crops (Sárándi et al. 2018), evaluated "
            f"on {sizes.pose3d_val} people of an unseen seed. The model reads each joint's "
            "pixel and depth relative to the pelvis out of a volume (soft-argmax); the pose "
            "is placed in depth with the training people's mean bone lengths and in the "
            "camera frame by least squares from its 2D (docs/evaluation.md). The comparison "
            "of the routes to 3D (volumetric, integral, direct, 2D + lifter) is "
            "benchmarks/pose3d_models.py.",
        )
        if ev is not None:
            rep.add_table({k: v for k, v in ev.metrics.items()}, caption="Validation metrics")
            rep.add_joint_table(ev.per_joint, ev.skeleton, caption="Per joint")
        if sheet is not None:
            rep.add_image(sheet, "Unseen renders: predicted 2D and the root-relative 3D pose")

    return {"checkpoint": result.best_checkpoint, "metrics": m, "add_to_report": add_to_report}
