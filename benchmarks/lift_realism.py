"""How real is the synthetic engine, in millimetres: a lifter trained on synthetic poses only
against the same lifter trained on real Human3.6M poses, both evaluated on real subject S8.

Both runs use `configs/lift_martinez_tiny.yaml` with the same overrides (``--width``,
``--steps``, seed 0) and the same virtual cameras (`VirtualCameraSampler` defaults: any
azimuth, elevation -5..25 deg, 3.5-6 m, f = 1150 px ± 10 %, 1000x1000 images, ground-truth
2D). Only the 3D poses differ:

- synthetic: the engine's pose sampler on anny bodies (a ``--pool``-pose training pool);
- real: ``../shared/data/real/h36m_poses`` subjects S1, S5, S6, S7 (``real_h36m_poses``);
- synthetic, retargeted: the synthetic poses in Human3.6M's skeleton convention
  (``data.params.retarget``, `posekit.data.lifting.retarget`): ``h36m_proportions`` (its bone
  proportions, each body keeps its size), ``h36m_lengths`` (its bone lengths: the files hold
  one skeleton for every subject, so a lifter trained on them knows the subject's size, which
  no 2D input tells) and ``h36m`` (its bone lengths, trunk-bone directions and level hips:
  the whole skeleton convention). This separates
  the joint-convention gap (anny's anatomical joint centres vs Human3.6M's mocap skeleton)
  from the pose gap. The conventions (`H36M_BONE_LENGTHS_M`, `H36M_DIRECTION_OFFSETS`) come
  from the real training subjects S1/S5/S6/S7 only (``--bones``, ``--conventions``).

Each best checkpoint (selected on its own validation set: synthetic val pool / S8) is then
evaluated with ``posekit eval CKPT --data real_h36m_poses`` on every S8 pose (virtual cameras
with a fixed seed). The gap is (synthetic - real) / real on MPJPE; the goal is <= 10 %. The
shared files' S8 "smoking" (1,326 poses) is a copy of S5's, a training subject of the real run,
so a second table also gives MPJPE on S8 without the poses that occur in the training files,
and a third splits each run's S8 MPJPE by Human3.6M action.

    .venv/bin/python benchmarks/lift_realism.py [--steps 8000] [--width 512] [--seeds 0 1 2]
        [--only real "synthetic, H3.6M bone lengths" ...]
    .venv/bin/python benchmarks/lift_realism.py --bones | --conventions
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data" / "real" / "h36m_poses"


def _posekit(*args: str) -> None:
    cmd = [sys.executable, "-m", "posekit.cli.main", *args, "--quiet"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)


def bone_table(pool_size: int) -> None:
    """Mean bone lengths of the synthetic training poses against the real ones (h36m17)."""
    from posekit.data.lifting import RealH36MPoses, SyntheticPosePool
    from posekit.data.lifting.retarget import bone_lengths
    from posekit.skeletons import get_skeleton

    sk = get_skeleton("h36m17")
    syn = bone_lengths(SyntheticPosePool(pool_size, seed=0).joints_rel_m, "h36m17") * 1000
    real = RealH36MPoses(root=str(SHARED), subjects=("S1", "S5", "S6", "S7")).joints_rel_m
    real = bone_lengths(real, "h36m17") * 1000
    print("| bone | synthetic mean ± sd mm | real mm | synthetic − real mm |")
    print("|---|--:|--:|--:|")
    for j in range(1, sk.num_joints):
        name = f"{sk.joints[sk.parents[j]]}–{sk.joints[j]}"
        a, sd, b = syn[:, j].mean(), syn[:, j].std(), real[:, j].mean()
        print(f"| {name} | {a:.1f} ± {sd:.1f} | {b:.1f} | {a - b:+.1f} |")
    print()


UPRIGHT_ACTIONS = ("directions", "discussion", "greeting", "waiting")


def conventions(pool_size: int) -> None:
    """Fit and print the trunk-bone direction offsets (anny's standing family -> Human3.6M)."""
    import numpy as np
    import torch

    from posekit.data.lifting import RealH36MPoses, SyntheticPosePool
    from posekit.data.lifting.retarget import (
        H36M_DIRECTION_OFFSETS,
        fit_direction_offsets,
        retarget_bone_lengths,
    )

    syn = SyntheticPosePool(pool_size, seed=0)
    stand = syn.joints_rel_m[np.asarray(syn.labels["family"]) == "stand"]
    real = RealH36MPoses(root=str(SHARED), subjects=("S1", "S5", "S6", "S7"))
    upright = real.joints_rel_m[np.isin(np.asarray(real.labels["action"]), UPRIGHT_ACTIONS)]
    stand = retarget_bone_lengths(stand, "h36m17", "h36m", keep_size=False)
    fitted = fit_direction_offsets(stand, upright)
    print(f"{len(stand)} standing synthetic poses vs {len(upright)} real S1/S5-S7 poses of "
          f"{', '.join(UPRIGHT_ACTIONS)}")  # fmt: skip
    print("| bone | rotation vector (rad, trunk frame x left / y back / z up) | angle deg | "
          "in H36M_DIRECTION_OFFSETS |")  # fmt: skip
    print("|---|---|--:|---|")
    for bone, v in fitted.items():
        deg = float(torch.tensor(v).norm()) * 180 / np.pi
        print(f"| {bone} | {v} | {deg:.1f} | {H36M_DIRECTION_OFFSETS.get(bone)} |")
    print()

    def hip_tilt(j: torch.Tensor) -> np.ndarray:  # the hip line's angle to the horizontal, deg
        h = (j[:, 4] - j[:, 1]).numpy()
        return np.degrees(np.arcsin(np.abs(h[:, 2]) / np.linalg.norm(h, axis=-1)))

    def elbow(j: torch.Tensor) -> np.ndarray:  # inner elbow angle, deg (180: straight arm)
        out = []
        for s, e, w in ((11, 12, 13), (14, 15, 16)):
            a, b = (j[:, s] - j[:, e]).numpy(), (j[:, w] - j[:, e]).numpy()
            cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
        return np.concatenate(out)

    print("| statistic | real S1/S5-S7 (all poses) | synthetic pool (all poses) |")
    print("|---|--:|--:|")
    for label, f, q in (("hip line vs horizontal, p90 deg", hip_tilt, 90),
                        ("hip line vs horizontal, p99 deg", hip_tilt, 99),
                        ("inner elbow angle, median deg", elbow, 50)):  # fmt: skip
        a, b = np.percentile(f(real.joints_rel_m), q), np.percentile(f(syn.joints_rel_m), q)
        print(f"| {label} | {a:.1f} | {b:.1f} |")
    print()


def per_action(runs: dict[str, list[Path]]) -> None:
    """S8 MPJPE per Human3.6M action for each run's best checkpoint (same S8 set as eval), and
    on S8 without the poses that also occur in the training subjects' files."""
    import numpy as np
    import torch

    from posekit.data.lifting import LiftingDataset, RealH36MPoses
    from posekit.engine.evaluate import module_from_checkpoint

    pool = RealH36MPoses(root=str(SHARED), subjects=("S8",))
    data = LiftingDataset(pool, seed=1, fixed=True, coords="pixel")  # the eval set of S8
    batch = next(data.iter_batches(len(data)))
    index = data.pose_index.numpy()
    action = np.asarray(pool.labels["action"])[index]
    # S8 poses equal (to 0.1 mm) to a training subject's pose: the shared files' S8 "smoking"
    # is a copy of S5's, so the real-trained lifter has seen those poses
    train = RealH36MPoses(root=str(SHARED), subjects=("S1", "S5", "S6", "S7")).joints_rel_m

    def keys(j: torch.Tensor) -> list[bytes]:
        return [r.tobytes() for r in np.round(j.numpy().reshape(len(j), -1) * 1e4).astype(np.int64)]

    seen = set(keys(train))
    duplicate = np.array([k in seen for k in keys(pool.joints_rel_m)])[index]
    errors, spread, joint_err, scale = {}, {}, {}, {}
    for name, run_dirs in runs.items():
        per_seed, per_joint, ratio = [], [], []
        for run in run_dirs:
            module, _, _ = module_from_checkpoint(run / "checkpoints" / "best.ckpt")
            with torch.no_grad():
                pred = module.model(batch["keypoints2d"], batch["visibility"])
            dist = (pred["joints3d"] - batch["joints3d"]).norm(dim=-1) * 1000  # (N, J)
            per_seed.append(dist.mean(-1).numpy())
            per_joint.append(dist.mean(0).numpy())
            size = pred["joints3d"].norm(dim=-1).mean(-1) / batch["joints3d"].norm(dim=-1).mean(-1)
            ratio.append(float(size.mean()))
        errors[name] = np.mean(per_seed, axis=0)  # per pose, mean over seeds
        joint_err[name], scale[name] = np.mean(per_joint, axis=0), np.mean(ratio)
        spread[name] = [e[~duplicate].mean() for e in per_seed]
    dup_actions = sorted(set(action[duplicate]))
    print(f"\nS8 without its {duplicate.sum()} poses that duplicate training poses "
          f"({', '.join(dup_actions) or 'none'}): {(~duplicate).sum()} poses\n")  # fmt: skip
    print("| trained on | seeds | MPJPE mm, all S8 | MPJPE mm, S8 without duplicates (per seed) "
          "| vs real |")  # fmt: skip
    print("|---|--:|--:|--:|--:|")
    ref = errors["real"][~duplicate].mean() if "real" in errors else None
    for name, e in errors.items():
        clean = e[~duplicate].mean()
        gap = "—" if ref is None or name == "real" else f"{(clean - ref) / ref * 100:+.1f} %"
        each = ", ".join(f"{v:.1f}" for v in spread[name])
        print(f"| {name} | {len(spread[name])} | {e.mean():.1f} | {clean:.1f} ({each}) | {gap} |")
    from posekit.skeletons import get_skeleton

    print("\nS8 per-joint error (mm) and predicted / true size (mean distance to the root):\n")
    print("| joint | " + " | ".join(joint_err) + " |")
    print("|---|" + "--:|" * len(joint_err))
    for j, joint in enumerate(get_skeleton("h36m17").joints[1:], start=1):
        print(f"| {joint} | " + " | ".join(f"{e[j]:.0f}" for e in joint_err.values()) + " |")
    print("| size ratio | " + " | ".join(f"{v:.3f}" for v in scale.values()) + " |")
    print("\nS8 MPJPE (mm) per action:\n")
    print("| action | poses | " + " | ".join(errors) + " |")
    print("|---|--:|" + "--:|" * len(errors))
    for a in sorted(set(action)):
        k = action == a
        print(f"| {a} | {k.sum()} | " + " | ".join(f"{e[k].mean():.1f}" for e in errors.values())
              + " |")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--pool", type=int, default=200_000, help="synthetic training poses")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "lift_realism")
    p.add_argument("--only", nargs="*", default=None, help="run names to keep")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds per run")
    p.add_argument("--bones", action="store_true", help="print the bone-length table only")
    p.add_argument("--conventions", action="store_true",
                   help="fit and print the trunk-bone direction offsets only")  # fmt: skip
    a = p.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"real poses not found at {SHARED}")
    if a.bones:
        bone_table(a.pool)
        return
    if a.conventions:
        conventions(a.pool)
        return
    common = [
        f"trainer.max_steps={a.steps}",
        f"model.overrides.width={a.width}",
        f"optim.decay_steps={max(1, a.steps // 8)}",
        "trainer.val_every=1000",
    ]
    syn = [f"data.params.num_poses={a.pool}", "data.params.val_poses=5000"]
    runs = {
        "real": ["data.source=real_h36m_poses", "data.params={coords: pixel}"],
        "synthetic": syn,
        "synthetic, H3.6M proportions": [*syn, "data.params.retarget=h36m_proportions"],
        "synthetic, H3.6M bone lengths": [*syn, "data.params.retarget=h36m_lengths"],
        "synthetic, H3.6M skeleton convention": [*syn, "data.params.retarget=h36m"],
    }
    print(f"martinez tiny, width {a.width}, {a.steps} steps, batch 256, seed 0; eval on real S8")
    print("\n| trained on | seed | MPJPE mm | PA-MPJPE mm | N-MPJPE mm | S8 poses | train s |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    results: dict[str, list[float]] = {}
    dirs: dict[str, list[Path]] = {}
    for name, sets in runs.items():
        if a.only and name not in a.only:
            continue
        for seed in a.seeds:
            base = "".join(c if c.isalnum() else "_" for c in name).strip("_")
            run = a.out / (base if seed == 0 else f"{base}_seed{seed}")
            dirs.setdefault(name, []).append(run)
            t0 = time.perf_counter()
            if not (run / "checkpoints" / "best.ckpt").exists():  # a finished run is reused
                _posekit("train", "configs/lift_martinez_tiny.yaml", "--out", str(run), "--set",
                         *common, *sets, f"seed={seed}")  # fmt: skip
            train_s = time.perf_counter() - t0
            out = run / "eval_real_S8.json"
            _posekit("eval", str(run / "checkpoints" / "best.ckpt"), "--data", "real_h36m_poses",
                     "--out", str(out), "--set", "data.val_size=0",
                     "data.val_params={coords: pixel}")  # fmt: skip
            r = json.loads(out.read_text())
            m = r["metrics"]
            results.setdefault(name, []).append(m["mpjpe_mm"])
            print(
                f"| {name} | {seed} | {m['mpjpe_mm']:.1f} | {m['pa_mpjpe_mm']:.1f} | "
                f"{m['n_mpjpe_mm']:.1f} | {r.get('num_samples', '?')} | {train_s:.0f} |"
            )
            sys.stdout.flush()
    if "real" in results:
        print()
        ref = sum(results["real"]) / len(results["real"])
        for name, mms in results.items():
            if name != "real":
                gap = (sum(mms) / len(mms) - ref) / ref * 100
                print(f"{name} vs real-trained on S8 (mean over seeds): {gap:+.1f} % MPJPE "
                      "(goal <= +10 %)")  # fmt: skip
    per_action(dirs)


if __name__ == "__main__":
    main()
