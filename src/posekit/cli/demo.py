"""``posekit demo``: the main job on the embedded default (no download).

Until the trainable models land, the demo exercises the foundation end to end on generated
data and prints what it measures: codec round-trip errors, and the 3D / 2D metrics on poses
perturbed by known noise and similarity transforms (PA-MPJPE must see through the similarity).
"""

from __future__ import annotations

import argparse
import time

import torch

__all__ = ["add_parser", "random_h36m_poses"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default (no download)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--num", type=int, default=20000, help="poses / keypoints per test")
    p.set_defaults(func=run)


# A neutral standing h36m17 skeleton (metres, Z-up, facing -y): rough adult proportions.
_REST = {
    "pelvis": (0.0, 0.0, 0.95),
    "r_hip": (-0.12, 0.0, 0.95),
    "r_knee": (-0.12, 0.0, 0.52),
    "r_ankle": (-0.12, 0.02, 0.08),
    "l_hip": (0.12, 0.0, 0.95),
    "l_knee": (0.12, 0.0, 0.52),
    "l_ankle": (0.12, 0.02, 0.08),
    "spine": (0.0, 0.0, 1.18),
    "thorax": (0.0, 0.0, 1.42),
    "neck_nose": (0.0, -0.06, 1.55),
    "head_top": (0.0, -0.01, 1.72),
    "l_shoulder": (0.17, 0.0, 1.40),
    "l_elbow": (0.20, 0.0, 1.12),
    "l_wrist": (0.22, -0.02, 0.86),
    "r_shoulder": (-0.17, 0.0, 1.40),
    "r_elbow": (-0.20, 0.0, 1.12),
    "r_wrist": (-0.22, -0.02, 0.86),
}


def random_h36m_poses(
    num: int, generator: torch.Generator, spread_rad: float = 0.5
) -> torch.Tensor:
    """Random root-relative h36m17 poses by forward kinematics of the rest skeleton.

    Every bone is turned by a random rotation (angle ~ N(0, spread_rad)) composed down the tree.

    Shapes:
        return: (num, 17, 3) metres.
    """
    from posekit.geometry import rotvec_to_rotmat
    from posekit.skeletons import H36M17

    rest = torch.tensor([_REST[n] for n in H36M17.joints], dtype=torch.float64)
    rot = rotvec_to_rotmat(
        torch.randn(num, 17, 3, generator=generator, dtype=torch.float64) * spread_rad
    )
    world_rot = [rot[:, 0]]
    out = [torch.zeros(num, 3, dtype=torch.float64)]
    for j in range(1, 17):
        p = H36M17.parents[j]
        bone = rest[j] - rest[p]
        out.append(out[p] + (world_rot[p] @ bone)[..., :])
        world_rot.append(world_rot[p] @ rot[:, j])
    return torch.stack(out, dim=1)


def _codec_table(num: int, gen: torch.Generator) -> list[tuple[str, str]]:
    from posekit.codecs import Heatmap2D, Volumetric3D, VoxelCodec

    rows = []
    hm = Heatmap2D(input_size=(256, 192), heatmap_size=(64, 48), sigma=2.0)
    kp = torch.rand(num // 17, 17, 2, generator=gen) * torch.tensor([191.0, 255.0])
    maps, _ = hm.encode(kp)
    dec, _ = hm.decode(maps)
    err = (dec - kp).norm(dim=-1)
    rows.append(
        (
            "heatmap2d 256x192→64x48 (DARK)",
            f"max {err.max() / 4:.4f} heatmap px, mean {err.mean() / 4:.4f} (stride 4)",
        )
    )
    vol = Volumetric3D(heatmap_size=(16, 32, 32), input_size=(128, 128), depth_range_m=2.0)
    kp2 = torch.rand(64, 17, 2, generator=gen) * 127
    z = torch.rand(64, 17, generator=gen) * 1.0 - 0.5  # two sigmas off the border
    v, _ = vol.encode(kp2, z)
    for method in ("argmax", "soft_argmax"):
        vol_m = Volumetric3D(
            heatmap_size=(16, 32, 32),
            input_size=(128, 128),
            depth_range_m=2.0,
            decode_method=method,
        )
        inp = v if method == "argmax" else v.clamp_min(1e-12).log()
        _, zd, _ = vol_m.decode(inp)
        rows.append(
            (
                f"volumetric3d 16 bins/2 m, {method}",
                f"depth max {1000 * (zd - z).abs().max():.1f} mm, "
                f"mean {1000 * (zd - z).abs().mean():.1f} mm",
            )
        )
    vox = VoxelCodec()
    ref = torch.zeros(16, 3)
    kp3 = (torch.rand(16, 21, 3, generator=gen) - 0.5) * 0.2
    t, _ = vox.encode(kp3, ref)
    d3, _ = vox.decode(t, ref)
    e3 = (d3 - kp3).norm(dim=-1)
    rows.append(
        (
            "voxel 44³ in 0.25 m cube (V2V)",
            f"max {1000 * e3.max():.2f} mm, mean {1000 * e3.mean():.2f} mm",
        )
    )
    return rows


def _metrics_table(num: int, gen: torch.Generator) -> list[tuple[str, dict[str, float | int]]]:
    from posekit.geometry import rotvec_to_rotmat
    from posekit.metrics import evaluate_pose3d

    gt = random_h36m_poses(num, gen)
    gt = gt - gt[:, :1]
    rows = []
    for noise_mm in (10.0, 30.0):
        noisy = gt + torch.randn(gt.shape, generator=gen, dtype=gt.dtype) * noise_mm / 1000
        rows.append((f"gaussian {noise_mm:.0f} mm", evaluate_pose3d(noisy, gt)))
        R = rotvec_to_rotmat(torch.randn(num, 3, generator=gen, dtype=gt.dtype) * 0.4)
        s = 1 + 0.2 * torch.rand(num, 1, 1, generator=gen, dtype=gt.dtype)
        sim = s * noisy @ R.transpose(-1, -2)
        rows.append(("  + rotation & scale", evaluate_pose3d(sim, gt)))
    return rows


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(args.seed)
    print(f"posekit demo (foundation) — seed {args.seed}, {args.num} samples per test\n")
    print("[1/2] codecs: encode → decode round trips")
    for name, value in _codec_table(args.num, gen):
        print(f"  {name:<38} {value}")
    print("\n[2/2] 3D metrics on random h36m17 poses with known perturbations")
    print(f"  {'prediction':<24} {'MPJPE':>8} {'PA-MPJPE':>9} {'N-MPJPE':>8} {'3DPCK':>6}  (mm, %)")
    for name, m in _metrics_table(args.num, gen):
        print(
            f"  {name:<24} {m['mpjpe_mm']:8.1f} {m['pa_mpjpe_mm']:9.1f} {m['n_mpjpe_mm']:8.1f}"
            f" {100 * m['pck3d_150mm']:6.1f}"
        )
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return 0
