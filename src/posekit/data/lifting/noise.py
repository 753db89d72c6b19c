"""Structured noise on 2D keypoints: what a 2D detector gets wrong, for training denoising
lifters (SMPLR's DAE, Madadi et al. 2020) and for evaluating any lifter under detector errors.

Four kinds of error, applied in this order to a batch (B, J, 2) with visibility (B, J):

1. left/right swaps: each flip pair of the skeleton is swapped with ``swap_prob``
   (coordinates and visibility move together, as when a detector confuses the two sides);
2. outliers: each visible joint, with ``outlier_prob``, jumps to a random nearby location: a
   displacement of length uniform in ``outlier_radius`` (min, max) in a uniform direction
   (a detector locking onto the wrong blob); it stays visible;
3. jitter: every visible joint moves by Gaussian noise of std ``jitter_sigma`` per axis;
4. drops: each visible joint, with ``drop_prob``, becomes invisible (visibility 0) and its
   coordinates are set to ``drop_fill``: ``"zero"`` (0, which is the dataset mean when the
   pipeline normalizes its inputs) or ``"centroid"`` (the sample's centroid of its visible
   joints, for unnormalized pixel inputs).

Invisible joints are left as they are (apart from moving with a swap). Units: with
``units="absolute"``, ``jitter_sigma`` and ``outlier_radius`` are in the keypoints' own unit
(pixels, or normalized image-plane units); with ``units="bbox"`` they are fractions of each
sample's bounding-box diagonal of its visible joints, so one config fits any image size or
coordinate system.

Randomness: every draw comes from ``generator`` (a ``torch.Generator``), always the same draws
in the same order whatever the probabilities, made on the generator's device and then moved to
the keypoints' device; so a seed gives the same noise on CPU and GPU. ``generator=None`` uses
the global RNG of the keypoints' device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["NoiseConfig", "StructuredNoise", "structured_noise"]

_UNITS = ("absolute", "bbox")
_FILLS = ("zero", "centroid")


@dataclass(frozen=True)
class NoiseConfig:
    """Probabilities and magnitudes of `structured_noise` (all zero by default: no noise).

    Attributes:
        jitter_sigma: std of the Gaussian jitter per axis, in ``units``.
        swap_prob: probability that a left/right flip pair is swapped, per pair and sample.
        drop_prob: probability that a visible joint is dropped (made invisible).
        drop_fill: coordinates of a dropped joint: ``"zero"`` or ``"centroid"``.
        outlier_prob: probability that a visible joint becomes an outlier.
        outlier_radius: (min, max) length of an outlier's displacement, in ``units``.
        units: ``"absolute"`` (keypoint units) or ``"bbox"`` (fraction of the sample's
            bounding-box diagonal of visible joints).
    """

    jitter_sigma: float = 0.0
    swap_prob: float = 0.0
    drop_prob: float = 0.0
    drop_fill: str = "zero"
    outlier_prob: float = 0.0
    outlier_radius: tuple[float, float] = (0.1, 0.3)
    units: str = "bbox"

    def __post_init__(self) -> None:
        object.__setattr__(self, "outlier_radius", tuple(float(r) for r in self.outlier_radius))
        for name in ("swap_prob", "drop_prob", "outlier_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"noise: {name}: expected a probability in [0, 1], got {p}")
        if self.jitter_sigma < 0:
            raise ValueError(f"noise: jitter_sigma: expected >= 0, got {self.jitter_sigma}")
        radius = self.outlier_radius
        if len(radius) != 2 or not 0.0 <= radius[0] <= radius[1]:
            raise ValueError(
                f"noise: outlier_radius: expected (min, max) with 0 <= min <= max, got "
                f"{self.outlier_radius}"
            )
        if self.units not in _UNITS:
            raise ValueError(f"noise: units: expected one of {_UNITS}, got {self.units!r}")
        if self.drop_fill not in _FILLS:
            raise ValueError(f"noise: drop_fill: expected one of {_FILLS}, got {self.drop_fill!r}")

    @classmethod
    def coerce(cls, value: NoiseConfig | Mapping[str, Any] | None) -> NoiseConfig:
        """A `NoiseConfig` from itself, a dict of fields (YAML configs) or None (no noise)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls(**value)
        raise ValueError(f"noise: expected a NoiseConfig or a dict, got {type(value).__name__}")


def _bbox_diagonal(keypoints: Tensor, visible: Tensor) -> Tensor:
    """Per-sample diagonal of the visible joints' bounding box; 0 with no visible joint.

    Shapes:
        keypoints: (B, J, 2); visible: (B, J) bool → (B,).
    """
    inf = torch.tensor(math.inf, dtype=keypoints.dtype, device=keypoints.device)
    lo = torch.where(visible[..., None], keypoints, inf).amin(dim=1)  # (B, 2)
    hi = torch.where(visible[..., None], keypoints, -inf).amax(dim=1)  # (B, 2)
    diag = torch.linalg.vector_norm(hi - lo, dim=-1)  # (B,), NaN when nothing is visible
    return torch.where(visible.any(dim=1), diag, torch.zeros_like(diag))


def structured_noise(
    keypoints: Tensor,
    visibility: Tensor | None,
    skeleton: str | Skeleton,
    config: NoiseConfig,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Apply detector-like noise to 2D keypoints (see the module docstring).

    Args:
        keypoints: 2D joints, any unit (see ``config.units``).
        visibility: > 0 where visible; None: all visible.
        skeleton: the layout (for its flip pairs).
        config: probabilities and magnitudes.
        generator: source of every random draw (seeded by the caller).

    Shapes:
        keypoints: (B, J, 2); visibility: (B, J) or None.
        returns: noisy (B, J, 2) in the dtype of ``keypoints``; visibility_after (B, J) in the
        dtype of ``visibility`` (of ``keypoints`` when None), 0 / 1 for dropped / kept joints.
    """
    skeleton = get_skeleton(skeleton)
    dims = check_shape(keypoints, "keypoints", f"B {skeleton.num_joints} 2")
    if not keypoints.is_floating_point():
        raise ValueError(f"keypoints: expected a float tensor, got {keypoints.dtype}")
    out_dtype = keypoints.dtype if visibility is None else visibility.dtype
    if visibility is None:
        visible = torch.ones(keypoints.shape[:2], dtype=torch.bool, device=keypoints.device)
    else:
        check_shape(visibility, "visibility", f"B {skeleton.num_joints}", dims)
        visible = visibility > 0
    B, J = dims["B"], skeleton.num_joints
    pairs = torch.tensor(skeleton.flip_pairs, dtype=torch.int64).reshape(-1, 2)  # (P, 2)
    P = pairs.shape[0]

    # All draws up front, in a fixed order, on the generator's device; then to the data's.
    draw_device = generator.device if generator is not None else keypoints.device
    kw: dict[str, Any] = {"generator": generator, "device": draw_device, "dtype": keypoints.dtype}
    draws = [
        torch.rand(B, P, **kw),  # u_swap
        torch.rand(B, J, **kw),  # u_outlier
        torch.rand(B, J, **kw),  # outlier radius in [0, 1)
        torch.rand(B, J, **kw),  # outlier angle in [0, 1)
        torch.randn(B, J, 2, **kw),  # jitter
        torch.rand(B, J, **kw),  # u_drop
    ]
    u_swap, u_out, r_out, a_out, eps, u_drop = (d.to(keypoints.device) for d in draws)

    scale = (
        _bbox_diagonal(keypoints, visible)[:, None]  # (B, 1)
        if config.units == "bbox"
        else keypoints.new_ones(B, 1)
    )
    noisy = keypoints.clone()

    # 1. left/right swaps: gather every joint from its partner where the pair swaps.
    if P > 0:
        swap = u_swap < config.swap_prob  # (B, P)
        source = torch.arange(J, device=keypoints.device).expand(B, J).clone()  # (B, J)
        left, right = pairs[:, 0].to(keypoints.device), pairs[:, 1].to(keypoints.device)
        source[:, left] = torch.where(swap, right, left)
        source[:, right] = torch.where(swap, left, right)
        noisy = noisy.gather(1, source[..., None].expand(B, J, 2))  # (B, J, 2)
        visible = visible.gather(1, source)  # (B, J)

    # 2. outliers: a displacement of random length in [r_min, r_max] and random direction.
    r_min, r_max = config.outlier_radius
    outlier = visible & (u_out < config.outlier_prob)  # (B, J)
    length = (r_min + (r_max - r_min) * r_out) * scale  # (B, J)
    angle = 2.0 * math.pi * a_out  # (B, J)
    shift = torch.stack([angle.cos(), angle.sin()], dim=-1) * length[..., None]  # (B, J, 2)
    noisy = torch.where(outlier[..., None], noisy + shift, noisy)

    # 3. jitter on visible joints.
    jitter = config.jitter_sigma * scale[..., None] * eps  # (B, J, 2)
    noisy = torch.where(visible[..., None], noisy + jitter, noisy)

    # 4. drops: invisible from now on, coordinates replaced by the fill value.
    dropped = visible & (u_drop < config.drop_prob)  # (B, J)
    if config.drop_fill == "centroid":
        w = visible.to(keypoints.dtype)[..., None]  # (B, J, 1)
        fill = (keypoints * w).nan_to_num().sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp(
            min=1.0
        )  # (B, 1, 2), centroid of the clean visible joints
    else:
        fill = keypoints.new_zeros(B, 1, 2)
    noisy = torch.where(dropped[..., None], fill.expand(B, J, 2), noisy)
    visible = visible & ~dropped
    return noisy, visible.to(out_dtype)


class StructuredNoise:
    """`structured_noise` bound to a config, a skeleton and a seeded generator.

    A data-pipeline transform: ``noisy, vis = StructuredNoise(cfg, "h36m17", seed=0)(kp, vis)``.

    Shapes:
        keypoints: (B, J, 2); visibility: (B, J) or None → noisy (B, J, 2), visibility (B, J).
    """

    def __init__(
        self,
        config: NoiseConfig | Mapping[str, Any] | None,
        skeleton: str | Skeleton = "h36m17",
        seed: int = 0,
    ) -> None:
        self.config = NoiseConfig.coerce(config)
        self.skeleton = get_skeleton(skeleton)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(
        self, keypoints: Tensor, visibility: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return structured_noise(keypoints, visibility, self.skeleton, self.config, self.generator)
