"""Can a 2D pose model tell left from right on the synthetic renders? A memorisation test.

The tiny hourglass (64 channels) is trained on a handful of training images, chosen by which
way the person faces (from the 3D joints: the torso normal ``(left - right) x (up)`` points
away from the camera = a back view), with no flip augmentation, and then run on the same
crops. Reported per setting: the median distance between the predicted left and right
shoulders next to the ground truth's, and ``lr_merged`` (`left_right_errors`: pairs whose two
sides were put on one spot). A model that can only place both sides on one blob shows a
predicted distance near 0 even on images it has seen a hundred times.

    .venv/bin/python benchmarks/left_right.py [--images 64] [--steps 250] [--hair 0.85]
        [--threads 2]

``--hair 0`` uses the bald renders (``hair_probability`` 0, the default of the engine).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _facing_camera(sample) -> bool:
    """True when the person's torso faces the camera (camera looks along +z)."""
    X = sample.joints3d[0].astype(np.float64)  # coco17, camera frame
    left = 0.5 * (X[5] + X[11]) - 0.5 * (X[6] + X[12])
    up = 0.5 * (X[5] + X[6]) - 0.5 * (X[11] + X[12])
    return bool(np.cross(left, up)[2] < 0)


def _run(ds, chosen: list[int], steps: int, seed: int) -> dict[str, float]:
    from posekit.codecs.heatmap2d import Heatmap2D
    from posekit.data.pose2d import TopDownCrops
    from posekit.data.transforms import AugmentConfig
    from posekit.engine.datamodule import collate_samples
    from posekit.losses.pose2d import heatmap_mse_loss
    from posekit.models import create_model
    from posekit.tasks.pose2d.evaluation import left_right_errors

    torch.manual_seed(seed)
    crops = TopDownCrops(
        ds,
        input_size_hw=(128, 128),
        skeleton="coco17",
        train=True,
        seed=seed,
        augment=AugmentConfig(flip_probability=0.0),
    )
    net = create_model("hourglass", "tiny", channels=64)
    codec = Heatmap2D((128, 128), (32, 32), sigma=1.0)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        crops.set_epoch(step)
        idx = torch.randint(0, len(chosen), (32,), generator=gen).tolist()
        b = collate_samples([crops[chosen[i]] for i in idx])
        kp, w = b["keypoints"], b["target_weight"]
        target, tw = codec.encode(torch.where(w[..., None] > 0, kp, torch.zeros_like(kp)), w)
        loss = heatmap_mse_loss(net(b["image"])["heatmaps"], target, tw, 20.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    plain = TopDownCrops(ds, input_size_hw=(128, 128), skeleton="coco17", train=False)
    b = collate_samples([plain[i] for i in chosen])
    with torch.no_grad():
        pred, _ = codec.decode(net(b["image"])["heatmaps"][:, -1])
    gt = b["keypoints"]
    torso = torch.linalg.vector_norm(gt[:, 6] - gt[:, 11], dim=-1)
    lr = left_right_errors(pred.double(), gt.double(), "coco17", torso.double())
    return {
        "pred_shoulders_px": float((pred[:, 5] - pred[:, 6]).norm(dim=-1).median()),
        "gt_shoulders_px": float((gt[:, 5] - gt[:, 6]).norm(dim=-1).median()),
        "median_error_px": float((pred - gt).norm(dim=-1).nanmedian()),
        **lr,
    }


def main() -> None:
    from posekit.tasks.pose2d.sources import synthetic_body

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--hair", type=float, default=0.85, help="hair_probability of the renders")
    p.add_argument("--num", type=int, default=16384, help="training renders to choose from")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ds = synthetic_body("train", 0, num=a.num, hair_probability=a.hair, workers=2)
    front, back = [], []
    for i in range(len(ds)):
        (front if _facing_camera(ds.sample(i)) else back).append(i)
        if min(len(front), len(back)) >= a.images:
            break
    half = a.images // 2
    settings = {
        "facing the camera": front[: a.images],
        "back to the camera": back[: a.images],
        "both (half each)": front[:half] + back[: a.images - half],
    }
    print(
        f"{a.images} training images each, {a.steps} steps x 32 crops, no flip, hourglass "
        f"64 ch, hair_probability {a.hair}, seed {a.seed}; scored on the training crops\n"
    )
    print("| images | predicted L-R shoulders px | true px | median error px | lr_merged | s |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, chosen in settings.items():
        t0 = time.perf_counter()
        r = _run(ds, chosen, a.steps, a.seed)
        print(
            f"| {name} | {r['pred_shoulders_px']:.1f} | {r['gt_shoulders_px']:.1f} | "
            f"{r['median_error_px']:.1f} | {r['lr_merged']:.2f} | "
            f"{time.perf_counter() - t0:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
