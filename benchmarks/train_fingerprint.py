"""Fingerprint a short training run: its validation metrics and a hash of its final weights,
to compare two versions of posekit (e.g. before and after a refactor) on one machine.

Run it once per tree, the same file with each tree's ``src`` first on ``PYTHONPATH``:

    OMP_NUM_THREADS=1 PYTHONPATH=OLD/src python benchmarks/train_fingerprint.py --task pose2d
    OMP_NUM_THREADS=1 PYTHONPATH=NEW/src python benchmarks/train_fingerprint.py --task pose2d

Cases (each tree's own ``configs/`` file, so the config layout may differ between trees):

- ``lift``: the demo's lifter (``lift_martinez_tiny.yaml`` with ``posekit demo``'s sizes:
  20,000 training poses, 3000 steps, validation on 2,048 pairs);
- ``pose2d`` / ``bottomup``: the tiny hourglass, 30 steps (batch 8 / 4) on a small fixed
  synthetic set rendered into ``--data`` by the first run (later runs, of either tree, read
  the same files, so the data cannot differ). Run the older tree first: a newer manifest
  (with ``num_bytes``) is not read by an older posekit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import torch

CASES = {
    "lift": (
        "lift_martinez_tiny.yaml",
        [
            "data.params.num_poses=20000",
            "data.params.val_poses=2000",
            "data.val_size=2048",
            "trainer.max_steps=3000",
            "trainer.val_every=1000",
        ],
        None,
    ),
    "pose2d": (
        "pose2d_hourglass_tiny.yaml",
        ["trainer.max_steps=30", "trainer.val_every=30", "trainer.batch_size=8"],
        {"num": 64, "val_num": 16, "size": [128, 128], "progress": False},
    ),
    "bottomup": (
        "bottomup_hourglass_tiny.yaml",
        ["trainer.max_steps=30", "trainer.val_every=30", "trainer.batch_size=4"],
        {"num": 32, "val_num": 8, "people": [2, 3], "size": [128, 128], "progress": False},
    ),
}


def weights_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors of a state dict, by sorted name."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(CASES), default=None, help="default: all three")
    p.add_argument("--data", type=Path, default=Path("runs/fingerprint_data"))
    args = p.parse_args()
    torch.set_num_threads(1)
    for task in [args.task] if args.task else sorted(CASES):
        fingerprint(task, args.data)


def fingerprint(task: str, data_root: Path) -> None:
    """Train case ``task`` and print its metrics and weights hash."""
    import posekit
    from posekit.engine.config import load_config
    from posekit.engine.run import train

    config_name, sets, data = CASES[task]
    sets = [*sets, "trainer.num_workers=0", "trainer.progress_bar=false", "name=fingerprint"]
    if data is not None:
        root = data_root.resolve() / task
        sets.append(f"data.params={json.dumps({'root': str(root), **data})}")
    configs = Path(posekit.__file__).resolve().parents[2] / "configs"
    config = load_config(configs / config_name, sets)
    with tempfile.TemporaryDirectory() as out:
        result = train(config, Path(out), progress=False)
        ckpt = torch.load(result.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    metrics = {k: round(float(v), 8) for k, v in sorted(result.metrics.items())}
    print(f"posekit at {Path(posekit.__file__).parent}")
    print(f"{task}: step {result.global_step}, metrics {metrics}")
    print(f"{task}: weights sha256 {weights_sha256(ckpt['state_dict'])}")


if __name__ == "__main__":
    main()
