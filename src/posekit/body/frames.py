"""Named changes of world frame for body models.

posekit's world frame is **Z-up, metres** (as anny and the Human3.6M world coordinates). A body
in its canonical rest pose stands upright along +Z, **faces -Y** and has its **left side at
+X** (x = left, y = backward, z = up; right-handed: x × y = z). anny's native frame is already
this frame. The SMPL family (SMPL, SMPL-H, SMPL-X) is Y-up: its canonical body stands along +Y,
faces +Z and has its left side at +X; `yup_to_zup` maps it onto posekit's frame (a +90° rotation
about X), `zup_to_yup` back.

Convention:
    Points are rotated, not axes relabelled: ``p_zup = R_YUP_TO_ZUP @ p_yup`` with
    ``R_YUP_TO_ZUP = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]``, i.e. ``(x, y, z) -> (x, -z, y)``.
    Rotations (e.g. a global orientation ``R`` that acts on Y-up points) change as
    ``R_zup = R_YUP_TO_ZUP @ R @ R_YUP_TO_ZUP.T``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "BODY_FORWARD",
    "BODY_LEFT",
    "BODY_UP",
    "R_YUP_TO_ZUP",
    "yup_to_zup",
    "yup_to_zup_rotmat",
    "zup_to_yup",
    "zup_to_yup_rotmat",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

# Canonical body axes in posekit's world frame (unit vectors, metres-frame directions).
BODY_UP = (0.0, 0.0, 1.0)
BODY_FORWARD = (0.0, -1.0, 0.0)  # the direction the rest-pose body faces
BODY_LEFT = (1.0, 0.0, 0.0)  # the body's own left (anatomical), not the viewer's

R_YUP_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def _matrix_like(x: ArrayT, inverse: bool) -> ArrayT:
    r = R_YUP_TO_ZUP.T if inverse else R_YUP_TO_ZUP
    if isinstance(x, torch.Tensor):
        return torch.as_tensor(r, dtype=x.dtype, device=x.device)
    return r.astype(np.result_type(x.dtype, np.float32), copy=False)


def _check_points(x: ArrayT, name: str) -> None:
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name}: expected (..., 3), got {tuple(x.shape)}")


def _check_rotmats(x: ArrayT, name: str) -> None:
    if x.ndim < 2 or tuple(x.shape[-2:]) != (3, 3):
        raise ValueError(f"{name}: expected (..., 3, 3), got {tuple(x.shape)}")


def yup_to_zup(points: ArrayT) -> ArrayT:
    """Y-up points (SMPL family) to posekit's Z-up world frame: ``(x, y, z) -> (x, -z, y)``.

    Shapes:
        points: (..., 3), numpy or torch; return: same shape and type.
    """
    _check_points(points, "points")
    return points @ _matrix_like(points, inverse=False).T


def zup_to_yup(points: ArrayT) -> ArrayT:
    """posekit's Z-up points to the Y-up frame: ``(x, y, z) -> (x, z, -y)``, undoing `yup_to_zup`.

    Shapes:
        points: (..., 3), numpy or torch; return: same shape and type.
    """
    _check_points(points, "points")
    return points @ _matrix_like(points, inverse=True).T


def yup_to_zup_rotmat(rotmat: ArrayT) -> ArrayT:
    """A rotation acting on Y-up points, re-expressed to act on Z-up points: ``C R C^T``.

    Shapes:
        rotmat: (..., 3, 3); return: same shape and type.
    """
    _check_rotmats(rotmat, "rotmat")
    c = _matrix_like(rotmat, inverse=False)
    return c @ rotmat @ c.T


def zup_to_yup_rotmat(rotmat: ArrayT) -> ArrayT:
    """Inverse of `yup_to_zup_rotmat`: ``C^T R C``.

    Shapes:
        rotmat: (..., 3, 3); return: same shape and type.
    """
    _check_rotmats(rotmat, "rotmat")
    c = _matrix_like(rotmat, inverse=False)
    return c.T @ rotmat @ c
