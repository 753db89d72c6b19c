"""Tests for posekit.geometry.procrustes: exact recovery, reflections, masks, dtypes, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.geometry.procrustes import Similarity, procrustes, procrustes_align, scale_align

METHODS = ["quaternion", "svd"]


def _random_similarity(batch: tuple[int, ...], dim: int, gen: torch.Generator) -> Similarity:
    n = int(np.prod(batch)) if batch else 1
    if dim == 3:
        rot = roma.random_rotmat(n, dtype=torch.float64)
    else:
        a = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * torch.pi
        rot = torch.stack([a.cos(), -a.sin(), a.sin(), a.cos()], -1).reshape(n, 2, 2)
    scale = torch.rand(n, generator=gen, dtype=torch.float64) * 2 + 0.2
    trans = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return Similarity(
        scale.reshape(batch), rot.reshape(*batch, dim, dim), trans.reshape(*batch, dim)
    )


def _naive_umeyama(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Per-sample textbook Umeyama with numpy's SVD: (s, R, t) mapping x (J, D) onto y."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    cov = yc.T @ xc / len(x)
    u, sv, vt = np.linalg.svd(cov)
    fix = np.ones(len(sv))
    fix[-1] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rot = u @ np.diag(fix) @ vt
    s = (sv * fix).sum() / (xc**2).sum(1).mean()
    return s, rot, my - s * rot @ mx


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_recovers_known_similarity(method: str, dim: int, batch: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*batch, 17, dim, generator=gen, dtype=torch.float64)
    truth = _random_similarity(batch, dim, gen)
    y = truth.apply(x)
    aligned, fit = procrustes_align(x, y, method=method, return_transform=True)
    assert aligned.shape == x.shape
    torch.testing.assert_close(aligned, y, atol=1e-10, rtol=0)
    torch.testing.assert_close(fit.scale, truth.scale, atol=1e-10, rtol=0)
    torch.testing.assert_close(fit.rotation, truth.rotation, atol=1e-10, rtol=0)
    torch.testing.assert_close(fit.translation, truth.translation, atol=1e-10, rtol=0)
    torch.testing.assert_close(fit.apply(x), y, atol=1e-10, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_reflection_gives_proper_rotation(method: str) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 12, 3, generator=gen, dtype=torch.float64)
    mirror = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
    y = x @ mirror + 0.01 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    fit = procrustes(x, y, method=method)
    det = torch.linalg.det(fit.rotation)
    torch.testing.assert_close(det, torch.ones_like(det), atol=1e-10, rtol=0)
    ortho = fit.rotation.mT @ fit.rotation
    torch.testing.assert_close(ortho, torch.eye(3, dtype=torch.float64).expand_as(ortho))
    # Matches the reference solution (which fixes the last singular vector's sign).
    for i in range(4):
        s, rot, _ = _naive_umeyama(x[i].numpy(), y[i].numpy())
        np.testing.assert_allclose(fit.rotation[i].numpy(), rot, atol=1e-9)
        np.testing.assert_allclose(float(fit.scale[i]), s, atol=1e-9)


def test_reflection_2d_gives_rotation() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(16, 9, 2, generator=gen, dtype=torch.float64)
    fit = procrustes(x, x * torch.tensor([1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(torch.linalg.det(fit.rotation), torch.ones(16, dtype=torch.float64))


@pytest.mark.parametrize("method", METHODS)
def test_matches_naive_numpy_loop(method: str) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(50, 17, 3, generator=gen, dtype=torch.float64)
    y = 0.7 * x @ roma.random_rotmat(50, dtype=torch.float64).mT + 0.05 * torch.randn(
        x.shape, generator=gen, dtype=torch.float64
    )
    fit = procrustes(x, y, method=method)
    for i in range(len(x)):
        s, rot, t = _naive_umeyama(x[i].numpy(), y[i].numpy())
        np.testing.assert_allclose(float(fit.scale[i]), s, atol=1e-12)
        np.testing.assert_allclose(fit.rotation[i].numpy(), rot, atol=1e-10)
        np.testing.assert_allclose(fit.translation[i].numpy(), t, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_masked_joints_do_not_enter_the_fit(method: str) -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(8, 17, 3, generator=gen, dtype=torch.float64)
    y = x + 0.1 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    mask = torch.ones(8, 17, dtype=torch.bool)
    mask[:, [2, 5]] = False
    mask[3, 10] = False
    fit = procrustes(x, y, mask, method=method)
    y_bad, x_bad = y.clone(), x.clone()
    y_bad[~mask] = 1e3
    x_bad[~mask] = -50.0
    fit_bad = procrustes(x_bad, y_bad, mask, method=method)
    for a, b in zip(fit, fit_bad):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    # Same as fitting on the kept joints only.
    keep = mask[0].clone()
    sub = procrustes(x[0, keep], y[0, keep], method=method)
    torch.testing.assert_close(sub.rotation, fit.rotation[0], atol=1e-10, rtol=0)
    # A (J,) mask is shared by the batch.
    shared = procrustes(x, y, mask[0], method=method)
    torch.testing.assert_close(shared.rotation[0], fit.rotation[0], atol=1e-10, rtol=0)


def test_weights_equal_repeated_points() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    w = torch.tensor([1.0, 2.0, 1.0, 3.0, 1.0, 1.0], dtype=torch.float64)
    idx = [0, 1, 1, 2, 3, 3, 3, 4, 5]
    a = procrustes(x, y, w)
    b = procrustes(x[idx], y[idx])
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes(method: str, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(32, 17, 3, generator=gen, dtype=torch.float64)
    truth = _random_similarity((32,), 3, gen)
    y = truth.apply(x)
    aligned, fit = procrustes_align(x.to(dtype), y.to(dtype), method=method, return_transform=True)
    assert aligned.dtype == dtype and fit.rotation.dtype == dtype and fit.scale.dtype == dtype
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(aligned.double(), y, atol=tol, rtol=0)
    torch.testing.assert_close(fit.rotation.double(), truth.rotation, atol=tol, rtol=0)


def test_float32_far_from_origin() -> None:
    """Centring keeps float32 precise for a body 5 m from the camera."""
    gen = torch.Generator().manual_seed(7)
    x = 0.3 * torch.randn(16, 17, 3, generator=gen, dtype=torch.float64)
    x[..., 2] += 5.0
    y = x + 0.01 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    ref = procrustes_align(x, y)
    got = procrustes_align(x.float(), y.float())
    assert (got.double() - ref).abs().max() < 2e-6


def test_rigid_without_scaling() -> None:
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(4, 10, 3, generator=gen, dtype=torch.float64)
    rot = roma.random_rotmat(4, dtype=torch.float64)
    y = 3.0 * x @ rot.mT
    fit = procrustes(x, y, scaling=False)
    torch.testing.assert_close(fit.scale, torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(fit.rotation, rot)


@pytest.mark.parametrize("method", METHODS)
def test_degenerate_samples(method: str) -> None:
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    y = torch.randn(4, 5, 3, dtype=torch.float64)
    x[1] = 0.5  # all source points coincide
    w = torch.ones(4, 5)
    w[2] = 0  # nothing to fit
    fit = procrustes(x, y, w, method=method)
    assert fit.scale[1] == 0 and fit.scale[2] == 0
    torch.testing.assert_close(fit.rotation[1], torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(fit.translation[1], y[1].mean(0))
    assert fit.scale[[0, 3]].gt(0).all()
    # Collinear points: the rotation about the line is free, any optimum is fine.
    line = torch.linspace(-1, 1, 7, dtype=torch.float64)[:, None] * torch.tensor(
        [1.0, 2.0, 3.0], dtype=torch.float64
    )
    aligned = procrustes_align(line, 2 * line + 1, method=method)
    torch.testing.assert_close(aligned, 2 * line + 1)


def test_empty_batch() -> None:
    out = procrustes_align(torch.zeros(0, 17, 3), torch.zeros(0, 17, 3))
    assert out.shape == (0, 17, 3)


@pytest.mark.parametrize("method", METHODS)
def test_gradcheck(method: str) -> None:
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(3, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = (x.detach() @ roma.random_rotmat(3, dtype=torch.float64).mT * 1.3).requires_grad_()
    y.data += 0.2 * torch.randn(y.shape, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: procrustes_align(a, b, method=method), (x, y))
    x2 = torch.randn(2, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    y2 = torch.randn(2, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: procrustes_align(a, b), (x2, y2))


def test_degenerate_sample_gives_no_nan_gradient() -> None:
    x = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 5, 3, dtype=torch.float64)
    w = torch.ones(3, 5)
    w[1] = 0
    procrustes_align(x, y, w).sum().backward()
    assert x.grad is not None and x.grad.isfinite().all()


def test_scale_align() -> None:
    gen = torch.Generator().manual_seed(10)
    y = torch.randn(5, 17, 3, generator=gen, dtype=torch.float64)
    scaled, s = scale_align(y / 2.5, y, return_scale=True)
    torch.testing.assert_close(s, torch.full((5,), 2.5, dtype=torch.float64))
    torch.testing.assert_close(scaled, y)
    x = torch.randn(5, 17, 3, generator=gen, dtype=torch.float64)
    _, s = scale_align(x, y, return_scale=True)
    ref = (x * y).sum((-1, -2)) / (x * x).sum((-1, -2))
    torch.testing.assert_close(s, ref)
    # Masked joints do not enter; an all-zero source gets s = 0.
    w = torch.ones(5, 17)
    w[:, 0] = 0
    x_bad = x.clone()
    x_bad[:, 0] = 100.0
    torch.testing.assert_close(
        scale_align(x_bad, y, w, return_scale=True)[1],
        scale_align(x[:, 1:], y[:, 1:], return_scale=True)[1],
    )
    assert scale_align(torch.zeros(2, 4, 3), torch.ones(2, 4, 3), return_scale=True)[1].eq(0).all()


def test_shape_and_dtype_errors() -> None:
    with pytest.raises(ValueError, match=r"source: expected \(\.\.\., J, D\), got \(3,\)"):
        procrustes(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"got \(4, 17, 4\)"):
        procrustes(torch.zeros(4, 17, 4), torch.zeros(4, 17, 4))
    with pytest.raises(ValueError, match=r"target: expected \(4, 17, 3\)"):
        procrustes(torch.zeros(4, 17, 3), torch.zeros(4, 16, 3))
    with pytest.raises(ValueError, match=r"weights: expected \(17,\) or \(4, 17\)"):
        procrustes(torch.zeros(4, 17, 3), torch.zeros(4, 17, 3), torch.ones(4, 16))
    with pytest.raises(ValueError, match="one floating dtype"):
        procrustes(torch.zeros(4, 17, 3), torch.zeros(4, 17, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="method"):
        procrustes(torch.zeros(4, 17, 3), torch.zeros(4, 17, 3), method="qr")  # type: ignore[arg-type]
    fit = procrustes(torch.randn(4, 17, 3), torch.randn(4, 17, 3))
    with pytest.raises(ValueError, match="points: expected leading dims"):
        fit.apply(torch.zeros(5, 17, 3))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_joints=st.integers(4, 30),
    noise=st.floats(0.0, 0.5),
    offset=st.floats(-10.0, 10.0),
)
def test_quaternion_matches_svd(seed: int, n_joints: int, noise: float, offset: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, n_joints, 3, generator=gen, dtype=torch.float64) + offset
    truth = _random_similarity((8,), 3, gen)
    y = truth.apply(x) + noise * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    a = procrustes_align(x, y, method="quaternion")
    b = procrustes_align(x, y, method="svd")
    torch.testing.assert_close(a, b, atol=1e-8, rtol=0)
    # The fit is optimal: no other proper similarity does better (try the truth).
    err = (a - y).square().sum((-1, -2))
    assert (err <= (truth.apply(x) - y).square().sum((-1, -2)) + 1e-9).all()
