"""Optimizers and learning-rate schedules from an `OptimConfig` (stepped per optimizer step).

Schedules are factors of the peak ``lr`` as a function of the step:

- ``none``: 1;
- ``exponential``: ``decay_rate ** (step / decay_steps)`` (Martinez et al. 2017: Adam, lr
  1e-3, 0.96 every 100k steps), smooth rather than staircase;
- ``cosine``: ``min_lr_ratio + (1 - min_lr_ratio) * (1 + cos(pi * t)) / 2`` with t going from
  0 to 1 between the end of the warmup and ``max_steps``;

each multiplied by a linear warmup ``(step + 1) / warmup_steps`` during the first
``warmup_steps`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from posekit.engine.config import OptimConfig

__all__ = ["LrSchedule", "build_optimizer", "build_scheduler"]


@dataclass
class LrSchedule:
    """The learning-rate factor of a step (a picklable callable for ``LambdaLR``).

    Attributes:
        kind: ``none``, ``exponential`` or ``cosine``.
        max_steps: length of the run (cosine).
        warmup_steps: linear warmup length.
        decay_rate, decay_steps: exponential decay.
        min_lr_ratio: cosine floor.
    """

    kind: str
    max_steps: int
    warmup_steps: int = 0
    decay_rate: float = 0.96
    decay_steps: int = 100_000
    min_lr_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        if self.kind == "exponential":
            return warm * self.decay_rate ** (step / self.decay_steps)
        if self.kind == "cosine":
            span = max(1, self.max_steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            return warm * (
                self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
            )
        return warm


def _param_groups(params: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices only: biases and normalization parameters (1D) are
    not decayed."""
    decay, no_decay = [], []
    for _, p in params:
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over ``model``'s trainable parameters (1D parameters not decayed)."""
    groups = _param_groups(model.named_parameters(), config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=config.lr, betas=config.betas)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimConfig, max_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The ``LambdaLR`` of `LrSchedule` for ``config`` (call ``step()`` after every step)."""
    schedule = LrSchedule(
        kind=config.scheduler,
        max_steps=max_steps,
        warmup_steps=config.warmup_steps,
        decay_rate=config.decay_rate,
        decay_steps=config.decay_steps,
        min_lr_ratio=config.min_lr_ratio,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
