"""Leeds Sports Pose: 14 joints. posekit order is topological; joints.mat order is native."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["LSP14"]

# Order of the joints in LSP's joints.mat.
LSP_NATIVE = (
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "neck",
    "head_top",
)

_TREE = [
    ("neck", None),
    ("head_top", "neck"),
    ("r_shoulder", "neck"),
    ("r_elbow", "r_shoulder"),
    ("r_wrist", "r_elbow"),
    ("l_shoulder", "neck"),
    ("l_elbow", "l_shoulder"),
    ("l_wrist", "l_elbow"),
    ("r_hip", "neck"),
    ("r_knee", "r_hip"),
    ("r_ankle", "r_knee"),
    ("l_hip", "neck"),
    ("l_knee", "l_hip"),
    ("l_ankle", "l_knee"),
]

LSP14 = build_skeleton(
    "lsp14",
    _TREE,
    native_joints=LSP_NATIVE,
    description=(
        "Leeds Sports Pose (Johnson & Everingham 2010): MPII's 16 joints without pelvis and "
        "thorax, so every LSP joint name is an MPII joint name. LSP has no pelvis; the tree is "
        "rooted at the neck. PCK@0.2 normalizes by the torso (r_shoulder to l_hip)."
    ),
)
