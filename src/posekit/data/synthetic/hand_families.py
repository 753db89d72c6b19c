"""Finger articulations and hand shapes for the synthetic hand data.

Grasp-like families (`HAND_POSE_FAMILIES`, degrees in `posekit.body.HAND_DOF_NAMES` order,
noised by N(0, 5°) per angle and clamped to `posekit.body.HAND_LIMITS_DEG`) beside the
correlated random curls of `posekit.body.sample_hand_articulation` (family ``"random"``):

- ``open``: straight fingers, spread; the thumb out.
- ``fist``: every finger curled (MCP 80°, PIP 80°, DIP 5°), the thumb over them. anny's
  hand has no collisions: with the anatomical full curl (90°, 100°, 70°) its finger tips
  sink 2–3 cm into the palm; these angles put them on the palm's skin.
- ``pinch``: thumb and index flexed towards each other, their tips 6 mm apart for the
  default hand (before noise); the other fingers half curled.
- ``point``: the index straight, the other fingers curled, the thumb over them.

`HAND_SHAPE_RANGES` are uniform ranges of anny's phenotypes (`posekit.body.PHENOTYPES`) for
random hands: young to old adults, short to tall; with `posekit.body.AnnyHand` the wrist
joint to middle fingertip distance (straight fingers) is 16–21 cm from the 5th to the 95th
percentile, 15–23 cm at the extremes (anny's default adult: 20 cm).
"""

from __future__ import annotations

import numpy as np
import torch

from posekit.body.hand import HAND_DOF_NAMES, HAND_LIMITS_DEG, sample_hand_articulation

__all__ = [
    "HAND_FAMILIES",
    "HAND_POSE_FAMILIES",
    "HAND_SHAPE_RANGES",
    "sample_family_articulation",
    "sample_hand_shape",
]


def _family(thumb: tuple[float, ...], fingers: list[tuple[float, ...]]) -> np.ndarray:
    return np.array([*thumb, *(a for f in fingers for a in f)], np.float64)


# Degrees, HAND_DOF_NAMES order: thumb (cmc flex, cmc abd, mcp, ip), then index, middle, ring,
# pinky (mcp flex, mcp abd, pip, dip).
_CURLED = (80.0, 0.0, 80.0, 5.0)
HAND_POSE_FAMILIES: dict[str, np.ndarray] = {
    "open": _family((0, 10, 0, 0), [(0, 8, 0, 0), (0, 0, 0, 0), (0, -6, 0, 0), (0, -12, 0, 0)]),
    "fist": _family((35, 20, 45, 60), [_CURLED] * 4),
    "pinch": _family(
        (20, 20, 5, 5), [(30, 0, 30, 40), (30, 0, 40, 25), (25, -3, 35, 20), (20, -6, 30, 20)]
    ),
    "point": _family((35, 15, 40, 50), [(0, 0, 0, 0), _CURLED, _CURLED, _CURLED]),
}
"""Grasp-like templates, degrees (20,), `HAND_DOF_NAMES` order; ``"random"`` is the fifth."""

HAND_SHAPE_RANGES: dict[str, tuple[float, float]] = {
    "gender": (0.0, 1.0),
    "age": (0.6, 1.0),
    "muscle": (0.0, 1.0),
    "weight": (0.0, 1.0),
    "height": (0.0, 0.6),
    "proportions": (0.0, 1.0),
}
"""Uniform ranges of the anny phenotypes of random hands (`posekit.body.PHENOTYPES` order)."""

HAND_FAMILIES: tuple[str, ...] = ("random", *HAND_POSE_FAMILIES)
"""Every family name `sample_family_articulation` accepts."""

_LIMITS_RAD = np.deg2rad(np.array([HAND_LIMITS_DEG[n] for n in HAND_DOF_NAMES]))


def sample_family_articulation(family: str, rng: np.random.Generator) -> np.ndarray:
    """20 finger angles of one hand from a family, radians, clamped to `HAND_LIMITS_DEG`.

    ``"random"`` draws `sample_hand_articulation` with a torch generator seeded from ``rng``;
    the templates of `HAND_POSE_FAMILIES` get N(0, 5°) noise per angle.

    Shapes:
        -> (20,) float64, `HAND_DOF_NAMES` order.
    """
    if family == "random":
        g = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        return sample_hand_articulation(1, g, dtype=torch.float64)[0].numpy()
    if family not in HAND_POSE_FAMILIES:
        raise ValueError(
            f"family: expected 'random' or one of {sorted(HAND_POSE_FAMILIES)}, got {family!r}"
        )
    deg = HAND_POSE_FAMILIES[family] + 5.0 * rng.standard_normal(len(HAND_DOF_NAMES))
    return np.clip(np.deg2rad(deg), _LIMITS_RAD[:, 0], _LIMITS_RAD[:, 1])


def sample_hand_shape(rng: np.random.Generator) -> np.ndarray:
    """Random anny phenotypes within `HAND_SHAPE_RANGES`.

    Shapes:
        -> (6,) float64, `posekit.body.PHENOTYPES` order.
    """
    return np.array([rng.uniform(*r) for r in HAND_SHAPE_RANGES.values()])
