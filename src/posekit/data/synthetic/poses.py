"""The pose sampler of the synthetic engine: plausible, varied anny24 poses.

A pose is drawn in four steps, all vectorized over the batch and all driven by one
``np.random.Generator`` (the same generator state gives the same poses):

1. an *activity family* (`posekit.data.synthetic.pose_families`: standing, walking, running,
   sitting on a chair or on the floor, kneeling, crouching, bending, reaching, arms raised,
   lying) draws the legs, trunk, head and the pelvis's tilt from a few correlated parameters
   (a gait phase drives hips, knees, ankles and arm swing together; a sitting posture sets the
   hips at 70-120 deg of flexion and the knees from the shank's angle; ...); half the samples
   are mirrored left <-> right, so every family is symmetric;
2. an *arm activity* (`posekit.data.synthetic.pose_arms`: relaxed, gesturing, phoning, eating,
   taking a photo, arms crossed, pointing, waving, ...) drawn from the family's own mixture
   sets one or both arms;
3. independent Gaussian variation per DOF (`NOISE_DEG`), the clavicle following the arm's
   elevation (scapulohumeral rhythm: +0.15 deg of elevation and 0.1 deg of retraction per
   degree of arm elevation above 60), then clamping to the anatomical limits
   (`posekit.data.synthetic.pose_limits.LIMITS`);
4. a global orientation: the family's pelvis pitch and roll, then a yaw about world z.

Sampling costs ~10-20 us per pose in batches of thousands and ~0.5 ms for one pose (2-core
CPU; benchmarks/pose_coverage.py), far below a rendered sample's cost. The self-penetration
filter (`posekit.data.synthetic.penetration`) needs joints from the body model and runs
separately (`sample_valid`). Body shapes come from `ShapeSampler`
(`posekit.data.synthetic.body_shapes`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posekit.data.synthetic.body_shapes import ShapeSampler
from posekit.data.synthetic.pose_arms import ARM_ACTIVITIES, set_arm
from posekit.data.synthetic.pose_families import FAMILIES, FAMILY_ARMS
from posekit.data.synthetic.pose_limits import (
    anatomical_to_pose,
    clamp_to_limits,
    dof_index,
    mirror_angles,
    quat_mul,
    quat_to_rotvec,
    rotvec_to_quat,
)
from posekit.skeletons.anny import ANNY24

__all__ = [
    "ARM_NAMES",
    "DEFAULT_WEIGHTS",
    "NOISE_DEG",
    "PoseBatch",
    "PoseSampler",
    "ShapeSampler",
    "root_rotvec",
]

# Default family weights: a rough everyday time-use prior (waking hours are mostly spent
# sitting, standing and walking), with the other postures kept frequent enough to be learned.
# A design choice, not fitted to any dataset.
DEFAULT_WEIGHTS: dict[str, float] = {
    "stand": 0.22,
    "walk": 0.18,
    "run": 0.04,
    "sit_chair": 0.18,
    "sit_floor": 0.06,
    "kneel": 0.05,
    "crouch": 0.06,
    "bend": 0.07,
    "reach": 0.05,
    "arms_raised": 0.05,
    "lying": 0.04,
}

ARM_NAMES: tuple[str, ...] = ("keep", *ARM_ACTIVITIES)
"""Arm activity names; `PoseBatch.arms` indexes this tuple ("keep": the family's own arms)."""

_NOISE_BY_JOINT = {
    "spine": (3, 3, 3), "neck": (5, 5, 6), "head": (5, 4, 6), "collar": (3, 3, 3),
    "shoulder": (6, 6, 8), "elbow": (6, 1, 10), "wrist": (8, 6, 1), "hand": (3, 10, 1),
    "hip": (4, 3, 5), "knee": (4, 1, 3), "ankle": (4, 3, 3), "foot": (5, 1, 2),
}  # fmt: skip
NOISE_DEG: np.ndarray = np.array(
    [
        (0.0, 0.0, 0.0)
        if j == "pelvis"
        else _NOISE_BY_JOINT[j[2:] if j[:2] in ("l_", "r_") else j.rstrip("123")]
        for j in ANNY24.joints
    ]
)
"""(24, 3) standard deviation (degrees) of the independent variation per joint and axis."""

_GRAVITY_ARMS = ("relaxed", "hang_down")
_SF = {s: dof_index(s + "shoulder", "flexion") for s in ("l_", "r_")}


def root_rotvec(yaw_deg: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """Global orientation Rz(yaw) Rx(pitch) Ry(roll) as a rotation vector (radians).

    Pitch tilts the body forward (toward its facing direction -Y), roll lowers its left side,
    yaw turns it about world z (counter-clockwise seen from above).

    Shapes:
        yaw_deg, pitch_deg, roll_deg: (n,); return: (n, 3).
    """
    eye = np.eye(3)
    q = [rotvec_to_quat(np.radians(np.asarray(v, np.float64))[:, None] * eye[k])
         for v, k in ((yaw_deg, 2), (pitch_deg, 0), (roll_deg, 1))]  # fmt: skip
    return quat_to_rotvec(quat_mul(quat_mul(q[0], q[1]), q[2]))


@dataclass(frozen=True)
class PoseBatch:
    """Sampled poses.

    Attributes:
        pose: anny24 axis-angle pose, radians; row 0 is the global orientation.
        family: index into ``families`` per sample.
        families: the family names.
        arms: arm activity per sample and side (left, right), index into `ARM_NAMES`.
        angles_deg: the anatomical angles the pose was made from (row 0: unused, zeros).

    Shapes:
        pose: (n, 24, 3) float32; family: (n,) int64; arms: (n, 2) int64;
        angles_deg: (n, 24, 3) float32.
    """

    pose: np.ndarray
    family: np.ndarray
    families: tuple[str, ...]
    arms: np.ndarray
    angles_deg: np.ndarray

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    @property
    def family_names(self) -> np.ndarray:
        """(n,) family name per sample."""
        return np.asarray(self.families)[self.family]

    def take(self, index: np.ndarray) -> PoseBatch:
        """The samples at ``index`` (an index or boolean array)."""
        return PoseBatch(
            self.pose[index], self.family[index], self.families, self.arms[index],
            self.angles_deg[index],
        )  # fmt: skip

    @staticmethod
    def concatenate(batches: Sequence[PoseBatch]) -> PoseBatch:
        """One batch from several drawn with the same families."""
        fams = batches[0].families
        if any(b.families != fams for b in batches):
            raise ValueError("PoseBatch.concatenate: batches have different families")
        cat = [np.concatenate([getattr(b, f) for b in batches]) for f in
               ("pose", "family", "arms", "angles_deg")]  # fmt: skip
        return PoseBatch(cat[0], cat[1], fams, cat[2], cat[3])


class PoseSampler:
    """A mixture of activity families, each a parametric template with correlated variation.

    Args:
        families: family names to draw from (default: all of `FAMILIES`).
        weights: one weight per family (or a name -> weight mapping); default
            `DEFAULT_WEIGHTS`. Normalized to sum to 1.
        noise_scale: multiplies `NOISE_DEG`, the independent per-DOF variation.
        yaw_deg: range of the uniform global yaw about world z, degrees.

    Convention:
        Poses drive `posekit.body.AnnyBody` (zero pose faces -Y, Z up). Every sampled angle is
        within `posekit.data.synthetic.pose_limits.LIMITS`; the distribution is left/right
        symmetric. ``sample(n, rng)`` consumes ``rng`` in a fixed order: the same generator
        state gives the same poses (not the same as another ``n``'s first rows).
    """

    def __init__(
        self,
        families: Sequence[str] | None = None,
        weights: Sequence[float] | Mapping[str, float] | None = None,
        noise_scale: float = 1.0,
        yaw_deg: tuple[float, float] = (-180.0, 180.0),
    ) -> None:
        names = tuple(FAMILIES) if families is None else tuple(families)
        unknown = [f for f in names if f not in FAMILIES]
        if unknown or not names:
            raise ValueError(f"families: unknown {unknown}; known: {tuple(FAMILIES)}")
        if weights is None:
            w = np.array([DEFAULT_WEIGHTS[f] for f in names], np.float64)
        elif isinstance(weights, Mapping):
            extra = [k for k in weights if k not in names]
            if extra:
                raise ValueError(f"weights: unknown families {extra}; known: {names}")
            w = np.array([float(weights.get(f, 0.0)) for f in names], np.float64)
        else:
            w = np.asarray(weights, np.float64)
        if w.shape != (len(names),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"weights: expected {len(names)} non-negative numbers with a positive sum, "
                f"got {w.tolist()}"
            )
        self.families = names
        self.weights = w / w.sum()
        self.noise_scale = float(noise_scale)
        self.yaw_deg = (float(yaw_deg[0]), float(yaw_deg[1]))

    def sample(self, n: int, rng: np.random.Generator) -> PoseBatch:
        """Draw ``n`` poses (see the module docstring for the steps)."""
        if int(n) != n or n < 0:
            raise ValueError(f"n: expected a non-negative integer, got {n!r}")
        n = int(n)
        fam = rng.choice(len(self.families), n, p=self.weights)
        angles = np.zeros((n, 24, 3))
        pitch, roll = np.zeros(n), np.zeros(n)
        arms = np.zeros((n, 2), np.int64)
        for k, name in enumerate(self.families):
            rows = np.flatnonzero(fam == k)
            if len(rows) == 0:
                continue
            draw = FAMILIES[name](rng, len(rows))
            flip = rng.random(len(rows)) < 0.5
            a = np.where(flip[:, None, None], mirror_angles(draw.angles), draw.angles)
            angles[rows] = a
            pitch[rows], roll[rows] = draw.pitch, np.where(flip, -draw.roll, draw.roll)
            self._arms(rng, name, rows, angles, arms, draw.hang)
        angles += rng.normal(0.0, 1.0, angles.shape) * (NOISE_DEG * self.noise_scale)
        _collar_rhythm(angles)
        angles = clamp_to_limits(angles)
        angles[:, 0] = 0.0
        yaw = rng.uniform(*self.yaw_deg, n)
        pose = anatomical_to_pose(angles, root_rotvec(yaw, pitch, roll))
        return PoseBatch(
            pose.astype(np.float32), fam.astype(np.int64), self.families, arms,
            angles.astype(np.float32),
        )  # fmt: skip

    def sample_valid(
        self,
        n: int,
        rng: np.random.Generator,
        is_valid: Callable[[PoseBatch], np.ndarray],
        max_rounds: int = 20,
    ) -> tuple[PoseBatch, dict[str, float]]:
        """Draw ``n`` poses that pass ``is_valid`` (e.g. the self-penetration filter).

        Rejected poses are redrawn in rounds (each round draws what is missing, with a margin)
        until n are accepted; deterministic given ``rng`` and ``is_valid``.

        Args:
            n: number of poses.
            rng: random generator.
            is_valid: batch -> (m,) bool, True for poses to keep.
            max_rounds: give up (RuntimeError) after this many rounds.

        Returns:
            The poses, and the rejection rate per family over all drawn poses.
        """
        kept: list[PoseBatch] = []
        drawn = np.zeros(len(self.families))
        rejected = np.zeros(len(self.families))
        have = 0
        for _ in range(max_rounds):
            if have >= n:
                break
            batch = self.sample(max(8, int((n - have) * 1.25)), rng)
            ok = np.asarray(is_valid(batch), bool)
            np.add.at(drawn, batch.family, 1)
            np.add.at(rejected, batch.family[~ok], 1)
            good = batch.take(np.flatnonzero(ok)[: n - have])
            kept.append(good)
            have += len(good)
        if have < n:
            raise RuntimeError(f"sample_valid: {have} of {n} valid poses after {max_rounds} rounds")
        rates = {f: float(rejected[k] / max(drawn[k], 1)) for k, f in enumerate(self.families)}
        return PoseBatch.concatenate(kept), rates

    def _arms(self, rng, family, rows, angles, arms, hang) -> None:
        """Draw the arm activities of one family's rows (in place)."""
        weights = FAMILY_ARMS[family]
        names = list(weights)
        p = np.array([weights[a] for a in names], np.float64)
        both = np.array([a != "keep" and ARM_ACTIVITIES[a].both for a in names])
        m = len(rows)
        primary = rng.choice(len(names), m, p=p / p.sum())
        side = rng.integers(0, 2, m)
        q = np.where(both, 0.0, p)  # the other arm: a one-handed activity (or "keep")
        secondary = rng.choice(len(names), m, p=q / q.sum())
        bimanual = both[primary]
        for act, sides, active in (
            (primary, side, np.ones(m, bool)),
            (secondary, 1 - side, ~bimanual),
        ):
            for i, a in enumerate(names):
                sel = np.flatnonzero((act == i) & active)
                if len(sel) == 0 or a == "keep":
                    continue
                sel_sides = sides[sel]
                if both[i]:
                    sel, sel_sides = np.concatenate([sel, sel]), np.repeat([0, 1], len(sel))
                offset = {"sf": hang[sel]} if hang is not None and a in _GRAVITY_ARMS else None
                set_arm(angles, rows[sel], sel_sides, ARM_ACTIVITIES[a], rng, offset)
                arms[rows[sel], sel_sides] = ARM_NAMES.index(a)


def _collar_rhythm(angles: np.ndarray) -> None:
    """Clavicle elevation/retraction following the arm's elevation above 60 deg (in place)."""
    for s in ("l_", "r_"):
        j, ax = _SF[s]
        _, ab = dof_index(s + "shoulder", "abduction")
        elev = np.hypot(np.maximum(angles[:, j, ax], 0), np.maximum(angles[:, j, ab], 0))
        extra = np.maximum(elev - 60.0, 0.0)
        c, e = dof_index(s + "collar", "elevation")
        _, p = dof_index(s + "collar", "protraction")
        angles[:, c, e] += 0.15 * extra
        angles[:, c, p] -= 0.10 * extra
