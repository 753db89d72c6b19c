"""Activity families of the pose sampler: parametric templates of the legs and trunk.

Each family draws anatomical angles (degrees, `posekit.data.synthetic.pose_limits`) for n
samples from a few correlated parameters, plus the pelvis's forward tilt (pitch) and sideways
tilt (roll) in the world. Legs are set from *segment angles in the world's sagittal plane*
(thigh and shank inclination from the vertical, positive when the distal end is forward), so
the joint angles are mutually consistent and the feet can stay flat on the floor:

    hip flexion = thigh + pelvis tilt,  knee flexion = thigh - shank,  plantarflexion = shank.

Gait (walking, running) follows normative sagittal joint-angle curves over the gait cycle
(hip, knee, ankle keyframes after Perry & Burnfield, *Gait Analysis*, and Novacheck, Gait &
Posture 7:77 (1998) for running), scaled by a speed factor, with the two legs half a cycle
apart and the arms swinging against the legs. Postures (sitting on a chair or a high seat such
as a stool or a table's edge, kneeling, squatting, ...)
come from the geometry of the posture and the joint limits, not from any motion dataset.

A family returns the angles, the pelvis pitch and roll, and for each sample which arm
activity distribution applies (`FamilyDraw.arms`): the family's own arm setting is kept where
the activity is ``"keep"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from posekit.data.synthetic.pose_limits import dof_index

__all__ = ["FAMILIES", "FAMILY_ARMS", "FamilyDraw", "set_dof"]


@dataclass
class FamilyDraw:
    """What a family template draws for n samples.

    Attributes:
        angles: anatomical angles (the pelvis row is unused).
        pitch: pelvis forward tilt in the world, degrees (+: trunk forward; -90: supine).
        roll: pelvis sideways tilt, degrees (+: left side down, about the world y axis).
        hang: trunk inclination (degrees) that gravity-driven arms ("relaxed", "hang_down")
            add to their shoulder flexion so they hang down, or None.

    Shapes:
        angles: (n, 24, 3); pitch, roll, hang: (n,).
    """

    angles: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    hang: np.ndarray | None = None


def set_dof(a: np.ndarray, joint: str, dof: str, value: np.ndarray | float) -> None:
    """``a[:, joint, axis(dof)] = value`` for a named DOF (in place)."""
    j, ax = dof_index(joint, dof)
    a[:, j, ax] = value


def _u(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _leg(a, s, thigh, shank, tilt, abd=0.0, rot=0.0, flat=True) -> None:
    """One leg (prefix s = 'l_' / 'r_') from segment inclinations (degrees) and pelvis tilt."""
    set_dof(a, s + "hip", "flexion", thigh + tilt)
    set_dof(a, s + "knee", "flexion", thigh - shank)
    set_dof(a, s + "hip", "abduction", abd)
    set_dof(a, s + "hip", "external_rotation", rot)
    if flat:
        set_dof(a, s + "ankle", "plantarflexion", shank)


def _spine(a, flex, lat=0.0, rot=0.0) -> None:
    """Trunk flexion / left lateral flexion / left rotation (degrees) spread over the spine."""
    for joint, wf, wl, wr in (("spine1", 0.6, 0.4, 0.1), ("spine2", 0.2, 0.3, 0.45),
                              ("spine3", 0.2, 0.3, 0.45)):  # fmt: skip
        set_dof(a, joint, "flexion", wf * flex)
        set_dof(a, joint, "lateral_flexion_left", wl * lat)
        set_dof(a, joint, "rotation_left", wr * rot)


def _head(a, flex, lat=0.0, rot=0.0) -> None:
    """Head-on-trunk flexion / lateral flexion / rotation spread over the neck and head."""
    for joint, wf, wl, wr in (("neck", 0.75, 0.85, 0.5), ("head", 0.25, 0.15, 0.5)):
        set_dof(a, joint, "flexion", wf * flex)
        set_dof(a, joint, "lateral_flexion_left", wl * lat)
        set_dof(a, joint, "rotation_left", wr * rot)


def _look(rng, a, n, flex=(-10, 25), rot=25.0) -> None:
    _head(a, _u(rng, *flex, n), rng.normal(0, 6, n), rng.normal(0, rot, n))


def _standing_legs(rng, a, n, tilt) -> None:
    """Quiet standing: stance width, a weight shift to one leg, a step stance sometimes."""
    shift = rng.random(n) < 0.5  # the relaxed (bent) leg is the left one
    step = rng.random(n) < 0.3
    for s, relaxed in (("l_", shift), ("r_", ~shift)):
        knee = np.where(relaxed, _u(rng, 0, 25, n), _u(rng, -3, 8, n))
        thigh = _u(rng, -8, 10, n) + np.where(step & relaxed, _u(rng, 5, 25, n), 0.0)
        thigh -= np.where(step & ~relaxed, _u(rng, 0, 15, n), 0.0)
        _leg(a, s, thigh, thigh - knee, tilt, _u(rng, -6, 14, n), _u(rng, -10, 25, n))


def _stand(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    tilt = rng.normal(0, 3, n)
    _standing_legs(rng, a, n, tilt)
    _spine(a, rng.normal(3, 6, n), rng.normal(0, 5, n), rng.normal(0, 10, n))
    _look(rng, a, n)
    return FamilyDraw(a, tilt, rng.normal(0, 3, n))


# Normative sagittal gait curves, degrees vs % of the cycle from heel strike (hip flexion, knee
# flexion, ankle plantarflexion).
_GAIT_T = np.array([0, 8, 15, 30, 40, 50, 62, 73, 87, 97, 100])
_WALK = {
    "hip": np.array([30, 28, 25, 10, 0, -10, 0, 20, 35, 31, 30]),
    "knee": np.array([5, 15, 18, 5, 3, 5, 40, 62, 30, 5, 5]),
    "ankle": np.array([0, 7, 2, -5, -10, -10, 20, 5, 0, 0, 0]),
}
_RUN = {
    "hip": np.array([40, 30, 20, 0, -12, -15, 0, 25, 50, 45, 40]),
    "knee": np.array([20, 35, 40, 25, 30, 55, 100, 110, 55, 25, 20]),
    "ankle": np.array([0, -10, -20, -5, 20, 20, 10, 0, -5, 0, 0]),
}


def _cycle(curves, phase, speed):
    """Curves at phase in [0, 1), deviations from each curve's mean scaled by speed."""
    out = {}
    for k, v in curves.items():
        m = v.mean()
        out[k] = m + speed * (np.interp(100 * phase, _GAIT_T, v) - m)
    return out


def _gait(rng, n, curves, speed, lean, arm_amp, elbow) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    phase = rng.random(n)
    tilt = lean
    for s, ph in (("l_", phase), ("r_", (phase + 0.5) % 1.0)):
        c = _cycle(curves, ph, speed)
        thigh = c["hip"] - tilt
        _leg(a, s, thigh, thigh - c["knee"], tilt, rng.normal(2, 3, n), rng.normal(5, 6, n))
        set_dof(a, s + "ankle", "plantarflexion", c["ankle"])
        # the arm swings against the leg of its side: forward when that leg is back
        swing = -arm_amp * speed * (c["hip"] - curves["hip"].mean()) / 25.0
        set_dof(a, s + "shoulder", "flexion", 5 + swing)
        set_dof(a, s + "shoulder", "abduction", _u(rng, 8, 22, n))
        set_dof(a, s + "shoulder", "external_rotation", _u(rng, -35, 5, n))
        set_dof(a, s + "elbow", "flexion", elbow + 0.4 * np.maximum(swing, 0))
    pelvis_twist = 6 * speed * np.sin(2 * np.pi * phase)
    _spine(a, rng.normal(2, 4, n), rng.normal(0, 3, n), -pelvis_twist + rng.normal(0, 5, n))
    _look(rng, a, n, flex=(-10, 20), rot=15.0)
    roll = 4 * speed * np.cos(2 * np.pi * phase) + rng.normal(0, 2, n)
    return FamilyDraw(a, tilt, roll)


def _walk(rng, n) -> FamilyDraw:
    speed = _u(rng, 0.5, 1.3, n)
    return _gait(rng, n, _WALK, speed, _u(rng, -2, 6, n), 18.0, _u(rng, 15, 55, n))


def _run(rng, n) -> FamilyDraw:
    speed = _u(rng, 0.6, 1.2, n)
    return _gait(rng, n, _RUN, speed, _u(rng, 3, 15, n), 35.0, _u(rng, 70, 110, n))


def _sit_chair(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    tilt = np.where(rng.random(n) < 0.3, _u(rng, -25, 0, n), _u(rng, -5, 20, n))
    # seat height: a chair (thighs about level) or a high seat, i.e. a stool, a table's edge or
    # perching on a chair's front edge (thighs sloping down, 35-70 deg from the vertical)
    high = rng.random(n) < 0.4
    base = np.where(high, _u(rng, 35, 70, n), _u(rng, 70, 100, n))
    for s in ("l_", "r_"):
        thigh = base + rng.normal(0, 6, n)
        shank = _u(rng, -35, 30, n)
        _leg(a, s, thigh, shank, tilt, _u(rng, -5, 25, n), _u(rng, -15, 25, n))
    crossed = rng.random(n)
    side = np.where(rng.random(n) < 0.5, "l_", "r_")
    for s in ("l_", "r_"):
        over = (side == s) & (crossed < 0.12)  # thigh over thigh
        ankle_on_knee = (side == s) & (crossed >= 0.12) & (crossed < 0.2)
        j, ax = dof_index(s + "hip", "flexion")
        a[over, j, ax] += _u(rng, 5, 20, over.sum())
        for sel, dof, lo, hi in (
            (over, ("hip", "abduction"), -28, -12),
            (over, ("knee", "flexion"), 50, 95),
            (ankle_on_knee, ("hip", "abduction"), 25, 45),
            (ankle_on_knee, ("hip", "external_rotation"), 30, 45),
            (ankle_on_knee, ("knee", "flexion"), 95, 130),
        ):
            j, ax = dof_index(s + dof[0], dof[1])
            a[sel, j, ax] = _u(rng, lo, hi, sel.sum())
    _spine(a, _u(rng, -10, 40, n) - 0.5 * np.minimum(tilt, 0), rng.normal(0, 5, n),
           rng.normal(0, 12, n))  # fmt: skip
    _look(rng, a, n, flex=(-15, 30))
    return FamilyDraw(a, tilt, rng.normal(0, 3, n))


def _sit_floor(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    tilt = _u(rng, -35, 5, n)
    kind = rng.choice(4, n, p=[0.3, 0.35, 0.2, 0.15])  # long, cross-legged, knee up, side
    for k, s in enumerate(("l_", "r_")):
        thigh = np.where(kind == 1, _u(rng, 55, 80, n), _u(rng, 80, 95, n))
        knee = np.where(kind == 1, _u(rng, 115, 135, n), _u(rng, 0, 30, n))
        abd = np.where(kind == 1, _u(rng, 25, 45, n), _u(rng, -5, 20, n))
        rot = np.where(kind == 1, _u(rng, 25, 45, n), _u(rng, -10, 30, n))
        up = (kind == 2) & (rng.random(n) < (0.7 if k == 0 else 0.4))
        thigh = np.where(up, _u(rng, 100, 130, n), thigh)
        knee = np.where(up, _u(rng, 90, 135, n), knee)
        side = kind == 3  # both knees folded to the right: left externally, right internally
        knee = np.where(side, _u(rng, 100, 135, n), knee)
        thigh = np.where(side, _u(rng, 60, 85, n), thigh)
        rot = np.where(side, _u(rng, 20, 45, n) if k == 0 else _u(rng, -45, -20, n), rot)
        _leg(a, s, thigh, thigh - knee, tilt, abd, rot, flat=False)
        set_dof(a, s + "ankle", "plantarflexion", _u(rng, -5, 40, n))
    _spine(a, _u(rng, 0, 45, n), rng.normal(0, 6, n), rng.normal(0, 12, n))
    _look(rng, a, n, flex=(-20, 30))
    return FamilyDraw(a, tilt, rng.normal(0, 4, n))


def _kneel(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    kind = rng.choice(3, n, p=[0.3, 0.3, 0.4])  # tall kneel, sit on heels, half kneel
    tilt = _u(rng, -5, 25, n)
    for k, s in enumerate(("l_", "r_")):
        thigh = np.where(kind == 0, _u(rng, -10, 20, n), _u(rng, 25, 55, n))
        shank = _u(rng, -95, -80, n)
        front = (kind == 2) & (k == 0)  # the left foot forward in a half kneel
        thigh = np.where(
            front, _u(rng, 60, 100, n), np.where(kind == 2, _u(rng, -20, 15, n), thigh)
        )
        shank = np.where(front, _u(rng, -15, 25, n), shank)
        _leg(a, s, thigh, shank, tilt, _u(rng, -5, 20, n), _u(rng, -15, 25, n), flat=False)
        set_dof(a, s + "ankle", "plantarflexion", np.where(front, shank, _u(rng, 10, 50, n)))
        set_dof(a, s + "foot", "flexion", np.where(front | (rng.random(n) < 0.5), 0,
                                                   _u(rng, -60, -30, n)))  # fmt: skip
    _spine(a, _u(rng, -10, 40, n), rng.normal(0, 5, n), rng.normal(0, 12, n))
    _look(rng, a, n, flex=(-15, 30))
    return FamilyDraw(a, tilt, rng.normal(0, 3, n))


def _crouch(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    deep = rng.random(n) < 0.5
    tilt = _u(rng, 5, 40, n)
    for s in ("l_", "r_"):
        thigh = np.where(deep, _u(rng, 80, 115, n), _u(rng, 35, 80, n)) + rng.normal(0, 5, n)
        shank = np.where(deep, _u(rng, -45, -20, n), _u(rng, -35, -10, n))
        _leg(a, s, thigh, shank, tilt, _u(rng, 0, 30, n), _u(rng, 0, 35, n))
        heels_up = rng.random(n) < 0.4
        set_dof(a, s + "foot", "flexion", np.where(heels_up, _u(rng, -60, -20, n), 0))
        j, ax = dof_index(s + "ankle", "plantarflexion")
        a[heels_up, j, ax] += _u(rng, 20, 45, heels_up.sum())
    flex = _u(rng, 0, 50, n)
    _spine(a, flex, rng.normal(0, 6, n), rng.normal(0, 12, n))
    _look(rng, a, n, flex=(-30, 30))
    return FamilyDraw(a, tilt, rng.normal(0, 3, n), np.clip(tilt + flex, 0, 150))


def _bend(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    kind = rng.choice(3, n, p=[0.5, 0.25, 0.25])  # stoop, squat-lift, bow
    tilt = np.select([kind == 0, kind == 1], [_u(rng, 30, 95, n), _u(rng, 20, 55, n)],
                     _u(rng, 10, 40, n))  # fmt: skip
    for s in ("l_", "r_"):
        thigh = np.where(kind == 1, _u(rng, 30, 80, n), _u(rng, -8, 10, n))
        knee = np.where(kind == 1, _u(rng, 50, 110, n), _u(rng, -3, 25, n))
        _leg(a, s, thigh, thigh - knee, tilt, _u(rng, -5, 20, n), _u(rng, -10, 25, n))
    flex = np.where(kind == 2, _u(rng, 0, 20, n), _u(rng, 0, 60, n))
    _spine(a, flex, rng.normal(0, 6, n), rng.normal(0, 12, n))
    _look(rng, a, n, flex=(-35, 25))
    return FamilyDraw(a, tilt, rng.normal(0, 3, n), np.clip(tilt + flex, 0, 150))


def _reach(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    tilt = rng.normal(3, 5, n)
    _standing_legs(rng, a, n, tilt)
    toes = rng.random(n) < 0.3
    for s in ("l_", "r_"):
        j, ax = dof_index(s + "ankle", "plantarflexion")
        a[toes, j, ax] = _u(rng, 15, 45, toes.sum())
        set_dof(a, s + "foot", "flexion", np.where(toes, _u(rng, -50, -20, n), 0))
    _spine(a, _u(rng, -15, 35, n), rng.normal(0, 10, n), rng.normal(0, 20, n))
    _look(rng, a, n, flex=(-30, 30), rot=30.0)
    return FamilyDraw(a, tilt, rng.normal(0, 4, n))


def _arms_raised(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    tilt = rng.normal(0, 3, n)
    _standing_legs(rng, a, n, tilt)
    _spine(a, _u(rng, -20, 10, n), rng.normal(0, 10, n), rng.normal(0, 12, n))
    _look(rng, a, n, flex=(-30, 15))
    return FamilyDraw(a, tilt, rng.normal(0, 3, n))


def _lying(rng, n) -> FamilyDraw:
    a = np.zeros((n, 24, 3))
    kind = rng.choice(3, n, p=[0.5, 0.2, 0.3])  # supine, prone, on the side
    for s in ("l_", "r_"):
        up = rng.random(n) < 0.35
        thigh = np.where(up, _u(rng, 30, 90, n), _u(rng, -5, 20, n))
        knee = np.where(up, _u(rng, 50, 120, n), _u(rng, 0, 20, n))
        side = kind == 2
        thigh = np.where(side, _u(rng, 10, 80, n), thigh)
        knee = np.where(side, _u(rng, 10, 100, n), knee)
        _leg(a, s, thigh, thigh - knee, 0.0, _u(rng, -5, 20, n), _u(rng, -10, 40, n), False)
        set_dof(a, s + "ankle", "plantarflexion", _u(rng, 0, 45, n))
    _spine(a, _u(rng, -10, 20, n), rng.normal(0, 6, n), rng.normal(0, 10, n))
    _look(rng, a, n, flex=(-20, 30), rot=30.0)
    pitch = np.select([kind == 0, kind == 1], [-90.0, 90.0], 0.0) + rng.normal(0, 5, n)
    roll = np.where(kind == 2, np.where(rng.random(n) < 0.5, 90.0, -90.0), 0.0)
    return FamilyDraw(a, pitch, roll + rng.normal(0, 5, n))


# name -> template; the order is the family index order.
FAMILIES: dict[str, Callable[[np.random.Generator, int], FamilyDraw]] = {
    "stand": _stand,
    "walk": _walk,
    "run": _run,
    "sit_chair": _sit_chair,
    "sit_floor": _sit_floor,
    "kneel": _kneel,
    "crouch": _crouch,
    "bend": _bend,
    "reach": _reach,
    "arms_raised": _arms_raised,
    "lying": _lying,
}

_ONE = {"relaxed": 3, "gesture": 3, "pointing": 0.7, "phone": 0.8, "hand_to_mouth": 0.8}
# family -> arm activity weights ("keep": the family's own arms, e.g. the gait's arm swing).
FAMILY_ARMS: dict[str, dict[str, float]] = {
    "stand": {**_ONE, "clasp_front": 0.8, "hand_on_hip": 0.5, "hands_on_hips": 0.5, "photo": 0.5,
              "arms_crossed": 0.7, "holding": 0.8, "holding_box": 0.3, "wave": 0.3,
              "behind_back": 0.4, "hand_on_head": 0.3, "pockets": 0.6},
    "walk": {"keep": 5, "clasp_front": 0.2, "phone": 0.5, "hand_to_mouth": 0.3, "holding": 1,
             "holding_box": 0.2, "pockets": 0.4, "behind_back": 0.2, "gesture": 0.5,
             "pointing": 0.2, "arms_crossed": 0.2},
    "run": {"keep": 1},
    "sit_chair": {"lap": 2, "gesture": 2, "clasp_front": 0.5, "relaxed": 1, "phone": 0.8,
                  "hand_to_mouth": 1, "holding": 1, "arms_crossed": 0.5, "hand_on_knee": 0.7,
                  "photo": 0.3, "hand_on_head": 0.2, "pointing": 0.3, "reach": 0.3},
    "sit_floor": {"support_behind": 1.5, "hand_on_knee": 1.5, "lap": 1.5, "gesture": 1,
                  "holding": 0.5, "relaxed": 0.5, "phone": 0.3, "hand_to_mouth": 0.3,
                  "reach": 0.3},
    "kneel": {"relaxed": 1, "hand_on_knee": 1, "gesture": 1, "holding": 1, "reach": 0.7,
              "lap": 0.7, "hands_on_hips": 0.2},
    "crouch": {"hand_on_knee": 2, "holding": 1, "reach": 1, "relaxed": 1, "lap": 1,
               "gesture": 0.5, "hang_down": 1},
    "bend": {"hang_down": 3, "reach": 1.5, "hand_on_knee": 1, "holding": 0.5},
    "reach": {"reach": 4, "raised": 0.5, "pointing": 1},
    "arms_raised": {"raised": 3, "wave": 1, "hand_on_head": 1, "reach": 1},
    "lying": {"relaxed": 2, "raised": 1, "lap": 1, "hand_on_head": 1, "gesture": 0.5},
}  # fmt: skip
