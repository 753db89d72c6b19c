"""`TaskEvaluation`: what a task's evaluation returns (summary metrics and per-joint tables)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["TaskEvaluation"]


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
