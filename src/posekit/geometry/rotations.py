"""Conversions between rotation representations, with any leading batch dims.

Nouns (fixed, used in every name ``X_to_Y``):

- ``rotvec``: axis-angle vector ``(..., 3)``, direction = axis, norm = angle in radians;
- ``rotmat``: rotation matrix ``(..., 3, 3)``, acting on column vectors (``y = R @ x``);
- ``quat``: unit quaternion ``(..., 4)`` in **xyzw** order (scalar last, as roma and scipy);
- ``rot6d``: the continuous 6D representation of Zhou et al. 2019 ``(..., 6)``: the first two
  columns of the matrix, concatenated (see `rotmat_to_rot6d`);
- ``euler``: three angles in radians ``(..., 3)`` with a scipy-style convention string.

All functions are differentiable torch code built on roma and work for float32 and float64.
They are pure maths: inputs are assumed valid (unit quaternions, proper rotation matrices) and
are neither renormalized nor scanned for NaN.
"""

from __future__ import annotations

import roma
import torch

from posekit._checks import check_shape

__all__ = [
    "euler_to_rotmat",
    "quat_to_rotmat",
    "quat_to_rotvec",
    "rot6d_to_rotmat",
    "rotmat_geodesic_distance",
    "rotmat_to_euler",
    "rotmat_to_quat",
    "rotmat_to_rot6d",
    "rotmat_to_rotvec",
    "rotvec_to_quat",
    "rotvec_to_rotmat",
]

# Norm floor of the Gram-Schmidt step of `rot6d_to_rotmat`: a network can output (near) zero
# or collinear columns; dividing by a clamped norm keeps the output and its gradient finite
# (the result is then not a rotation, which is the best one can do for such an input).
_GRAM_SCHMIDT_EPS = 1e-12


def rotvec_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors to rotation matrices (Rodrigues' formula).

    Args:
        rotvec: axis-angle vectors, radians.

    Returns:
        Rotation matrices.

    Shapes:
        rotvec: (..., 3)
        return: (..., 3, 3)

    Convention:
        Right-handed: a positive angle turns counter-clockwise when the axis points at the
        viewer. Below an angle of 1e-6 rad roma switches to the first-order expansion
        ``I + [rotvec]_x``, which keeps the gradient finite at zero.
    """
    check_shape(rotvec, "rotvec", "... 3")
    return roma.rotvec_to_rotmat(rotvec)


def rotmat_to_rotvec(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to axis-angle vectors of angle in [0, pi].

    Args:
        rotmat: rotation matrices.

    Returns:
        Axis-angle vectors, radians, with norm in [0, pi].

    Shapes:
        rotmat: (..., 3, 3)
        return: (..., 3)

    Convention:
        Goes through the quaternion (roma's Markley/Shepperd method), which is accurate over
        the whole range, including angles near 0 and near pi.
    """
    check_shape(rotmat, "rotmat", "... 3 3")
    return roma.rotmat_to_rotvec(rotmat)


def rotvec_to_quat(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors to unit quaternions (xyzw).

    Args:
        rotvec: axis-angle vectors, radians.

    Returns:
        Unit quaternions ``(sin(a/2) axis, cos(a/2))``.

    Shapes:
        rotvec: (..., 3)
        return: (..., 4)

    Convention:
        xyzw order. The map is smooth, so the sign is not canonicalized: an angle above pi
        gives ``w < 0``.
    """
    check_shape(rotvec, "rotvec", "... 3")
    return roma.rotvec_to_unitquat(rotvec)


def quat_to_rotvec(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (xyzw) to axis-angle vectors of angle in [0, pi].

    Args:
        quat: unit quaternions, xyzw; ``q`` and ``-q`` give the same result.

    Returns:
        Axis-angle vectors, radians, with norm in [0, pi].

    Shapes:
        quat: (..., 4)
        return: (..., 3)
    """
    check_shape(quat, "quat", "... 4")
    return roma.unitquat_to_rotvec(quat, shortest_arc=True)


def quat_to_rotmat(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (xyzw) to rotation matrices.

    Args:
        quat: unit quaternions, xyzw. Not renormalized: a non-unit input gives a scaled,
            non-orthogonal matrix.

    Returns:
        Rotation matrices.

    Shapes:
        quat: (..., 4)
        return: (..., 3, 3)
    """
    check_shape(quat, "quat", "... 4")
    return roma.unitquat_to_rotmat(quat)


def rotmat_to_quat(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to unit quaternions (xyzw) with a non-negative scalar part.

    Args:
        rotmat: rotation matrices.

    Returns:
        Unit quaternions, xyzw, with ``w >= 0``.

    Shapes:
        rotmat: (..., 3, 3)
        return: (..., 4)

    Convention:
        ``q`` and ``-q`` are the same rotation; the sign is fixed to ``w >= 0`` so that the same
        matrix always gives the same quaternion (the sign is still ambiguous at ``w == 0``,
        i.e. for half turns).
    """
    check_shape(rotmat, "rotmat", "... 3 3")
    quat = roma.rotmat_to_unitquat(rotmat)
    # A sign flip selected by torch.where: both branches are smooth, so no NaN gradient.
    return torch.where(quat[..., 3:] < 0, -quat, quat)


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to the continuous 6D representation (Zhou et al. 2019).

    Args:
        rotmat: rotation matrices.

    Returns:
        The first two columns of each matrix, concatenated.

    Shapes:
        rotmat: (..., 3, 3)
        return: (..., 6)

    Convention:
        ``rot6d[..., 0:3] = R[..., :, 0]`` (first column) and ``rot6d[..., 3:6] = R[..., :, 1]``
        (second column), as in the paper's reference code. Other codebases store the same six
        numbers differently: SPIN/HMR-derived code reshapes them as ``(3, 2)`` (interleaved
        ``R00, R01, R10, R11, R20, R21``) and PyTorch3D keeps the first two *rows*; convert
        before loading weights trained with those layouts.
    """
    check_shape(rotmat, "rotmat", "... 3 3")
    return torch.cat((rotmat[..., :, 0], rotmat[..., :, 1]), dim=-1)


def rot6d_to_rotmat(rot6d: torch.Tensor) -> torch.Tensor:
    """The 6D representation (two 3D vectors) to rotation matrices, by Gram-Schmidt.

    Args:
        rot6d: two 3D vectors ``a1 = rot6d[..., 0:3]``, ``a2 = rot6d[..., 3:6]``, of any
            non-zero length and not collinear (e.g. raw network outputs).

    Returns:
        ``R = [b1, b2, b1 x b2]`` with ``b1 = a1 / |a1|`` and ``b2`` the normalized part of
        ``a2`` orthogonal to ``b1``: a proper rotation whose first two columns are ``b1, b2``.

    Shapes:
        rot6d: (..., 6)
        return: (..., 3, 3)

    Convention:
        Same layout as `rotmat_to_rot6d` (columns), so ``rot6d_to_rotmat(rotmat_to_rot6d(R))``
        returns ``R``. Norms are clamped to 1e-12 so that degenerate inputs give finite
        (if meaningless) outputs and gradients instead of NaN.
    """
    check_shape(rot6d, "rot6d", "... 6")
    columns = torch.stack((rot6d[..., 0:3], rot6d[..., 3:6]), dim=-1)  # (..., 3, 2)
    return roma.special_gramschmidt(columns, epsilon=_GRAM_SCHMIDT_EPS)


def _check_euler_convention(convention: str) -> None:
    ok = (
        isinstance(convention, str)
        and len(convention) == 3
        and (set(convention) <= set("xyz") or set(convention) <= set("XYZ"))
        and convention[0] != convention[1]
        and convention[1] != convention[2]
    )
    if not ok:
        raise ValueError(
            "convention: expected 3 axes, all lowercase (extrinsic, e.g. 'xyz') or all "
            f"uppercase (intrinsic, e.g. 'ZXY'), no axis twice in a row, got {convention!r}"
        )


def euler_to_rotmat(angles: torch.Tensor, convention: str = "xyz") -> torch.Tensor:
    """Euler angles to rotation matrices.

    Args:
        angles: the three angles in radians, in the order of the axes in ``convention``.
        convention: three axes as in scipy and roma. Lowercase (``"xyz"``) means *extrinsic*
            rotations about the fixed axes; uppercase (``"XYZ"``) means *intrinsic* rotations
            about the axes of the rotating body. Proper Euler (``"zxz"``) and Tait-Bryan
            (``"xyz"``) sequences are both allowed.

    Returns:
        Rotation matrices.

    Shapes:
        angles: (..., 3)
        return: (..., 3, 3)

    Convention:
        Extrinsic ``"xyz"`` with angles ``(a, b, c)`` is ``R = Rz(c) @ Ry(b) @ Rx(a)`` (rotate
        about x first). Intrinsic ``"XYZ"`` is ``R = Rx(a) @ Ry(b) @ Rz(c)``; intrinsic
        ``"ZYX"`` equals extrinsic ``"xyz"`` with the angles reversed. Each elementary
        rotation is right-handed (counter-clockwise seen from the positive axis).

    Raises:
        ValueError: for a malformed convention string.
    """
    _check_euler_convention(convention)
    check_shape(angles, "angles", "... 3")
    return roma.euler_to_rotmat(convention, angles)


def rotmat_to_euler(rotmat: torch.Tensor, convention: str = "xyz") -> torch.Tensor:
    """Rotation matrices to Euler angles; the inverse of `euler_to_rotmat`.

    Args:
        rotmat: rotation matrices.
        convention: as in `euler_to_rotmat`.

    Returns:
        Angles in radians: the first and third in (-pi, pi], the second in [-pi/2, pi/2] for
        Tait-Bryan sequences (``"xyz"``) and in [0, pi] for proper Euler sequences (``"zxz"``).

    Shapes:
        rotmat: (..., 3, 3)
        return: (..., 3)

    Convention:
        At gimbal lock (second angle at its bound) only a sum or difference of the first and
        third angles is defined; the third is then set to 0. Angles are not differentiable
        there.

    Raises:
        ValueError: for a malformed convention string.
    """
    _check_euler_convention(convention)
    check_shape(rotmat, "rotmat", "... 3 3")
    return roma.rotmat_to_euler(convention, rotmat)


def rotmat_geodesic_distance(rotmat_a: torch.Tensor, rotmat_b: torch.Tensor) -> torch.Tensor:
    """Angle of the relative rotation between two rotation matrices, radians in [0, pi].

    Args:
        rotmat_a: rotation matrices.
        rotmat_b: rotation matrices, the same shape as ``rotmat_a``.

    Returns:
        The angle of ``rotmat_a^T @ rotmat_b``, i.e. the geodesic distance on SO(3).

    Shapes:
        rotmat_a: (..., 3, 3)
        rotmat_b: (..., 3, 3), same as rotmat_a
        return: (...)

    Convention:
        Computed as ``atan2(2 sin a, 2 cos a)`` from the skew part (``|R - R^T| / 2``) and the
        trace (``tr R - 1``) of the relative rotation. Unlike ``acos((tr R - 1) / 2)``, which
        loses precision near 0 and has an infinite gradient there, or roma's ``asin`` form,
        which loses precision near pi, this is accurate over the whole range. The distance is
        not differentiable at 0 and pi (like ``|x|`` at 0); there the gradient returned is
        finite (0 from the norm of a zero vector), never NaN.
    """
    dims = check_shape(rotmat_a, "rotmat_a", "... 3 3")
    check_shape(rotmat_b, "rotmat_b", "... 3 3", dims)
    if rotmat_a.shape != rotmat_b.shape:
        raise ValueError(
            f"rotmat_b: expected the shape of rotmat_a {tuple(rotmat_a.shape)}, "
            f"got {tuple(rotmat_b.shape)}"
        )
    rel = rotmat_a.transpose(-1, -2) @ rotmat_b  # (..., 3, 3)
    # vee(R - R^T) = 2 sin(a) * axis; tr(R) - 1 = 2 cos(a).
    skew = torch.stack(
        (
            rel[..., 2, 1] - rel[..., 1, 2],
            rel[..., 0, 2] - rel[..., 2, 0],
            rel[..., 1, 0] - rel[..., 0, 1],
        ),
        dim=-1,
    )  # (..., 3)
    two_sin = torch.linalg.vector_norm(skew, dim=-1)
    two_cos = rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0
    return torch.atan2(two_sin, two_cos)
