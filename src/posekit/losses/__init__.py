"""Training losses (differentiable, scalar); evaluation metrics live in `posekit.metrics`."""

from __future__ import annotations

from posekit.losses.pose2d import (
    associative_embedding_loss,
    compositional_heatmap_loss,
    heatmap_mse_loss,
    stage_l1_loss,
)
from posekit.losses.pose3d import joint_l1_loss, joint_mse_loss, mpjpe_loss

__all__ = [
    "associative_embedding_loss",
    "compositional_heatmap_loss",
    "heatmap_mse_loss",
    "joint_l1_loss",
    "joint_mse_loss",
    "mpjpe_loss",
    "stage_l1_loss",
]
