"""A tiny in-test lifting source (no anny, no files): random h36m17 poses seen by one camera.

Used by the engine tests as ``data.source: "engine_toy_data:toy_lift"`` (this folder is on
``sys.path`` under pytest; subprocesses get it through ``PYTHONPATH``). It yields exactly the
keys of the lifting data (keypoints2d normalized, visibility, joints3d root-relative camera
metres, keypoints2d_px, K) through a batched ``sample_batch(B, generator)``, or, with
``finite=N``, as a finite set (``len`` + ``get_batch``).

With ``record_dir``, every ``sample_batch`` call appends ``rank batch_size fingerprint`` to
``record_dir/rank<r>.txt`` so a DDP test can check which data each rank saw.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["HERE", "TOY_SOURCE", "ToyLift", "toy_lift", "toy_overrides"]

TOY_SOURCE = "engine_toy_data:toy_lift"
HERE = Path(__file__).resolve().parent

# A standing h36m17 pose, world frame Z up, metres (pelvis at 1 m).
_TEMPLATE = [
    (0.0, 0.0, 1.0),  # pelvis
    (-0.12, 0.0, 0.98),  # r_hip
    (-0.13, 0.02, 0.55),  # r_knee
    (-0.13, 0.0, 0.1),  # r_ankle
    (0.12, 0.0, 0.98),  # l_hip
    (0.13, 0.02, 0.55),  # l_knee
    (0.13, 0.0, 0.1),  # l_ankle
    (0.0, 0.0, 1.2),  # spine
    (0.0, 0.0, 1.45),  # thorax
    (0.0, -0.05, 1.55),  # neck_nose
    (0.0, 0.0, 1.7),  # head_top
    (0.18, 0.0, 1.42),  # l_shoulder
    (0.22, 0.05, 1.15),  # l_elbow
    (0.24, 0.1, 0.9),  # l_wrist
    (-0.18, 0.0, 1.42),  # r_shoulder
    (-0.22, 0.05, 1.15),  # r_elbow
    (-0.24, 0.1, 0.9),  # r_wrist
]
_W = 1000.0


class ToyLift:
    """Random poses (template + yaw + per-joint offsets) through a fixed pinhole camera."""

    skeleton = "h36m17"
    coords = "pixel"

    def __init__(self, split: str, finite: int = 0, record_dir: str | None = None) -> None:
        self.split = split
        self.record_dir = Path(record_dir) if record_dir else None
        self.K = torch.tensor([[1150.0, 0.0, 499.5], [0.0, 1150.0, 499.5], [0.0, 0.0, 1.0]])
        self._finite: dict[str, torch.Tensor] | None = None
        if finite:
            gen = torch.Generator().manual_seed(1234 if split == "train" else 4321)
            self._finite = self._make(int(finite), gen)

    def _make(self, B: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        template = torch.tensor(_TEMPLATE)  # (J, 3)
        yaw = (torch.rand(B, generator=generator) * 2 - 1) * math.pi  # (B,)
        offsets = 0.08 * torch.randn(B, 17, 3, generator=generator)  # (B, J, 3)
        offsets[:, 0] = 0.0
        pose = template + offsets  # (B, J, 3) world
        pose = pose - pose[:, :1]
        c, s = yaw.cos(), yaw.sin()
        x = c[:, None] * pose[..., 0] - s[:, None] * pose[..., 1]
        y = s[:, None] * pose[..., 0] + c[:, None] * pose[..., 1]
        z = pose[..., 2]
        # Camera looking along world +y, 5 m away: cam x = world x, cam y = -world z.
        cam = torch.stack([x, -z, y + 5.0], dim=-1)  # (B, J, 3) camera metres
        K = self.K
        px = cam[..., :2] / cam[..., 2:] * K[0, 0] + K[:2, 2]  # (B, J, 2)
        return {
            "keypoints2d": px / _W * 2.0 - 1.0,
            "visibility": torch.ones(B, 17, dtype=torch.bool),
            "joints3d": cam - cam[:, :1],
            "keypoints2d_px": px,
            "K": K.expand(B, 3, 3).clone(),
        }

    def sample_batch(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        batch = self._make(int(batch_size), generator)
        if self.record_dir is not None:
            rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
            fp = float(batch["keypoints2d"].sum())
            with open(self.record_dir / f"rank{rank}.txt", "a") as fh:
                fh.write(f"{rank} {batch_size} {fp:.6f} {os.getpid()}\n")
        return batch

    def __len__(self) -> int:
        if self._finite is None:
            raise TypeError("not a finite set")
        return int(self._finite["keypoints2d"].shape[0])

    def get_batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self._finite is not None
        idx = torch.as_tensor(index, dtype=torch.long)
        return {k: v[idx] for k, v in self._finite.items()}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.get_batch(torch.tensor([i])).items()}


def toy_lift(split: str, seed: int, *, finite: int = 0, record_dir: str | None = None) -> ToyLift:
    """The data-source factory: ``toy_lift(split, seed, finite=0, record_dir=None)``."""
    if finite:
        return _FiniteOnly(split, finite, record_dir)
    return ToyLift(split, finite, record_dir)


class _FiniteOnly(ToyLift):
    def __getattribute__(self, name: str):  # hide sample_batch: a finite set only
        if name == "sample_batch":
            raise AttributeError(name)
        return super().__getattribute__(name)


def toy_overrides(out: Path | str, **extra: object) -> list[str]:
    """``--set`` items of a fast CPU run on the toy source (a few steps, small batches)."""
    items = {
        "name": "toy",
        "data.source": TOY_SOURCE,
        "data.params": "{}",
        "data.val_size": 256,
        "data.stats_size": 512,
        "trainer.max_steps": 12,
        "trainer.batch_size": 32,
        "trainer.val_every": 4,
        "trainer.checkpoint_every": 4,
        "trainer.log_every": 1,
        "trainer.accelerator": "cpu",
        "trainer.progress_bar": False,
        "output_dir": str(out),
    }
    items.update(extra)
    return [f"{k}={v}" for k, v in items.items()]
