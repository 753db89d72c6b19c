"""The ``bottomup`` task's config sections: loss weights, the associative-embedding codec,
evaluation."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AssociativeEmbeddingCodecConfig", "BottomUpEvalConfig", "BottomUpLossConfig"]


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name}: expected >= 0, got {value}")


@dataclass
class BottomUpLossConfig:
    """Heatmap MSE plus the associative-embedding pull + push loss.

    Attributes:
        heatmap_weight: factor of the heatmap loss.
        tag_weight: factor of the pull + push loss (1e-3, the ratio of Newell et al.'s code,
            against a per-pixel mean heatmap MSE).
        tag_push_sigma: length scale sigma of the push term ``exp(-d^2 / (2 sigma^2))``
            (Newell et al.: 1); the grouping's tag threshold scales with it.
        intermediate_supervision: supervise every stack; False: the last one only.
        heatmap_foreground_weight: weight heatmap cells by ``1 + a * target`` (0: plain MSE;
            see `posekit.losses.heatmap_mse_loss`).
    """

    heatmap_weight: float = 1.0
    tag_weight: float = 1e-3
    tag_push_sigma: float = 1.0
    intermediate_supervision: bool = True
    heatmap_foreground_weight: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("loss.heatmap_weight", self.heatmap_weight)
        _non_negative("loss.tag_weight", self.tag_weight)
        _non_negative("loss.heatmap_foreground_weight", self.heatmap_foreground_weight)
        if self.tag_push_sigma <= 0:
            raise ValueError(f"loss.tag_push_sigma: expected > 0, got {self.tag_push_sigma}")


@dataclass
class AssociativeEmbeddingCodecConfig:
    """The associative-embedding codec (`posekit.codecs.associative_embedding`) that builds the
    multi-person targets and groups detections into people, in validation and
    ``posekit predict`` alike.

    Attributes:
        sigma: Gaussian standard deviation of the heatmap targets in cells; None: 2 cells at a
            64-cell map height, scaled with the map (at least 1).
        max_people: people per image kept in the targets and decoded (COCO scores the best
            20 detections of an image).
        detection_threshold: minimum heatmap value of a joint candidate.
        tag_threshold: largest tag distance at which a candidate joins a person, in units of
            ``loss.tag_push_sigma`` (tags live on the scale of the push term; Newell et al.: 1).
    """

    sigma: float | None = None
    max_people: int = 20
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"codec.sigma: expected > 0 or null, got {self.sigma}")
        if self.max_people < 1:
            raise ValueError(f"codec.max_people: expected >= 1, got {self.max_people}")
        _non_negative("codec.detection_threshold", self.detection_threshold)
        if self.tag_threshold <= 0:
            raise ValueError(f"codec.tag_threshold: expected > 0, got {self.tag_threshold}")

    def sigma_for(self, map_height: int) -> float:
        """The target sigma in cells for heatmaps ``map_height`` cells high."""
        return self.sigma if self.sigma is not None else max(1.0, 2.0 * map_height / 64)


@dataclass
class BottomUpEvalConfig:
    """Evaluation (and prediction) options.

    Attributes:
        flip_test: heatmaps averaged with the mirrored image's (flipped back), the tags of
            both images concatenated (D -> 2 D), as Newell et al.
    """

    flip_test: bool = False
