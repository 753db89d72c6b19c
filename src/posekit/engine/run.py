"""Training runs: the run directory, the Lightning Trainer, and `train` (fit, resume, report).

A run directory holds::

    <run>/config.yaml            the resolved experiment (what was trained)
    <run>/checkpoints/last.ckpt  every trainer.checkpoint_every steps and at the end
    <run>/checkpoints/best.ckpt  best validation score so far (the task's ``monitor`` metric)
    <run>/csv/metrics.csv        one row per logging call (`MetricsCSV`)
    <run>/tb/events.*            TensorBoardLogger (``tensorboard --logdir <run>``)
    <run>/.posekit.lock          held while a run writes here (`checkpoint.RunLock`)

Resuming (``resume=True``) continues ``last.ckpt``: weights, optimizer, schedule, step counter,
the best score so far; the data stream continues at the restored step (see
`posekit.engine.seeding`), so the resumed run ends with the weights of an uninterrupted one
(CPU, same seed). The logs continue too: ``metrics.csv`` keeps the rows of the steps the
checkpoint holds and drops those logged after it (the resumed run logs them again), so the
CSV of a killed and resumed run equals an uninterrupted run's. TensorBoard gets one more event
file per launch in ``tb/``; its events after the checkpoint's step are hidden
(``purge_step``). Loggers are flushed whenever ``last.ckpt`` is written.

One run at a time per directory: `train` holds `checkpoint.RunLock` (an ``flock`` the OS
releases when the process dies, so a killed run never leaves a stale lock) from before it
writes anything until it returns; a second run into the same directory stops at once with a
one-line error. Nothing is written to the run directory before the model settings and the
data-source names are checked, and a run that fails before its first step removes what it
created (and nothing an earlier run left).

Multi-device: ``trainer.devices`` / ``num_nodes`` / ``strategy`` go to Lightning. With
``strategy: ddp`` Lightning re-launches the running command once per extra local device
(run it as a script or ``python -m``), or take the processes from ``torchrun`` / SLURM; CPU
processes talk over gloo.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from posekit.engine.base import TaskEvaluation, get_task, val_source
from posekit.engine.checkpoint import (
    LAST,
    AtomicCheckpointIO,
    CheckpointError,
    RunCheckpoint,
    RunLock,
    atomic_write,
    check_compatible,
    checkpoint_dir,
    load_checkpoint,
)
from posekit.engine.config import ExperimentConfig, config_diff, config_to_dict, dump_config
from posekit.engine.progress import StepProgressBar, StepProgressLog
from posekit.engine.sources import get_data_source
from posekit.models import model_config

__all__ = [
    "MetricsCSV",
    "ResumeInfo",
    "TrainResult",
    "build_trainer",
    "check_experiment",
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
        stamp: the file's (mtime_ns, size) when read (`train` reads it again if it changed).
    """

    path: Path
    step: int
    changes: list[str] = field(default_factory=list)
    stamp: tuple[int, int] = (0, 0)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def find_resume(config: ExperimentConfig, run_dir: str | Path) -> ResumeInfo | None:
    """The ``last.ckpt`` of ``run_dir`` to continue, checked against ``config``; None if none.

    Raises:
        CheckpointError: the file is unreadable, holds another task or model, or the model's
            settings differ (the weights would not fit).
    """
    path = checkpoint_dir(run_dir) / LAST
    if not path.is_file():
        return None
    stamp = _stamp(path)
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
    return ResumeInfo(path, int(ckpt.get("global_step", 0)), changes, stamp)


def check_experiment(config: ExperimentConfig) -> None:
    """Refuse, before anything is written, an experiment whose model cannot be built or whose
    data source names resolve to nothing.

    Raises:
        ValueError: naming the key (``model.overrides``, ``data.source``, ...).
    """
    m = config.model
    try:
        model_config(m.name, m.preset, **m.overrides)
    except KeyError as err:  # unknown model or preset
        raise ValueError(f"model: {err.args[0] if err.args else err}") from None
    except TypeError as err:  # a value of the wrong type for the model's config
        raise ValueError(f"model.overrides: {m.name} cannot use {m.overrides}: {err}") from None
    sources = {"data.source": config.data.source, "data.val_source": val_source(config)[0]}
    for key, name in sources.items():
        try:
            get_data_source(name)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None


def _missing_parents(run_dir: Path) -> list[Path]:
    """``run_dir`` and those of its parents that do not exist yet, deepest first."""
    out = []
    for folder in [run_dir, *run_dir.absolute().parents]:
        if folder.exists():
            break
        out.append(folder)
    return out


def _snapshot(run_dir: Path) -> set[str] | None:
    """Relative paths of the entries of ``run_dir`` and of its folders (a run writes no
    deeper); None: no such folder."""
    if not run_dir.is_dir():
        return None
    out = set()
    for entry in run_dir.iterdir():
        out.add(entry.name)
        if entry.is_dir() and not entry.is_symlink():
            out.update(f"{entry.name}{os.sep}{sub.name}" for sub in entry.iterdir())
    return out


def _remove_new(run_dir: Path, before: set[str] | None, made: Sequence[Path] = ()) -> None:
    """Remove what appeared under ``run_dir`` since `_snapshot` gave ``before``; with
    ``before`` None, the whole folder, then the parents in ``made`` that are left empty."""
    if before is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: another run may have begun beside ours
        return
    new = (_snapshot(run_dir) or set()) - before
    for rel in sorted(new, key=lambda p: -p.count(os.sep)):  # a folder's files first
        path = run_dir / rel
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


# --- logs -------------------------------------------------------------------------------------


class MetricsCSV(Logger):
    """``<run>/csv/metrics.csv``: one row per logging call (``step`` = Lightning's logging
    step, ``epoch``, then the metrics; empty cells for the others), as Lightning's CSVLogger,
    but every row is on disk as soon as it is logged, a header change rewrites the file
    atomically, and a resumed run continues the file (`begin`) instead of replacing it."""

    def __init__(self, run_dir: str | Path) -> None:
        super().__init__()
        self._dir = Path(run_dir) / "csv"
        self.path = self._dir / "metrics.csv"
        self._keys: list[str] = []

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return "csv"

    @property
    def save_dir(self) -> str:
        return str(self._dir.parent)

    @property
    def log_dir(self) -> str:
        return str(self._dir)

    @property
    def experiment(self) -> MetricsCSV:
        return self

    @rank_zero_only
    def begin(self, step: int) -> None:
        """Continue at logging step ``step``: keep the rows before it (all of a fresh run's
        are dropped), and a torn last line of a killed run."""
        if not self.path.is_file():
            self._keys = []
            return
        if step <= 0:
            self.path.unlink()
            self._keys = []
            return
        with open(self.path, newline="") as fh:
            text = fh.read()
        text = text[: text.rfind("\n") + 1]  # complete lines only
        reader = csv.DictReader(io.StringIO(text, newline=""))
        self._keys = list(reader.fieldnames or [])
        rows = [r for r in reader if _int_or_none(r.get("step")) is not None]
        self._write_all([r for r in rows if int(r["step"]) < step])

    def _write_all(self, rows: list[Mapping[str, Any]]) -> None:
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=self._keys, restval="")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path, buf.getvalue().encode())

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        row = {k: v.item() if hasattr(v, "item") else v for k, v in metrics.items()}
        row["step"] = step if step is not None else 0
        new = sorted(set(row) - set(self._keys))
        if new or not self.path.is_file():
            old: list[dict[str, str]] = []
            if self.path.is_file():
                with open(self.path, newline="") as fh:
                    old = list(csv.DictReader(fh))
            self._keys = sorted(set(self._keys) | set(row))
            self._write_all([*old, row])
            return
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self._keys, restval="").writerow(row)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Not logged: the run's ``config.yaml`` holds the experiment."""


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None


class _RunStart(Callback):
    """On rank 0 when training starts (setup succeeded, state restored): writes
    ``config.yaml`` and continues ``metrics.csv`` at the restored step."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, csv_log: MetricsCSV) -> None:
        self.config, self.run_dir, self.csv_log = config, run_dir, csv_log

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            atomic_write(self.run_dir / "config.yaml", dump_config(self.config).encode())
            self.csv_log.begin(trainer.global_step)


def build_trainer(
    config: ExperimentConfig,
    run_dir: Path,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    log_progress: bool = False,
    resume_step: int = 0,
) -> tuple[L.Trainer, RunCheckpoint]:
    """The Lightning Trainer of a run, and its checkpoint callback.

    Args:
        config: the experiment (``trainer`` and ``optim.grad_clip_norm`` are used).
        run_dir: where checkpoints and logs go.
        callbacks: extra callbacks (tests, profiling).
        progress: progress bars and the model summary (overrides ``trainer.progress_bar``).
        log_progress: plain progress lines (`StepProgressLog`) when there is no bar.
        resume_step: the step a resumed run starts at (TensorBoard hides the events logged
            at and after it by the interrupted run).
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
    csv_log = MetricsCSV(run_dir)
    cbs: list[Callback] = [ckpt, _RunStart(config, run_dir, csv_log), *callbacks]
    if progress:
        cbs.append(StepProgressBar(refresh_rate=max(1, min(t.log_every, 20))))
    elif log_progress:
        cbs.append(StepProgressLog(every_steps=t.log_every))
    tb_options = {"purge_step": resume_step} if resume_step > 0 else {}
    loggers = [
        csv_log,
        TensorBoardLogger(run_dir, name="", version="tb", default_hp_metric=False, **tb_options),
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


def _resume_info(
    config: ExperimentConfig, run_dir: Path, resume: bool | ResumeInfo
) -> ResumeInfo | None:
    """What to continue (read again when the file changed since ``resume`` was made)."""
    if isinstance(resume, ResumeInfo):
        if resume.path.is_file() and _stamp(resume.path) == resume.stamp:
            return resume
        return find_resume(config, run_dir)
    return find_resume(config, run_dir) if resume else None


def train(
    config: ExperimentConfig,
    run_dir: str | Path | None = None,
    resume: bool | ResumeInfo = False,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    log_progress: bool | None = None,
) -> TrainResult:
    """Train (or resume) one experiment.

    Args:
        config: the resolved experiment.
        run_dir: the run directory; default ``config.run_dir``.
        resume: continue ``<run_dir>/checkpoints/last.ckpt`` if it exists (else start fresh);
            a `ResumeInfo` from `find_resume` saves reading the checkpoint twice.
        callbacks: extra Lightning callbacks.
        progress: progress bars; default ``config.trainer.progress_bar``.
        log_progress: without bars, a plain progress line at most every 30 s and at least
            every 60 s (`StepProgressLog`); default: when there are no bars.

    Returns:
        A `TrainResult` (on every rank; only rank 0 writes files).

    Raises:
        ValueError: the model or a data source name is wrong (nothing is written then), the
            run directory already holds a checkpoint and ``resume`` is False, the checkpoint
            to resume is of another task / model, or another run holds the directory
            (`RunDirectoryBusy`).
    """
    run_dir = Path(run_dir) if run_dir is not None else config.run_dir
    progress = config.trainer.progress_bar if progress is None else progress
    log_progress = not progress if log_progress is None else log_progress
    check_experiment(config)
    # Only global rank 0 locks (and cleans up): the other ranks of a DDP launch write nothing.
    lock = RunLock(run_dir) if is_rank_zero() else None
    made = _missing_parents(run_dir)
    if lock is not None:
        lock.acquire()
    before = None if made else _snapshot(run_dir)  # taken under the lock: all earlier runs'
    trainer: L.Trainer | None = None
    start = 0
    try:
        info = _resume_info(config, run_dir, resume)
        if not resume and (checkpoint_dir(run_dir) / LAST).exists():
            raise ValueError(
                f"{run_dir} already holds a run ({checkpoint_dir(run_dir) / LAST}); continue "
                "it with --resume, or write elsewhere with --out"
            )
        start = info.step if info is not None else 0
        L.seed_everything(config.seed, workers=True, verbose=False)
        task_cls = get_task(config.task)
        module = task_cls(config)
        datamodule = task_cls.build_datamodule(config)
        trainer, ckpt = build_trainer(config, run_dir, callbacks, progress, log_progress, start)
        ckpt_path = info.path if info is not None else None
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except BaseException:
        if lock is not None and (trainer is None or trainer.global_step <= start):
            _remove_new(run_dir, before, made)  # failed before its first step: no trace
        raise
    finally:
        if lock is not None:
            lock.release()
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
