"""Batched similarity alignment: Procrustes / Umeyama (scale, rotation, translation) and scale-only.

Convention:
    ``source`` is moved onto ``target``: the returned transform maps a point ``x`` of the
    source to ``s * R @ x + t``. Rotations are proper (det R = +1): a reflection is never used,
    even when it would fit better. Any leading batch dims; points in 2D or 3D; float32 or
    float64; differentiable.

Umeyama's (1991) solution with per-point weights ``w`` normalized to sum to 1:

    mu_x = sum_j w_j x_j,  mu_y = sum_j w_j y_j,  var_x = sum_j w_j |x_j - mu_x|^2
    Sigma = sum_j w_j (y_j - mu_y)(x_j - mu_x)^T = U diag(sigma) V^T        (SVD)
    S = diag(1, ..., 1, sign(det U det V))          (fixes the sign of the last singular vector)
    R = U S V^T,  s = trace(diag(sigma) S) / var_x,  t = mu_y - s R mu_x

Solvers for R (the small D x D problem is solved in float64, float32 on MPS, then cast back):

- ``"quaternion"`` (3D default): Horn's (1987) quaternion form. The best proper rotation is
  the eigenvector of the largest eigenvalue ``lam`` of a symmetric traceless 4x4 matrix ``N``
  built from Sigma, and ``lam = trace(diag(sigma) S)``. ``lam`` is found by Newton's method on
  the characteristic quartic of ``N`` (whose coefficients are invariants of Sigma) from an
  upper bound: monotone, quadratic convergence, 3-5 iterations for a pose fit, as in
  Theobald's QCP (2005). The eigenvector is a column of the adjugate of ``N - lam I``.
  Everything is elementwise over the batch, with no per-matrix LAPACK call: on a CPU this is
  several times faster than ``torch.linalg.svd`` for large batches (see
  benchmarks/metrics.py) and agrees with it to ~1e-12 on well-posed fits. Samples whose
  largest eigenvalue is (nearly) double, where the rotation is (nearly) not unique, fall back
  to ``torch.linalg.eigh``.
- ``"svd"``: ``torch.linalg.svd`` of Sigma, as in the formula above (the reference).
- 2D always uses the closed form: ``(cos, sin)`` is proportional to
  ``(Sigma_00 + Sigma_11, Sigma_10 - Sigma_01)``.

Gradients:
    Both 3D solvers have the gradient of an eigen/singular decomposition: it grows like
    1 / (gap between the two largest eigenvalues of N) = 1 / (2 (sigma_2 + d sigma_3)), so it
    is inaccurate or infinite where the rotation is not unique (collinear points, or a
    reflection-like fit with sigma_2 = sigma_3), and the SVD backward is also infinite where two
    singular values coincide. Generic point sets are fine. A degenerate sample (all weights
    zero, or all weighted source or target points coincident) is replaced by a constant before
    the solve, so it contributes zero gradient instead of NaN to the rest of the batch.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch

from posekit._checks import check_shape
from posekit.geometry._procrustes_solvers import rotation_2d, rotation_quaternion, rotation_svd

__all__ = ["Similarity", "procrustes", "procrustes_align", "scale_align"]

Method = Literal["quaternion", "svd"]


class Similarity(NamedTuple):
    """A batch of similarity transforms ``x -> scale * rotation @ x + translation``.

    Shapes:
        scale: (...,).
        rotation: (..., D, D), proper (det +1).
        translation: (..., D).
    """

    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor

    def apply(self, points: torch.Tensor) -> torch.Tensor:
        """Transform points.

        Shapes:
            points: (..., J, D) with the same leading dims as the transform.
            return: (..., J, D).
        """
        D = self.rotation.shape[-1]
        check_shape(points, "points", f"... J {D}")
        if points.shape[:-2] != self.scale.shape:
            raise ValueError(
                f"points: expected leading dims {tuple(self.scale.shape)} (the transform's), "
                f"got {tuple(points.shape)}"
            )
        linear = self.scale[..., None, None] * self.rotation  # (..., D, D)
        return points @ linear.transpose(-1, -2) + self.translation[..., None, :]


def _check_pair(
    source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor | None:
    """Check shapes and dtypes; return weights as (..., J) in the points' dtype, or None."""
    dims = check_shape(source, "source", "... J D")
    if dims["D"] not in (2, 3):
        raise ValueError(f"source: expected (..., J, 2) or (..., J, 3), got {tuple(source.shape)}")
    if target.shape != source.shape:
        raise ValueError(
            f"target: expected {tuple(source.shape)} (the shape of source), "
            f"got {tuple(target.shape)}"
        )
    if not source.is_floating_point() or source.dtype != target.dtype:
        raise ValueError(
            f"source, target: expected one floating dtype, got {source.dtype} and {target.dtype}"
        )
    if weights is None:
        return None
    J = source.shape[-2]
    if tuple(weights.shape) == (J,):  # one mask shared by the whole batch
        weights = weights.expand(source.shape[:-1])
    elif tuple(weights.shape) != tuple(source.shape[:-1]):
        raise ValueError(
            f"weights: expected ({J},) or {tuple(source.shape[:-1])} to match source "
            f"{tuple(source.shape)}, got {tuple(weights.shape)}"
        )
    return weights.to(source.dtype)


def _fit(
    source: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None,
    scaling: bool,
    method: Method,
) -> tuple[Similarity, torch.Tensor | None, torch.Tensor]:
    """Fit on flattened (B, J, D) inputs; return the transform, centred source (if made), mu_y."""
    if method not in ("quaternion", "svd"):
        raise ValueError(f"method: expected 'quaternion' or 'svd', got {method!r}")
    J, D = source.shape[-2:]
    floor_x = floor_y = 0.0  # variances at or below these count as zero
    xc: torch.Tensor | None = None
    if weights is None and source.dtype == torch.float64:
        # Raw moments, no centred copies: two fewer passes over the points. The cancellation
        # costs a factor |mu|^2 / var (~100s for a body 5 m from the camera) of float64's
        # precision, which is ample; float32 takes the centred path below.
        mu_x = source.mean(-2)  # (B, D)
        mu_y = target.mean(-2)
        sigma = target.mT @ source / J - mu_y[:, :, None] * mu_x[:, None, :]  # (B, D, D)
        sq_x = torch.linalg.vector_norm(source, dim=(-2, -1)).square() / J  # (B,)
        sq_y = torch.linalg.vector_norm(target, dim=(-2, -1)).square() / J
        var_x = sq_x - mu_x.square().sum(-1)
        var_y = sq_y - mu_y.square().sum(-1)
        eps = torch.finfo(source.dtype).eps
        floor_x, floor_y = 64 * eps * sq_x, 64 * eps * sq_y
    elif weights is None:
        mu_x = source.mean(-2)  # (B, D)
        mu_y = target.mean(-2)
        xc = source - mu_x[:, None]  # (B, J, D)
        yc = target - mu_y[:, None]
        sigma = yc.mT @ xc / J  # (B, D, D): mean_j y_j x_j^T
        var_x = torch.linalg.vector_norm(xc, dim=(-2, -1)).square() / J  # (B,)
        var_y = torch.linalg.vector_norm(yc, dim=(-2, -1)).square() / J
    else:
        w_sum = weights.sum(-1, keepdim=True)  # (B, 1)
        w = weights / torch.where(w_sum > 0, w_sum, torch.ones_like(w_sum))  # sums to 1 or 0
        wt = w[:, None, :]  # (B, 1, J)
        mu_x = (wt @ source)[:, 0]  # (B, D)
        mu_y = (wt @ target)[:, 0]
        xc = source - mu_x[:, None]
        yc = target - mu_y[:, None]
        wyc = yc * w[..., None]  # (B, J, D)
        sigma = wyc.mT @ xc
        var_x = (wt @ xc.square().sum(-1, keepdim=True))[:, 0, 0]
        var_y = (wyc * yc).sum((-1, -2))

    # Also catches an all-zero weight row and NaN.
    degenerate = ~((var_x > floor_x) & (var_y > floor_y))
    # The small problem runs in float64: cheap, and float32 inputs keep their precision.
    solve_dtype = torch.float32 if source.device.type == "mps" else torch.float64
    sigma64 = sigma.to(solve_dtype)
    # A constant with distinct singular values keeps the solve and its backward finite there.
    stand_in = torch.diag(torch.arange(D, 0, -1, dtype=solve_dtype, device=source.device))
    sigma64 = torch.where(degenerate[:, None, None], stand_in, sigma64)
    if D == 2:
        rotation, trace = rotation_2d(sigma64)
    elif method == "quaternion":
        # Cauchy-Schwarz bound on the trace, tight for a good fit (6 = trace of the stand-in;
        # the where sits inside the sqrt so that a zero variance gives no NaN gradient).
        bound = torch.where(degenerate, 36.0, var_x * var_y).to(solve_dtype).sqrt()
        rotation, trace = rotation_quaternion(sigma64, bound)
    else:
        rotation, trace = rotation_svd(sigma64)
    rotation = rotation.to(source.dtype).contiguous()
    trace = trace.to(source.dtype)

    if scaling:
        scale = trace / torch.where(degenerate, torch.ones_like(var_x), var_x)
        scale = torch.where(degenerate, torch.zeros_like(scale), scale)
    else:
        scale = torch.ones_like(var_x)
    translation = mu_y - scale[:, None] * (rotation @ mu_x[..., None])[..., 0]
    return Similarity(scale, rotation, translation), xc, mu_y


def procrustes(
    source: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    scaling: bool = True,
    method: Method = "quaternion",
) -> Similarity:
    """The similarity (or rigid) transform that best maps ``source`` onto ``target``.

    Minimizes ``sum_j w_j |s R x_j + t - y_j|^2`` over s >= 0 (or s = 1 with
    ``scaling=False``), proper rotations R and translations t (Umeyama 1991).

    Args:
        source: points to move (x).
        target: points to reach (y), same shape and dtype.
        weights: per-point non-negative weights or a boolean mask; a point with weight 0 does
            not enter the fit. None: all points weigh 1.
        scaling: fit the scale; False fits a rigid transform (s = 1).
        method: 3D rotation solver, ``"quaternion"`` (fast, default) or ``"svd"`` (reference);
            see the module docstring. Ignored in 2D.

    Returns:
        `Similarity` (scale, rotation, translation). A degenerate sample (all weights zero,
        or all weighted source or all weighted target points coincident) gets R = I,
        s = 0 (1 if not ``scaling``) and t = mu_y - s mu_x.

    Shapes:
        source: (..., J, D) with D = 2 or 3.
        target: (..., J, D).
        weights: (..., J), or (J,) shared by the batch.
        return: scale (...,), rotation (..., D, D), translation (..., D).
    """
    w = _check_pair(source, target, weights)
    lead, (J, D) = source.shape[:-2], source.shape[-2:]
    flat_w = None if w is None else w.reshape(-1, J)
    t, _, _ = _fit(source.reshape(-1, J, D), target.reshape(-1, J, D), flat_w, scaling, method)
    return Similarity(
        t.scale.reshape(lead), t.rotation.reshape(*lead, D, D), t.translation.reshape(*lead, D)
    )


def procrustes_align(
    source: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    scaling: bool = True,
    method: Method = "quaternion",
    return_transform: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Similarity]:
    """Move ``source`` onto ``target`` by the best similarity transform (see `procrustes`).

    Args:
        source: points to align (e.g. a predicted pose).
        target: reference points (e.g. the ground truth).
        weights: per-point weights or boolean mask; zero-weight points are moved with the
            others but do not enter the fit.
        scaling: fit the scale (similarity); False fits a rigid transform.
        method: 3D rotation solver, ``"quaternion"`` or ``"svd"``.
        return_transform: also return the `Similarity`.

    Returns:
        The aligned source ``s R x + t``, and the transform if ``return_transform``.

    Shapes:
        source: (..., J, D) with D = 2 or 3.
        target: (..., J, D).
        weights: (..., J), or (J,) shared by the batch.
        return: (..., J, D).
    """
    w = _check_pair(source, target, weights)
    lead, (J, D) = source.shape[:-2], source.shape[-2:]
    flat_w = None if w is None else w.reshape(-1, J)
    t, xc, mu_y = _fit(source.reshape(-1, J, D), target.reshape(-1, J, D), flat_w, scaling, method)
    linear_t = (t.scale[:, None, None] * t.rotation).mT  # (B, D, D): (s R)^T
    if xc is None:  # float64: s R x + t
        aligned = torch.baddbmm(t.translation[:, None, :], source.reshape(-1, J, D), linear_t)
    else:  # s R (x - mu_x) + mu_y, from the centred points for float32's sake
        aligned = torch.baddbmm(mu_y[:, None, :], xc, linear_t)
    aligned = aligned.reshape(source.shape)
    if not return_transform:
        return aligned
    transform = Similarity(
        t.scale.reshape(lead), t.rotation.reshape(*lead, D, D), t.translation.reshape(*lead, D)
    )
    return aligned, transform


def scale_align(
    source: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    return_scale: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Rescale ``source`` about the origin to best match ``target`` (scale only).

    The least-squares scale ``s = sum_j w_j <x_j, y_j> / sum_j w_j |x_j|^2``: no centring, no
    rotation, no translation. This is the alignment of N-MPJPE (Rhodin et al. 2018, as
    computed by public code such as VideoPose3D's ``n_mpjpe``), which applies it to
    root-relative poses: the caller chooses the origin (make both poses root-relative first).
    A sample whose weighted source is all zero gets s = 0.

    Args:
        source: points to rescale.
        target: reference points.
        weights: per-point weights or boolean mask; None: all 1.
        return_scale: also return s.

    Returns:
        ``s * source``, and s if ``return_scale``.

    Shapes:
        source: (..., J, D) with D = 2 or 3.
        target: (..., J, D).
        weights: (..., J), or (J,) shared by the batch.
        return: (..., J, D) and scale (...,).
    """
    w = _check_pair(source, target, weights)
    dot = (source * target).sum(-1)  # (..., J)
    sq = source.square().sum(-1)
    if w is not None:
        dot, sq = dot * w, sq * w
    num, den = dot.sum(-1), sq.sum(-1)
    ok = den > 0
    scale = torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), 0.0)
    scaled = scale[..., None, None] * source
    return (scaled, scale) if return_scale else scaled
