"""Training progress: a tqdm bar counted in optimizer steps, or plain log lines.

`StepProgressBar` (``trainer.progress_bar: true``, a terminal): step-based runs over an
unending training stream have one endless "epoch", so Lightning's bar would show a bare
counter; this one shows the global step against ``max_steps`` (``step 360/1000``), resumed
runs included. Validation keeps Lightning's own bar.

`StepProgressLog` (no bar: ``trainer.progress_bar: false``, ``train(progress=False)``, the
demo): one line now and then, so that a long run on a busy machine never looks hung::

    train: step 360/1000 (36%)  train/loss 0.0123  elapsed 5m12s, 0.87 s/step, ~9m17s left

A line is printed when at least ``every_steps`` steps *and* ``min_seconds`` (30 s) have passed
since the last one, or whenever ``max_seconds`` (60 s) have: a quick run (a test) prints
nothing, a slow one a line a minute at most and at least.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

__all__ = ["StepProgressBar", "StepProgressLog", "format_duration"]


def format_duration(seconds: float) -> str:
    """``4.2s``, ``5m12s``, ``1h02m03s``."""
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{seconds:.1f}s")


class StepProgressBar(TQDMProgressBar):
    """`TQDMProgressBar` over global steps (see the module docstring)."""

    @property
    def train_description(self) -> str:
        return "train"

    def init_train_tqdm(self) -> Tqdm:
        # The parent's bar, but of the run's steps from the start (never a bare "n/?").
        trainer = self.trainer
        return Tqdm(
            desc=self.train_description,
            total=trainer.max_steps,
            initial=trainer.global_step,
            position=2 * self.process_position,
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )

    def _count_steps(self, trainer: L.Trainer) -> None:
        # tqdm's reset() would draw "0/total" first: restart the bar at the step instead.
        bar = self.train_progress_bar
        bar.total = trainer.max_steps
        bar.initial = bar.n = bar.last_print_n = trainer.global_step
        bar.start_t = bar.last_print_t = bar._time()
        bar.refresh()

    def on_train_epoch_start(self, trainer: L.Trainer, *_: Any) -> None:
        # Not the parent's: it resets the bar to the epoch's (unknown) length, at 0. (A run
        # resumed mid-"epoch" gets no call: its bar starts right in `init_train_tqdm`.)
        self._count_steps(trainer)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        bar = self.train_progress_bar
        if bar is not None and self._should_update(step, trainer.max_steps) and not bar.disable:
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
            bar.refresh()

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class StepProgressLog(Callback):
    """Plain progress lines on global rank 0 (see the module docstring).

    Args:
        every_steps: fewest steps between two lines (unless ``max_seconds`` passed).
        min_seconds: fewest seconds between two lines (unless ``max_seconds`` passed).
        max_seconds: a line at the first step end after this long without one.
        stream: where to print (default ``sys.stdout`` at print time).
        clock: monotonic seconds; default the class's `clock` (``time.monotonic``).
    """

    #: Monotonic seconds (a test can replace it with a fake clock).
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(
        self,
        every_steps: int = 1,
        min_seconds: float = 30.0,
        max_seconds: float = 60.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.every_steps = max(1, int(every_steps))
        self.min_seconds, self.max_seconds = float(min_seconds), float(max_seconds)
        self.stream = stream
        if clock is not None:
            self.clock = clock
        self._t0 = self._last_t = 0.0
        self._step0 = self._last_step = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = self._last_t = self.clock()
        self._step0 = self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not trainer.is_global_zero:
            return
        now, step = self.clock(), trainer.global_step
        since = now - self._last_t
        due = step - self._last_step >= self.every_steps and since >= self.min_seconds
        if not (due or since >= self.max_seconds):
            return
        self._last_t, self._last_step = now, step
        print(self.line(trainer, now), file=self.stream or sys.stdout, flush=True)

    def line(self, trainer: L.Trainer, now: float) -> str:
        """The progress line at ``now`` (clock seconds)."""
        step, total = trainer.global_step, trainer.max_steps
        elapsed = now - self._t0
        text = f"train: step {step}/{total}"
        if total > 0:
            text += f" ({100 * step // total}%)"
        for key, value in trainer.progress_bar_metrics.items():
            if key != "v_num":
                text += f"  {key} {float(value):.4g}"
        text += f"  elapsed {format_duration(elapsed)}"
        done = step - self._step0
        if done > 0:
            per_step = elapsed / done
            text += f", {per_step:.3g} s/step"
            if total > step:
                text += f", ~{format_duration(per_step * (total - step))} left"
        return text
