"""The ``hand`` task's config sections: loss weights, the cube and codec, evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posekit.data.hand import HandAugment

__all__ = [
    "HAND_DECODERS",
    "HAND_TARGETS",
    "HandCodecConfig",
    "HandEvalConfig",
    "HandLossConfig",
    "augment_of",
]

HAND_DECODERS = ("argmax", "soft_argmax")
HAND_TARGETS = ("joints", "centre")


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name}: expected >= 0, got {value}")


def augment_of(config: HandCodecConfig) -> HandAugment:
    """The `posekit.data.hand.HandAugment` of a codec section."""
    from posekit.data.hand import HandAugment

    return HandAugment(config.train_rotation_deg, config.train_scale, config.train_translation_m)


@dataclass
class HandLossConfig:
    """Training objective of the hand models (the terms follow the model's outputs).

    Attributes:
        heatmap_weight: factor of the per-voxel (``v2v``) or per-pixel (``depth_heatmaps``)
            MSE to the Gaussian targets.
        heatmap_foreground_weight: weight target cells by ``1 + a * target`` (0: plain MSE,
            V2V-PoseNet's loss; see `posekit.losses.heatmap_mse_loss`).
        coord_weight: factor of the L1 loss of cube-normalised coordinates: of the regressed
            keypoints (``depth_regression``), and of the soft-argmax readout of the volumes
            when ``codec.decode`` is ``soft_argmax`` (integral training).
        depth_weight: factor of the L1 loss of the per-joint depth maps (``depth_heatmaps``),
            cube-normalised, weighted by the joint's target Gaussian.
    """

    heatmap_weight: float = 1.0
    heatmap_foreground_weight: float = 0.0
    coord_weight: float = 1.0
    depth_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("heatmap_weight", "heatmap_foreground_weight", "coord_weight", "depth_weight"):
            _non_negative(f"loss.{name}", getattr(self, name))


@dataclass
class HandCodecConfig:
    """The cube around the hand and the target / readout codec, shared by training,
    evaluation and ``posekit predict``.

    Attributes:
        cube_size_m: edge of the cube around the reference point, metres (V2V-PoseNet: 0.25
            for NYU's hands).
        sigma: Gaussian standard deviation of the targets, in output voxels or heatmap cells
            (V2V-PoseNet: 1.7 voxels of 44).
        decode: ``argmax`` (with a weighted mean over ``neighbourhood``³ voxels or DARK for
            2D heatmaps) or ``soft_argmax`` (volumes read as logits, times ``beta``).
        neighbourhood: odd window edge of the argmax refinement of volumes.
        beta: inverse temperature of the soft-argmax.
        train_rotation_deg, train_scale, train_translation_m: the 3D augmentation of training
            cubes (`posekit.data.hand.HandAugment`; V2V-PoseNet: ±40°, ×0.8–1.2, ±8 of 88
            voxels ≈ ±23 mm); 0, (1, 1), 0 turn it off.
        target: ``joints`` (the hand's joints) or ``centre`` (one point, the mean of the
            joints: what a reference-point refiner learns, with ``model.overrides.num_joints=1``).
        refiner: a checkpoint of a ``centre`` model (``configs/hand_refiner_tiny.yaml``): the
            cube is moved to the centre it predicts from the cube at the centre of mass, in
            training, evaluation and ``posekit predict`` alike (V2V-PoseNet's refinement
            network); None: the centre of mass.
    """

    cube_size_m: float = 0.25
    sigma: float = 1.7
    decode: str = "argmax"
    neighbourhood: int = 5
    beta: float = 1.0
    train_rotation_deg: float = 40.0
    train_scale: tuple[float, float] = (0.8, 1.2)
    train_translation_m: float = 0.02
    target: str = "joints"
    refiner: str | None = None

    def __post_init__(self) -> None:
        from posekit.data.hand import HandAugment

        self.train_scale = (float(self.train_scale[0]), float(self.train_scale[1]))
        try:
            HandAugment(self.train_rotation_deg, self.train_scale, self.train_translation_m)
        except ValueError as err:
            raise ValueError(f"codec.train_*: {err}") from None
        if self.target not in HAND_TARGETS:
            raise ValueError(
                f"codec.target: expected one of {', '.join(HAND_TARGETS)}, got {self.target!r}"
            )
        if self.cube_size_m <= 0:
            raise ValueError(f"codec.cube_size_m: expected > 0, got {self.cube_size_m}")
        if self.sigma <= 0:
            raise ValueError(f"codec.sigma: expected > 0, got {self.sigma}")
        if self.decode not in HAND_DECODERS:
            raise ValueError(
                f"codec.decode: expected one of {', '.join(HAND_DECODERS)}, got {self.decode!r}"
            )
        if self.neighbourhood < 1 or self.neighbourhood % 2 == 0:
            raise ValueError(
                f"codec.neighbourhood: expected an odd int >= 1, got {self.neighbourhood}"
            )
        if self.beta <= 0:
            raise ValueError(f"codec.beta: expected > 0, got {self.beta}")


@dataclass
class HandEvalConfig:
    """Evaluation options.

    Attributes:
        visible_only: score only the joints marked visible (default: every joint, as the
            NYU protocol does).
    """

    visible_only: bool = False
