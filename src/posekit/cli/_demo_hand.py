"""The hand part of ``posekit demo``: render hand depth maps, train the hand task's demo model
(its `TaskSpec.demo_config` with the demo's sizes) on them, evaluate it on unseen maps and draw
its 3D joints over the depth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_hand"]


def run_hand(out: Path, sizes: Any, seed: int, say: Any) -> dict[str, Any]:
    """Train, evaluate and draw the demo's hand model; returns what the report shows."""
    from posekit.cli.demo_config import task_config
    from posekit.data.datasets import SyntheticDataset
    from posekit.engine.predict import load_predictor
    from posekit.engine.run import train
    from posekit.tasks.hand.predictor import hand_picture
    from posekit.viz import contact_sheet

    params = {
        "root": str(out / "data" / "hand"),
        "num": sizes.hand_train,
        "val_num": sizes.hand_val,
        "data_seed": seed,
        "size": [240, 320],
        "side": "random",
        "workers": 2 if sizes.hand_train > 64 else 1,
        "progress": False,
    }
    config = task_config(
        "hand",
        name="demo_hand",
        seed=seed,
        data__params=params,
        trainer__max_steps=sizes.hand_steps,
        trainer__val_every=sizes.hand_steps,
        trainer__batch_size=min(16, sizes.hand_train),
        trainer__num_workers=1 if sizes.hand_train > 64 else 0,
        trainer__progress_bar=False,
    )
    name = f"{config.model.name} {config.model.preset}"
    say(
        f"3D hands from depth: rendering {sizes.hand_train} + {sizes.hand_val} depth maps, "
        f"training {name} {sizes.hand_steps} steps x batch {config.trainer.batch_size}"
    )
    t0 = time.perf_counter()
    result = train(config, out / "hand", progress=False)
    took = time.perf_counter() - t0
    ev = result.evaluation
    m = dict(ev.metrics) if ev is not None else dict(result.metrics)
    say.note(
        f"done in {took:.0f} s; on {ev.num_samples if ev else 0} unseen hands: mean joint error "
        f"{m.get('mean_joint_error_mm', np.nan):.1f} mm, "
        f"{100 * m.get('success_40mm', np.nan):.0f} % of hands with every joint within 40 mm"
    )
    val = SyntheticDataset(next((out / "data" / "hand").glob("val*")))
    predictor = load_predictor(result.best_checkpoint)
    pics = []
    for i in range(min(sizes.pictures, len(val))):
        s = val.sample(i)
        center = (
            (float(s.bbox[0, 0] + s.bbox[0, 2]) / 2, float(s.bbox[0, 1] + s.bbox[0, 3]) / 2),
            None,
        )
        pred = predictor.predict(s.depth, s.K.astype(np.float64), center)
        pics.append(hand_picture(s.depth, pred))
    sheet = contact_sheet(pics, columns=1) if pics else None

    def add_to_report(rep: Any) -> None:
        rep.add_section(
            f"3D hands from depth: {name}",
            f"Trained for {result.global_step} steps ({took:.0f} s, rendering included) on "
            f"{sizes.hand_train} synthetic depth maps of left and right hands (anny's hand "
            "with a forearm, Kinect-like noise and holes), evaluated on "
            f"{sizes.hand_val} maps of an unseen seed. The model sees a 25 cm cube around "
            "the centre of mass of the nearest surface in the hand's box; errors are camera-"
            "frame distances in millimetres; success is the share of hands whose worst joint "
            "is within the threshold (docs/evaluation.md). The full comparison of V2V-PoseNet "
            "with the depth-image baselines is benchmarks/hand_models.py.",
        )
        if ev is not None:
            rep.add_table({k: v for k, v in ev.metrics.items()}, caption="Validation metrics")
            rep.add_joint_table(ev.per_joint, ev.skeleton, caption="Per joint")
        if sheet is not None:
            rep.add_image(sheet, "Unseen depth maps with the predicted joints, and in 3D")

    return {"checkpoint": result.best_checkpoint, "metrics": m, "add_to_report": add_to_report}
