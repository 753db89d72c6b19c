"""Body shape sampler: anny phenotypes from anny's calibrated shape distribution.

anny ships a realistic phenotype distribution (``anny.shape_distribution.SimpleShapeDistribution``):
a morphological age in years is mapped to anny's ``age`` phenotype, and ``height``, ``weight``,
``muscle`` and ``proportions`` are Beta-distributed conditionally on that age and on the gender
(boys' tables for ``gender <= 0.5``, girls' otherwise), calibrated by its authors against WHO
height-for-age data. `ShapeSampler` draws from the same distribution with numpy's generator
(anny's draws from torch's global RNG, which would break the engine's per-sample seeding):
the same generator state gives the same shapes. The Beta parameters are interpolated linearly
in anny's age between its anchors and held constant beyond them (as anny does).

By default adults only: morphological age uniform in 18-80 years, gender uniform in [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["ShapeSampler"]

_PHENOTYPE_ORDER = ("gender", "age", "muscle", "weight", "height", "proportions")


@functools.lru_cache(maxsize=1)
def _calibration() -> dict[str, dict[str, np.ndarray]]:
    """anny's shape calibration tables: {"boys"|"girls": {name: array}} (float64)."""
    import torch
    from anny.paths import get_anny_root_dir

    out: dict[str, dict[str, np.ndarray]] = {}
    for who in ("boys", "girls"):
        path = get_anny_root_dir() / "data" / "shape_calibration" / f"{who}.pth"
        state = torch.load(path, weights_only=True, map_location="cpu")
        out[who] = {
            f"{group}.{key}": value.double().numpy()
            for group, tensors in state.items()
            for key, value in tensors.items()
        }
    return out


class ShapeSampler:
    """Draws anny phenotypes (gender, age, muscle, weight, height, proportions) in [0, 1].

    Args:
        age_years: range of the uniform morphological age, years (anny's calibration covers
            0-110; below ~16 the bodies are children's).
        gender: range of the uniform gender phenotype (0 male ... 1 female).

    Shapes:
        sample(n, rng) -> (n, 6) float64, columns in `posekit.body.PHENOTYPES` order.

    Convention:
        Deterministic from the generator; the rows feed ``AnnyBody(pose, shape=...)``.
    """

    def __init__(
        self, age_years: tuple[float, float] = (18.0, 80.0), gender: tuple[float, float] = (0, 1)
    ) -> None:
        if not 0 <= age_years[0] <= age_years[1] <= 110:
            raise ValueError(f"age_years: expected 0 <= low <= high <= 110, got {age_years}")
        if not 0 <= gender[0] <= gender[1] <= 1:
            raise ValueError(f"gender: expected 0 <= low <= high <= 1, got {gender}")
        self.age_years = (float(age_years[0]), float(age_years[1]))
        self.gender = (float(gender[0]), float(gender[1]))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 6) phenotypes; see the class docstring."""
        if int(n) != n or n < 0:
            raise ValueError(f"n: expected a non-negative integer, got {n!r}")
        cal = _calibration()
        years = rng.uniform(*self.age_years, int(n))
        gender = rng.uniform(*self.gender, int(n))
        boys = cal["boys"]
        age = np.interp(
            years,
            boys["morphological_age_mapping.morphological_age_anchors"],
            boys["morphological_age_mapping.anny_age_anchors"],
        )
        values = {"gender": gender, "age": age}
        for name in ("height", "weight", "muscle", "proportions"):
            draws = []
            for who in ("boys", "girls"):
                t = cal[who]
                key = f"conditional_{name}_distribution"
                anchors = t[f"{key}.age_anchors"]
                a = np.interp(age, anchors, t[f"{key}.alpha_anchors"])
                b = np.interp(age, anchors, t[f"{key}.beta_anchors"])
                draws.append(rng.beta(a, b))
            values[name] = np.where(gender <= 0.5, draws[0], draws[1])
        return np.stack([values[k] for k in _PHENOTYPE_ORDER], axis=1)
