"""Solvers for the rotation of `posekit.geometry.procrustes` (private).

Each takes the cross-covariance ``sigma = sum_j w_j y_j x_j^T`` (B, D, D), already in the solve
dtype, and returns the best proper rotation (B, D, D) and ``trace(R^T sigma)`` (B,), the
numerator of the optimal scale. See the docstring of `posekit.geometry.procrustes` for the
methods and their numerical behaviour.

The quaternion solver works on "structure of arrays": every per-sample scalar is a contiguous
(B,) tensor, so each step is one cheap elementwise op over the batch. Tiny batched matmuls
((B, 4, 4) @ (B, 4, 4)) and (B, 16)-wide temporaries cost several times more on CPU.
"""

from __future__ import annotations

import torch

__all__ = ["rotation_2d", "rotation_quaternion", "rotation_svd"]

Tensor = torch.Tensor


def rotation_svd(sigma: Tensor) -> tuple[Tensor, Tensor]:
    """Best proper rotation and trace(diag(sigma) S) by SVD. sigma: (B, D, D)."""
    u, sv, vh = torch.linalg.svd(sigma)  # (B, D, D), (B, D), (B, D, D)
    # det(U) det(V^T) is +-1; flip the last singular direction when it is -1.
    sign = torch.where(_det_small(u) * _det_small(vh) < 0, -1.0, 1.0).to(sigma.dtype)  # (B,)
    fix = torch.cat([torch.ones_like(sv[:, :-1]), sign[:, None]], dim=-1)  # (B, D): diag of S
    rotation = (u * fix[:, None, :]) @ vh  # U S V^T
    return rotation, (sv * fix).sum(-1)


def rotation_2d(sigma: Tensor) -> tuple[Tensor, Tensor]:
    """Best 2D rotation: maximizes cos(a)(S00 + S11) + sin(a)(S10 - S01). sigma: (B, 2, 2)."""
    c = sigma[:, 0, 0] + sigma[:, 1, 1]
    s = sigma[:, 1, 0] - sigma[:, 0, 1]
    norm = torch.hypot(c, s)  # = trace(diag(sigma) S)
    ok = norm > 0  # a zero cross-covariance leaves the angle free: take 0
    safe = torch.where(ok, norm, torch.ones_like(norm))
    c = torch.where(ok, c / safe, torch.ones_like(c))
    s = torch.where(ok, s / safe, torch.zeros_like(s))
    rotation = torch.stack([c, -s, s, c], -1).unflatten(-1, (2, 2))
    return rotation, norm


def _det_small(m: Tensor) -> Tensor:
    """Determinant of (..., D, D) for D = 2, 3 in closed form (LAPACK's batched LU is slow)."""
    if m.shape[-1] == 2:
        return m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    return (m[..., 0, :] * torch.linalg.cross(m[..., 1, :], m[..., 2, :])).sum(-1)


def _horn_matrix(s: Tensor) -> Tensor:
    """Horn's symmetric 4x4 matrix N from sigma's entries s (3, 3, B): returns (4, 4, B).

    With M = sigma^T (M_ab = sum_j x_a y_b): N = [[Mxx+Myy+Mzz, Myz-Mzy, Mzx-Mxz, Mxy-Myx],
    [., Mxx-Myy-Mzz, Mxy+Myx, Mzx+Mxz], [., ., -Mxx+Myy-Mzz, Myz+Mzy], [., ., ., -Mxx-Myy+Mzz]].
    Its top eigenvector is the quaternion (w, x, y, z) of the best rotation (Horn 1987).
    """
    mxx, mxy, mxz = s[0, 0], s[1, 0], s[2, 0]
    myx, myy, myz = s[0, 1], s[1, 1], s[2, 1]
    mzx, mzy, mzz = s[0, 2], s[1, 2], s[2, 2]
    n01, n02, n03 = myz - mzy, mzx - mxz, mxy - myx
    n12, n13, n23 = mxy + myx, mzx + mxz, myz + mzy
    rows = [
        [mxx + myy + mzz, n01, n02, n03],
        [n01, mxx - myy - mzz, n12, n13],
        [n02, n12, myy - mxx - mzz, n23],
        [n03, n13, n23, mzz - mxx - myy],
    ]
    return torch.stack([torch.stack(r) for r in rows])


# 2x2 minors of rows (r, r + 1) of a 4x4 matrix, for the column pairs below (k = 0..5).
_PAIR_A = [0, 0, 0, 1, 1, 2]
_PAIR_B = [1, 2, 3, 2, 3, 3]
# Adjugate entries of a 4x4 matrix m from the minors s_k (rows 0, 1) and c_k (rows 2, 3):
# adj[i][j] = sum of sign * m[r][c] * minor, as in the Laplace-expansion inverse. Only the ten
# entries of the upper triangle, the adjugate of a symmetric matrix being symmetric.
_ADJ = {
    (0, 0): ((1, 1, "c", 5, 1), (1, 2, "c", 4, -1), (1, 3, "c", 3, 1)),
    (0, 1): ((0, 1, "c", 5, -1), (0, 2, "c", 4, 1), (0, 3, "c", 3, -1)),
    (0, 2): ((3, 1, "s", 5, 1), (3, 2, "s", 4, -1), (3, 3, "s", 3, 1)),
    (0, 3): ((2, 1, "s", 5, -1), (2, 2, "s", 4, 1), (2, 3, "s", 3, -1)),
    (1, 1): ((0, 0, "c", 5, 1), (0, 2, "c", 2, -1), (0, 3, "c", 1, 1)),
    (1, 2): ((3, 0, "s", 5, -1), (3, 2, "s", 2, 1), (3, 3, "s", 1, -1)),
    (1, 3): ((2, 0, "s", 5, 1), (2, 2, "s", 2, -1), (2, 3, "s", 1, 1)),
    (2, 2): ((3, 0, "s", 4, 1), (3, 1, "s", 2, -1), (3, 3, "s", 0, 1)),
    (2, 3): ((2, 0, "s", 4, -1), (2, 1, "s", 2, 1), (2, 3, "s", 0, -1)),
    (3, 3): ((2, 0, "s", 3, 1), (2, 1, "s", 1, -1), (2, 2, "s", 0, 1)),
}


def _symmetric_adjugate(a: Tensor) -> Tensor:
    """Adjugate of symmetric 4x4 matrices stored as (4, 4, B); returns (4, 4, B)."""
    minors = {
        "s": a[0, _PAIR_A] * a[1, _PAIR_B] - a[1, _PAIR_A] * a[0, _PAIR_B],  # (6, B)
        "c": a[2, _PAIR_A] * a[3, _PAIR_B] - a[3, _PAIR_A] * a[2, _PAIR_B],
    }
    entries: dict[tuple[int, int], Tensor] = {}
    for (i, j), terms in _ADJ.items():
        first, *rest = sorted(terms, key=lambda t: -t[4])  # every entry has a + term
        total = a[first[0], first[1]] * minors[first[2]][first[3]]
        for r, c, kind, k, sign in rest:
            term = a[r, c] * minors[kind][k]
            total = total + term if sign > 0 else total - term
        entries[(i, j)] = total
    return torch.stack(
        [torch.stack([entries[min(i, j), max(i, j)] for j in range(4)]) for i in range(4)]
    )


def rotation_quaternion(sigma: Tensor, bound: Tensor) -> tuple[Tensor, Tensor]:
    """Best proper 3D rotation and its trace(R^T sigma) by Horn's quaternion method.

    sigma: (B, 3, 3) with sigma = sum_j w_j y_j x_j^T; bound: (B,) an upper bound of the
    trace, sqrt(var_x var_y) (Cauchy-Schwarz), tight for a good fit.
    """
    B = sigma.shape[0]
    s = sigma.permute(1, 2, 0).contiguous()  # (3, 3, B): s[a, b] = sum_j y_a x_b
    n = _horn_matrix(s)  # (4, 4, B)
    # Characteristic polynomial det(lam I - N) = lam^4 + c2 lam^2 + c1 lam + c0 (N traceless).
    # N's eigenvalues are +-s1 +- s2 +- s3' (s3' = s3 sign(det sigma)). With K = sigma^T sigma:
    # c2 = -2 tr K, c1 = -8 det sigma, and c0 = prod = (tr K)^2 - 4 e2(K), where e2(K), the
    # sum of K's principal 2x2 minors, is the sum of the squared 2x2 minors of sigma.
    pairs = ((0, 1), (0, 2), (1, 2))
    minors = [  # the nine 2x2 minors of sigma, each (B,)
        s[r1, c1] * s[r2, c2] - s[r1, c2] * s[r2, c1] for r1, r2 in pairs for c1, c2 in pairs
    ]
    fro2 = _sum_squares(s.view(9, B).unbind(0))  # tr K
    det = s[0, 0] * minors[8] - s[0, 1] * minors[7] + s[0, 2] * minors[6]
    c2 = -2.0 * fro2
    c1 = -8.0 * det
    c0 = fro2.square() - 4.0 * _sum_squares(minors)
    # Bracket the largest root: sigma_1 >= |M|_F / sqrt(3) and every diagonal entry of N (a
    # Rayleigh quotient) are below it; sqrt(3) |M|_F (>= the nuclear norm) and `bound` above.
    fro = fro2.sqrt()
    low = torch.maximum(fro / 3**0.5, n.diagonal().amax(-1))
    lam = torch.maximum(torch.minimum(3**0.5 * fro, bound), low)
    # Newton from above is monotone for a polynomial with real roots and converges
    # quadratically to a simple root; clamping at `low` stops a rounding-noise step near a
    # double root from jumping below. After a relative step of 0.1 sqrt(eps) the error is
    # ~eps; a tighter test would never pass, as the steps near the root are rounding noise.
    tol = 0.1 * torch.finfo(sigma.dtype).eps ** 0.5
    for _ in range(60):
        lam2 = lam * lam
        p = torch.addcmul(c1 * lam + c0, lam2 + c2, lam2)
        dp = torch.addcmul(c1, 4.0 * lam2 + 2.0 * c2, lam)
        good = dp > 0
        step = torch.where(good, p / torch.where(good, dp, 1.0), 0.0)
        lam = torch.maximum(lam - step, low)
        converged = step.abs() <= tol * lam
        if bool(converged.all()):
            break
    # adj(N - lam I) = -P'(lam) q q^T for the top unit eigenvector q: any column is a multiple
    # of q, and the one with the largest diagonal entry (|q_i| >= 1/2) has norm >= P'(lam)/2.
    a = n.clone()
    a.diagonal().sub_(lam[:, None])  # diagonal() of (4, 4, B) is (B, 4)
    adj = _symmetric_adjugate(a)  # (4, 4, B)
    diag = adj.diagonal().neg()  # (B, 4): P'(lam) q_i^2
    top, best = diag.max(-1)
    col = adj[:, best, torch.arange(B, device=sigma.device)]  # (4, B)
    # Trust a converged, well separated largest eigenvalue: P'(lam) = prod of the gaps to the
    # other eigenvalues, compared with |M|_F^3, so rounding in adj is negligible.
    rel = 1e-6 if sigma.dtype == torch.float64 else 1e-3
    ok = converged & (dp > rel * fro2 * fro) & (top > 0.25 * rel * fro2 * fro)
    identity = torch.tensor([[1.0], [0.0], [0.0], [0.0]], dtype=col.dtype, device=col.device)
    col = torch.where(ok, col, identity)
    q = col / _sum_squares(col.unbind(0)).sqrt()  # (4, B)
    if not bool(ok.all()):  # rotation (nearly) not unique: exact eigensolver for these samples
        bad = ~ok
        vals, vecs = torch.linalg.eigh(n[:, :, bad].permute(2, 0, 1))  # (b, 4), (b, 4, 4)
        q, lam = q.clone(), lam.clone()
        q[:, bad] = vecs[..., -1].mT
        lam[bad] = vals[..., -1]
    return _quat_to_rotmat(q), lam


def _sum_squares(values: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    """Sum of the squares of equally shaped tensors, without a stacked temporary."""
    total = values[0].square()
    for v in values[1:]:
        total = torch.addcmul(total, v, v)
    return total


def _quat_to_rotmat(q: Tensor) -> Tensor:
    """Unit quaternions (4, B), scalar first (Horn's order), to rotation matrices (B, 3, 3).

    The result is a strided view; `posekit.geometry.procrustes` makes it contiguous.
    """
    w, x, y, z = q
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    entries = [
        ww + xx - yy - zz,
        2 * (xy - wz),
        2 * (xz + wy),
        2 * (xy + wz),
        ww - xx + yy - zz,
        2 * (yz - wx),
        2 * (xz - wy),
        2 * (yz + wx),
        ww - xx - yy + zz,
    ]
    # Stacked along a new first dim (a contiguous write per entry), viewed as (B, 3, 3).
    return torch.stack(entries).view(3, 3, -1).permute(2, 0, 1)
