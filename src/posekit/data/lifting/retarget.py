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
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from posekit._checks import check_shape
from posekit.skeletons import get_skeleton

__all__ = ["H36M_BONE_LENGTHS_M", "bone_lengths", "retarget_bone_lengths"]

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
    parents = torch.tensor([max(p, 0) for p in sk.parents])
    return torch.linalg.vector_norm(joints - joints[:, parents], dim=-1)


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
