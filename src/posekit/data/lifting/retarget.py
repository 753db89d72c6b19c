"""Bone-length retargeting: the same poses (bone directions) on another skeleton's proportions.

Joint conventions differ between body models and datasets even where the names agree: the
h36m17 joints posekit reads off anny bodies are anatomical joint centres, whereas Human3.6M's
come from its motion-capture skeleton (higher and wider hips, longer thighs, a shorter neck,
narrower shoulders; the bone table below). A lifter learns the proportions of its training
poses, so part of the error of an anny-trained lifter on Human3.6M is this convention gap, not
a gap in poses. `retarget_bone_lengths` moves every joint along its bone so that the bones get
the target proportions, keeping each pose's bone directions and (by default) its overall size.

`H36M_BONE_LENGTHS_M`: the bone lengths of Human3.6M's standard 17-joint skeleton (the
exponential-map release used by motion-prediction code has one fixed set for all subjects;
the means over its S1/S5/S6/S7 poses, printed by ``benchmarks/lift_realism.py --bones``; the
training subjects only, so evaluating on S8 sees nothing of S8).

Lengths are not the whole convention: where a marker-based skeleton puts a joint also changes
the *direction* of the rigid bones of the trunk. Human3.6M's nose joint sits 28 deg further
forward of the trunk's axis than anny's, its head top 13 deg further back, and its shoulder
joints 16 deg lower below the thorax joint. `retarget_directions` turns those bones by fixed
rotations `H36M_DIRECTION_OFFSETS`, expressed in the pose's own trunk frames (so they hold for
any posture, lying or bent over); `fit_direction_offsets` estimates them from two sets of
upright poses (``benchmarks/lift_realism.py --conventions``: the pose sampler's standing
family against Human3.6M's S1/S5/S6/S7 "directions", "discussion", "greeting" and "waiting"
poses). The limbs are left alone: their directions are posture, not convention.
`retarget` chains both: ``"h36m_proportions"`` (lengths, each body keeps its size),
``"h36m_lengths"`` (Human3.6M's skeleton exactly) and ``"h36m"`` (its lengths and directions).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from posekit._checks import check_shape
from posekit.skeletons import get_skeleton

__all__ = [
    "H36M_BONE_LENGTHS_M",
    "H36M_DIRECTION_OFFSETS",
    "RETARGET_MODES",
    "bone_lengths",
    "fit_direction_offsets",
    "level_hips",
    "retarget",
    "retarget_bone_lengths",
    "retarget_directions",
]

#: h36m17 child joint → length of the bone to its parent, metres (Human3.6M's skeleton).
H36M_BONE_LENGTHS_M: dict[str, float] = {
    "r_hip": 0.1329, "r_knee": 0.4429, "r_ankle": 0.4542,
    "l_hip": 0.1329, "l_knee": 0.4429, "l_ankle": 0.4542,
    "spine": 0.2335, "thorax": 0.2571, "neck_nose": 0.1211, "head_top": 0.1150,
    "l_shoulder": 0.1510, "l_elbow": 0.2789, "l_wrist": 0.2517,
    "r_shoulder": 0.1510, "r_elbow": 0.2789, "r_wrist": 0.2517,
}  # fmt: skip

_TABLES = {"h36m": ("h36m17", H36M_BONE_LENGTHS_M)}


def bone_lengths(joints: torch.Tensor, skeleton: str) -> torch.Tensor:
    """Length of every bone (child joint j to its parent; 0 at the root), metres.

    Shapes:
        joints: (N, J, 3); returns: (N, J).
    """
    sk = get_skeleton(skeleton)
    check_shape(joints, "joints", f"N {sk.num_joints} 3")
    if sk.parents[0] >= 0 or any(p < 0 for p in sk.parents[1:]):
        raise ValueError(f"skeleton {sk.name}: expected joint 0 to be the only root")
    # Skeleton.bone_lengths orders bones as `bones`: children 1..J-1 in index order here
    return torch.cat([joints.new_zeros(joints.shape[0], 1), sk.bone_lengths(joints)], dim=1)


def retarget_bone_lengths(
    joints: torch.Tensor,
    skeleton: str,
    target: str | Mapping[str, float],
    keep_size: bool = True,
) -> torch.Tensor:
    """The poses of ``joints`` on the bone proportions of ``target``.

    Args:
        joints: poses in any frame (root-relative or not); the root stays where it is.
        skeleton: their layout (must be the target table's layout).
        target: ``"h36m"`` or a mapping child joint name → bone length (metres).
        keep_size: scale the target lengths per pose so that the sum of its bone lengths is
            kept (people keep their size; only proportions change). False: exact lengths.

    Shapes:
        joints: (N, J, 3); returns: (N, J, 3).

    Raises:
        ValueError: a table of another layout, or a bone missing from the table.
    """
    sk = get_skeleton(skeleton)
    if isinstance(target, str):
        if target not in _TABLES:
            raise ValueError(f"target: expected one of {sorted(_TABLES)}, got {target!r}")
        layout, table = _TABLES[target]
        if layout != sk.name:
            raise ValueError(f"target {target!r} is a {layout} table, the poses are {sk.name}")
    else:
        table = dict(target)
    missing = [sk.joints[j] for j in range(1, sk.num_joints) if sk.joints[j] not in table]
    if missing:
        raise ValueError(f"target: no bone length for {', '.join(missing)}")
    check_shape(joints, "joints", f"N {sk.num_joints} 3")
    x = joints.double()
    L = torch.tensor([0.0] + [table[sk.joints[j]] for j in range(1, sk.num_joints)])
    L = L.to(x).expand(x.shape[0], -1)  # (N, J)
    if keep_size:
        L = L * (bone_lengths(x, sk.name).sum(1, keepdim=True) / L.sum(1, keepdim=True))
    out = x.clone()
    for j in range(1, sk.num_joints):  # parents come before children (root-first layouts)
        p = sk.parents[j]
        d = x[:, j] - x[:, p]
        unit = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True).clamp_min(1e-9)
        out[:, j] = out[:, p] + unit * L[:, j : j + 1]
    return out.to(joints.dtype)


# Trunk frames of h36m17 poses: x = the body's left (the hips' axis for the lower trunk, the
# shoulders' for the upper), z = pelvis -> thorax made orthogonal to x, y = z × x (backward).
_H36M = {"pelvis": 0, "r_hip": 1, "l_hip": 4, "thorax": 8, "l_shoulder": 11, "r_shoulder": 14}
#: bone (child joint) -> the trunk frame its offset is expressed in.
_OFFSET_FRAMES: dict[str, str] = {
    "spine": "lower", "thorax": "lower",
    "neck_nose": "upper", "head_top": "upper", "l_shoulder": "upper", "r_shoulder": "upper",
}  # fmt: skip

#: h36m17 bone (child joint) -> rotation vector (radians, in the bone's trunk frame: x left,
#: y back, z up the trunk) that turns anny's bone direction into Human3.6M's. Printed by
#: ``benchmarks/lift_realism.py --conventions``.
H36M_DIRECTION_OFFSETS: dict[str, tuple[float, float, float]] = {
    "spine": (-0.0245, 0.0, 0.0), "thorax": (0.0225, 0.0, 0.0),
    "neck_nose": (0.4879, 0.0, 0.0), "head_top": (-0.2237, 0.0, 0.0),
    "l_shoulder": (-0.0032, 0.2712, 0.0423), "r_shoulder": (-0.0032, -0.2712, -0.0423),
}  # fmt: skip

RETARGET_MODES = ("h36m_proportions", "h36m_lengths", "h36m")


def _trunk_frames(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N, 3, 3) frames whose columns are the x, y, z axes (see `_OFFSET_FRAMES`)."""
    up = x[:, _H36M["thorax"]] - x[:, _H36M["pelvis"]]
    out = {}
    for name, (left, right) in (("lower", ("l_hip", "r_hip")),
                                ("upper", ("l_shoulder", "r_shoulder"))):  # fmt: skip
        ax = x[:, _H36M[left]] - x[:, _H36M[right]]
        ax = ax / torch.linalg.vector_norm(ax, dim=-1, keepdim=True).clamp_min(1e-9)
        az = up - (up * ax).sum(-1, keepdim=True) * ax
        az = az / torch.linalg.vector_norm(az, dim=-1, keepdim=True).clamp_min(1e-9)
        out[name] = torch.stack([ax, torch.linalg.cross(az, ax), az], dim=-1)
    return out


def _local_directions(x: torch.Tensor, skeleton: str) -> dict[str, torch.Tensor]:
    """Unit direction of every offset bone in its trunk frame, (N, 3) per bone."""
    sk = get_skeleton(skeleton)
    frames = _trunk_frames(x)
    out = {}
    for bone, frame in _OFFSET_FRAMES.items():
        j = sk.joints.index(bone)
        d = x[:, j] - x[:, sk.parents[j]]
        d = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True).clamp_min(1e-9)
        out[bone] = torch.einsum("nki,nk->ni", frames[frame], d)
    return out


def _rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The rotation vector of the shortest rotation taking direction a to direction b."""
    a = a / torch.linalg.vector_norm(a)
    b = b / torch.linalg.vector_norm(b)
    axis = torch.linalg.cross(a, b)
    s = torch.linalg.vector_norm(axis)
    angle = torch.atan2(s, (a * b).sum())
    return axis / s.clamp_min(1e-12) * angle


def _rotvec_to_matrix(v: torch.Tensor) -> torch.Tensor:
    angle = torch.linalg.vector_norm(v)
    if float(angle) < 1e-12:
        return torch.eye(3, dtype=v.dtype)
    k = v / angle
    K = torch.zeros(3, 3, dtype=v.dtype)
    K[0, 1], K[0, 2], K[1, 0], K[1, 2], K[2, 0], K[2, 1] = -k[2], k[1], k[2], -k[0], -k[1], k[0]
    return torch.eye(3, dtype=v.dtype) + torch.sin(angle) * K + (1 - torch.cos(angle)) * K @ K


def fit_direction_offsets(
    source: torch.Tensor, target: torch.Tensor, skeleton: str = "h36m17"
) -> dict[str, tuple[float, float, float]]:
    """Rotations that take the mean trunk-bone directions of ``source`` onto ``target``'s.

    Both sets should hold comparable (e.g. upright) postures, so that what differs is where
    the joints are defined, not the posture. The result is left/right symmetric: the midline
    bones' mean directions lose their sideways component, and the right shoulder's offset is
    the mirror image of the left one's (fitted on both, the right one mirrored).

    Shapes:
        source: (N, 17, 3); target: (M, 17, 3), any frame (only relative positions count).

    Returns:
        bone (child joint) -> rotation vector (radians) in the bone's trunk frame.
    """
    if skeleton != "h36m17":
        raise ValueError(f"skeleton: direction offsets are defined for h36m17, got {skeleton!r}")
    check_shape(source, "source", "N 17 3")
    check_shape(target, "target", "M 17 3")
    a = _local_directions(source.double(), skeleton)
    b = _local_directions(target.double(), skeleton)
    flip = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # mirror x (left <-> right)
    out: dict[str, tuple[float, float, float]] = {}
    for bone in _OFFSET_FRAMES:
        if bone in ("l_shoulder", "r_shoulder"):
            ma = (a["l_shoulder"].mean(0) + a["r_shoulder"].mean(0) * flip) / 2
            mb = (b["l_shoulder"].mean(0) + b["r_shoulder"].mean(0) * flip) / 2
            if bone == "r_shoulder":
                ma, mb = ma * flip, mb * flip
        else:
            ma, mb = a[bone].mean(0), b[bone].mean(0)
            ma[0] = mb[0] = 0.0
        out[bone] = tuple(round(float(v), 4) for v in _rotation_between(ma, mb))
    return out


def retarget_directions(
    joints: torch.Tensor,
    skeleton: str,
    offsets: str | Mapping[str, tuple[float, float, float]] = "h36m",
) -> torch.Tensor:
    """Turn the trunk bones of ``joints`` by fixed rotations in each pose's trunk frames.

    Every bone keeps its length; the bones not in ``offsets`` keep their world direction (a
    turned bone moves its descendants with it, as a rigid chain). The frames are those of the
    input pose, so the same offset applies to a standing, bent or lying body alike.

    Args:
        joints: h36m17 poses, any frame.
        skeleton: must be ``"h36m17"``.
        offsets: ``"h36m"`` (`H36M_DIRECTION_OFFSETS`) or bone -> rotation vector (radians).

    Shapes:
        joints: (N, 17, 3); returns: (N, 17, 3).
    """
    if skeleton != "h36m17":
        raise ValueError(f"skeleton: direction offsets are defined for h36m17, got {skeleton!r}")
    if isinstance(offsets, str):
        if offsets != "h36m":
            raise ValueError(f"offsets: expected 'h36m' or a mapping, got {offsets!r}")
        offsets = H36M_DIRECTION_OFFSETS
    unknown = sorted(set(offsets) - set(_OFFSET_FRAMES))
    if unknown:
        raise ValueError(f"offsets: no trunk frame for {', '.join(unknown)}; "
                         f"expected some of {', '.join(_OFFSET_FRAMES)}")  # fmt: skip
    check_shape(joints, "joints", "N 17 3")
    sk = get_skeleton(skeleton)
    x = joints.double()
    frames = _trunk_frames(x)
    out = x.clone()
    for j in range(1, sk.num_joints):
        p = sk.parents[j]
        d = x[:, j] - x[:, p]
        bone = sk.joints[j]
        if bone in offsets:
            F = frames[_OFFSET_FRAMES[bone]]  # (N, 3, 3), columns = axes
            R = _rotvec_to_matrix(torch.tensor(offsets[bone], dtype=torch.float64))
            d = torch.einsum("nij,jk,nlk,nl->ni", F, R, F, d)  # F R F^T d
        out[:, j] = out[:, p] + d
    return out.to(joints.dtype)


def level_hips(joints: torch.Tensor, skeleton: str = "h36m17") -> torch.Tensor:
    """Make the pelvis -> hip bones horizontal (world z removed, lengths kept).

    Human3.6M's hip joints lie on a level line through the pelvis in every pose (the hip line
    is within 0.6 deg of horizontal in 90 % of the S1/S5/S6/S7 poses, 1.3 deg in 99 %;
    ``benchmarks/lift_realism.py --conventions``), a property of its skeleton, not of people;
    anny's pelvis tilts and rolls with the body. The
    legs keep their world directions (they move with their hip joint).

    Shapes:
        joints: (N, 17, 3), world Z up; returns: (N, 17, 3).
    """
    if skeleton != "h36m17":
        raise ValueError(f"skeleton: level_hips is defined for h36m17, got {skeleton!r}")
    check_shape(joints, "joints", "N 17 3")
    sk = get_skeleton(skeleton)
    x = joints.double()
    out = x.clone()
    for j in range(1, sk.num_joints):
        p = sk.parents[j]
        d = x[:, j] - x[:, p]
        if sk.joints[j] in ("l_hip", "r_hip"):
            flat = d * torch.tensor([1.0, 1.0, 0.0], dtype=d.dtype)
            norm = torch.linalg.vector_norm(flat, dim=-1, keepdim=True).clamp_min(1e-9)
            d = flat / norm * torch.linalg.vector_norm(d, dim=-1, keepdim=True)
        out[:, j] = out[:, p] + d
    return out.to(joints.dtype)


def retarget(joints: torch.Tensor, skeleton: str, mode: str) -> torch.Tensor:
    """Poses in another skeleton's convention (see `RETARGET_MODES` and the module docstring).

    ``"h36m_proportions"``: Human3.6M's bone proportions, each body keeping its size;
    ``"h36m_lengths"``: Human3.6M's bone lengths exactly; ``"h36m"``: its bone lengths,
    trunk-bone directions and level hips (`retarget_directions`, `level_hips`, then
    `retarget_bone_lengths`).

    Shapes:
        joints: (N, 17, 3); returns: (N, 17, 3).
    """
    if mode not in RETARGET_MODES:
        raise ValueError(f"retarget: expected one of {RETARGET_MODES}, got {mode!r}")
    if mode == "h36m":
        joints = level_hips(retarget_directions(joints, skeleton, "h36m"), skeleton)
    return retarget_bone_lengths(joints, skeleton, "h36m", keep_size=mode == "h36m_proportions")
