"""COCO keypoints: 17 joints, in the order of the COCO person_keypoints annotation files."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["COCO17"]

_TREE = [
    ("nose", None),
    ("l_eye", "nose"),
    ("r_eye", "nose"),
    ("l_ear", "l_eye"),
    ("r_ear", "r_eye"),
    ("l_shoulder", "nose"),
    ("r_shoulder", "nose"),
    ("l_elbow", "l_shoulder"),
    ("r_elbow", "r_shoulder"),
    ("l_wrist", "l_elbow"),
    ("r_wrist", "r_elbow"),
    ("l_hip", "l_shoulder"),
    ("r_hip", "r_shoulder"),
    ("l_knee", "l_hip"),
    ("r_knee", "r_hip"),
    ("l_ankle", "l_knee"),
    ("r_ankle", "r_knee"),
]

# The limbs drawn by the COCO API (its "skeleton" field), 0-based.
_LIMBS = [
    ("l_ankle", "l_knee"),
    ("l_knee", "l_hip"),
    ("r_ankle", "r_knee"),
    ("r_knee", "r_hip"),
    ("l_hip", "r_hip"),
    ("l_shoulder", "l_hip"),
    ("r_shoulder", "r_hip"),
    ("l_shoulder", "r_shoulder"),
    ("l_shoulder", "l_elbow"),
    ("r_shoulder", "r_elbow"),
    ("l_elbow", "l_wrist"),
    ("r_elbow", "r_wrist"),
    ("l_eye", "r_eye"),
    ("nose", "l_eye"),
    ("nose", "r_eye"),
    ("l_eye", "l_ear"),
    ("r_eye", "r_ear"),
    ("l_ear", "l_shoulder"),
    ("r_ear", "r_shoulder"),
]

COCO17 = build_skeleton(
    "coco17",
    _TREE,
    _LIMBS,
    description=(
        "COCO person keypoints (Lin et al. 2014), file order. COCO defines no kinematic tree; "
        "the tree here is rooted at the nose (face → shoulders → arms, shoulders → hips → legs) "
        "for drawing and bone statistics only."
    ),
)
