"""Checkpoints: atomic writes, the run's best / last files, and loading with clear errors.

Atomicity. Lightning's ``TorchCheckpointIO`` serializes to memory and writes through an
fsspec transaction: fsspec's local file system writes a temporary file made by
``tempfile.mkstemp()`` (in the *system* temporary folder) and ``shutil.move``-s it onto the
final name at commit. When that folder is on another file system than the run (a tmpfs
``/tmp``, a network or scratch disk: the usual case on clusters) the move is a copy, so a kill
during it leaves a truncated file under the final name; nothing is fsync-ed either.
`AtomicCheckpointIO` writes to a temporary name in the checkpoint's own folder, fsyncs, and
``os.replace``-s it onto the final name: a reader sees the old file or the new one, never a part.

Files of a run (``<run>/checkpoints/``): ``last.ckpt`` every ``trainer.checkpoint_every``
steps and at the end (what ``--resume`` continues from), ``best.ckpt`` whenever the validation
metric improves (`RunCheckpoint`). The run's loggers are flushed before ``last.ckpt`` is
written, so the logs hold every step the checkpoint holds.

One writer per run directory: `RunLock`, an ``flock`` on ``<run>/.posekit.lock``.

Loading (`load_checkpoint`) never runs code from the file (``weights_only=True``), and its
errors never pass on torch's advice to load the file with ``weights_only=False``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.trainer.states import TrainerFn

from posekit._io import atomic_write
from posekit.engine.base import CHECKPOINT_FORMAT, METADATA_KEY
from posekit.engine.config import migrate_experiment

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no run-directory lock
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BEST",
    "LAST",
    "LOCK_NAME",
    "AtomicCheckpointIO",
    "CheckpointError",
    "RunCheckpoint",
    "RunDirectoryBusy",
    "RunLock",
    "atomic_write",
    "check_compatible",
    "checkpoint_dir",
    "load_checkpoint",
    "load_error_reason",
]

BEST = "best.ckpt"
LAST = "last.ckpt"
LOCK_NAME = ".posekit.lock"


class CheckpointError(ValueError):
    """A checkpoint that is missing its metadata, corrupt, or of another task / model."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    """``<run_dir>/checkpoints``."""
    return Path(run_dir) / "checkpoints"


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves go through a temporary file + ``os.replace``.

    Remote paths (``s3://``, ...) keep Lightning's fsspec path.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(Path(path), buffer.getbuffer())


class RunCheckpoint(Checkpoint):
    """Writes ``last.ckpt`` every ``every`` steps and at the end, ``best.ckpt`` on improvement.

    Saves go through ``trainer.save_checkpoint`` (every rank calls it; only global rank 0
    writes, once). The "last" file of a step that is validated is written after the
    validation, so it includes this callback's updated best score.

    Args:
        dirpath: the checkpoint folder.
        every: steps between ``last.ckpt`` writes.
        val_every: steps between validations (0: none), to know which steps are validated.
        max_steps: the run's last step (always validated when validation is on).
        monitor: the logged metric that defines "best".
        mode: ``min`` or ``max``.
    """

    def __init__(
        self,
        dirpath: str | Path,
        every: int,
        val_every: int,
        max_steps: int,
        monitor: str = "val/loss",
        mode: str = "min",
    ) -> None:
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        self.dirpath = Path(dirpath)
        self.every, self.val_every, self.max_steps = int(every), int(val_every), int(max_steps)
        self.monitor, self.mode = monitor, mode
        self.best_score: float | None = None
        self.best_step: int | None = None
        self._last_saved_step = -1

    @property
    def best_model_path(self) -> str:
        """Path of ``best.ckpt`` ("" before the first validation)."""
        return str(self.dirpath / BEST) if self.best_step is not None else ""

    @property
    def last_model_path(self) -> str:
        return str(self.dirpath / LAST)

    def _validated(self, step: int) -> bool:
        return self.val_every > 0 and (step % self.val_every == 0 or step >= self.max_steps)

    def _save(self, trainer: L.Trainer, name: str) -> None:
        trainer.save_checkpoint(self.dirpath / name, weights_only=False)

    def _save_last(self, trainer: L.Trainer) -> None:
        if self._last_saved_step != trainer.global_step:
            for logger in trainer.loggers:  # the logs hold what the checkpoint holds
                logger.save()
            self._save(trainer, LAST)
            self._last_saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        step = trainer.global_step
        if (step % self.every == 0 or step >= self.max_steps) and not self._validated(step):
            self._save_last(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is not None:
            value = float(score)
            better = self.best_score is None or (
                value < self.best_score if self.mode == "min" else value > self.best_score
            )
            if better:
                self.best_score, self.best_step = value, trainer.global_step
                self._save(trainer, BEST)
        step = trainer.global_step
        if step % self.every == 0 or step >= self.max_steps:
            self._save_last(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_last(trainer)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        # SIGTERM (cluster pre-emption) is raised by Lightning between steps, where the state
        # is consistent: keep it. Other exceptions can come mid-step: keep the last good file.
        if type(exception).__name__ == "SIGTERMException":
            self._save_last(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_step": self.best_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_step = state_dict.get("best_step")


class RunDirectoryBusy(ValueError):
    """Another process trains into the run directory."""


#: Lock descriptors this process holds; a forked child (a data-loading worker) closes its
#: copies so that a lock dies with the process that took it.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class RunLock:
    """An exclusive ``flock`` on ``<run_dir>/.posekit.lock`` (created with the folder).

    The file holds ``pid host`` of the holder, for the message of a refused run. The OS
    releases the lock when the holder dies (also on SIGKILL), so a killed run never blocks the
    next one. On file systems without ``flock`` a warning is given and the run goes unlocked.

    Raises (`acquire`):
        RunDirectoryBusy: another process holds the lock.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None or self._fd is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 256, 0).decode(errors="replace").split()
                os.close(fd)
                pid, host = [*holder, "?", "?"][:2]
                raise RunDirectoryBusy(
                    f"{self.run_dir} is in use by another posekit train (pid {pid} on host "
                    f"{host}); wait for it or choose another --out, --set name= or "
                    "--set output_dir="
                ) from None
            except OSError as err:
                os.close(fd)
                warnings.warn(
                    f"{self.path}: cannot lock ({err}); the run goes unlocked", stacklevel=2
                )
                return
            try:  # the holder before us may have removed the file: lock the one on disk
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        _HELD_LOCKS.add(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        _HELD_LOCKS.discard(self._fd)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a posekit checkpoint; errors name the file.

    Loaded with ``torch.load(weights_only=True)``: a checkpoint holds tensors and plain
    Python data only, and no code runs while reading one.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: unreadable / truncated, or no posekit metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch's note on a foreign file's pickle protocol
            warnings.filterwarnings("ignore", message=r".*Detected pickle protocol")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types on broken files (KeyError, EOFError...)
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt or truncated?): {load_error_reason(err)}"
        ) from None
    if not isinstance(ckpt, dict) or METADATA_KEY not in ckpt:
        raise CheckpointError(
            f"{path}: not a posekit checkpoint (no {METADATA_KEY!r} metadata; was it written by "
            "`posekit train`?)"
        )
    meta = ckpt[METADATA_KEY]
    for key in ("task", "model", "experiment"):
        if key not in meta:
            raise CheckpointError(f"{path}: posekit metadata lacks {key!r}")
    if int(meta.get("format", 1)) < CHECKPOINT_FORMAT:
        try:
            meta["experiment"] = migrate_experiment(meta["experiment"])
        except ValueError as err:
            raise CheckpointError(
                f"{path}: written by an older posekit (checkpoint format "
                f"{meta.get('format', 1)}) and cannot be converted: {err}"
            ) from None
        meta["format"] = CHECKPOINT_FORMAT
    return ckpt


#: Sentences of torch's load errors that advise loading the file anyway (``weights_only=False``,
#: allow-listing globals): advice posekit never passes on for a file it cannot trust.
_UNSAFE_ADVICE = re.compile(
    r"weights_only|safe_globals|trust|arbitrary code|re-run|file an issue|documentation of",
    re.IGNORECASE,
)


def load_error_reason(err: BaseException) -> str:
    """What went wrong reading a checkpoint, in one line, without torch's advice to retry
    with ``weights_only=False`` or to allow-list the file's globals (both run the file's code)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:  # the reason follows torch's preamble
        text = text.split("WeightsUnpickler error:", 1)[1]
    sentences = [s for line in text.splitlines() for s in re.split(r"(?<=[.!?])\s+", line.strip())]
    kept = next(
        (
            s
            for s in sentences
            if s and not _UNSAFE_ADVICE.search(s) and not s.startswith("Weights only load failed")
        ),
        "",
    )
    name = type(err).__name__
    return f"{name}: {kept}" if kept else f"{name} (not a file torch reads without running code)"


def check_compatible(meta: dict[str, Any], task: str, model: str, path: str | Path) -> None:
    """Refuse a checkpoint of another task or model than expected.

    Raises:
        CheckpointError: naming the file, what it holds and what was expected.
    """
    held_task, held_model = meta["task"], meta["model"]["name"]
    if (held_task, held_model) != (task, model):
        raise CheckpointError(
            f"{path}: holds a {held_task!r} checkpoint of model {held_model!r}, but a "
            f"{task!r} {model!r} checkpoint is needed"
        )
