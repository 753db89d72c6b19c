"""A keypoint layout of your own in a few lines: an upper-body layout made of COCO's joint
names, registered, then a 2D pose model trained on it from the synthetic engine's bodies,
evaluated and run on an image.

Joints are matched to every dataset by name, so a layout whose names the data knows needs no
conversion code: the synthetic bodies (coco17) feed it directly. Register the layout before
building or loading a model of it (in every process that loads its checkpoints).

    python examples/custom_skeleton.py [--steps 300] [--out runs/custom_skeleton]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from posekit.skeletons import build_skeleton, register_skeleton

# (joint, parent) in topological order; left/right flip pairs follow the l_ / r_ names.
UPPER_BODY = register_skeleton(
    build_skeleton(
        "upper_body9",
        [
            ("nose", None),
            ("l_shoulder", "nose"),
            ("r_shoulder", "nose"),
            ("l_elbow", "l_shoulder"),
            ("r_elbow", "r_shoulder"),
            ("l_wrist", "l_elbow"),
            ("r_wrist", "r_elbow"),
            ("l_hip", "l_shoulder"),
            ("r_hip", "r_shoulder"),
        ],
        description="head, arms and hips (COCO joint names)",
    )
)


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate and run the upper-body model; returns what it measured."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--num", type=int, default=256, help="training images")
    p.add_argument("--val-num", type=int, default=32, help="validation images")
    p.add_argument("--size", type=int, default=256, help="rendered image size")
    p.add_argument("--out", type=Path, default=Path("runs/custom_skeleton"))
    args = p.parse_args(argv)

    from posekit.data.datasets import SyntheticDataset
    from posekit.engine.config import find_config, load_config
    from posekit.engine.evaluate import evaluate_checkpoint
    from posekit.engine.predict import load_predictor
    from posekit.engine.run import train

    data = {
        "root": str(args.out / "data"),
        "num": args.num,
        "val_num": args.val_num,
        "size": [args.size, args.size],
        "progress": False,
    }
    config = load_config(
        find_config("pose2d_hourglass_tiny.yaml"),
        [
            "name=hourglass_upper_body9",
            f"model.overrides.skeleton={UPPER_BODY.name}",  # the model predicts these joints
            f"data.params={data}",
            f"trainer.max_steps={args.steps}",
            f"trainer.val_every={args.steps}",
            f"trainer.batch_size={min(32, args.num)}",
            "trainer.num_workers=0",
            "trainer.progress_bar=false",
        ],
    )
    result = train(config, args.out / "run", progress=False)
    report = evaluate_checkpoint(result.best_checkpoint, progress=False)
    image = SyntheticDataset(next((args.out / "data").glob("val*"))).sample(0).image
    prediction = load_predictor(result.best_checkpoint).predict(image)
    m = report.evaluation.metrics
    print(f"{UPPER_BODY.name}: {UPPER_BODY.num_joints} joints {', '.join(UPPER_BODY.joints)}")
    print(
        f"trained {result.global_step} steps; PCK@0.2 {100 * m['pck_0.2']:.1f} % on "
        f"{report.evaluation.num_samples} unseen people; one image -> keypoints "
        f"{tuple(prediction.keypoints.shape)}"
    )
    return {"report": report, "prediction": prediction, "checkpoint": result.best_checkpoint}


if __name__ == "__main__":
    main()
