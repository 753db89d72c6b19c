"""Anatomical joint limits of the anny24 pose, and anatomical angles <-> axis-angle poses.

The pose sampler works in *anatomical angles*: per joint three degrees of freedom (DOFs) in
degrees, named clinically (flexion, abduction, external rotation, ...), measured from the
anatomical neutral posture (standing upright, arms hanging at the sides with the palms facing
the thighs, elbows and knees straight, feet flat). `LIMITS` is the one table of their ranges.

**Axes (measured on the body, see tests/data/test_data_poses.py).** An `AnnyBody` pose rotates
each joint about the world axes of the zero pose, carried along by the parent (SMPL's
convention). anny's zero pose faces **-Y** (toes and nose at -Y), left side at +X, Z up.
Rotating a left joint by +0.5 rad about x / y / z moves its child (e.g. 0.2 m for the knee):

=============  ======================  ======================  ======================
left joint     +x                      +y                      +z
=============  ======================  ======================  ======================
hip, shoulder  knee/elbow backward     knee/elbow medially     small (long axis)
               (extension)             (adduction)             (external rotation)
knee           ankle backward (flex.)  ankle medially (varus)  small (ext. rotation)
elbow          wrist backward (ext.)   medially                small (supination)
ankle          toes down (plantarfl.)  (inversion)             toes lateral (abd.)
spine, neck    forward (flexion)       to the left (lat. fl.)  front turns left (rot.)
collar         (posterior rotation)    shoulder down (depr.)   shoulder back (retract.)
=============  ======================  ======================  ======================

Right joints mirror left ones through the sagittal plane x -> -x: a left rotation vector
(x, y, z) is the right one (x, -y, -z), so every row below applies to both sides and sampled
poses are left/right symmetric by construction.

**Neutral offsets.** anny's zero pose is a relaxed A-pose, not the anatomical neutral one: the
arms are abducted ~41 deg with the elbows flexed ~42 deg, the knees flexed ~8 deg and the
thighs abducted ~5 deg. `NEUTRAL_OFFSETS_DEG` (left side, rotation vectors in the zero pose's
axes, measured on the default shape; they vary by <= 2 deg with shape) takes the zero pose to
the anatomical neutral one; the elbow's offset straightens it in its own bending plane, the
shoulder's turns the upper arm down so that the elbow's hinge axis lies along x.

**From angles to a pose.** For joint j with parent p, let N_j = N_p O_j be the neutral posture's
accumulated rotation (O_j the offset). The anatomical rotation E_j = exp(swing) exp(twist) is
expressed in the anatomical frame of the parent segment (world axes in the neutral posture):
its twist is the DOF about the segment's long axis (`TWIST_AXIS`: z for limbs and spine, y for
the foot, x for the clavicle), its swing the other two DOFs as one rotation vector
perpendicular to it. The pose rotation is then R_j = N_p^T E_j N_p O_j. `pose_to_anatomical`
inverts this exactly (swing-twist decomposition), which is how the tests check the limits.

**Sources** (the ``source`` column): AAOS = American Academy of Orthopaedic Surgeons normal
range-of-motion table (Greene & Heckman, *The Clinical Measurement of Joint Motion*, AAOS
1994); N&W = Norkin & White, *Measurement of Joint Motion: A Guide to Goniometry* (clinical
goniometry norms); Kapandji = *The Physiology of the Joints* (vol. 1 upper limb, vol. 3 spine);
W&P = White & Panjabi, *Clinical Biomechanics of the Spine* (segmental ranges, used to split a
regional total between anny's spine joints); Ludewig = Ludewig et al., J Bone Joint Surg Am
91:378 (2009), clavicle motion during arm elevation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit._checks import check_shape
from posekit.skeletons.anny import ANNY24

__all__ = [
    "CONE_JOINTS",
    "LIMITS",
    "LOWER_DEG",
    "NEUTRAL_OFFSETS_DEG",
    "TWIST_AXIS",
    "UPPER_DEG",
    "DofLimit",
    "anatomical_to_pose",
    "clamp_to_limits",
    "dof_index",
    "format_limits_table",
    "mirror_angles",
    "pose_to_anatomical",
    "quat_mul",
    "quat_to_rotvec",
    "rotvec_to_quat",
]


@dataclass(frozen=True)
class DofLimit:
    """One anatomical degree of freedom and its normal range.

    Attributes:
        joint: anny24 joint; an ``l_`` row applies to the ``r_`` joint too (mirrored).
        axis: ``"x"``, ``"y"`` or ``"z"``: the rotation axis (neutral posture's world axes).
        sign: the left/central rotation-vector component is ``sign * angle``.
        positive: anatomical name of the positive direction (the DOF's name).
        negative: name of the negative direction.
        min_deg: most negative angle (``-`` the range of the negative direction), degrees.
        max_deg: largest positive angle, degrees.
        source: where the range comes from (see the module docstring).
    """

    joint: str
    axis: str
    sign: int
    positive: str
    negative: str
    min_deg: float
    max_deg: float
    source: str


_D = DofLimit
_SPINE = "AAOS thoracolumbar (flex 80 / ext 25 / lat 35 / rot 45), split by W&P"
_NECK = "AAOS cervical (45 / 45 / 45 / 60), split C2-C7 vs C0-C2 by Kapandji vol. 3"
_FIX = "not a clinical DOF: small tolerance only"
# fmt: off
LIMITS: tuple[DofLimit, ...] = (
    _D("spine1", "x", 1, "flexion", "extension", -15, 50, _SPINE + " (lumbar)"),
    _D("spine1", "y", 1, "lateral_flexion_left", "lateral_flexion_right", -15, 15, _SPINE),
    _D("spine1", "z", 1, "rotation_left", "rotation_right", -5, 5, _SPINE),
    _D("spine2", "x", 1, "flexion", "extension", -5, 15, _SPINE + " (lower thoracic)"),
    _D("spine2", "y", 1, "lateral_flexion_left", "lateral_flexion_right", -10, 10, _SPINE),
    _D("spine2", "z", 1, "rotation_left", "rotation_right", -20, 20, _SPINE),
    _D("spine3", "x", 1, "flexion", "extension", -5, 15, _SPINE + " (upper thoracic)"),
    _D("spine3", "y", 1, "lateral_flexion_left", "lateral_flexion_right", -10, 10, _SPINE),
    _D("spine3", "z", 1, "rotation_left", "rotation_right", -20, 20, _SPINE),
    _D("neck", "x", 1, "flexion", "extension", -30, 35, _NECK + " (C2-C7)"),
    _D("neck", "y", 1, "lateral_flexion_left", "lateral_flexion_right", -40, 40, _NECK),
    _D("neck", "z", 1, "rotation_left", "rotation_right", -30, 30, _NECK),
    _D("head", "x", 1, "flexion", "extension", -15, 10, _NECK + " (C0-C2)"),
    _D("head", "y", 1, "lateral_flexion_left", "lateral_flexion_right", -5, 5, _NECK),
    _D("head", "z", 1, "rotation_left", "rotation_right", -30, 30, _NECK),
    _D("l_collar", "x", -1, "posterior_rotation", "anterior_rotation", -10, 30, "Ludewig"),
    _D("l_collar", "y", -1, "elevation", "depression", -10, 30, "Kapandji vol. 1; Ludewig"),
    _D("l_collar", "z", -1, "protraction", "retraction", -20, 15, "Kapandji vol. 1; Ludewig"),
    _D("l_shoulder", "x", -1, "flexion", "extension", -60, 160,
       "AAOS (flex 180 / ext 60); up to 20 more elevation comes from the collar"),
    _D("l_shoulder", "y", -1, "abduction", "adduction", -45, 160,
       "AAOS (abd 180; horizontal adduction); the trunk blocks the rest (filter)"),
    _D("l_shoulder", "z", 1, "external_rotation", "internal_rotation", -70, 90,
       "AAOS (int 70 / ext 90)"),
    _D("l_elbow", "x", -1, "flexion", "extension", -5, 150,
       "AAOS (0-150); N&W (hyperextension up to 10)"),
    _D("l_elbow", "y", 1, "varus", "valgus", -5, 5, "N&W (carrying angle): " + _FIX),
    _D("l_elbow", "z", 1, "supination", "pronation", -80, 80, "AAOS forearm (80 / 80)"),
    _D("l_wrist", "x", 1, "ulnar_deviation", "radial_deviation", -20, 30, "AAOS (20 / 30)"),
    _D("l_wrist", "y", 1, "flexion", "extension", -70, 80, "AAOS (flex 80 / ext 70)"),
    _D("l_wrist", "z", 1, "twist", "twist", -5, 5, "forearm rotation is the elbow's: " + _FIX),
    _D("l_hand", "x", 1, "abduction", "adduction", -10, 10, "N&W (MCP abduction), shared"),
    _D("l_hand", "y", 1, "flexion", "extension", -45, 90, "AAOS MCP (flex 90 / ext 45)"),
    _D("l_hand", "z", 1, "twist", "twist", -5, 5, _FIX),
    _D("l_hip", "x", -1, "flexion", "extension", -30, 120, "AAOS (flex 120 / ext 30)"),
    _D("l_hip", "y", -1, "abduction", "adduction", -30, 45, "AAOS (abd 45 / add 30)"),
    _D("l_hip", "z", 1, "external_rotation", "internal_rotation", -45, 45,
       "AAOS (int 45 / ext 45)"),
    _D("l_knee", "x", 1, "flexion", "extension", -5, 135,
       "AAOS (0-135); N&W (hyperextension up to 10)"),
    _D("l_knee", "y", 1, "varus", "valgus", -5, 5, _FIX),
    _D("l_knee", "z", 1, "external_rotation", "internal_rotation", -15, 15,
       "N&W (tibial rotation, 30-40 only near 90 flexion): kept small"),
    _D("l_ankle", "x", 1, "plantarflexion", "dorsiflexion", -20, 50, "AAOS (dorsi 20 / pl. 50)"),
    _D("l_ankle", "y", 1, "inversion", "eversion", -15, 35, "AAOS (inv 35 / ev 15)"),
    _D("l_ankle", "z", 1, "abduction", "adduction", -20, 10, "N&W forefoot (add 20 / abd 10)"),
    _D("l_foot", "x", 1, "flexion", "extension", -70, 45, "AAOS 1st MTP (flex 45 / ext 70)"),
    _D("l_foot", "y", 1, "twist", "twist", -5, 5, _FIX),
    _D("l_foot", "z", 1, "abduction", "adduction", -10, 10, "N&W (toe abduction): kept small"),
)
# fmt: on

# Long (twist) axis per joint in the neutral posture: z for limbs and spine, y for the foot
# (toes point forward), x for the clavicle.
_TWIST = {"l_collar": 0, "r_collar": 0, "l_ankle": 1, "r_ankle": 1, "l_foot": 1, "r_foot": 1}
TWIST_AXIS: np.ndarray = np.array([_TWIST.get(j, 2) for j in ANNY24.joints])

# Left-side neutral offsets, degrees (rotation vectors; right = mirrored), see the docstring.
NEUTRAL_OFFSETS_DEG: dict[str, tuple[float, float, float]] = {
    "l_shoulder": (2.7, 41.0, -2.8),
    "l_elbow": (31.5, 2.5, 27.3),
    "l_hip": (4.05, 4.7, 0.0),
    "l_knee": (-8.1, 1.1, -0.7),
}

# Ball joints whose swing (x, y DOFs; twist z) is limited by an elliptical cone.
CONE_JOINTS: tuple[str, ...] = ("l_shoulder", "r_shoulder", "l_hip", "r_hip")
_CONE = np.array([ANNY24.index(j) for j in CONE_JOINTS])

_AXIS = {"x": 0, "y": 1, "z": 2}
_MIRROR = np.array([1.0, -1.0, -1.0])


def _other_side(joint: str) -> str | None:
    return "r_" + joint[2:] if joint.startswith("l_") else None


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[tuple[str, str], tuple[int, int]]]:
    J = ANNY24.num_joints
    lower, upper = np.full((J, 3), -np.inf), np.full((J, 3), np.inf)
    lower[1:], upper[1:] = 0.0, 0.0  # a DOF missing from the table does not move
    sign = np.ones((J, 3))
    names: dict[tuple[str, str], tuple[int, int]] = {}
    for row in LIMITS:
        a = _AXIS[row.axis]
        for joint, mirror in ((row.joint, 1.0), (_other_side(row.joint), _MIRROR[a])):
            if joint is None:
                continue
            j = ANNY24.index(joint)
            lower[j, a], upper[j, a] = row.min_deg, row.max_deg
            sign[j, a] = row.sign * mirror
            names[(joint, row.positive)] = (j, a)
    return lower, upper, sign, names


LOWER_DEG, UPPER_DEG, _SIGN, _DOF_NAMES = _tables()
"""(24, 3) lower and upper limits in degrees per joint and axis (pelvis: unlimited)."""


def dof_index(joint: str, dof: str) -> tuple[int, int]:
    """``(joint index, axis)`` of a named DOF, e.g. ``dof_index("l_hip", "flexion")``."""
    try:
        return _DOF_NAMES[(joint, dof)]
    except KeyError:
        known = sorted({d for (j, d) in _DOF_NAMES if j == joint})
        raise KeyError(f"no DOF {dof!r} for joint {joint!r}; known: {known}") from None


# --- quaternions (x, y, z, w), numpy, any leading dims ------------------------------------


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions (..., 4), xyzw."""
    av, aw, bv, bw = a[..., :3], a[..., 3:], b[..., :3], b[..., 3:]
    v = aw * bv + bw * av + np.cross(av, bv)
    return np.concatenate([v, aw * bw - (av * bv).sum(-1, keepdims=True)], -1)


def _quat_conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def rotvec_to_quat(r: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) xyzw of axis-angle vectors (..., 3), radians."""
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    # sin(a/2)/a -> 1/2 as a -> 0 (series below 1e-6 rad avoids 0/0)
    k = np.where(angle > 1e-6, np.sin(angle / 2) / np.maximum(angle, 1e-12), 0.5 - angle**2 / 48)
    return np.concatenate([r * k, np.cos(angle / 2)], -1)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3), angle in [0, pi], of unit quaternions (..., 4) xyzw."""
    q = np.where(q[..., 3:] < 0, -q, q)  # w >= 0: angle in [0, pi]
    s = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(s, q[..., 3:])
    k = np.where(s > 1e-9, angle / np.maximum(s, 1e-12), 2.0)
    return q[..., :3] * k


def _neutral_quats() -> tuple[np.ndarray, np.ndarray]:
    """Per joint: offset quaternion O_j and the parent's accumulated neutral rotation N_p."""
    J = ANNY24.num_joints
    offsets = np.zeros((J, 3))
    for joint, deg in NEUTRAL_OFFSETS_DEG.items():
        offsets[ANNY24.index(joint)] = np.radians(deg)
        offsets[ANNY24.index(_other_side(joint))] = np.radians(deg) * _MIRROR
    q_off = rotvec_to_quat(offsets)
    q_acc = np.zeros((J, 4))
    q_parent = np.zeros((J, 4))
    for j, p in enumerate(ANNY24.parents):
        q_parent[j] = [0, 0, 0, 1] if p < 0 else q_acc[p]
        q_acc[j] = quat_mul(q_parent[j], q_off[j])
    return q_off, q_parent


_Q_OFF, _Q_PARENT = _neutral_quats()


def anatomical_to_pose(angles_deg: np.ndarray, root_rotvec: np.ndarray | None = None) -> np.ndarray:
    """Axis-angle anny24 pose from anatomical angles (see the module docstring).

    Args:
        angles_deg: anatomical angles, degrees, column k = the DOF on axis k (`LIMITS`);
            row 0 (pelvis) is ignored.
        root_rotvec: global orientation (rotation vector, radians) for pose row 0; None: 0.

    Returns:
        The pose, radians, float64.

    Shapes:
        angles_deg: (..., 24, 3); root_rotvec: (..., 3); return: (..., 24, 3).
    """
    check_shape(angles_deg, "angles_deg", "... 24 3")
    c = np.radians(angles_deg) * _SIGN  # rotation-vector components, neutral frame
    twist_mask = np.eye(3)[TWIST_AXIS]  # (24, 3)
    q_e = quat_mul(rotvec_to_quat(c * (1 - twist_mask)), rotvec_to_quat(c * twist_mask))
    q = quat_mul(quat_mul(_quat_conj(_Q_PARENT), q_e), quat_mul(_Q_PARENT, _Q_OFF))
    pose = quat_to_rotvec(q)
    pose[..., 0, :] = 0.0 if root_rotvec is None else root_rotvec
    return pose


def pose_to_anatomical(pose: np.ndarray) -> np.ndarray:
    """Anatomical angles (degrees) of an axis-angle anny24 pose; inverse of `anatomical_to_pose`.

    Row 0 of the result is the root's rotation vector in degrees.

    Shapes:
        pose: (..., 24, 3) radians; return: (..., 24, 3) degrees.
    """
    check_shape(pose, "pose", "... 24 3")
    q = rotvec_to_quat(np.asarray(pose, np.float64))
    q_e = quat_mul(quat_mul(_Q_PARENT, q), _quat_conj(quat_mul(_Q_PARENT, _Q_OFF)))
    # swing-twist: twist = the quaternion's projection on the twist axis (renormalized)
    twist_mask = np.concatenate([np.eye(3)[TWIST_AXIS], np.ones((24, 1))], -1)
    q_t = q_e * twist_mask
    q_t = q_t / np.maximum(np.linalg.norm(q_t, axis=-1, keepdims=True), 1e-12)
    q_s = quat_mul(q_e, _quat_conj(q_t))
    c = quat_to_rotvec(q_s) + quat_to_rotvec(q_t)
    out = np.degrees(c) * _SIGN
    out[..., 0, :] = np.degrees(np.asarray(pose, np.float64)[..., 0, :])
    return out


def clamp_to_limits(angles_deg: np.ndarray) -> np.ndarray:
    """Anatomical angles clamped to the limits (a copy; the pelvis row is untouched).

    Every DOF is clipped to [`LOWER_DEG`, `UPPER_DEG`]; the swing of the ball joints
    (`CONE_JOINTS`: shoulders and hips) is further scaled into the ellipse through the limits
    of its two DOFs in the quadrant it points to, so that e.g. full flexion and full abduction
    are not combined into an impossible diagonal elevation (a joint-sinus cone).

    Shapes:
        angles_deg: (..., 24, 3); return: (..., 24, 3).
    """
    check_shape(angles_deg, "angles_deg", "... 24 3")
    out = np.clip(angles_deg, LOWER_DEG, UPPER_DEG)
    swing = out[..., _CONE, :2]  # (..., 4, 2): (flexion-ish x, abduction-ish y)
    bound = np.where(swing >= 0, UPPER_DEG[_CONE, :2], -LOWER_DEG[_CONE, :2])
    r = np.sqrt(((swing / np.maximum(bound, 1e-9)) ** 2).sum(-1, keepdims=True))
    out[..., _CONE, :2] = swing / np.maximum(r, 1.0)
    return out


def format_limits_table() -> str:
    """`LIMITS` as a markdown table (left/central joints; right joints mirror the left)."""
    lines = [
        "| joint | axis | + direction | - direction | min deg | max deg | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in LIMITS:
        axis = ("+" if r.sign > 0 else "-") + r.axis
        lines.append(
            f"| {r.joint} | {axis} | {r.positive} | {r.negative} | {r.min_deg:g} | "
            f"{r.max_deg:g} | {r.source} |"
        )
    return "\n".join(lines)


def _mirror_tables() -> tuple[np.ndarray, np.ndarray]:
    perm = np.arange(ANNY24.num_joints)
    for a, b in ANNY24.flip_pairs:
        perm[a], perm[b] = b, a
    sign = np.ones((ANNY24.num_joints, 3))
    for j, name in enumerate(ANNY24.joints):
        if name[:2] not in ("l_", "r_"):
            sign[j, 1:] = -1.0  # central joints: left lateral flexion / rotation flip
    return perm, sign


_MIRROR_PERM, _MIRROR_SIGN = _mirror_tables()


def mirror_angles(angles_deg: np.ndarray) -> np.ndarray:
    """The left/right mirror image of anatomical angles (reflection x -> -x of the posture).

    Left and right rows swap (their DOFs have the same anatomical meaning); central joints'
    lateral flexion and rotation change sign. Row 0 (pelvis) is kept as is.

    Shapes:
        angles_deg: (..., 24, 3); return: (..., 24, 3).
    """
    check_shape(angles_deg, "angles_deg", "... 24 3")
    out = angles_deg[..., _MIRROR_PERM, :] * _MIRROR_SIGN
    out[..., 0, :] = angles_deg[..., 0, :]
    return out
