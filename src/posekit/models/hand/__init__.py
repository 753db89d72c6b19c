"""3D hand pose from a depth map: per-voxel likelihoods (B, J, S, S, S) or joints (B, J, 3).

Models (registered names): ``v2v`` (V2V-PoseNet, voxelised depth → 3D CNN → per-voxel
keypoint likelihoods, Moon et al. 2018), and two depth-image baselines on a 2D ResNet trunk:
``depth_regression`` (pooled features → MLP → cube-normalised joints) and ``depth_heatmaps``
(per-joint 2D heatmaps and per-pixel depth maps at a quarter of the input).
Importing this package imports (and so registers) the three models.

Sizes of the presets (J = 21; `count_parameters`, `count_flops`: FLOPs per sample of one
forward pass, a multiply-add counting 2)::

    model             preset  input      parameters   GFLOPs
    v2v               tiny    32³            856,061     0.98   (16³ volumes, head 32)
    v2v               full    88³          3,408,581    72.8    (44³ volumes, the paper's)
    depth_regression  tiny    64x64           94,191     0.008  (3-stage ResNet, 128 hidden)
    depth_regression  full    128x128     11,760,127     1.13   (ResNet-18 trunk, 1024 hidden)
    depth_heatmaps    tiny    64x64          128,410     0.011  (16x16 maps, 32-channel head)
    depth_heatmaps    full    128x128     15,376,874     1.89   (32x32 maps, 256-channel head)
"""

from __future__ import annotations

from posekit.models.hand.depth_cnn import (
    DepthHeatmaps,
    DepthHeatmapsConfig,
    DepthImageModel,
    DepthRegression,
    DepthRegressionConfig,
)
from posekit.models.hand.v2v import V2VConfig, V2VPoseNet

__all__ = [
    "DepthHeatmaps",
    "DepthHeatmapsConfig",
    "DepthImageModel",
    "DepthRegression",
    "DepthRegressionConfig",
    "V2VConfig",
    "V2VPoseNet",
]
