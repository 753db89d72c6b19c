"""The ``pose2d`` task family: single-person (top-down) 2D pose from RGB crops (DeepPose,
Stacked Hourglass, the compositional model), and its top-down multi-person evaluation."""

from __future__ import annotations

from posekit.engine.tasks import SourceEntry, TaskSpec
from posekit.tasks.pose2d.config import HeatmapCodecConfig, Pose2DEvalConfig, Pose2DLossConfig

__all__ = ["TASK"]

TASK = TaskSpec(
    name="pose2d",
    description="RGB person crops -> 2D keypoints (top-down)",
    module="posekit.tasks.pose2d.module:Pose2DModule",
    predictor="posekit.tasks.pose2d.predictor:Pose2DPredictor",
    sources={
        "synthetic_body": SourceEntry(
            "posekit.tasks.pose2d.sources:synthetic_body",
            "rendered anny bodies with occluders, generated into cached shards on first use",
        ),
        "coco": SourceEntry("posekit.tasks.pose2d.sources:coco", "COCO person keypoints json"),
        "mpii": SourceEntry("posekit.tasks.pose2d.sources:mpii", "MPII .mat (or MMPose json)"),
        "lsp": SourceEntry("posekit.tasks.pose2d.sources:lsp", "LSP / LSP-extended joints.mat"),
    },
    loss=Pose2DLossConfig,
    codec=HeatmapCodecConfig,
    eval=Pose2DEvalConfig,
    models=("deeppose", "hourglass", "compositional"),
    demo_config="pose2d_hourglass_cpu.yaml",
)
