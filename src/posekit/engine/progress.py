"""A tqdm progress bar counted in optimizer steps (``step 1200/3000``), resumes included.

Step-based runs over an unending training stream have one endless "epoch", so Lightning's bar
would show a bare counter; this one shows the global step against ``max_steps`` and starts
where a resumed run starts. Validation keeps Lightning's own bar.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

__all__ = ["StepProgressBar"]


class StepProgressBar(TQDMProgressBar):
    """`TQDMProgressBar` over global steps (see the module docstring)."""

    @property
    def train_description(self) -> str:
        return "train"

    def on_train_epoch_start(self, trainer: L.Trainer, *_: Any) -> None:
        # Not the parent's: it resets the bar to the epoch's (unknown) length, at 0.
        bar = self.train_progress_bar
        bar.reset(total=trainer.max_steps)
        bar.initial = trainer.global_step
        bar.n = trainer.global_step

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
