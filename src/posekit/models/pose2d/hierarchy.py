"""Part hierarchies for compositional models (Tang et al. 2018): joints → parts → limbs → body.

Shapes:
    B batch, J joints, P_l parts at level l, h/w heatmap size.

A hierarchy has levels ``0..L``: level 0 is the skeleton's joints, every higher level
partitions the level below it, and the top level is the whole body. For the four 2D
layouts (one table per skeleton, `HIERARCHY_TABLES`)::

    level 1 "parts"  rigid segments: head, torso (where the layout has torso joints),
                     upper arms (shoulder + elbow), hands (wrist), thighs (hip + knee),
                     feet (ankle)
    level 2 "limbs"  head(+torso), right / left arm, right / left leg
    level 3 "body"   everything

Every joint lies in exactly one level-1 part and every part in exactly one part of the level
above (a tree), so a part's *joints* are the union of its children's joints.

Targets for the higher levels (`encode_part_heatmaps`): the joints' Gaussians from a
`Heatmap2D` codec, combined per part either as their pixel-wise maximum (``"max"``: the part
map covers all its joints, the default) or as one Gaussian at the mean of its visible joints
(``"centre"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs.heatmap2d import Heatmap2D
from posekit.skeletons import get_skeleton

__all__ = [
    "HIERARCHY_TABLES",
    "PartHierarchy",
    "encode_part_heatmaps",
    "get_hierarchy",
    "level_key",
    "level_keys",
    "list_hierarchies",
]

# level 1 per layout: (part, joints). Levels 2 and 3 are shared by name below.
_ARM_LEG_PARTS = [
    ("r_upper_arm", ("r_shoulder", "r_elbow")),
    ("r_hand", ("r_wrist",)),
    ("l_upper_arm", ("l_shoulder", "l_elbow")),
    ("l_hand", ("l_wrist",)),
    ("r_thigh", ("r_hip", "r_knee")),
    ("r_foot", ("r_ankle",)),
    ("l_thigh", ("l_hip", "l_knee")),
    ("l_foot", ("l_ankle",)),
]
_LIMBS_WITH_TORSO = [
    ("head_torso", ("head", "torso")),
    ("r_arm", ("r_upper_arm", "r_hand")),
    ("l_arm", ("l_upper_arm", "l_hand")),
    ("r_leg", ("r_thigh", "r_foot")),
    ("l_leg", ("l_thigh", "l_foot")),
]
_LIMBS_HEAD_ONLY = [("head_torso", ("head",)), *_LIMBS_WITH_TORSO[1:]]
_BODY = [("body", ("head_torso", "r_arm", "l_arm", "r_leg", "l_leg"))]

#: skeleton → levels 1..L, each a list of (part name, names of its children one level down).
HIERARCHY_TABLES: dict[str, list[list[tuple[str, tuple[str, ...]]]]] = {
    "coco17": [
        [("head", ("nose", "l_eye", "r_eye", "l_ear", "r_ear")), *_ARM_LEG_PARTS],
        _LIMBS_HEAD_ONLY,
        _BODY,
    ],
    "mpii16": [
        [("head", ("head_top", "neck")), ("torso", ("thorax", "pelvis")), *_ARM_LEG_PARTS],
        _LIMBS_WITH_TORSO,
        _BODY,
    ],
    "lsp14": [
        [("head", ("head_top", "neck")), *_ARM_LEG_PARTS],
        _LIMBS_HEAD_ONLY,
        _BODY,
    ],
    "h36m17": [
        [
            ("head", ("head_top", "neck_nose")),
            ("torso", ("thorax", "spine", "pelvis")),
            *_ARM_LEG_PARTS,
        ],
        _LIMBS_WITH_TORSO,
        _BODY,
    ],
}


@dataclass(frozen=True)
class PartHierarchy:
    """A tree of parts over a skeleton's joints, level 0 being the joints.

    Attributes:
        skeleton: skeleton name.
        names: part names per level; ``names[0]`` are the joint names.
        children: ``children[l][k]`` are the indices (into level ``l - 1``) of the children of
            part k of level l; ``children[0]`` is empty per joint.
    """

    skeleton: str
    names: tuple[tuple[str, ...], ...]
    children: tuple[tuple[tuple[int, ...], ...], ...]

    @property
    def num_levels(self) -> int:
        """Levels including the joints (4 for the built-in tables)."""
        return len(self.names)

    @property
    def level_sizes(self) -> tuple[int, ...]:
        """P_l per level; ``level_sizes[0]`` = J."""
        return tuple(len(n) for n in self.names)

    def joints(self, level: int) -> tuple[tuple[int, ...], ...]:
        """Joint indices of every part of ``level`` (sorted)."""
        sets: list[tuple[int, ...]] = [(j,) for j in range(len(self.names[0]))]
        for lv in range(1, level + 1):
            sets = [tuple(sorted(j for c in kids for j in sets[c])) for kids in self.children[lv]]
        return tuple(sets)

    def child_matrix(self, level: int) -> Tensor:
        """(P_level, P_{level-1}) float 0/1: entry (k, c) = 1 where c is a child of k."""
        if not 1 <= level < self.num_levels:
            raise ValueError(f"level: expected 1..{self.num_levels - 1}, got {level}")
        m = torch.zeros(self.level_sizes[level], self.level_sizes[level - 1])
        for k, kids in enumerate(self.children[level]):
            m[k, list(kids)] = 1.0
        return m

    def joint_matrix(self, level: int) -> Tensor:
        """(P_level, J) float 0/1: entry (k, j) = 1 where joint j belongs to part k."""
        m = torch.zeros(self.level_sizes[level], self.level_sizes[0])
        for k, joints in enumerate(self.joints(level)):
            m[k, list(joints)] = 1.0
        return m


def list_hierarchies() -> list[str]:
    """Skeletons with a built-in part hierarchy."""
    return sorted(HIERARCHY_TABLES)


def get_hierarchy(skeleton: str) -> PartHierarchy:
    """The `PartHierarchy` of a skeleton from `HIERARCHY_TABLES`.

    Raises:
        KeyError: no table for the skeleton (the message lists those that have one).
        ValueError: a table names an unknown child or is not a partition of the level below.
    """
    if skeleton not in HIERARCHY_TABLES:
        raise KeyError(
            f"no part hierarchy for skeleton {skeleton!r}; available: "
            f"{', '.join(list_hierarchies())}"
        )
    names: list[tuple[str, ...]] = [get_skeleton(skeleton).joints]
    children: list[tuple[tuple[int, ...], ...]] = [tuple(() for _ in names[0])]
    for lv, level in enumerate(HIERARCHY_TABLES[skeleton], start=1):
        below = {n: i for i, n in enumerate(names[-1])}
        kids: list[tuple[int, ...]] = []
        for part, child_names in level:
            missing = [c for c in child_names if c not in below]
            if missing:
                raise ValueError(
                    f"hierarchy {skeleton}: level {lv} part {part!r}: unknown children {missing}"
                )
            kids.append(tuple(below[c] for c in child_names))
        used = sorted(i for k in kids for i in k)
        if used != list(range(len(below))):
            raise ValueError(
                f"hierarchy {skeleton}: level {lv} must use every part of level {lv - 1} "
                f"exactly once"
            )
        names.append(tuple(p for p, _ in level))
        children.append(tuple(kids))
    return PartHierarchy(skeleton, tuple(names), tuple(children))


def encode_part_heatmaps(
    keypoints: Tensor,
    visibility: Tensor | None,
    hierarchy: PartHierarchy,
    codec: Heatmap2D,
    mode: Literal["max", "centre"] = "max",
) -> tuple[list[Tensor], list[Tensor]]:
    """Heatmap targets and weights at every level of a hierarchy.

    Args:
        keypoints: joints in input pixels (x, y).
        visibility: > 0 where a joint is annotated; None: all.
        hierarchy: the part tree (level 0 = the J joints of ``keypoints``).
        codec: the joint heatmap codec (input size, heatmap size, sigma).
        mode: ``"max"``: a part's map is the pixel-wise max of its joints' Gaussians;
            ``"centre"``: one Gaussian at the mean of its usable joints.

    Shapes:
        keypoints: (B, J, 2); visibility: (B, J) or None.
        returns: ``maps[l]`` (B, P_l, h, w) and ``weights[l]`` (B, P_l) for l = 0..L;
        level 0 is ``codec.encode`` itself.

    Convention:
        A part has weight 1 when at least one of its joints has weight 1 (a usable joint, see
        `Heatmap2D.encode`); its map then covers (``"max"``) or centres on (``"centre"``) the
        usable joints only.
    """
    J = hierarchy.level_sizes[0]
    check_shape(keypoints, "keypoints", f"B {J} 2")
    joint_maps, joint_w = codec.encode(keypoints, visibility)  # (B, J, h, w), (B, J)
    maps, weights = [joint_maps], [joint_w]
    for level in range(1, hierarchy.num_levels):
        member = hierarchy.joint_matrix(level).to(joint_maps)  # (P, J)
        used = member[None] * joint_w[:, None, :]  # (B, P, J)
        part_w = (used.sum(-1) > 0).to(joint_w.dtype)  # (B, P)
        if mode == "max":
            # maps are >= 0, so masking by 0 leaves the max over the member joints.
            part = (joint_maps[:, None] * member[None, :, :, None, None]).amax(dim=2)
        elif mode == "centre":
            safe = torch.where(joint_w[..., None] > 0, keypoints, 0.0)  # (B, J, 2), no NaN
            centre = used @ safe / used.sum(-1, keepdim=True).clamp(min=1.0)  # (B, P, 2)
            part, part_w = codec.encode(centre, part_w)  # weight 0 also far off the map
        else:
            raise ValueError(f"mode: expected 'max' or 'centre', got {mode!r}")
        maps.append(part)
        weights.append(part_w)
    return maps, weights


def level_key(level: int) -> str:
    """Output key of a level's heatmaps: ``"heatmaps"`` (joints), ``"level<l>_heatmaps"``."""
    return "heatmaps" if level == 0 else f"level{level}_heatmaps"


def level_keys(hierarchy: PartHierarchy | Sequence[int]) -> list[str]:
    """The output keys of every level, joints first."""
    n = hierarchy.num_levels if isinstance(hierarchy, PartHierarchy) else len(hierarchy)
    return [level_key(level) for level in range(n)]
