"""2D human pose from an RGB crop: keypoints (B, J, 2) or heatmaps (B, S, J, h, w).

Models (registered names): ``deeppose`` (direct regression + cascade, Toshev & Szegedy 2014),
``hourglass`` (Stacked Hourglass with intermediate supervision, Newell et al. 2016; optional
integral decoding and associative-embedding tags, Newell et al. 2017), ``compositional``
(Deeply Learned Compositional Models, Tang et al. 2018) with its part hierarchies.
Importing this package imports (and so registers) the three models.

Sizes of the presets (coco17, J = 17; `count_parameters`, `count_flops`: FLOPs per sample of
one forward pass, a multiply-add counting 2)::

    model          preset  input      parameters   GFLOPs
    deeppose       tiny    128x128       104,228     0.08   (2 stages, 32x32 patches)
    deeppose       full    224x224    13,671,910     5.03   (ResNet-18 trunk, 3 stages, 64x64)
    hourglass      tiny    128x128        89,330     0.08   (2 stacks, 32 channels)
    hourglass      full    256x256    25,437,960    54.9    (8 stacks, 256 channels)
    compositional  tiny    128x128       111,192     0.12   (2 stacks, 32 channels)
    compositional  full    256x256    25,655,200    56.7    (8 stacks, 256 channels)
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
