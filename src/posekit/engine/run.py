"""Training runs: the run directory, the Lightning Trainer, and `train` (fit, resume, report).

A run directory holds::

    <run>/config.yaml            the resolved experiment (what was trained)
    <run>/checkpoints/last.ckpt  every trainer.checkpoint_every steps and at the end
    <run>/checkpoints/best.ckpt  best validation score so far (the task's ``monitor`` metric)
    <run>/csv/metrics.csv        CSVLogger
    <run>/tb/events.*            TensorBoardLogger (``tensorboard --logdir <run>``)

Resuming (``resume=True``) continues ``last.ckpt``: weights, optimizer, schedule, step counter,
the best score so far; the data stream continues at the restored step (see
`posekit.engine.seeding`), so the resumed run ends with the weights of an uninterrupted one
(CPU, same seed).

Multi-device: ``trainer.devices`` / ``num_nodes`` / ``strategy`` go to Lightning. With
``strategy: ddp`` Lightning re-launches the running command once per extra local device
(run it as a script or ``python -m``), or take the processes from ``torchrun`` / SLURM; CPU
processes talk over gloo.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from posekit.engine.base import TaskEvaluation, get_task
from posekit.engine.checkpoint import (
    LAST,
    AtomicCheckpointIO,
    CheckpointError,
    RunCheckpoint,
    atomic_write,
    check_compatible,
    checkpoint_dir,
    load_checkpoint,
)
from posekit.engine.config import ExperimentConfig, config_diff, config_to_dict, dump_config
from posekit.engine.progress import StepProgressBar
from posekit.models import model_config

__all__ = [
    "ResumeInfo",
    "TrainResult",
    "build_trainer",
    "find_resume",
    "is_rank_zero",
    "train",
]

#: Lightning's advice that does not apply to posekit's runs (step-indexed batch streams
#: built in the main process are fast; validation is deliberately not sharded).
_QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*Experiment logs directory .* exists and is not empty.*",
    r".*sync_dist=True.*",
    r".*resuming from a checkpoint that ended before the epoch ended.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
)


class _DropTips(logging.Filter):
    """Drops Lightning's advertising tips ("💡 Tip: ...") from its info log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡")


_RANK_ZERO_LOG = logging.getLogger("lightning.pytorch.utilities.rank_zero")
if not any(isinstance(f, _DropTips) for f in _RANK_ZERO_LOG.filters):
    _RANK_ZERO_LOG.addFilter(_DropTips())


def is_rank_zero() -> bool:
    """True in the process of global rank 0 (or a single process), from the launch env."""
    return rank_zero_only.rank == 0


@dataclass
class TrainResult:
    """What a finished run reports.

    Attributes:
        run_dir: the run directory.
        best_checkpoint: path of ``best.ckpt`` ("" when nothing was validated).
        last_checkpoint: path of ``last.ckpt``.
        global_step: steps done.
        metrics: the last validation's summary (``mpjpe_mm``, ...), {} without validation.
        evaluation: the last validation's full `TaskEvaluation` (per joint), or None.
        resumed_from: the checkpoint the run continued, or None.
    """

    run_dir: Path
    best_checkpoint: str
    last_checkpoint: str
    global_step: int
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: TaskEvaluation | None = None
    resumed_from: Path | None = None


@dataclass
class ResumeInfo:
    """The checkpoint a run continues from.

    Attributes:
        path: ``<run>/checkpoints/last.ckpt``.
        step: its global step.
        changes: experiment settings that differ from the checkpoint's (``"key: old -> new"``),
            e.g. a longer ``trainer.max_steps``; the model's settings cannot change.
    """

    path: Path
    step: int
    changes: list[str] = field(default_factory=list)


def find_resume(config: ExperimentConfig, run_dir: str | Path) -> ResumeInfo | None:
    """The ``last.ckpt`` of ``run_dir`` to continue, checked against ``config``; None if none.

    Raises:
        CheckpointError: the file is unreadable, holds another task or model, or the model's
            settings differ (the weights would not fit).
    """
    path = checkpoint_dir(run_dir) / LAST
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    meta = ckpt["posekit"]
    check_compatible(meta, config.task, config.model.name, path)
    m = config.model
    built = config_to_dict(model_config(m.name, m.preset, **m.overrides))
    held = meta["model"].get("config", built)
    if built != held:
        raise CheckpointError(
            f"{path}: was trained with other {m.name} settings ("
            f"{'; '.join(config_diff(held, built))}); resume with the model settings it has"
        )
    changes = config_diff(meta["experiment"], config_to_dict(config))
    return ResumeInfo(path, int(ckpt.get("global_step", 0)), changes)


def build_trainer(
    config: ExperimentConfig,
    run_dir: Path,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
) -> tuple[L.Trainer, RunCheckpoint]:
    """The Lightning Trainer of a run, and its checkpoint callback.

    Args:
        config: the experiment (``trainer`` and ``optim.grad_clip_norm`` are used).
        run_dir: where checkpoints and logs go.
        callbacks: extra callbacks (tests, profiling).
        progress: progress bars and the model summary (overrides ``trainer.progress_bar``).
    """
    t = config.trainer
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    if not progress:
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    monitor, mode = get_task(config.task).monitor
    ckpt = RunCheckpoint(
        checkpoint_dir(run_dir), t.checkpoint_interval, t.val_every, t.max_steps, monitor, mode
    )
    cbs: list[Callback] = [ckpt, *callbacks]
    if progress:
        cbs.append(StepProgressBar(refresh_rate=max(1, min(t.log_every, 20))))
    loggers = [
        CSVLogger(run_dir, name="", version="csv"),
        TensorBoardLogger(run_dir, name="", version="tb", default_hp_metric=False),
    ]
    trainer = L.Trainer(
        max_steps=t.max_steps,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,  # type: ignore[arg-type]
        logger=loggers,
        callbacks=cbs,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
        log_every_n_steps=t.log_every,
        val_check_interval=t.val_every if t.val_every > 0 else None,
        check_val_every_n_epoch=None,
        limit_val_batches=None if t.val_every > 0 else 0,
        num_sanity_val_steps=0,
        gradient_clip_val=config.optim.grad_clip_norm,
        deterministic=t.deterministic,
        enable_progress_bar=progress,
        enable_model_summary=progress,
        use_distributed_sampler=False,  # the data module shards the training stream itself
    )
    return trainer, ckpt


def _write_config(config: ExperimentConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / "config.yaml", dump_config(config).encode())


def train(
    config: ExperimentConfig,
    run_dir: str | Path | None = None,
    resume: bool | ResumeInfo = False,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
) -> TrainResult:
    """Train (or resume) one experiment.

    Args:
        config: the resolved experiment.
        run_dir: the run directory; default ``config.run_dir``.
        resume: continue ``<run_dir>/checkpoints/last.ckpt`` if it exists (else start fresh);
            a `ResumeInfo` from `find_resume` saves reading the checkpoint twice.
        callbacks: extra Lightning callbacks.
        progress: progress bars; default ``config.trainer.progress_bar``.

    Returns:
        A `TrainResult` (on every rank; only rank 0 writes files).

    Raises:
        ValueError: the run directory already holds a checkpoint and ``resume`` is False, or
            the checkpoint to resume is of another task / model.
    """
    run_dir = Path(run_dir) if run_dir is not None else config.run_dir
    progress = config.trainer.progress_bar if progress is None else progress
    info = resume if isinstance(resume, ResumeInfo) else None
    if resume is True:
        info = find_resume(config, run_dir)
    ckpt_path = info.path if info is not None else None
    if not resume and (checkpoint_dir(run_dir) / LAST).exists():
        raise ValueError(
            f"{run_dir} already holds a run ({checkpoint_dir(run_dir) / LAST}); continue it "
            "with --resume, or write elsewhere with --out"
        )
    L.seed_everything(config.seed, workers=True, verbose=False)
    task_cls = get_task(config.task)
    module = task_cls(config)
    datamodule = task_cls.build_datamodule(config)
    trainer, ckpt = build_trainer(config, run_dir, callbacks, progress)
    if trainer.is_global_zero:
        _write_config(config, run_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    evaluation = getattr(module, "last_evaluation", None)
    metrics = {
        k.removeprefix("val/"): float(v)
        for k, v in trainer.callback_metrics.items()
        if k.startswith("val/")
    }
    return TrainResult(
        run_dir=run_dir,
        best_checkpoint=ckpt.best_model_path,
        last_checkpoint=ckpt.last_model_path,
        global_step=trainer.global_step,
        metrics=metrics,
        evaluation=evaluation,
        resumed_from=ckpt_path,
    )
