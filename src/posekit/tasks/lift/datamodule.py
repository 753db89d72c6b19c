"""The DataModule of the ``lift`` task: data sources by name → training stream + validation set.

``data.source`` (and ``data.val_source``) name a registered data source
(`posekit.engine.sources`; the family's own are in `posekit.tasks.lift.sources`):
``synthetic_lift`` (synthetic poses through virtual cameras), ``real_h36m_poses`` (real
Human3.6M poses through virtual cameras), ``h36m_npz`` (Human3.6M preprocessed npz), or any
``"module:factory"``. The training loader yields whole batches (`TrainStream`, step-indexed, so
resuming and DDP are exact); the validation set is built once and kept in memory; each rank
validates its shard of it (`shard_for_rank`) and the `TaskModule` loop gathers the results.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import Tensor
from torch.utils.data import DataLoader

from posekit.engine.base import shard_for_rank, val_source
from posekit.engine.config import ExperimentConfig
from posekit.engine.sources import build_source
from posekit.tasks.lift.batches import TensorBatches, TrainStream, input_statistics, materialize

__all__ = ["LiftDataModule", "build_lift_val_set"]

#: Validation batch size: inference only, so larger than training batches.
VAL_BATCH_SIZE = 2048


def build_lift_val_set(
    config: ExperimentConfig, source: str | None = None, params: dict[str, Any] | None = None
) -> dict[str, Tensor]:
    """The validation set of ``config`` (or of ``source`` / ``params`` when given).

    Shapes:
        return: ``{"keypoints2d": (N, J, 2), "visibility": (N, J), "joints3d": (N, J, 3)}``.
    """
    name, params = val_source(config, source, params)
    src = build_source(name, "val", config.seed, params, task="lift")
    return materialize(src, config.data.val_size)


class LiftDataModule(L.LightningDataModule):
    """Training stream and validation set of a ``lift`` experiment.

    Args:
        config: the experiment (``data`` section; ``trainer.batch_size``, ``num_workers``).
    """

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        self.config = config
        self.train_source: Any = None
        self.val_set: dict[str, Tensor] | None = None

    def setup(self, stage: str) -> None:
        d = self.config.data
        if stage == "fit" and self.train_source is None:
            self.train_source = build_source(d.source, "train", self.config.seed, d.params, "lift")
        if stage in ("fit", "validate") and self.val_set is None:
            if stage == "validate" or self.config.trainer.val_every > 0:
                self.val_set = build_lift_val_set(self.config)

    @property
    def skeleton(self) -> str | None:
        """The joint layout the training source declares (``source.skeleton``), if any."""
        sk = getattr(self.train_source, "skeleton", None)
        return getattr(sk, "name", sk)

    @property
    def coords(self) -> str | None:
        """The input coordinates the training source declares (``source.coords``), if any."""
        return getattr(self.train_source, "coords", None)

    def input_statistics(self) -> tuple[Tensor, Tensor]:
        """Per-joint (J, 2) mean and std of the training inputs (``data.stats_size`` samples)."""
        if self.train_source is None:
            self.setup("fit")
        return input_statistics(self.train_source, self.config.data.stats_size, self.config.seed)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world, step = (
            (0, 1, 0)
            if trainer is None
            else (
                trainer.global_rank,
                trainer.world_size,
                trainer.global_step,  # restored before the loader is built: resumes continue
            )
        )
        t = self.config.trainer
        stream = TrainStream(self.train_source, t.batch_size, self.config.seed, rank, world, step)
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=t.num_workers,
            persistent_workers=t.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        tr = self.trainer
        rank, world = (0, 1) if tr is None else (tr.global_rank, tr.world_size)
        n = len(next(iter(self.val_set.values())))
        idx = shard_for_rank(n, rank, world)
        shard = {k: v[idx] for k, v in self.val_set.items()}
        return DataLoader(TensorBatches(shard, VAL_BATCH_SIZE), batch_size=None)
