"""The ``pose3d`` task's config sections: loss weights, the volume codec (with the occlusion
augmentation of training crops), evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from posekit.data.pose3d import OcclusionAugment
from posekit.data.synthetic.occluders import OCCLUDER_SHAPES

__all__ = ["READOUTS", "Pose3DCodecConfig", "Pose3DEvalConfig", "Pose3DLossConfig"]

READOUTS = ("auto", "heatmap", "integral")


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name}: expected >= 0, got {value}")


@dataclass
class Pose3DLossConfig:
    """Training objective (the terms follow the model's outputs and ``codec.readout``).

    Attributes:
        heatmap_weight: factor of the volume MSE against 3D Gaussian targets (``heatmap``
            readout), on every stack's volumes at its own depth resolution.
        heatmap_foreground_weight: weight cells by ``1 + a * target`` (0: plain MSE), the
            2D recipes' way off the all-zero plateau (`posekit.losses.heatmap_mse_loss`).
        coord_weight: factor of the L1 loss on normalised coordinates (x / W, y / H, depth /
            ``codec.cube_size_m``): the soft-argmax of the ``integral`` readout, the
            ``direct`` model's output.
        integral_heatmap_weight: with the ``integral`` readout, add this factor times the
            volume MSE (the optional heatmap loss of integral regression).
        intermediate_supervision: supervise every stack; False: the last one only.
    """

    heatmap_weight: float = 1.0
    heatmap_foreground_weight: float = 0.0
    coord_weight: float = 1.0
    integral_heatmap_weight: float = 0.0
    intermediate_supervision: bool = True

    def __post_init__(self) -> None:
        _non_negative("loss.heatmap_weight", self.heatmap_weight)
        _non_negative("loss.heatmap_foreground_weight", self.heatmap_foreground_weight)
        _non_negative("loss.coord_weight", self.coord_weight)
        _non_negative("loss.integral_heatmap_weight", self.integral_heatmap_weight)


@dataclass
class Pose3DCodecConfig:
    """How volumes map to joints, and the training crops' occlusion augmentation.

    Attributes:
        cube_size_m: depth range of the volumes, centred on the root joint (metres); joints
            deeper or shallower than half of it are outside the volume.
        readout: ``heatmap`` (Gaussian targets, volume MSE, argmax with sub-voxel refinement:
            Pavlakos et al.), ``integral`` (soft-argmax of the volume as logits, coordinate
            loss: Sun et al.) or ``auto`` (``heatmap`` for ``volumetric``, ``integral`` for the
            other volume models). The ``direct`` model has no volume and ignores it.
        sigma: target Gaussian sigma in cells (all three axes); None: 2 cells at a 64-cell
            map height, scaled with the map (at least 1).
        neighbourhood: window of the sub-voxel refinement of the argmax (odd; 1: none).
        beta: soft-argmax inverse temperature.
        occlusion_probability: chance that a training crop gets pasted occluders (0: off).
        occlusion_max_count: objects per occluded crop, 1 to this.
        occlusion_size: (min, max) object size over the crop side.
        occlusion_shapes: shapes used in training (`OCCLUDER_SHAPES`); the default leaves
            ``blob`` and ``gift`` for an occluded test set of unseen occluders.
        bone_lengths_m: each joint's mean bone length to its parent (the root's 0), the
            metric prior that places a 2.5D prediction in depth
            (`posekit.geometry.absolute.root_depth_from_bones`); null: measured on (up to
            512 people of) the training data when training starts and stored here, so the
            checkpoint and its ONNX export carry it.
    """

    cube_size_m: float = 2.0
    readout: str = "auto"
    sigma: float | None = None
    neighbourhood: int = 3
    beta: float = 1.0
    occlusion_probability: float = 0.0
    occlusion_max_count: int = 3
    occlusion_size: tuple[float, float] = (0.2, 0.5)
    occlusion_shapes: list[str] = field(default_factory=lambda: ["polygon", "ellipse", "box"])
    bone_lengths_m: list[float] | None = None

    def __post_init__(self) -> None:
        if not self.cube_size_m > 0:
            raise ValueError(f"codec.cube_size_m: expected > 0, got {self.cube_size_m}")
        if self.readout not in READOUTS:
            raise ValueError(f"codec.readout: expected one of {READOUTS}, got {self.readout!r}")
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"codec.sigma: expected > 0 or null, got {self.sigma}")
        n = self.neighbourhood
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n % 2 == 0:
            raise ValueError(f"codec.neighbourhood: expected an odd int >= 1, got {n!r}")
        if not self.beta > 0:
            raise ValueError(f"codec.beta: expected > 0, got {self.beta}")
        if not 0 <= self.occlusion_probability <= 1:
            raise ValueError(
                f"codec.occlusion_probability: expected in [0, 1], got {self.occlusion_probability}"
            )
        bad = set(self.occlusion_shapes) - set(OCCLUDER_SHAPES)
        if bad or not self.occlusion_shapes:
            raise ValueError(
                f"codec.occlusion_shapes: expected a non-empty subset of {OCCLUDER_SHAPES}, "
                f"got {self.occlusion_shapes}"
            )
        self.occlusion()  # validates count and sizes
        if self.bone_lengths_m is not None:
            b = [float(x) for x in self.bone_lengths_m]
            if not all(math.isfinite(x) and x >= 0 for x in b):
                raise ValueError(f"codec.bone_lengths_m: expected finite lengths >= 0, got {b}")
            self.bone_lengths_m = b

    def sigma_for(self, map_height: int) -> float:
        """The target sigma in cells for volumes ``map_height`` cells high."""
        return self.sigma if self.sigma is not None else max(1.0, 2.0 * map_height / 64)

    def occlusion(self) -> OcclusionAugment:
        """The `OcclusionAugment` of training crops."""
        lo, hi = (float(x) for x in self.occlusion_size)
        try:
            return OcclusionAugment(
                probability=float(self.occlusion_probability),
                min_count=1,
                max_count=int(self.occlusion_max_count),
                min_size=lo,
                max_size=hi,
                shapes=tuple(self.occlusion_shapes),
            )
        except ValueError as e:
            raise ValueError(f"codec.occlusion_*: {e}") from None


@dataclass
class Pose3DEvalConfig:
    """Evaluation (and prediction) options.

    Attributes:
        flip_test: average the prediction of the crop and of its mirror image (volumes
            flipped back and averaged for the ``heatmap`` readout; decoded coordinates
            otherwise).
    """

    flip_test: bool = False
