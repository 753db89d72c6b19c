"""The ``pose3d`` task family: 3D human pose from an RGB person crop — volumetric heatmaps
(Pavlakos et al. 2017), integral regression (Sun et al. 2018, Sárándi et al. 2018) and direct
coordinate regression, with the occlusion augmentation of Sárándi et al. 2018."""

from __future__ import annotations

from posekit.engine.tasks import SourceEntry, TaskSpec
from posekit.tasks.pose3d.config import Pose3DCodecConfig, Pose3DEvalConfig, Pose3DLossConfig

__all__ = ["TASK"]

TASK = TaskSpec(
    name="pose3d",
    description="RGB person crops -> 3D joints (volumetric, integral, direct regression)",
    module="posekit.tasks.pose3d.module:Pose3DModule",
    predictor="posekit.tasks.pose3d.predictor:Pose3DPredictor",
    sources={
        "synthetic_body3d": SourceEntry(
            "posekit.tasks.pose3d.sources:synthetic_body3d",
            "rendered anny bodies with 3D joints and intrinsics, cached shards",
        ),
        "h36m_images": SourceEntry(
            "posekit.tasks.pose3d.sources:h36m_images",
            "Human3.6M frames (MMPose npz + cameras.pkl)",
        ),
        "mpi_inf_3dhp": SourceEntry(
            "posekit.tasks.pose3d.sources:mpi_inf_3dhp", "MPI-INF-3DHP test set (annot_data.mat)"
        ),
    },
    loss=Pose3DLossConfig,
    codec=Pose3DCodecConfig,
    eval=Pose3DEvalConfig,
    models=("volumetric", "integral", "direct"),
    demo_config="pose3d_integral_cpu.yaml",
)
