"""The ``lift`` task's config sections."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIFT_LOSSES", "LiftLossConfig"]

LIFT_LOSSES = ("mpjpe", "l1", "mse")


@dataclass
class LiftLossConfig:
    """Training objective of a lifter, over the joints with finite ground truth.

    Attributes:
        name: ``mpjpe`` (mean joint distance), ``l1`` or ``mse`` (Martinez et al.'s L2).
    """

    name: str = "mpjpe"

    def __post_init__(self) -> None:
        if self.name not in LIFT_LOSSES:
            raise ValueError(
                f"loss.name: expected one of {', '.join(LIFT_LOSSES)}, got {self.name!r}"
            )
