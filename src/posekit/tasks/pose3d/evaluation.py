"""Evaluation of the ``pose3d`` task: 2.5D predictions (image pixels + root-relative depth) to
camera-frame 3D, scored against the ground truth.

Shapes:
    N samples, J joints.

From a 2.5D prediction and the intrinsics (`posekit.geometry.absolute`):

- root-relative 3D: the joints back-projected at the root depth whose skeleton matches the
  training set's mean bone lengths (`root_depth_from_bones`), minus the root. Scored by
  MPJPE, PA-MPJPE, N-MPJPE, 3DPCK@150 mm and its AUC (`posekit.metrics.evaluate_pose3d`);
- the same at the ground-truth root depth (``mpjpe_gt_root_mm``: the protocol of Pavlakos et
  al. and Sun et al., who report root-relative errors given the root's depth);
- absolute 3D: the root translation solved by least squares from the predicted 2D and
  root-relative 3D (`solve_root_translation`, MeTRAbs): ``root_error_mm`` (distance of the
  root to the true root) and ``abs_mpjpe_mm`` (joints in the camera frame, no alignment);
- ``depth_error_mm`` (mean |predicted - true| root-relative depth) and ``mean_error_px``
  (2D error in image pixels).

Samples without intrinsics (NaN ``K``) count only in the 2D and depth figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from posekit.geometry.absolute import (
    backproject_2p5d,
    root_depth_from_bones,
    solve_root_translation,
)
from posekit.metrics import evaluate_pose3d, joint_errors, per_joint_mean
from posekit.metrics.evaluation import TaskEvaluation
from posekit.skeletons import get_skeleton

__all__ = ["camera_joints", "mean_bone_lengths", "pose3d_evaluation"]


def mean_bone_lengths(joints3d: Tensor, parents: Sequence[int]) -> Tensor:
    """Mean length of each joint's bone to its parent over a set of poses (NaN-aware; 0 at the
    root). Shapes: joints3d (N, J, 3) metres → (J,)."""
    par = torch.tensor([max(int(p), 0) for p in parents])
    bones = (joints3d - joints3d[:, par]).norm(dim=-1)  # (N, J)
    out = torch.nanmean(bones, dim=0)
    return torch.nan_to_num(out, nan=0.0)


def camera_joints(
    keypoints_px: Tensor,
    depth_rel_m: Tensor,
    K: Tensor,
    skeleton: str,
    bone_lengths_m: Tensor,
    root_index: int = 0,
    root_depth_m: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Root-relative and absolute camera-frame joints of 2.5D predictions.

    The root depth is ``root_depth_m`` when given, else `root_depth_from_bones` with
    ``bone_lengths_m``; the absolute pose is the root-relative one placed by
    `solve_root_translation` of the 2D keypoints.

    Shapes:
        keypoints_px: (N, J, 2) image pixels; depth_rel_m: (N, J); K: (N, 3, 3);
        bone_lengths_m: (J,); root_depth_m: (N,) or None → (N, J, 3) root-relative metres,
        (N, J, 3) camera metres.
    """
    parents = get_skeleton(skeleton).parents
    kp, dz, K = keypoints_px.double(), depth_rel_m.double(), K.double()
    if root_depth_m is None:
        z = root_depth_from_bones(kp, dz, K, parents, bone_lengths_m.double())
    else:
        z = root_depth_m.double()
    P = backproject_2p5d(kp, dz, K, z)
    rel = P - P[:, root_index : root_index + 1]
    t = solve_root_translation(kp, rel, K)
    return rel.float(), (rel + t[:, None]).float()


def pose3d_evaluation(
    keypoints_px: Tensor,
    depth_rel_m: Tensor,
    gt_joints3d: Tensor,
    gt_keypoints_px: Tensor,
    K: Tensor,
    skeleton: str,
    bone_lengths_m: Tensor,
    root_index: int = 0,
) -> TaskEvaluation:
    """All figures of the module docstring for N predictions.

    Shapes:
        keypoints_px: (N, J, 2) predicted image pixels; depth_rel_m: (N, J) predicted;
        gt_joints3d: (N, J, 3) camera metres (NaN: missing joint); gt_keypoints_px: (N, J, 2);
        K: (N, 3, 3) (NaN: unknown); bone_lengths_m: (J,).

    Returns:
        A `TaskEvaluation` with ``metrics`` (mm keys) and ``per_joint`` ``{"MPJPE (mm)",
        "PA-MPJPE (mm)", "depth error (mm)"}``.
    """
    N = int(keypoints_px.shape[0])
    r = root_index
    gt_dz = gt_joints3d[..., 2] - gt_joints3d[:, r : r + 1, 2]
    known = torch.isfinite(gt_dz)
    dz_err = (depth_rel_m - gt_dz).abs()
    px_err = (keypoints_px - gt_keypoints_px).norm(dim=-1)
    metrics: dict[str, float | int] = {
        "depth_error_mm": float(dz_err[known].mean() * 1000) if known.any() else float("nan"),
        "mean_error_px": float(px_err[torch.isfinite(px_err)].mean()),
    }
    per_joint: dict[str, Tensor] = {
        "depth error (mm)": torch.nanmean(torch.where(known, dz_err, torch.nan), 0) * 1000
    }
    has_k = torch.isfinite(K.flatten(1)).all(-1)
    if has_k.any():
        kp, dz, Kk = keypoints_px[has_k], depth_rel_m[has_k], K[has_k]
        gt = gt_joints3d[has_k]
        gt_rel = gt - gt[:, r : r + 1]
        rel, absolute = camera_joints(kp, dz, Kk, skeleton, bone_lengths_m, r)
        gt_root_z = gt[:, r, 2]
        rel_gt_root, _ = camera_joints(kp, dz, Kk, skeleton, bone_lengths_m, r, gt_root_z)
        summary = evaluate_pose3d(rel, gt_rel, root=r)
        metrics.update(summary)
        metrics["mpjpe_gt_root_mm"] = evaluate_pose3d(rel_gt_root, gt_rel, root=r)["mpjpe_mm"]
        root_err = (absolute[:, r] - gt[:, r]).norm(dim=-1)
        metrics["root_error_mm"] = float(root_err.mean() * 1000)
        abs_err = (absolute - gt).norm(dim=-1)
        metrics["abs_mpjpe_mm"] = float(torch.nanmean(abs_err) * 1000)
        per_joint["MPJPE (mm)"] = per_joint_mean(joint_errors(rel, gt_rel, root=r)) * 1000.0
        per_joint["PA-MPJPE (mm)"] = (
            per_joint_mean(joint_errors(rel, gt_rel, align="procrustes")) * 1000.0
        )
    metrics["num_samples"] = N
    return TaskEvaluation(metrics, per_joint, skeleton, N)
