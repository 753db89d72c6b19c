"""What every task's LightningModule shares: the model from the registry, the optimizer and
schedule, max-norm after each step, per-step seeding, the one validation loop, and the
checkpoint's posekit metadata.

A task family is one subclass of `TaskModule` in ``posekit/tasks/<name>/``, registered by its
`posekit.engine.tasks.TaskSpec`. A subclass sets ``task``, ``monitor`` and ``logged_metrics``
and implements ``training_step``, `validation_result` (one batch → a result on the CPU),
`evaluate_results` (all results → a `TaskEvaluation`), `build_datamodule` and
`evaluation_batches`. The base runs validation (`on_validation_epoch_end`: collect, gather
across ranks, evaluate once, log) and `evaluate` (the same two methods outside Lightning).

Checkpoint metadata (``checkpoint["posekit"]``, written by `TaskModule.on_save_checkpoint`)::

    {"format": 2, "version": "0.1.0", "task": "lift",
     "model": {"name": "martinez", "preset": "tiny", "overrides": {...}, "config": {...}},
     "experiment": {... the full resolved ExperimentConfig ...}}

so that ``posekit eval`` / ``predict`` / ``export`` rebuild the model without the YAML file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from posekit.engine.config import ExperimentConfig, config_to_dict
from posekit.engine.optim import build_optimizer, build_scheduler
from posekit.engine.seeding import STREAM_STEP, derive_seed
from posekit.engine.tasks import get_task_spec, list_tasks
from posekit.metrics.evaluation import TaskEvaluation
from posekit.models import create_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "METADATA_KEY",
    "TaskEvaluation",
    "TaskModule",
    "get_task",
    "list_tasks",
    "shard_for_rank",
    "val_source",
]

METADATA_KEY = "posekit"
#: Version of ``checkpoint["posekit"]``: 2 types the ``loss`` / ``codec`` / ``eval`` sections
#: per task (format 1 checkpoints are migrated on load, `posekit.engine.checkpoint`).
CHECKPOINT_FORMAT = 2


def get_task(name: str) -> type[TaskModule]:
    """The `TaskModule` subclass of a task family (through its `TaskSpec`).

    Raises:
        ValueError: unknown task (the message lists the known ones).
    """
    return get_task_spec(name).module_class()


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
    #: The logged validation metric that selects ``best.ckpt``, and ``min`` or ``max``.
    monitor: ClassVar[tuple[str, str]] = ("val/loss", "min")
    #: Summary metrics of `evaluate_results` logged as ``val/<key>`` (non-finite ones are not).
    logged_metrics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        if config.task != self.task:
            raise ValueError(
                f"{type(self).__name__} trains task {self.task!r}, not {config.task!r}"
            )
        self.experiment = config
        m = config.model
        self.model: nn.Module = create_model(m.name, m.preset, **m.overrides)
        self._val_results: list[Any] = []
        self.last_evaluation: TaskEvaluation | None = None

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

    def validation_result(self, batch: Any) -> Any:
        """The model's result on one validation batch, on the CPU (what `evaluate_results`
        takes a list of)."""
        raise NotImplementedError

    def evaluate_results(self, results: list[Any]) -> TaskEvaluation:
        """Metrics (and per-joint tables) of the results of every validation batch."""
        raise NotImplementedError

    def evaluate(
        self,
        batches: Iterable[Any],
        progress: bool = True,
        total: int | None = None,
    ) -> TaskEvaluation:
        """Run the model (eval mode) over ``batches``: `evaluate_results` of the
        `validation_result` of every batch."""
        return self.evaluate_results(
            self.map_batches(batches, self.validation_result, progress, total)
        )

    @torch.no_grad()
    def map_batches(
        self,
        batches: Iterable[Any],
        fn: Callable[[Any], Any],
        progress: bool = True,
        total: int | None = None,
    ) -> list[Any]:
        """``[fn(batch) for batch in batches]`` with the model in eval mode (restored after),
        no gradients and a progress bar: the loop of `evaluate`.

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

    # --- the validation loop ----------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self._val_results = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._val_results.append(self.validation_result(batch))

    def gather_results(self, results: list[Any]) -> list[Any]:
        """Every rank's results, in rank order (each rank validates its own shard of the
        validation set, `shard_for_rank`); ``results`` itself on a single process."""
        trainer = self._trainer
        if trainer is None or trainer.world_size <= 1:
            return results
        gathered: list[Any] = [None] * trainer.world_size
        torch.distributed.all_gather_object(gathered, results)
        return [r for part in gathered for r in part]

    def on_validation_epoch_end(self) -> None:
        results = self.gather_results(self._val_results)
        self._val_results = []
        if not results:
            return
        ev = self.evaluate_results(results)
        main = self.monitor[0].removeprefix("val/")
        for key in self.logged_metrics:
            v = float(ev.metrics.get(key, math.nan))
            if math.isfinite(v):
                # Every rank evaluated the gathered results: the values agree across ranks.
                self.log(f"val/{key}", v, prog_bar=key == main, sync_dist=True)
        if not self.trainer.sanity_checking:
            self.last_evaluation = ev

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

    def log_loss_terms(self, terms: Mapping[str, Tensor], batch_size: int) -> Tensor:
        """Log ``terms["loss"]`` as ``train/loss`` (progress bar) and every other term as
        ``train/<name>``, and the learning rate; returns the loss."""
        self.log("train/loss", terms["loss"], prog_bar=True, batch_size=batch_size)
        for k, v in terms.items():
            if k != "loss":
                self.log(f"train/{k}", v, batch_size=batch_size)
        self.log_lr()
        return terms["loss"]

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


def shard_for_rank(num: int, rank: int, world: int) -> list[int]:
    """The indices of ``range(num)`` that rank ``rank`` of ``world`` validates: every
    ``world``-th one from ``rank`` (disjoint, together all of them, no padding)."""
    return list(range(rank, num, world))
