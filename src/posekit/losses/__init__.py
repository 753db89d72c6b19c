"""Training losses (differentiable, scalar); evaluation metrics live in `posekit.metrics`."""

from __future__ import annotations

from posekit.losses.pose3d import joint_l1_loss, joint_mse_loss, mpjpe_loss

__all__ = ["joint_l1_loss", "joint_mse_loss", "mpjpe_loss"]
