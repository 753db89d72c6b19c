"""Tests for posekit.geometry.rotations: references, round trips, batches, dtypes, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from posekit.geometry import rotations as rot

FAST = settings(max_examples=50, deadline=None)


def random_rotvec(*batch: int, max_angle: float = math.pi - 1e-3, seed: int = 0) -> torch.Tensor:
    """Rotation vectors with uniform random axes and angles in (0, max_angle), float64."""
    gen = torch.Generator().manual_seed(seed)
    axis = torch.randn(*batch, 3, generator=gen, dtype=torch.float64)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = torch.rand(*batch, 1, generator=gen, dtype=torch.float64) * max_angle
    return axis * angle


def random_rotmat(*batch: int, seed: int = 0) -> torch.Tensor:
    return rot.rotvec_to_rotmat(random_rotvec(*batch, seed=seed))


def rodrigues_naive(rotvec: np.ndarray) -> np.ndarray:
    """Textbook Rodrigues formula for one rotation vector: I + sin(a) K + (1 - cos(a)) K^2."""
    angle = float(np.linalg.norm(rotvec))
    if angle == 0.0:
        return np.eye(3)
    kx, ky, kz = rotvec / angle
    K = np.array([[0.0, -kz, ky], [kz, 0.0, -kx], [-ky, kx, 0.0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def assert_is_rotation(R: torch.Tensor, atol: float = 1e-6) -> None:
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye, atol=atol, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=R.dtype))


rotvec_components = st.floats(-3.0, 3.0, allow_nan=False, allow_subnormal=False)
rotvec_strategy = st.tuples(rotvec_components, rotvec_components, rotvec_components).filter(
    lambda v: math.hypot(*v) < math.pi - 1e-3
)


# --- references ---------------------------------------------------------------------------


def test_rotvec_to_rotmat_matches_naive_rodrigues() -> None:
    rotvec = random_rotvec(64)
    R = rot.rotvec_to_rotmat(rotvec)
    expected = np.stack([rodrigues_naive(v) for v in rotvec.numpy()])
    np.testing.assert_allclose(R.numpy(), expected, atol=1e-12)


def test_rotvec_to_rotmat_positive_angle_is_counter_clockwise() -> None:
    R = rot.rotvec_to_rotmat(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(R @ x_axis, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))


def test_quat_conversions_match_scipy() -> None:
    rotvec = random_rotvec(32, seed=1)
    ref = Rotation.from_rotvec(rotvec.numpy())
    quat = rot.rotvec_to_quat(rotvec)
    np.testing.assert_allclose(quat.numpy(), ref.as_quat(), atol=1e-12)  # both xyzw
    np.testing.assert_allclose(rot.quat_to_rotmat(quat).numpy(), ref.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_rotvec(quat).numpy(), ref.as_rotvec(), atol=1e-10)


@pytest.mark.parametrize("convention", ["xyz", "zyx", "XYZ", "ZXY", "zxz", "YXY"])
def test_euler_to_rotmat_matches_scipy(convention: str) -> None:
    gen = torch.Generator().manual_seed(2)
    angles = (torch.rand(20, 3, generator=gen, dtype=torch.float64) - 0.5) * 2.0
    R = rot.euler_to_rotmat(angles, convention)
    expected = Rotation.from_euler(convention, angles.numpy()).as_matrix()
    np.testing.assert_allclose(R.numpy(), expected, atol=1e-12)


def test_euler_extrinsic_xyz_composes_as_documented() -> None:
    a, b, c = 0.3, -0.7, 1.1
    R = rot.euler_to_rotmat(torch.tensor([a, b, c], dtype=torch.float64), "xyz")

    def axis_rotmat(axis: int, angle: float) -> torch.Tensor:
        rotvec = torch.zeros(3, dtype=torch.float64)
        rotvec[axis] = angle
        return rot.rotvec_to_rotmat(rotvec)

    expected = axis_rotmat(2, c) @ axis_rotmat(1, b) @ axis_rotmat(0, a)
    torch.testing.assert_close(R, expected)
    intrinsic = rot.euler_to_rotmat(torch.tensor([c, b, a], dtype=torch.float64), "ZYX")
    torch.testing.assert_close(intrinsic, expected)


@pytest.mark.parametrize("convention", ["xyz", "ZYX", "zxz"])
def test_rotmat_to_euler_matches_scipy_ranges(convention: str) -> None:
    R = random_rotmat(40, seed=3)
    angles = rot.rotmat_to_euler(R, convention)
    expected = Rotation.from_matrix(R.numpy()).as_euler(convention)
    np.testing.assert_allclose(angles.numpy(), expected, atol=1e-9)


# --- round trips ---------------------------------------------------------------------------


@FAST
@given(rotvec_strategy)
def test_rotvec_rotmat_round_trip(v: tuple[float, float, float]) -> None:
    rotvec = torch.tensor(v, dtype=torch.float64)
    back = rot.rotmat_to_rotvec(rot.rotvec_to_rotmat(rotvec))
    torch.testing.assert_close(back, rotvec, atol=1e-9, rtol=0)


@FAST
@given(rotvec_strategy)
def test_quat_round_trips(v: tuple[float, float, float]) -> None:
    R = rot.rotvec_to_rotmat(torch.tensor(v, dtype=torch.float64))
    quat = rot.rotmat_to_quat(R)
    assert quat[3] >= 0
    torch.testing.assert_close(torch.linalg.vector_norm(quat), torch.ones((), dtype=quat.dtype))
    torch.testing.assert_close(rot.quat_to_rotmat(quat), R, atol=1e-12, rtol=0)
    torch.testing.assert_close(rot.rotmat_to_quat(rot.quat_to_rotmat(-quat)), quat)


@FAST
@given(rotvec_strategy)
def test_rot6d_round_trip(v: tuple[float, float, float]) -> None:
    R = rot.rotvec_to_rotmat(torch.tensor(v, dtype=torch.float64))
    rot6d = rot.rotmat_to_rot6d(R)
    torch.testing.assert_close(rot6d[:3], R[:, 0])
    torch.testing.assert_close(rot6d[3:], R[:, 1])
    torch.testing.assert_close(rot.rot6d_to_rotmat(rot6d), R, atol=1e-12, rtol=0)


@FAST
@given(st.integers(0, 2**31 - 1))
def test_rot6d_to_rotmat_gram_schmidt_of_arbitrary_vectors(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    rot6d = torch.randn(8, 6, generator=gen, dtype=torch.float64) * 3
    R = rot.rot6d_to_rotmat(rot6d)
    assert_is_rotation(R, atol=1e-10)
    a1, a2 = rot6d[:, :3], rot6d[:, 3:]
    # First column is a1 normalized; the second lies in the plane of (a1, a2) on a2's side.
    torch.testing.assert_close(R[:, :, 0], a1 / a1.norm(dim=-1, keepdim=True))
    torch.testing.assert_close(torch.einsum("bi,bi->b", R[:, :, 2], a2), torch.zeros(8).double())
    assert (torch.einsum("bi,bi->b", R[:, :, 1], a2) > 0).all()


def test_rot6d_to_rotmat_degenerate_input_is_finite() -> None:
    rot6d = torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)
    R = rot.rot6d_to_rotmat(rot6d)
    R.sum().backward()
    assert torch.isfinite(R).all()
    assert torch.isfinite(rot6d.grad).all()


@pytest.mark.parametrize("convention", ["xyz", "XZY", "zyz"])
def test_euler_round_trip(convention: str) -> None:
    R = random_rotmat(30, seed=4)
    back = rot.euler_to_rotmat(rot.rotmat_to_euler(R, convention), convention)
    torch.testing.assert_close(back, R, atol=1e-10, rtol=0)


@pytest.mark.parametrize("angle", [1e-9, 1e-5, 0.5, math.pi - 1e-5, math.pi - 1e-9])
def test_rotvec_round_trip_near_zero_and_pi(angle: float) -> None:
    axis = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    rotvec = axis / axis.norm() * angle
    back = rot.rotmat_to_rotvec(rot.rotvec_to_rotmat(rotvec))
    torch.testing.assert_close(back, rotvec, atol=1e-8, rtol=0)


# --- geodesic distance ---------------------------------------------------------------------


@FAST
@given(st.integers(0, 2**31 - 1))
def test_geodesic_distance_is_relative_angle(seed: int) -> None:
    Ra, Rb = random_rotmat(16, seed=seed), random_rotmat(16, seed=seed + 1)
    dist = rot.rotmat_geodesic_distance(Ra, Rb)
    expected = rot.rotmat_to_rotvec(Ra.transpose(-1, -2) @ Rb).norm(dim=-1)
    torch.testing.assert_close(dist, expected, atol=1e-9, rtol=0)
    torch.testing.assert_close(rot.rotmat_geodesic_distance(Rb, Ra), dist)


@pytest.mark.parametrize("angle", [0.0, 1e-8, 1e-4, 1.0, math.pi - 1e-6, math.pi])
def test_geodesic_distance_accurate_over_the_range(angle: float) -> None:
    Ra = random_rotmat(seed=5)
    axis = torch.tensor([0.3, 0.9, -0.2], dtype=torch.float64)
    Rb = Ra @ rot.rotvec_to_rotmat(axis / axis.norm() * angle)
    dist = rot.rotmat_geodesic_distance(Ra, Rb)
    torch.testing.assert_close(dist, torch.tensor(angle, dtype=torch.float64), atol=1e-9, rtol=0)


@pytest.mark.parametrize("angle", [0.0, math.pi])
def test_geodesic_distance_gradient_is_finite_at_the_ends(angle: float) -> None:
    Ra = torch.eye(3, dtype=torch.float64, requires_grad=True)
    Rb = rot.rotvec_to_rotmat(torch.tensor([0.0, 0.0, angle], dtype=torch.float64))
    rot.rotmat_geodesic_distance(Ra, Rb).backward()
    assert torch.isfinite(Ra.grad).all()


# --- batches, dtypes, gradients, errors ----------------------------------------------------

ROTVEC_INPUT = {
    "rotvec_to_rotmat": (rot.rotvec_to_rotmat, 3, (3, 3)),
    "rotvec_to_quat": (rot.rotvec_to_quat, 3, (4,)),
    "rotmat_to_rotvec": (lambda R: rot.rotmat_to_rotvec(rot.rotvec_to_rotmat(R)), 3, (3,)),
    "rotmat_to_quat": (lambda v: rot.rotmat_to_quat(rot.rotvec_to_rotmat(v)), 3, (4,)),
    "quat_to_rotmat": (lambda v: rot.quat_to_rotmat(rot.rotvec_to_quat(v)), 3, (3, 3)),
    "quat_to_rotvec": (lambda v: rot.quat_to_rotvec(rot.rotvec_to_quat(v)), 3, (3,)),
    "rotmat_to_rot6d": (lambda v: rot.rotmat_to_rot6d(rot.rotvec_to_rotmat(v)), 3, (6,)),
    "rot6d_to_rotmat": (rot.rot6d_to_rotmat, 6, (3, 3)),
    "euler_to_rotmat": (rot.euler_to_rotmat, 3, (3, 3)),
    "rotmat_to_euler": (lambda v: rot.rotmat_to_euler(rot.rotvec_to_rotmat(v)), 3, (3,)),
}


@pytest.mark.parametrize("name", sorted(ROTVEC_INPUT))
@pytest.mark.parametrize("batch", [(), (5,), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_shapes_and_dtypes(name: str, batch: tuple[int, ...], dtype: torch.dtype) -> None:
    fn, size_in, tail_out = ROTVEC_INPUT[name]
    x = (torch.rand(*batch, size_in, generator=torch.Generator().manual_seed(6)) - 0.5).to(dtype)
    out = fn(x)
    assert out.shape == (*batch, *tail_out)
    assert out.dtype == dtype
    # Batched result equals the per-item result.
    flat_in = x.reshape(-1, size_in)
    per_item = torch.stack([fn(item) for item in flat_in])
    torch.testing.assert_close(out.reshape(per_item.shape), per_item)


def test_float32_round_trip_precision() -> None:
    rotvec = random_rotvec(100, seed=7).float()
    back = rot.rotmat_to_rotvec(rot.rotvec_to_rotmat(rotvec))
    torch.testing.assert_close(back, rotvec, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "fn, make_input",
    [
        (rot.rotvec_to_rotmat, lambda: random_rotvec(4, seed=8)),
        (rot.rot6d_to_rotmat, lambda: torch.randn(4, 6, dtype=torch.float64)),
        (rot.quat_to_rotmat, lambda: rot.rotvec_to_quat(random_rotvec(4, seed=9))),
        (rot.rotmat_to_rotvec, lambda: random_rotmat(4, seed=10)),
        (rot.euler_to_rotmat, lambda: torch.rand(4, 3, dtype=torch.float64)),
        (lambda R: rot.rotmat_geodesic_distance(random_rotmat(4, seed=11), R),
         lambda: random_rotmat(4, seed=12)),
    ],
)  # fmt: skip
def test_gradcheck(fn, make_input) -> None:
    torch.manual_seed(0)
    x = make_input().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "fn, bad, message",
    [
        (rot.rotvec_to_rotmat, torch.zeros(4, 2), "rotvec: expected (..., 3), got (4, 2)"),
        (rot.rotmat_to_rotvec, torch.zeros(4, 3), "rotmat: expected (..., 3, 3), got (4, 3)"),
        (rot.quat_to_rotmat, torch.zeros(3), "quat: expected (..., 4), got (3,)"),
        (rot.rot6d_to_rotmat, torch.zeros(2, 9), "rot6d: expected (..., 6), got (2, 9)"),
        (rot.euler_to_rotmat, torch.zeros(2, 2), "angles: expected (..., 3), got (2, 2)"),
    ],
)
def test_shape_errors(fn, bad: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError) as info:
        fn(bad)
    assert str(info.value) == message


def test_geodesic_distance_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"rotmat_b: expected the shape of rotmat_a \(2, 3, 3\)"):
        rot.rotmat_geodesic_distance(torch.zeros(2, 3, 3), torch.zeros(3, 3))


@pytest.mark.parametrize("convention", ["xy", "xyZ", "xxy", "abc", "xyzx"])
def test_bad_euler_convention(convention: str) -> None:
    with pytest.raises(ValueError, match="convention: expected 3 axes"):
        rot.euler_to_rotmat(torch.zeros(3), convention)
    with pytest.raises(ValueError, match="convention: expected 3 axes"):
        rot.rotmat_to_euler(torch.eye(3), convention)
