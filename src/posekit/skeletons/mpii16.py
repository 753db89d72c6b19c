"""MPII Human Pose: 16 joints. posekit order is topological; the .mat file order is native."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["MPII16"]

# Order of the joint ids in MPII's annotation (.mat) files, 0..15.
MPII_NATIVE = (
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "pelvis",
    "thorax",
    "neck",  # MPII "upper neck"
    "head_top",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
)

_TREE = [
    ("pelvis", None),
    ("r_hip", "pelvis"),
    ("r_knee", "r_hip"),
    ("r_ankle", "r_knee"),
    ("l_hip", "pelvis"),
    ("l_knee", "l_hip"),
    ("l_ankle", "l_knee"),
    ("thorax", "pelvis"),
    ("neck", "thorax"),
    ("head_top", "neck"),
    ("r_shoulder", "thorax"),
    ("r_elbow", "r_shoulder"),
    ("r_wrist", "r_elbow"),
    ("l_shoulder", "thorax"),
    ("l_elbow", "l_shoulder"),
    ("l_wrist", "l_elbow"),
]

MPII16 = build_skeleton(
    "mpii16",
    _TREE,
    native_joints=MPII_NATIVE,
    description=(
        "MPII Human Pose (Andriluka et al. 2014). posekit keeps the joints root-first "
        "(pelvis); `MPII16.from_native` reorders arrays read in the .mat files' joint-id "
        "order. 'neck' is MPII's upper neck; PCKh normalizes by the head box."
    ),
)
