"""Arm activities of the pose sampler: what the upper limbs do, as anatomical angle ranges.

Each activity is a template for one arm (left-side anatomical angles in degrees, see
`posekit.data.synthetic.pose_limits`): a uniform range per DOF, drawn independently per arm.
Bimanual activities (``both``: taking a photo, arms crossed, hands on hips, arms raised,
holding a box, hands clasped in front) set both arms from one draw of the template each, with
a common draw of the activity; one-handed ones (phoning, eating, pointing) set one arm and
leave the other to the family's other activities. The side is drawn uniformly, so the
distribution is symmetric.

The ranges come from the postures' geometry (e.g. a hand at the mouth needs ~130-150 deg of
elbow flexion and ~30-60 deg of shoulder flexion with some internal rotation), checked on the
anny body. One revision looked at real poses: Human3.6M's training subjects (S1/S5/S6/S7, never
S8) hold their elbows more bent (median inner angle 101 deg; 136 in this sampler's pool after
the revision, ``benchmarks/lift_realism.py --conventions``), their forearms
toward the body's midline and their hanging upper arms further from the trunk than the first
templates drew, so "relaxed", "gesture" and "holding" and the gait's arm swing were widened
toward those and "clasp_front" was added (``benchmarks/lift_realism.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.data.synthetic.pose_limits import dof_index

__all__ = ["ARM_ACTIVITIES", "ARM_DOFS", "ArmActivity", "set_arm"]

# The DOFs an arm activity sets, per side; a DOF a template leaves out is 0 (neutral).
ARM_DOFS: tuple[tuple[str, str], ...] = (
    ("shoulder", "flexion"),
    ("shoulder", "abduction"),
    ("shoulder", "external_rotation"),
    ("elbow", "flexion"),
    ("elbow", "supination"),
    ("wrist", "flexion"),
    ("wrist", "ulnar_deviation"),
    ("hand", "flexion"),
)


@dataclass(frozen=True)
class ArmActivity:
    """One arm template.

    Attributes:
        name: activity name.
        ranges: DOF (as in `ARM_DOFS`, short names) -> (low, high) degrees, uniform.
        both: True for bimanual activities (both arms drawn from this template).
    """

    name: str
    ranges: dict[str, tuple[float, float]]
    both: bool = False


def _a(name: str, both: bool = False, **ranges: tuple[float, float]) -> ArmActivity:
    return ArmActivity(name, ranges, both)


# Short DOF names: sf/sa/sr shoulder flexion/abduction/external rotation, ef/es elbow
# flexion/supination, wf/wu wrist flexion/ulnar deviation, hf finger (MCP) flexion.
# fmt: off
ARM_ACTIVITIES: dict[str, ArmActivity] = {a.name: a for a in (
    _a("relaxed", sf=(-20, 12), sa=(5, 28), sr=(-30, 20), ef=(0, 45), es=(-30, 30), hf=(0, 40)),
    _a("gesture", sf=(0, 70), sa=(0, 45), sr=(-60, 30), ef=(30, 120), es=(-40, 60),
       wf=(-30, 30), hf=(0, 60)),
    _a("hand_on_hip", sf=(-25, -5), sa=(32, 50), sr=(-70, -45), ef=(70, 95), wf=(-30, 0)),
    _a("hands_on_hips", both=True, sf=(-25, -5), sa=(32, 50), sr=(-70, -45), ef=(70, 95),
       wf=(-30, 0)),
    _a("phone", sf=(35, 70), sa=(0, 30), sr=(-50, -10), ef=(130, 150), es=(-20, 40),
       wf=(-30, 10), hf=(30, 80)),
    _a("hand_to_mouth", sf=(35, 60), sa=(-5, 20), sr=(-50, -25), ef=(115, 145), es=(0, 60),
       wf=(-20, 30), hf=(30, 80)),
    _a("photo", both=True, sf=(65, 95), sa=(0, 30), sr=(-50, -20), ef=(70, 110), es=(-20, 40),
       wf=(-40, 0), hf=(20, 60)),
    _a("arms_crossed", both=True, sf=(15, 45), sa=(-20, 5), sr=(-70, -50), ef=(70, 100),
       es=(-10, 40), hf=(20, 70)),
    _a("holding", sf=(5, 50), sa=(0, 25), sr=(-55, 5), ef=(45, 110), es=(-20, 60), hf=(40, 90)),
    _a("clasp_front", both=True, sf=(5, 35), sa=(5, 25), sr=(-75, -45), ef=(60, 100),
       es=(-10, 50), wf=(-20, 20), hf=(20, 70)),
    _a("holding_box", both=True, sf=(20, 60), sa=(0, 25), sr=(-50, -10), ef=(40, 100),
       es=(0, 60), hf=(20, 70)),
    _a("pointing", sf=(45, 110), sa=(0, 70), sr=(-20, 30), ef=(0, 25), wf=(-20, 10)),
    _a("reach", sf=(60, 160), sa=(0, 90), sr=(-30, 40), ef=(0, 35), wf=(-30, 20)),
    _a("raised", both=True, sf=(110, 160), sa=(0, 80), sr=(-20, 40), ef=(0, 45)),
    _a("wave", sf=(0, 60), sa=(60, 110), sr=(40, 90), ef=(50, 120), es=(-30, 30)),
    _a("behind_back", both=True, sf=(-50, -35), sa=(5, 20), sr=(-70, -40), ef=(60, 80)),
    _a("hand_on_head", sf=(10, 60), sa=(125, 145), sr=(55, 90), ef=(100, 120)),
    _a("pockets", sf=(-15, 10), sa=(5, 20), sr=(-35, -5), ef=(20, 55), wf=(0, 30)),
    _a("lap", sf=(10, 35), sa=(3, 18), sr=(-45, -5), ef=(35, 70), es=(-20, 60), hf=(0, 50)),
    _a("support_behind", sf=(-55, -25), sa=(5, 30), sr=(-10, 30), ef=(0, 15), wf=(-70, -40)),
    _a("hand_on_knee", sf=(20, 70), sa=(0, 20), sr=(-40, 0), ef=(0, 40), wf=(-40, 0)),
    _a("hang_down", sf=(-10, 10), sa=(3, 15), sr=(-20, 20), ef=(0, 20), hf=(0, 40)),
)}
# fmt: on

_FULL = {
    "sf": ("shoulder", "flexion"),
    "sa": ("shoulder", "abduction"),
    "sr": ("shoulder", "external_rotation"),
    "ef": ("elbow", "flexion"),
    "es": ("elbow", "supination"),
    "wf": ("wrist", "flexion"),
    "wu": ("wrist", "ulnar_deviation"),
    "hf": ("hand", "flexion"),
}


def set_arm(
    angles: np.ndarray,
    rows: np.ndarray,
    side: np.ndarray,
    activity: ArmActivity,
    rng: np.random.Generator,
    offset_deg: dict[str, np.ndarray] | None = None,
) -> None:
    """Draw one arm template for ``rows`` of ``angles`` (in place), on side l (0) or r (1).

    Args:
        angles: anatomical angles being built, degrees.
        rows: indices of the samples to set.
        side: per row, 0 = left arm, 1 = right arm.
        activity: the template.
        rng: random generator (consumed in a fixed order: one uniform per DOF of the template).
        offset_deg: optional per-row additions to short DOF names (e.g. shoulder flexion to
            keep a hanging arm vertical under a tilted trunk).

    Shapes:
        angles: (n, 24, 3); rows, side: (m,); offsets: (m,).
    """
    m = len(rows)
    values = {}
    for key, (lo, hi) in activity.ranges.items():
        values[key] = rng.uniform(lo, hi, m)
    for key, extra in (offset_deg or {}).items():
        values[key] = values.get(key, 0.0) + extra
    for key, (joint, dof) in _FULL.items():
        v = values.get(key)
        if v is None:
            continue
        for s, prefix in ((0, "l_"), (1, "r_")):
            sel = side == s
            if sel.any():
                j, ax = dof_index(prefix + joint, dof)
                angles[rows[sel], j, ax] = np.broadcast_to(v, (m,))[sel]
