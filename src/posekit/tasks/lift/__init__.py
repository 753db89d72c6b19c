"""The ``lift`` task family: 2D keypoints → root-relative 3D joints (Martinez, LCN, the DAE)."""

from __future__ import annotations

from posekit.engine.tasks import SourceEntry, TaskSpec
from posekit.tasks.lift.config import LiftLossConfig

__all__ = ["TASK"]

TASK = TaskSpec(
    name="lift",
    description="2D keypoints -> root-relative 3D joints (camera frame, metres)",
    module="posekit.tasks.lift.module:LiftModule",
    predictor="posekit.tasks.lift.predictor:LiftPredictor",
    sources={
        "synthetic_lift": SourceEntry(
            "posekit.tasks.lift.sources:synthetic_lift",
            "synthetic 3D poses seen by random virtual cameras (offline, unlimited)",
        ),
        "h36m_npz": SourceEntry(
            "posekit.tasks.lift.sources:h36m_npz",
            "Human3.6M in the common preprocessed npz (3D poses + cameras, or 2D detections)",
        ),
        "real_h36m_poses": SourceEntry(
            "posekit.tasks.lift.sources:real_h36m_poses",
            "real Human3.6M 3D poses (per-subject npz) seen by random virtual cameras",
        ),
        "keypoints_file": SourceEntry(
            "posekit.tasks.lift.sources:keypoints_file",
            "a file of 2D keypoints + K + 3D ground truth (.json or .npz; posekit eval --data)",
        ),
    },
    loss=LiftLossConfig,
    models=("martinez", "lcn", "smplr_dae"),
    quantize_output="joints3d",
    demo_config="lift_martinez_tiny.yaml",
)
