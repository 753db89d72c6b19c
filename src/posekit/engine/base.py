"""What every task's LightningModule shares: the model from the registry, the optimizer and
schedule, max-norm after each step, per-step seeding, and the checkpoint's posekit metadata.

A task family (``lift``; later ``pose2d``, ``pose3d``, ``mesh``, ``hand``) is one subclass of
`TaskModule` in its own file, registered in `_TASKS` by import path so that only the task in
use is imported. A subclass sets ``task``, implements ``training_step`` / ``validation_step``
(and the validation metrics), `build_datamodule` and `evaluate`.

Checkpoint metadata (``checkpoint["posekit"]``, written by `TaskModule.on_save_checkpoint`)::

    {"format": 1, "version": "0.1.0", "task": "lift",
     "model": {"name": "martinez", "preset": "tiny", "overrides": {...}, "config": {...}},
     "experiment": {... the full resolved ExperimentConfig ...}}

so that ``posekit eval`` / ``predict`` / ``export`` rebuild the model without the YAML file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from posekit.engine.config import ExperimentConfig, config_to_dict
from posekit.engine.optim import build_optimizer, build_scheduler
from posekit.engine.seeding import STREAM_STEP, derive_seed
from posekit.models import create_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "METADATA_KEY",
    "TaskEvaluation",
    "TaskModule",
    "get_task",
    "list_tasks",
    "val_source",
]

METADATA_KEY = "posekit"
CHECKPOINT_FORMAT = 1

#: Task families: name → "module:LightningModule class" (imported on first use).
_TASKS: dict[str, str] = {
    "lift": "posekit.engine.lift:LiftModule",
    "pose2d": "posekit.engine.pose2d:Pose2DModule",
    "bottomup": "posekit.engine.bottomup:BottomUpModule",
}


def list_tasks() -> list[str]:
    """Task families the engine can train and evaluate."""
    return sorted(_TASKS)


def get_task(name: str) -> type[TaskModule]:
    """The `TaskModule` subclass of a task family.

    Raises:
        ValueError: unknown task (the message lists the known ones).
    """
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(list_tasks())}")
    module, _, cls = _TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


@dataclass
class TaskEvaluation:
    """Evaluation results of a task on one data set.

    Attributes:
        metrics: summary numbers with units in the keys (``mpjpe_mm``, ...).
        per_joint: column name → per-joint values (J,), in the unit of the column name.
        skeleton: the joint layout naming the per-joint rows.
        num_samples: samples evaluated.
    """

    metrics: dict[str, float | int]
    per_joint: dict[str, Tensor] = field(default_factory=dict)
    skeleton: str = ""
    num_samples: int = 0


class TaskModule(L.LightningModule):
    """Base LightningModule of a task family (see the module docstring).

    Args:
        config: the experiment; its ``model`` section builds ``self.model`` through
            `posekit.models.create_model`.

    Attributes:
        experiment: the resolved `ExperimentConfig`.
        model: the registered model.
    """

    task: ClassVar[str] = ""
    #: The logged validation metric that selects ``best.ckpt``, and whether lower is better.
    monitor: ClassVar[tuple[str, str]] = ("val/loss", "min")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        if config.task != self.task:
            raise ValueError(
                f"{type(self).__name__} trains task {self.task!r}, not {config.task!r}"
            )
        self.experiment = config
        m = config.model
        self.model: nn.Module = create_model(m.name, m.preset, **m.overrides)

    # --- task interface -------------------------------------------------------------------

    @classmethod
    def build_datamodule(cls, config: ExperimentConfig) -> L.LightningDataModule:
        """The task's DataModule for ``config``."""
        raise NotImplementedError

    @classmethod
    def evaluation_batches(
        cls,
        config: ExperimentConfig,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Iterable[Mapping[str, Tensor]], int]:
        """The validation batches of ``config`` (or of data source ``source`` with ``params``)
        and their count."""
        raise NotImplementedError

    def evaluate(
        self,
        batches: Iterable[Mapping[str, Tensor]],
        progress: bool = True,
        total: int | None = None,
    ) -> TaskEvaluation:
        """Metrics (and per-joint tables) of the model on ``batches``."""
        raise NotImplementedError

    @torch.no_grad()
    def map_batches(
        self,
        batches: Iterable[Any],
        fn: Callable[[Any], Any],
        progress: bool = True,
        total: int | None = None,
    ) -> list[Any]:
        """``[fn(batch) for batch in batches]`` with the model in eval mode (restored after),
        no gradients and a progress bar: the loop of every task's `evaluate`.

        Raises:
            ValueError: ``batches`` is empty.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            parts = [
                fn(b)
                for b in tqdm(batches, total=total, desc="eval", disable=not progress, unit="batch")
            ]
        finally:
            self.model.train(was_training)
        if not parts:
            raise ValueError("evaluation data is empty")
        return parts

    # --- optimization ---------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        opt = build_optimizer(self.model, self.experiment.optim)
        sched = build_scheduler(opt, self.experiment.optim, self.experiment.trainer.max_steps)
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1},
        }

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimizer step, then the model's max-norm constraint when it has one."""
        super().optimizer_step(*args, **kwargs)
        apply_max_norm = getattr(self.model, "apply_max_norm", None)
        if apply_max_norm is not None:
            apply_max_norm()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Dropout (and any other global-RNG draw) of step s depends on (seed, rank, s) only:
        # a resumed run repeats the uninterrupted run exactly (posekit.engine.seeding).
        torch.manual_seed(
            derive_seed(self.experiment.seed, STREAM_STEP, self.global_rank, self.global_step)
        )

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Asking to stop at the last step makes Lightning validate it (its loop validates a
        # step when a stop is requested), so the run always ends with validation metrics.
        if self.global_step >= self.experiment.trainer.max_steps:
            self.trainer.should_stop = True

    def log_lr(self) -> None:
        """Log the current learning rate as ``train/lr``."""
        opt = self.optimizers()
        lr = opt.param_groups[0]["lr"]  # type: ignore[union-attr]
        self.log("train/lr", lr, on_step=True, on_epoch=False)

    # --- checkpoints ----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The ``checkpoint["posekit"]`` entry (see the module docstring)."""
        from posekit import __version__

        m = self.experiment.model
        return {
            "format": CHECKPOINT_FORMAT,
            "version": __version__,
            "task": self.task,
            "model": {
                "name": m.name,
                "preset": m.preset,
                "overrides": config_to_dict(m.overrides),
                "config": config_to_dict(getattr(self.model, "config", {})),
            },
            "experiment": config_to_dict(self.experiment),
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[METADATA_KEY] = self.metadata()


def val_source(
    config: ExperimentConfig, source: str | None = None, params: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The validation data source of ``config`` and its parameters: ``source`` (default
    ``data.val_source``, else ``data.source``) with ``params`` (default ``data.val_params``,
    else ``data.params``)."""
    d = config.data
    if params is None:
        params = d.val_params if d.val_params is not None else d.params
    return source or d.val_source or d.source, dict(params)
