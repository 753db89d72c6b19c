"""Human3.6M: the common 17-joint subset of its 32-joint skeleton (VideoPose3D, Martinez)."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["H36M17"]

_TREE = [
    ("pelvis", None),  # "Hip"
    ("r_hip", "pelvis"),
    ("r_knee", "r_hip"),
    ("r_ankle", "r_knee"),  # "RFoot"
    ("l_hip", "pelvis"),
    ("l_knee", "l_hip"),
    ("l_ankle", "l_knee"),  # "LFoot"
    ("spine", "pelvis"),
    ("thorax", "spine"),
    ("neck_nose", "thorax"),  # "Neck/Nose"
    ("head_top", "neck_nose"),  # "Head"
    ("l_shoulder", "thorax"),
    ("l_elbow", "l_shoulder"),
    ("l_wrist", "l_elbow"),
    ("r_shoulder", "thorax"),
    ("r_elbow", "r_shoulder"),
    ("r_wrist", "r_elbow"),
]

H36M17 = build_skeleton(
    "h36m17",
    _TREE,
    description=(
        "Human3.6M (Ionescu et al. 2014), the 17 joints used by public 3D-pose code, file "
        "order (already root-first). Parents [-1,0,1,2,0,4,5,0,7,8,9,8,11,12,8,14,15]. "
        "'neck_nose' lies between neck and nose and matches no other layout's joint; "
        "'head_top' is H3.6M's 'Head'."
    ),
)
