"""SMPL's 24 joints (Loper et al. 2015), in the model's own order (root-first)."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["SMPL24"]

_TREE = [
    ("pelvis", None),
    ("l_hip", "pelvis"),
    ("r_hip", "pelvis"),
    ("spine1", "pelvis"),
    ("l_knee", "l_hip"),
    ("r_knee", "r_hip"),
    ("spine2", "spine1"),
    ("l_ankle", "l_knee"),
    ("r_ankle", "r_knee"),
    ("spine3", "spine2"),
    ("l_foot", "l_ankle"),
    ("r_foot", "r_ankle"),
    ("neck", "spine3"),
    ("l_collar", "spine3"),
    ("r_collar", "spine3"),
    ("head", "neck"),
    ("l_shoulder", "l_collar"),
    ("r_shoulder", "r_collar"),
    ("l_elbow", "l_shoulder"),
    ("r_elbow", "r_shoulder"),
    ("l_wrist", "l_elbow"),
    ("r_wrist", "r_elbow"),
    ("l_hand", "l_wrist"),
    ("r_hand", "r_wrist"),
]

SMPL24 = build_skeleton(
    "smpl24",
    _TREE,
    description=(
        "SMPL's 24 kinematic-tree joints, model order. These are rotation centres inside the "
        "body: 'neck' and 'head' are not MPII's upper neck or head top, and 'l_shoulder' is "
        "the glenohumeral joint; name matches with annotated layouts are approximate."
    ),
)
