"""Pinhole and weak-perspective cameras: intrinsics, frames, projection, distortion.

Conventions used throughout (see DESIGN.md):

- Camera frame: OpenCV, x right, y down, z forward; metres.
- Extrinsics: ``x_cam = R @ x_world + t`` (``R`` world-to-camera rotation, ``t`` metres).
- Pixels: x (column) right, y (row) down, pixel centres at integer coordinates, so the centre
  of a ``(H, W)`` image is ``((W - 1) / 2, (H - 1) / 2)`` and its outer edges are at -0.5 and
  ``W - 0.5``. The principal point in ``K`` is in these coordinates.
- Intrinsics ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (``s`` skew, usually 0).

Batching: points carry any leading dims ``(..., J, 3)``; a camera parameter (``K``, ``R``,
``t``, distortion, weak-perspective camera) has either exactly those leading dims or none
(shared by the whole batch). Nothing else broadcasts. Everything is differentiable torch code,
pure maths (no NaN scan, no clamping of depths: points must lie in front of the camera).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from posekit._checks import check_shape, shape_of
from posekit.geometry._batch import check_batch_like, leading_shape, to_tensor_like

__all__ = [
    "Camera",
    "camera_to_world",
    "distort",
    "intrinsics_matrix",
    "perspective_transl_to_weak",
    "project",
    "unproject",
    "weak_perspective_project",
    "weak_to_perspective_transl",
    "world_to_camera",
]

Scalar = float | torch.Tensor


def intrinsics_matrix(
    focal_px: torch.Tensor | Sequence[float], principal_point_px: torch.Tensor | Sequence[float]
) -> torch.Tensor:
    """Build pinhole intrinsics ``K`` from focal lengths and principal point (no skew).

    Args:
        focal_px: ``(fx, fy)`` in pixels (a sequence becomes a default-dtype tensor).
        principal_point_px: ``(cx, cy)`` in pixels, pixel centres at integer coordinates (the
            image centre of a ``(H, W)`` image is ``((W - 1) / 2, (H - 1) / 2)``).

    Returns:
        ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` with the dtype of ``focal_px``.

    Shapes:
        focal_px: (..., 2)
        principal_point_px: (..., 2), same as focal_px
        return: (..., 3, 3)
    """
    if isinstance(focal_px, torch.Tensor):
        focal = focal_px
    else:
        focal = torch.tensor(focal_px, dtype=torch.get_default_dtype())
    check_shape(focal, "focal_px", "... 2")
    check_shape(principal_point_px, "principal_point_px", "... 2")
    if shape_of(principal_point_px) != focal.shape:
        raise ValueError(
            f"principal_point_px: expected {tuple(focal.shape)} to match focal_px, "
            f"got {shape_of(principal_point_px)}"
        )
    pp = to_tensor_like(principal_point_px, focal, "principal_point_px")
    zero = torch.zeros_like(focal[..., 0])
    rows = (
        focal[..., 0], zero, pp[..., 0],
        zero, focal[..., 1], pp[..., 1],
        zero, zero, torch.ones_like(zero),
    )  # fmt: skip
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))


def world_to_camera(points_world: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Change of frame world -> camera: ``x_cam = R @ x_world + t``.

    Args:
        points_world: points in the world frame, metres.
        R: world-to-camera rotations.
        t: translations, metres (the world origin in camera coordinates).

    Returns:
        The points in the camera frame (OpenCV: x right, y down, z forward), metres.

    Shapes:
        points_world: (..., J, 3)
        R: (3, 3) or (..., 3, 3)
        t: (3,) or (..., 3)
        return: (..., J, 3)
    """
    check_shape(points_world, "points_world", "... J 3")
    batch = leading_shape(points_world, 2)
    check_batch_like(R, "R", "3 3", batch, "points_world")
    check_batch_like(t, "t", "3", batch, "points_world")
    # (..., J, 3) @ (..., 3, 3) == R @ x for each row x.
    return points_world @ R.transpose(-1, -2) + t.unsqueeze(-2)


def camera_to_world(points_cam: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Change of frame camera -> world: ``x_world = R^T @ (x_cam - t)``; inverse of
    `world_to_camera` for the same ``R, t``.

    Args:
        points_cam: points in the camera frame, metres.
        R: world-to-camera rotations (the same as given to `world_to_camera`).
        t: world-to-camera translations, metres.

    Returns:
        The points in the world frame, metres.

    Shapes:
        points_cam: (..., J, 3)
        R: (3, 3) or (..., 3, 3)
        t: (3,) or (..., 3)
        return: (..., J, 3)
    """
    check_shape(points_cam, "points_cam", "... J 3")
    batch = leading_shape(points_cam, 2)
    check_batch_like(R, "R", "3 3", batch, "points_cam")
    check_batch_like(t, "t", "3", batch, "points_cam")
    # Row-vector form of R^T (x - t): (x - t)^T R.
    return (points_cam - t.unsqueeze(-2)) @ R


def distort(points_normalized: torch.Tensor, dist_coeffs: torch.Tensor) -> torch.Tensor:
    """Apply OpenCV's radial-tangential (Brown-Conrady) lens distortion.

    Args:
        points_normalized: undistorted normalized image coordinates ``(x / z, y / z)``.
        dist_coeffs: ``(k1, k2, p1, p2, k3)``, OpenCV's order.

    Returns:
        Distorted normalized coordinates ``(x', y')``; pixels are then ``K @ (x', y', 1)``.

    Shapes:
        points_normalized: (..., J, 2)
        dist_coeffs: (5,) or (..., 5)
        return: (..., J, 2)

    Convention:
        With ``r2 = x^2 + y^2`` and ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``::

            x' = x radial + 2 p1 x y + p2 (r2 + 2 x^2)
            y' = y radial + p1 (r2 + 2 y^2) + 2 p2 x y

        as ``cv2.projectPoints``. Human3.6M gives its radial ``k`` and tangential ``p`` with the
        same names, but its released projection code (and VideoPose3D's ``project_to_2d``)
        writes the tangential part as ``x' = x (radial + p1 x + p2 y) + p1 r2`` (likewise for
        y), which is a different model: do not feed its ``p`` here unconverted.
    """
    check_shape(points_normalized, "points_normalized", "... J 2")
    batch = leading_shape(points_normalized, 2)
    check_batch_like(dist_coeffs, "dist_coeffs", "5", batch, "points_normalized")
    k1, k2, p1, p2, k3 = (c.unsqueeze(-1) for c in dist_coeffs.unbind(-1))  # each (..., 1)
    x, y = points_normalized.unbind(-1)  # each (..., J)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))  # Horner form of 1 + k1 r2 + k2 r2^2 + k3 r2^3
    xy2 = 2 * x * y
    x_d = x * radial + p1 * xy2 + p2 * (r2 + 2 * x * x)
    y_d = y * radial + p1 * (r2 + 2 * y * y) + p2 * xy2
    return torch.stack((x_d, y_d), dim=-1)


def project(
    points_cam: torch.Tensor, K: torch.Tensor, dist_coeffs: torch.Tensor | None = None
) -> torch.Tensor:
    """Perspective projection of camera-frame points to pixels.

    Args:
        points_cam: points in the camera frame (OpenCV), metres, with ``z > 0``. Depths are
            not clamped: ``z = 0`` gives inf, ``z < 0`` a mirrored point.
        K: intrinsics in pixels, last row ``(0, 0, 1)``.
        dist_coeffs: optional OpenCV distortion ``(k1, k2, p1, p2, k3)``, see `distort`.

    Returns:
        Pixel coordinates ``(u, v)``, pixel centres at integer coordinates.

    Shapes:
        points_cam: (..., J, 3)
        K: (3, 3) or (..., 3, 3)
        dist_coeffs: (5,) or (..., 5)
        return: (..., J, 2)
    """
    check_shape(points_cam, "points_cam", "... J 3")
    batch = leading_shape(points_cam, 2)
    check_batch_like(K, "K", "3 3", batch, "points_cam")
    xy = points_cam[..., :2] / points_cam[..., 2:3]  # (..., J, 2) normalized coordinates
    if dist_coeffs is not None:
        check_batch_like(dist_coeffs, "dist_coeffs", "5", batch, "points_cam")
        xy = distort(xy, dist_coeffs)
    return xy @ K[..., :2, :2].transpose(-1, -2) + K[..., :2, 2].unsqueeze(-2)


def unproject(pixels: torch.Tensor, depth_m: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Back-project pixels at known depths to camera-frame points; inverse of `project`.

    Args:
        pixels: pixel coordinates, pixel centres at integer coordinates, *undistorted* (this
            function does not invert lens distortion).
        depth_m: the z coordinate of each point in the camera frame (not the distance along
            the ray), metres.
        K: intrinsics in pixels, upper triangular with last row ``(0, 0, 1)``.

    Returns:
        Points ``depth * K^-1 (u, v, 1)`` in the camera frame, metres.

    Shapes:
        pixels: (..., J, 2)
        depth_m: (..., J)
        K: (3, 3) or (..., 3, 3)
        return: (..., J, 3)
    """
    dims = check_shape(pixels, "pixels", "... J 2")
    batch = leading_shape(pixels, 2)
    check_shape(depth_m, "depth_m", "... J", dims)
    if depth_m.shape != pixels.shape[:-1]:
        raise ValueError(
            f"depth_m: expected {tuple(pixels.shape[:-1])} to match pixels "
            f"{tuple(pixels.shape)}, got {tuple(depth_m.shape)}"
        )
    check_batch_like(K, "K", "3 3", batch, "pixels")
    # K is upper triangular: solve by back-substitution rather than inverting the matrix.
    fx, skew, cx = (K[..., 0, i].unsqueeze(-1) for i in range(3))  # each (..., 1) or (1,)
    fy, cy = K[..., 1, 1].unsqueeze(-1), K[..., 1, 2].unsqueeze(-1)
    u, v = pixels.unbind(-1)  # each (..., J)
    y_n = (v - cy) / fy
    x_n = (u - cx - skew * y_n) / fx
    return torch.stack((x_n * depth_m, y_n * depth_m, depth_m), dim=-1)


def weak_perspective_project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective (scaled orthographic) projection as in HMR.

    Args:
        points: 3D points in the model frame (camera axes, OpenCV), metres.
        cam: ``(s, tx, ty)``: scale in normalized units per metre and a translation in metres.

    Returns:
        Normalized crop coordinates ``s * (X[:2] + (tx, ty))``, -1 and +1 at the outer edges
        of the crop (see `posekit.geometry.crops.normalized_to_pixels`).

    Shapes:
        points: (..., J, 3)
        cam: (3,) or (..., 3)
        return: (..., J, 2)

    Convention:
        The translation is added *before* scaling, as in HMR's ``batch_orth_proj_idrot`` and
        SPIN, so ``(tx, ty)`` is in metres and is exactly the x, y of the perspective
        translation given by `weak_to_perspective_transl`.
    """
    check_shape(points, "points", "... J 3")
    batch = leading_shape(points, 2)
    check_batch_like(cam, "cam", "3", batch, "points")
    s = cam[..., None, 0:1]  # (..., 1, 1)
    t = cam[..., None, 1:3]  # (..., 1, 2)
    return s * (points[..., :2] + t)


def _scalar_param(
    value: Scalar, name: str, like: torch.Tensor, batch: tuple[int, ...]
) -> torch.Tensor:
    check_batch_like(value, name, "", batch, "cam")
    return to_tensor_like(value, like, name)


def weak_to_perspective_transl(
    cam: torch.Tensor, focal_px: Scalar, crop_size_px: Scalar
) -> torch.Tensor:
    """Weak-perspective camera ``(s, tx, ty)`` to a perspective translation, metres.

    Derivation: a square crop of ``S`` pixels seen by a pinhole camera of focal ``f`` pixels
    whose principal point is the crop centre. A model point ``X`` placed at ``X + T`` projects
    to ``u - c = f (X + Tx) / (Z + Tz)`` pixels from the centre, i.e. to the normalized
    coordinate ``x_n = (u - c) / (S / 2) = 2 f (X + Tx) / (S (Z + Tz))``. When the body's depth
    extent is small against its distance (``|Z| << Tz``) this is ``x_n = s (X + Tx)`` with
    ``s = 2 f / (S Tz)``, the weak-perspective model of `weak_perspective_project`. Hence::

        T = (tx, ty, 2 f / (s S))

    exactly for points at ``Z = 0``, approximately otherwise.

    Args:
        cam: ``(s, tx, ty)``, ``s > 0`` (not clamped: ``s = 0`` gives an infinite depth).
        focal_px: focal length of the crop camera, pixels.
        crop_size_px: side of the square crop, pixels.

    Returns:
        ``T = (Tx, Ty, Tz)`` in metres, the camera-frame translation of the model.

    Shapes:
        cam: (..., 3)
        focal_px: float, () or (...)
        crop_size_px: float, () or (...)
        return: (..., 3)
    """
    check_shape(cam, "cam", "... 3")
    batch = leading_shape(cam, 1)
    f = _scalar_param(focal_px, "focal_px", cam, batch)
    size = _scalar_param(crop_size_px, "crop_size_px", cam, batch)
    s, tx, ty = cam.unbind(-1)
    return torch.stack((tx, ty, 2 * f / (s * size)), dim=-1)


def perspective_transl_to_weak(
    transl_m: torch.Tensor, focal_px: Scalar, crop_size_px: Scalar
) -> torch.Tensor:
    """Perspective translation to a weak-perspective camera; inverse of
    `weak_to_perspective_transl` (see there for the derivation): ``s = 2 f / (S Tz)``.

    Args:
        transl_m: ``(Tx, Ty, Tz)`` in metres, ``Tz > 0``.
        focal_px: focal length of the crop camera, pixels.
        crop_size_px: side of the square crop, pixels.

    Returns:
        ``(s, tx, ty)`` with ``(tx, ty) = (Tx, Ty)``.

    Shapes:
        transl_m: (..., 3)
        focal_px: float, () or (...)
        crop_size_px: float, () or (...)
        return: (..., 3)
    """
    check_shape(transl_m, "transl_m", "... 3")
    batch = leading_shape(transl_m, 1)
    f = _scalar_param(focal_px, "focal_px", transl_m, batch)
    size = _scalar_param(crop_size_px, "crop_size_px", transl_m, batch)
    tx, ty, tz = transl_m.unbind(-1)
    return torch.stack((2 * f / (size * tz), tx, ty), dim=-1)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: intrinsics, extrinsics and optional lens distortion.

    Attributes:
        K: intrinsics in pixels (see `intrinsics_matrix`).
        R: world-to-camera rotations.
        t: world-to-camera translations, metres: ``x_cam = R @ x_world + t``.
        dist_coeffs: optional OpenCV distortion ``(k1, k2, p1, p2, k3)``.

    Shapes:
        K: (3, 3) or (..., 3, 3)
        R: (..., 3, 3)
        t: (..., 3), same leading dims as R
        dist_coeffs: (5,) or (..., 5)

    Convention:
        Camera frame OpenCV (x right, y down, z forward); pixel centres at integer
        coordinates. The leading dims of ``R`` are the camera's batch dims; points given to
        the methods carry the same batch dims (or the camera has none).
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    dist_coeffs: torch.Tensor | None = None

    def __post_init__(self) -> None:
        check_shape(self.R, "R", "... 3 3")
        batch = self.batch_shape
        check_shape(self.t, "t", "... 3")
        if leading_shape(self.t, 1) != batch:
            raise ValueError(
                f"t: expected {(*batch, 3)} to match R {tuple(self.R.shape)}, "
                f"got {tuple(self.t.shape)}"
            )
        check_batch_like(self.K, "K", "3 3", batch, "R")
        if self.dist_coeffs is not None:
            check_batch_like(self.dist_coeffs, "dist_coeffs", "5", batch, "R")

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading dims of ``R`` (empty for a single camera)."""
        return leading_shape(self.R, 2)

    def center_world(self) -> torch.Tensor:
        """The camera centre in world coordinates, ``-R^T t``, metres; shape ``(..., 3)``."""
        return -(self.R.transpose(-1, -2) @ self.t.unsqueeze(-1)).squeeze(-1)

    def world_to_camera(self, points_world: torch.Tensor) -> torch.Tensor:
        """`world_to_camera` with this camera's ``R, t``: ``(..., J, 3) -> (..., J, 3)``."""
        return world_to_camera(points_world, self.R, self.t)

    def camera_to_world(self, points_cam: torch.Tensor) -> torch.Tensor:
        """`camera_to_world` with this camera's ``R, t``: ``(..., J, 3) -> (..., J, 3)``."""
        return camera_to_world(points_cam, self.R, self.t)

    def project_world(self, points_world: torch.Tensor) -> torch.Tensor:
        """World points to pixels (frame change, projection, distortion if any).

        Shapes:
            points_world: (..., J, 3)
            return: (..., J, 2)
        """
        return project(self.world_to_camera(points_world), self.K, self.dist_coeffs)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Camera:
        """A copy with every tensor moved to ``device`` and/or cast to ``dtype``."""

        def move(x: torch.Tensor) -> torch.Tensor:
            return x.to(device=device, dtype=dtype)

        dist = None if self.dist_coeffs is None else move(self.dist_coeffs)
        return Camera(K=move(self.K), R=move(self.R), t=move(self.t), dist_coeffs=dist)
