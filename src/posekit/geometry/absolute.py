"""From image-space predictions to 3D in the camera frame: back-projection of 2.5D poses (pixels +
root-relative depth), the root depth that gives a skeleton its expected bone lengths, and the
least-squares root translation of a root-relative 3D pose from its 2D projection (MeTRAbs,
Sárándi et al. 2021).

Shapes:
    B batch, J joints.

Conventions:
    Pixels with pixel centres at integer coordinates, K (3, 3) pinhole intrinsics without
    distortion, OpenCV camera frame (x right, y down, z forward), metres. A 2.5D pose is
    (u, v) pixels + ``depth_rel_m`` = z of the joint minus z of the root.

Why the root depth needs a prior: a 2.5D pose fixes each joint's viewing ray and its depth
offset from the root, but not the root's own depth ``Z``; the joints are
``P_j = (Z + dz_j) K^-1 (u_j, v_j, 1)``, so a larger ``Z`` makes a larger person farther away.
`root_depth_from_bones` picks the ``Z`` whose skeleton's bones are closest (least squares) to
given lengths (e.g. the training set's mean), the metric prior that Pavlakos et al. and Sun
et al. replace by the ground-truth root depth in their evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from posekit._checks import check_shape

__all__ = ["backproject_2p5d", "root_depth_from_bones", "solve_root_translation"]


def _rays(keypoints_px: Tensor, K: Tensor) -> Tensor:
    """Viewing rays (x/z, y/z, 1) of pixels. (B, J, 2), (B, 3, 3) -> (B, J, 3)."""
    fx, fy = K[:, 0, 0, None], K[:, 1, 1, None]
    cx, cy = K[:, 0, 2, None], K[:, 1, 2, None]
    x = (keypoints_px[..., 0] - cx) / fx
    y = (keypoints_px[..., 1] - cy) / fy
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def backproject_2p5d(
    keypoints_px: Tensor, depth_rel_m: Tensor, K: Tensor, root_depth_m: Tensor
) -> Tensor:
    """Camera-frame joints of a 2.5D pose at a given root depth.

    Shapes:
        keypoints_px: (B, J, 2); depth_rel_m: (B, J); K: (B, 3, 3); root_depth_m: (B,)
        -> (B, J, 3) metres.
    """
    dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
    check_shape(depth_rel_m, "depth_rel_m", "B J", dims)
    check_shape(K, "K", "B 3 3", dims)
    check_shape(root_depth_m, "root_depth_m", "B", dims)
    z = root_depth_m[:, None] + depth_rel_m  # (B, J)
    return _rays(keypoints_px, K) * z[..., None]


def root_depth_from_bones(
    keypoints_px: Tensor,
    depth_rel_m: Tensor,
    K: Tensor,
    parents: Sequence[int],
    bone_lengths_m: Tensor,
    iterations: int = 20,
) -> Tensor:
    """The root depth whose back-projected skeleton best matches the given bone lengths.

    Minimises ``sum_k (|b_k(Z)| - L_k)^2`` over ``Z``, where bone ``k`` (joint ``j``, parent
    ``p``) is ``b_k(Z) = Z (r_j - r_p) + dz_j r_j - dz_p r_p`` for rays ``r``: Gauss-Newton
    from the depth at which the summed ray spreads match the summed lengths, clamped to
    ``[0.1, 1000]`` m.

    Shapes:
        keypoints_px: (B, J, 2); depth_rel_m: (B, J) relative to the root; K: (B, 3, 3);
        bone_lengths_m: (J,) the length of the bone from each joint to its parent (the root's
        entry is ignored) -> (B,) metres.
    """
    dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
    check_shape(depth_rel_m, "depth_rel_m", "B J", dims)
    check_shape(K, "K", "B 3 3", dims)
    check_shape(bone_lengths_m, "bone_lengths_m", "J", dims)
    par = [int(p) for p in parents]
    if len(par) != dims["J"]:
        raise ValueError(f"parents: expected {dims['J']} entries, got {len(par)}")
    child = torch.tensor([j for j, p in enumerate(par) if p >= 0], device=keypoints_px.device)
    parent = torch.tensor([p for p in par if p >= 0], device=keypoints_px.device)
    r = _rays(keypoints_px, K)  # (B, J, 3)
    a = r[:, child] - r[:, parent]  # (B, N, 3)
    c = depth_rel_m[:, child, None] * r[:, child] - depth_rel_m[:, parent, None] * r[:, parent]
    L = bone_lengths_m.to(r)[child]  # (N,)
    spread = a.norm(dim=-1).sum(-1).clamp_min(1e-9)
    z = (L.sum() / spread).clamp(0.1, 1000.0)  # (B,)
    for _ in range(iterations):
        b = z[:, None, None] * a + c  # (B, N, 3)
        n = b.norm(dim=-1).clamp_min(1e-9)  # (B, N)
        res = n - L
        jac = (b * a).sum(-1) / n  # d|b|/dZ
        step = (jac * res).sum(-1) / (jac * jac).sum(-1).clamp_min(1e-12)
        z = (z - step).clamp(0.1, 1000.0)
    return z


def solve_root_translation(
    keypoints_px: Tensor, joints_rel_m: Tensor, K: Tensor, weights: Tensor | None = None
) -> Tensor:
    """The translation that best projects a root-relative 3D pose onto its 2D keypoints.

    Linear least squares (MeTRAbs, Sárándi et al. 2021): for each joint with normalised image
    coordinates ``(x, y) = K^-1 (u, v, 1)``, ``(P + t)_x - x (P + t)_z = 0`` and
    ``(P + t)_y - y (P + t)_z = 0``, weighted by ``weights``; the solution minimises the
    projection error measured in the normalised image plane, each joint scaled by its depth.

    Shapes:
        keypoints_px: (B, J, 2); joints_rel_m: (B, J, 3) metres relative to the root;
        K: (B, 3, 3); weights: (B, J) >= 0 or None (all 1) -> (B, 3) metres, the position of
        the pose's origin (the root) in the camera frame.
    """
    dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
    check_shape(joints_rel_m, "joints_rel_m", "B J 3", dims)
    check_shape(K, "K", "B 3 3", dims)
    r = _rays(keypoints_px, K)
    x, y = r[..., 0], r[..., 1]  # (B, J)
    P = joints_rel_m
    w = torch.ones_like(x) if weights is None else weights.to(x)
    zero, one = torch.zeros_like(x), torch.ones_like(x)
    A = torch.cat(
        [torch.stack([one, zero, -x], -1), torch.stack([zero, one, -y], -1)], dim=1
    )  # (B, 2J, 3)
    rhs = torch.cat([x * P[..., 2] - P[..., 0], y * P[..., 2] - P[..., 1]], dim=1)  # (B, 2J)
    ww = torch.cat([w, w], dim=1)
    AtA = (A * ww[..., None]).transpose(1, 2) @ A  # (B, 3, 3)
    Atb = ((A * ww[..., None]).transpose(1, 2) @ rhs[..., None])[..., 0]  # (B, 3)
    eye = torch.eye(3, dtype=A.dtype, device=A.device)
    return torch.linalg.solve(AtA + 1e-9 * eye, Atb)
