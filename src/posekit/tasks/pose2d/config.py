"""The ``pose2d`` task's config sections: loss weights, the heatmap codec, evaluation."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HEATMAP_DECODERS", "HeatmapCodecConfig", "Pose2DEvalConfig", "Pose2DLossConfig"]

HEATMAP_DECODERS = ("dark", "quarter", "argmax")


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name}: expected >= 0, got {value}")


@dataclass
class Pose2DLossConfig:
    """Training objective of the 2D pose models (the loss follows the model's outputs: heatmap
    MSE on every stack / level, L1 on every cascade stage).

    Attributes:
        heatmap_weight: factor of the heatmap loss.
        coord_weight: factor of the coordinate L1 loss of integral heatmaps, coordinates
            divided by the crop size.
        intermediate_supervision: supervise every stack / cascade stage; False: only the last
            one (the ablation of Newell et al.).
        heatmap_foreground_weight: weight heatmap cells by ``1 + a * target`` (0: plain MSE;
            see `posekit.losses.heatmap_mse_loss`).
    """

    heatmap_weight: float = 1.0
    coord_weight: float = 1.0
    intermediate_supervision: bool = True
    heatmap_foreground_weight: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("loss.heatmap_weight", self.heatmap_weight)
        _non_negative("loss.coord_weight", self.coord_weight)
        _non_negative("loss.heatmap_foreground_weight", self.heatmap_foreground_weight)


@dataclass
class HeatmapCodecConfig:
    """The heatmap codec (`posekit.codecs.heatmap2d.Heatmap2D`) that builds the training
    targets and decodes predictions, in training, evaluation and ``posekit predict`` alike.

    Attributes:
        sigma: Gaussian standard deviation of the targets in heatmap cells; None: 2 cells at a
            64-cell map height, scaled with the map (at least 1).
        decode: ``dark`` (Taylor refinement of the log-heatmap), ``quarter`` (argmax + 0.25
            cell towards the higher neighbour, Newell et al.) or ``argmax``.
        blur: with ``dark``, blur the maps with the target Gaussian before the log.
    """

    sigma: float | None = None
    decode: str = "dark"
    blur: bool = True

    def __post_init__(self) -> None:
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"codec.sigma: expected > 0 or null, got {self.sigma}")
        if self.decode not in HEATMAP_DECODERS:
            raise ValueError(
                f"codec.decode: expected one of {', '.join(HEATMAP_DECODERS)}, got {self.decode!r}"
            )

    def sigma_for(self, map_height: int) -> float:
        """The target sigma in cells for heatmaps ``map_height`` cells high."""
        return self.sigma if self.sigma is not None else max(1.0, 2.0 * map_height / 64)


@dataclass
class Pose2DEvalConfig:
    """Evaluation (and prediction) options.

    Attributes:
        flip_test: average the predictions of the crop and of its mirror image (heatmaps
            flipped back and averaged; coordinates flipped back and averaged for regression
            and integral models).
    """

    flip_test: bool = False
