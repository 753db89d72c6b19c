"""The ``hand`` task family: 3D hand joints from a depth map — V2V-PoseNet (voxel-to-voxel,
Moon et al. 2018) and the depth-image baselines it was compared with."""

from __future__ import annotations

from posekit.engine.tasks import SourceEntry, TaskSpec
from posekit.tasks.hand.config import HandCodecConfig, HandEvalConfig, HandLossConfig

__all__ = ["TASK"]

TASK = TaskSpec(
    name="hand",
    description="depth maps -> 3D hand joints (V2V-PoseNet, depth-image baselines)",
    module="posekit.tasks.hand.module:HandModule",
    predictor="posekit.tasks.hand.predictor:HandPredictor",
    sources={
        "synthetic_hand": SourceEntry(
            "posekit.tasks.hand.sources:synthetic_hand",
            "synthetic hand depth maps (anny hand, Kinect-like noise), cached shards",
        ),
        "nyu": SourceEntry(
            "posekit.tasks.hand.sources:nyu", "NYU Hand Pose: joint_data.mat + depth PNGs"
        ),
    },
    loss=HandLossConfig,
    codec=HandCodecConfig,
    eval=HandEvalConfig,
    models=("v2v", "depth_regression", "depth_heatmaps"),
    demo_config="hand_v2v_tiny.yaml",
)
