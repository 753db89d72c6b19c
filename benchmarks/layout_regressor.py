"""Fit and check the coco17 → h36m17 layout regressor (`posekit.skeletons.convert`) on anny.

Draws ``--num`` bodies (posekit's pose and shape samplers, seed 0), reads anny's COCO points
and posekit's h36m17 joints from the same bodies, and for every h36m17 joint fits the affine
combination (weights summing to 1) of the COCO points that `LAYOUT_REGRESSORS` lets it use, by
least squares in 3D. Prints the fitted weights beside the table's rounded ones and the mean /
95th-percentile 3D error of the table on the same bodies.

    .venv/bin/python benchmarks/layout_regressor.py [--num 3000]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from posekit.body import AnnyBody
from posekit.data.synthetic.body_shapes import ShapeSampler
from posekit.data.synthetic.poses import PoseSampler
from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import LAYOUT_REGRESSORS, convert_keypoints


def fit_affine(sources: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Weights w (sum 1) minimizing ||sum_k w_k sources_k - target||, over all samples.

    Shapes:
        sources: (N, K, 3); target: (N, 3); returns: (K,).
    """
    K = sources.shape[1]
    if K == 1:
        return np.ones(1)
    A = np.stack([(sources[:, k] - sources[:, 0]).reshape(-1) for k in range(1, K)], 1)
    a, *_ = np.linalg.lstsq(A, (target - sources[:, 0]).reshape(-1), rcond=None)
    return np.concatenate([[1.0 - a.sum()], a])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num", type=int, default=3000)
    a = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    pose = torch.tensor(PoseSampler().sample(a.num, rng).pose, dtype=torch.float32)
    shape = torch.tensor(ShapeSampler().sample(a.num, rng), dtype=torch.float32)
    with torch.no_grad():
        out = AnnyBody().forward_joints(pose, shape, layouts=("coco17", "h36m17"))
    coco, h36m = out["coco17"].double(), out["h36m17"].double()
    table = LAYOUT_REGRESSORS[("coco17", "h36m17")]
    src, dst = get_skeleton("coco17"), get_skeleton("h36m17")
    pred, _ = convert_keypoints(coco, None, "coco17", "h36m17")
    err_mm = (pred - h36m).norm(dim=-1).numpy() * 1000  # (N, 17)
    print(f"coco17 -> h36m17 on {a.num} anny bodies (seed 0); errors of the rounded table\n")
    print("| h36m17 joint | fitted weights | table weights | mean mm | p95 mm |")
    print("|---|---|---|--:|--:|")
    for j, name in enumerate(dst.joints):
        names = list(table[name])
        idx = [src.index(n) for n in names]
        w = fit_affine(coco[:, idx].numpy(), h36m[:, j].numpy())
        fitted = ", ".join(f"{n} {v:.3f}" for n, v in zip(names, w, strict=True))
        rounded = ", ".join(f"{n} {table[name][n]:g}" for n in names)
        e = err_mm[:, j]
        print(f"| {name} | {fitted} | {rounded} | {e.mean():.1f} | {np.percentile(e, 95):.1f} |")


if __name__ == "__main__":
    main()
