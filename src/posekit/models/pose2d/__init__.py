"""2D human pose from an RGB crop: keypoints (B, J, 2) or heatmaps (B, S, J, h, w).

Models (registered names): ``deeppose`` (direct regression + cascade, Toshev & Szegedy 2014),
``hourglass`` (Stacked Hourglass with intermediate supervision, Newell et al. 2016; optional
integral decoding and associative-embedding tags, Newell et al. 2017), ``compositional``
(Deeply Learned Compositional Models, Tang et al. 2018) with its part hierarchies.
Importing this package imports (and so registers) the three models.
"""

from __future__ import annotations

from posekit.models.pose2d.compositional import Compositional, CompositionalConfig
from posekit.models.pose2d.deeppose import DeepPose, DeepPoseConfig, crop_patches
from posekit.models.pose2d.hierarchy import (
    HIERARCHY_TABLES,
    PartHierarchy,
    encode_part_heatmaps,
    get_hierarchy,
    level_key,
    level_keys,
    list_hierarchies,
)
from posekit.models.pose2d.hourglass import HourglassConfig, HourglassPose

__all__ = [
    "HIERARCHY_TABLES",
    "Compositional",
    "CompositionalConfig",
    "DeepPose",
    "DeepPoseConfig",
    "HourglassConfig",
    "HourglassPose",
    "PartHierarchy",
    "crop_patches",
    "encode_part_heatmaps",
    "get_hierarchy",
    "level_key",
    "level_keys",
    "list_hierarchies",
]
