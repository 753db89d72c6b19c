"""The DataModule of the ``lift`` task: data sources by name → training stream + validation set.

``data.source`` (and ``data.val_source``) name a registered data source
(`posekit.engine.sources`; the family's own are in `posekit.tasks.lift.sources`):
``synthetic_lift`` (synthetic poses through virtual cameras), ``real_h36m_poses`` (real
Human3.6M poses through virtual cameras), ``h36m_npz`` (Human3.6M preprocessed npz),
``keypoints_file`` (a user's 2D + K + 3D file), or any ``"module:factory"``. The training
loader yields whole batches (`TrainStream`, step-indexed, so resuming and DDP are exact); the
validation set is built once and kept in memory; each rank validates its shard of it
(`shard_for_rank`) and the `TaskModule` loop gathers the results.

Where the validation source gives pixels and intrinsics (``keypoints2d_px``, ``K``: every
built-in source does), the model's input is made from them by
`posekit.tasks.lift.inputs.lifter_inputs`, the function ``posekit predict`` uses: training
validation, ``posekit eval`` and ``posekit predict`` score the same input on any camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
from torch import Tensor
from torch.utils.data import DataLoader

from posekit.engine.base import shard_for_rank, val_source
from posekit.engine.config import ExperimentConfig
from posekit.engine.sources import build_source
from posekit.tasks.lift.batches import (
    TensorBatches,
    TrainStream,
    input_statistics,
    is_drawn,
    materialize,
)
from posekit.tasks.lift.inputs import TrainingCamera, lifter_inputs

__all__ = ["LiftDataModule", "LiftEvalSet", "build_lift_val_set", "lift_eval_set"]

#: Validation batch size: inference only, so larger than training batches.
VAL_BATCH_SIZE = 2048


@dataclass
class LiftEvalSet:
    """A lifter's validation / evaluation set and how much of its source it covers.

    Attributes:
        tensors: ``{"keypoints2d": (N, J, 2) model input, "visibility": (N, J), "joints3d":
            (N, J, 3)}``.
        source: the data source's name.
        num_available: items of the source (None: an unlimited sampler).
        drawn: True where the N samples were drawn at random (with replacement) from a
            sampler, False where they are N of the source's items, evenly spaced.
    """

    tensors: dict[str, Tensor]
    source: str
    num_available: int | None
    drawn: bool


def lift_eval_set(
    config: ExperimentConfig, source: str | None = None, params: dict[str, Any] | None = None
) -> LiftEvalSet:
    """The validation set of ``config`` (or of ``source`` / ``params`` when given), with the
    model's input made by `lifter_inputs` wherever the source gives pixels and intrinsics.

    Raises:
        ValueError: the source's joint layout (``source.skeleton``) is not the model's.
    """
    from posekit.models import model_config

    name, params = val_source(config, source, params)
    src = build_source(name, "val", config.seed, params, task="lift")
    m = config.model
    model = model_config(m.name, m.preset, **m.overrides)
    model_skeleton = getattr(model, "skeleton", None)
    skeleton = getattr(src, "skeleton", None)
    skeleton = getattr(skeleton, "name", skeleton)
    if skeleton is not None and model_skeleton is not None and skeleton != model_skeleton:
        raise ValueError(
            f"data source {name!r} yields {skeleton} joints, but the model predicts "
            f"{model_skeleton} joints"
        )
    size = config.data.val_size
    tensors = materialize(src, size)
    px, K = tensors.pop("keypoints2d_px", None), tensors.pop("K", None)
    if px is not None and K is not None:
        coords = getattr(model, "input_coords", "pixel")
        camera = TrainingCamera.from_params(config.data.params)
        tensors["keypoints2d"] = lifter_inputs(px, K, tensors["visibility"], coords, camera)
    try:
        available: int | None = len(src)
    except TypeError:  # an unlimited sampler (no len, or one that refuses)
        available = None
    return LiftEvalSet(tensors, name, available, is_drawn(src, size))


def build_lift_val_set(
    config: ExperimentConfig, source: str | None = None, params: dict[str, Any] | None = None
) -> dict[str, Tensor]:
    """The tensors of `lift_eval_set`.

    Shapes:
        return: ``{"keypoints2d": (N, J, 2), "visibility": (N, J), "joints3d": (N, J, 3)}``.
    """
    return lift_eval_set(config, source, params).tensors


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
