"""Sparse surface landmarks on the anny body, and limbs between joints and landmarks (SMPLR).

SMPLR (Madadi et al. 2020) regresses, besides the joints, a sparse set of surface landmarks and
feeds the bone-length and norm features of "limbs" (segments between joints and landmarks) to
its body-parameter regressor. This module fixes that set for anny: `LANDMARK_VERTICES` maps 40
names to anny vertex indices: 8 on the sagittal plane and 16 left/right pairs (`LANDMARK_NAMES`).

**The rule** that produced the table (`derive_landmarks`, re-run by the tests): on the zero-pose
mesh of the default shape (`AnnyBody`, Z-up, facing -Y, left +X), each landmark is the vertex
that goes furthest in a direction among the vertices within a radius of an anchor point, the
anchor being a weighted mean of bone heads plus an offset in metres, the candidates restricted
to some body parts (`posekit.body.anny_rig.PART_NAMES`) and to one side: ``|x| < 4 mm`` for the
midline landmarks, ``x > 0`` for the left ones. Each right landmark is the mirror partner of
its left one: the vertex nearest to the left vertex mirrored across the sagittal plane x = 0
(anny's mesh is symmetric to 0.4 mm), so left/right pairs are exact mirror matches.

==================  =========================================================================
landmark            anatomical point (rule: anchor, direction)
==================  =========================================================================
head_top            vertex of the skull (head bone, up)
forehead            mid forehead (head + 7 cm up, 11 cm forward; forward)
nose_tip            tip of the nose (head + 11 cm forward; forward)
chin                mental protuberance (head - 8 cm up, 10 cm forward; forward-down)
jugular_notch       top of the sternum (clavicle heads, forward)
navel               umbilicus region (spine03 + 10 cm forward; forward)
c7                  base of the neck at the back (neck01, backward)
sacrum              lower back (spine04, backward)
l/r_ear             side of the head, the ear (head + 2 cm up, lateral)
l/r_acromion        top of the shoulder (upperarm01, up)
l/r_deltoid         outer upper arm (30 % down the humerus, lateral)
l/r_chest           front of the chest (mid spine01-shoulder + 9 cm forward, 2 cm down; fwd)
l/r_scapula         shoulder blade (mid spine01-shoulder + 7 cm backward; backward)
l/r_elbow_back      olecranon (lowerarm01, backward)
l/r_wrist_radial    thumb side of the wrist (wrist, towards the index knuckle)
l/r_wrist_ulnar     little-finger side of the wrist (wrist, towards the pinky knuckle)
l/r_middle_tip      tip of the middle finger (finger3-3, along the phalanx)
l/r_thumb_tip       tip of the thumb (finger1-3, along the phalanx)
l/r_hip_lateral     greater trochanter (upperleg01, lateral)
l/r_knee_front      patella (lowerleg01, forward)
l/r_calf            back of the calf (35 % down the tibia, backward)
l/r_ankle_lateral   lateral malleolus (foot bone head, lateral)
l/r_heel            back of the heel (foot bone head - 5 cm up, backward)
l/r_big_toe         tip of the big toe (toe1-2, forward)
==================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from posekit._checks import check_shape
from posekit.body.anny_rig import PART_NAMES
from posekit.skeletons.anny import ANNY24

__all__ = [
    "LANDMARK_NAMES",
    "LANDMARK_RULES",
    "LANDMARK_VERTICES",
    "LIMBS",
    "LandmarkRule",
    "derive_landmarks",
    "landmark_flip_permutation",
    "landmark_positions",
    "limb_index_pairs",
    "mirror_vertex_map",
]

_UP, _DOWN = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
_FWD, _BACK = (0.0, -1.0, 0.0), (0.0, 1.0, 0.0)
_LAT, _MED = (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)  # for left-side rules


@dataclass(frozen=True)
class LandmarkRule:
    """Where a landmark is: the furthest vertex along ``direction`` near an anchor.

    Attributes:
        name: landmark name (``l_`` prefix: left side, mirrored to ``r_``; none: midline).
        anchor: weighted bone heads ``((bone, weight), ...)``, weights summing to 1.
        offset: added to the anchor, metres, world frame of the zero pose.
        direction: a world direction, or ``(bone_a, bone_b)`` for head(b) - head(a).
        radius: candidate vertices lie within this distance of the anchor, metres.
        parts: candidate vertices belong to these parts (`PART_NAMES`; ``l_``/``r_`` parts of
            left rules are given as left).
    """

    name: str
    anchor: tuple[tuple[str, float], ...]
    offset: tuple[float, float, float]
    direction: tuple[float, float, float] | tuple[str, str]
    radius: float
    parts: tuple[str, ...]


def _r(name, anchor, direction, radius, parts, offset=(0.0, 0.0, 0.0)) -> LandmarkRule:
    if isinstance(anchor, str):
        anchor = ((anchor, 1.0),)
    return LandmarkRule(name, tuple(anchor), offset, direction, radius, tuple(parts))


_HEAD, _TORSO = ("head",), ("torso",)
LANDMARK_RULES: tuple[LandmarkRule, ...] = (
    _r("head_top", "head", _UP, 0.30, _HEAD),
    _r("forehead", "head", _FWD, 0.04, _HEAD, offset=(0.0, -0.11, 0.07)),
    _r("nose_tip", "head", _FWD, 0.05, _HEAD, offset=(0.0, -0.11, 0.0)),
    _r("chin", "head", (0.0, -0.7071, -0.7071), 0.04, _HEAD, offset=(0.0, -0.10, -0.08)),
    _r("jugular_notch", (("clavicle.L", 0.5), ("clavicle.R", 0.5)), _FWD, 0.06, _TORSO),
    _r("navel", "spine03", _FWD, 0.06, _TORSO, (0, -0.10, 0)),
    _r("c7", "neck01", _BACK, 0.06, _HEAD + _TORSO),
    _r("sacrum", "spine04", _BACK, 0.06, _TORSO),
    _r("l_ear", "head", _LAT, 0.10, _HEAD, offset=(0.0, 0.0, 0.02)),
    _r("l_acromion", "upperarm01.L", _UP, 0.07, ("torso", "l_upper_arm")),
    _r(
        "l_deltoid",
        (("upperarm01.L", 0.7), ("lowerarm01.L", 0.3)),
        _LAT,
        0.08,
        ("l_upper_arm",),
    ),
    _r("l_chest", (("spine01", 0.5), ("upperarm01.L", 0.5)), _FWD, 0.06, _TORSO, (0, -0.09, -0.02)),
    _r("l_scapula", (("spine01", 0.5), ("upperarm01.L", 0.5)), _BACK, 0.06, _TORSO, (0, 0.07, 0)),
    _r("l_elbow_back", "lowerarm01.L", _BACK, 0.06, ("l_upper_arm", "l_lower_arm")),
    _r("l_wrist_radial", "wrist.L", ("wrist.L", "finger2-1.L"), 0.05, ("l_lower_arm",)),
    _r("l_wrist_ulnar", "wrist.L", ("wrist.L", "finger5-1.L"), 0.05, ("l_lower_arm",)),
    _r("l_middle_tip", "finger3-3.L", ("finger3-2.L", "finger3-3.L"), 0.05, ("l_hand",)),
    _r("l_thumb_tip", "finger1-3.L", ("finger1-2.L", "finger1-3.L"), 0.05, ("l_hand",)),
    _r("l_hip_lateral", "upperleg01.L", _LAT, 0.12, ("torso", "l_upper_leg")),
    _r("l_knee_front", "lowerleg01.L", _FWD, 0.07, ("l_upper_leg", "l_lower_leg")),
    _r("l_calf", (("lowerleg01.L", 0.65), ("foot.L", 0.35)), _BACK, 0.10, ("l_lower_leg",)),
    _r("l_ankle_lateral", "foot.L", _LAT, 0.05, ("l_lower_leg", "l_foot")),
    _r("l_heel", "foot.L", _BACK, 0.08, ("l_foot",), offset=(0.0, 0.0, -0.05)),
    _r("l_big_toe", "toe1-2.L", _FWD, 0.05, ("l_foot",)),
)

MIDLINE_HALF_WIDTH_M = 0.004


def _mirror_name(name: str) -> str:
    return "r_" + name[2:] if name.startswith("l_") else name


LANDMARK_NAMES: tuple[str, ...] = tuple(
    [r.name for r in LANDMARK_RULES if not r.name.startswith("l_")]
    + [n for r in LANDMARK_RULES if r.name.startswith("l_") for n in (r.name, _mirror_name(r.name))]
)


def mirror_vertex_map(vertices: np.ndarray) -> np.ndarray:
    """For every vertex, the vertex nearest to its mirror image across x = 0.

    Shapes:
        vertices: (V, 3); return: (V,) int64.
    """
    from scipy.spatial import cKDTree

    _, idx = cKDTree(vertices).query(vertices * np.array([-1.0, 1.0, 1.0]))
    return idx.astype(np.int64)


def derive_landmarks(
    vertices: np.ndarray,
    bone_heads: Mapping[str, np.ndarray],
    part_labels: np.ndarray,
    rules: tuple[LandmarkRule, ...] = LANDMARK_RULES,
) -> dict[str, int]:
    """Apply the landmark rules to a mesh (see the module docstring); name -> vertex index.

    Shapes:
        vertices: (V, 3) zero-pose mesh, metres; bone_heads[label]: (3,); part_labels: (V,).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    part_labels = np.asarray(part_labels)
    mirror = mirror_vertex_map(vertices)
    out: dict[str, int] = {}
    for rule in rules:
        anchor = sum(w * np.asarray(bone_heads[b], dtype=np.float64) for b, w in rule.anchor)
        anchor = anchor + np.asarray(rule.offset)
        if isinstance(rule.direction[0], str):
            a, b = rule.direction
            d = np.asarray(bone_heads[b], dtype=np.float64) - np.asarray(bone_heads[a])
        else:
            d = np.asarray(rule.direction, dtype=np.float64)
        d = d / np.linalg.norm(d)
        parts = [PART_NAMES.index(p) for p in rule.parts]
        ok = np.isin(part_labels, parts)
        ok &= np.linalg.norm(vertices - anchor, axis=1) < rule.radius
        if rule.name.startswith("l_"):
            ok &= vertices[:, 0] > 0
        else:
            ok &= np.abs(vertices[:, 0]) < MIDLINE_HALF_WIDTH_M
        if not ok.any():
            raise ValueError(f"landmark {rule.name}: no candidate vertex")
        cand = np.flatnonzero(ok)
        best = int(cand[np.argmax((vertices[cand] - anchor) @ d)])
        out[rule.name] = best
        if rule.name.startswith("l_"):
            out[_mirror_name(rule.name)] = int(mirror[best])
    return {n: out[n] for n in LANDMARK_NAMES}


# name -> anny vertex index (anny 0.6, default "anny" topology), from `derive_landmarks`.
LANDMARK_VERTICES: dict[str, int] = {
    "head_top": 881,
    "forehead": 234,
    "nose_tip": 5038,
    "chin": 5195,
    "jugular_notch": 1524,
    "navel": 4095,
    "c7": 1467,
    "sacrum": 4371,
    "l_ear": 12006,
    "r_ear": 5423,
    "l_acromion": 8218,
    "r_acromion": 1556,
    "l_deltoid": 8360,
    "r_deltoid": 1704,
    "l_chest": 8499,
    "r_chest": 1843,
    "l_scapula": 10473,
    "r_scapula": 3823,
    "l_elbow_back": 9980,
    "r_elbow_back": 3328,
    "l_wrist_radial": 10552,
    "r_wrist_radial": 3903,
    "l_wrist_ulnar": 10197,
    "r_wrist_ulnar": 3545,
    "l_middle_tip": 8755,
    "r_middle_tip": 2103,
    "l_thumb_tip": 9316,
    "r_thumb_tip": 2664,
    "l_hip_lateral": 10992,
    "r_hip_lateral": 4390,
    "l_knee_front": 11199,
    "r_knee_front": 4597,
    "l_calf": 11326,
    "r_calf": 4724,
    "l_ankle_lateral": 12945,
    "r_ankle_lateral": 6364,
    "l_heel": 12421,
    "r_heel": 5840,
    "l_big_toe": 11519,
    "r_big_toe": 4917,
}


def landmark_flip_permutation() -> list[int]:
    """Permutation of `LANDMARK_NAMES` swapping left and right (midline ones stay)."""
    index = {n: i for i, n in enumerate(LANDMARK_NAMES)}
    return [
        index["r_" + n[2:]]
        if n.startswith("l_")
        else index["l_" + n[2:]]
        if n.startswith("r_")
        else i
        for i, n in enumerate(LANDMARK_NAMES)
    ]


def _sided(a: str, b: str) -> list[tuple[str, str]]:
    return [(a.format(s=s), b.format(s=s)) for s in ("l", "r")]


# Limbs: segments between anny24 joints (names as in `posekit.skeletons.ANNY24`) and landmarks,
# whose lengths (B features) and directions / norms (N features) SMPLR's regressor consumes.
# The first 23 are the anny24 kinematic tree; the rest tie the surface to the skeleton.
LIMBS: tuple[tuple[str, str], ...] = (
    ("pelvis", "l_hip"),
    ("pelvis", "r_hip"),
    ("pelvis", "spine1"),
    *_sided("{s}_hip", "{s}_knee"),
    ("spine1", "spine2"),
    *_sided("{s}_knee", "{s}_ankle"),
    ("spine2", "spine3"),
    *_sided("{s}_ankle", "{s}_foot"),
    ("spine3", "neck"),
    *_sided("spine3", "{s}_collar"),
    ("neck", "head"),
    *_sided("{s}_collar", "{s}_shoulder"),
    *_sided("{s}_shoulder", "{s}_elbow"),
    *_sided("{s}_elbow", "{s}_wrist"),
    *_sided("{s}_wrist", "{s}_hand"),
    ("head", "head_top"),
    ("head", "forehead"),
    ("head", "nose_tip"),
    ("nose_tip", "chin"),
    *_sided("head", "{s}_ear"),
    ("neck", "jugular_notch"),
    ("neck", "c7"),
    ("spine2", "navel"),
    ("spine1", "sacrum"),
    *_sided("{s}_shoulder", "{s}_acromion"),
    *_sided("{s}_shoulder", "{s}_deltoid"),
    *_sided("spine3", "{s}_chest"),
    *_sided("spine3", "{s}_scapula"),
    *_sided("{s}_elbow", "{s}_elbow_back"),
    *_sided("{s}_wrist", "{s}_wrist_radial"),
    *_sided("{s}_wrist", "{s}_wrist_ulnar"),
    *_sided("{s}_hand", "{s}_middle_tip"),
    *_sided("{s}_wrist", "{s}_thumb_tip"),
    *_sided("{s}_hip", "{s}_hip_lateral"),
    *_sided("{s}_knee", "{s}_knee_front"),
    *_sided("{s}_knee", "{s}_calf"),
    *_sided("{s}_ankle", "{s}_ankle_lateral"),
    *_sided("{s}_ankle", "{s}_heel"),
    *_sided("{s}_foot", "{s}_big_toe"),
    ("l_acromion", "r_acromion"),
    ("l_hip_lateral", "r_hip_lateral"),
)


def landmark_positions(vertices: torch.Tensor) -> torch.Tensor:
    """The landmarks of posed anny bodies, in `LANDMARK_NAMES` order.

    Shapes:
        vertices: (B, 13718, 3) anny vertices; return: (B, 40, 3).
    """
    check_shape(vertices, "vertices", "B * 3")
    idx = torch.tensor([LANDMARK_VERTICES[n] for n in LANDMARK_NAMES], device=vertices.device)
    if int(idx.max()) >= vertices.shape[1]:
        raise ValueError(f"vertices: expected anny's 13718 vertices, got {vertices.shape[1]}")
    return vertices[:, idx]


def limb_index_pairs(joint_names: tuple[str, ...] = ANNY24.joints) -> list[tuple[int, int]]:
    """`LIMBS` as index pairs into ``cat([joints, landmarks], dim=-2)``.

    The joints come first in ``joint_names`` order (default: anny24), then the landmarks in
    `LANDMARK_NAMES` order.
    """
    index = {n: i for i, n in enumerate(joint_names)}
    index.update({n: len(joint_names) + i for i, n in enumerate(LANDMARK_NAMES)})
    return [(index[a], index[b]) for a, b in LIMBS]
