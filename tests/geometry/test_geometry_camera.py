"""Tests for posekit.geometry.camera: frames, projection, distortion, weak perspective."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.geometry import camera as cam
from posekit.geometry.crops import pixels_to_normalized
from posekit.geometry.rotations import rotvec_to_rotmat

FAST = settings(max_examples=50, deadline=None)
F64 = torch.float64


def make_K(fx: float = 500.0, fy: float = 480.0, cx: float = 127.5, cy: float = 95.5, skew=0.0):
    K = cam.intrinsics_matrix(torch.tensor([fx, fy], dtype=F64), torch.tensor([cx, cy], dtype=F64))
    K[0, 1] = skew
    return K


def random_points_cam(*batch: int, seed: int = 0, dtype=F64) -> torch.Tensor:
    """Points in front of the camera: x, y in [-1, 1] m, z in [2, 6] m."""
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(*batch, 2, generator=gen, dtype=F64) * 2 - 1
    z = torch.rand(*batch, 1, generator=gen, dtype=F64) * 4 + 2
    return torch.cat((xy, z), dim=-1).to(dtype)


def random_rotmat(*batch: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return rotvec_to_rotmat(torch.randn(*batch, 3, generator=gen, dtype=F64))


DIST = torch.tensor([-0.2, 0.05, 1e-3, -2e-3, 0.01], dtype=F64)


# --- intrinsics and frames -----------------------------------------------------------------


def test_intrinsics_matrix_layout_and_batch() -> None:
    focal = torch.tensor([[500.0, 480.0], [600.0, 610.0]])
    pp = torch.tensor([[127.5, 95.5], [63.5, 63.5]])
    K = cam.intrinsics_matrix(focal, pp)
    assert K.shape == (2, 3, 3)
    expected = torch.tensor([[500.0, 0.0, 127.5], [0.0, 480.0, 95.5], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(K[0], expected)
    torch.testing.assert_close(cam.intrinsics_matrix((500.0, 480.0), (127.5, 95.5)), expected)


def test_world_to_camera_matches_naive() -> None:
    R, t = random_rotmat(3, seed=1), torch.randn(3, 3, dtype=F64)
    points = torch.randn(3, 5, 3, dtype=F64)
    out = cam.world_to_camera(points, R, t)
    for b in range(3):
        for j in range(5):
            torch.testing.assert_close(out[b, j], R[b] @ points[b, j] + t[b])


@FAST
@given(st.integers(0, 2**31 - 1))
def test_camera_to_world_inverts_world_to_camera(seed: int) -> None:
    R, t = random_rotmat(4, seed=seed), torch.randn(4, 3, dtype=F64)
    points = torch.randn(4, 6, 3, dtype=F64)
    cam_pts = cam.world_to_camera(points, R, t)
    torch.testing.assert_close(cam.camera_to_world(cam_pts, R, t), points)


def test_shared_camera_for_a_batch_of_points() -> None:
    R, t = random_rotmat(seed=2), torch.randn(3, dtype=F64)
    points = torch.randn(2, 4, 7, 3, dtype=F64)
    out = cam.world_to_camera(points, R, t)
    torch.testing.assert_close(out[1, 2], cam.world_to_camera(points[1, 2], R, t))


# --- projection ----------------------------------------------------------------------------


@pytest.mark.parametrize("with_distortion", [False, True])
def test_project_matches_opencv(with_distortion: bool) -> None:
    points = random_points_cam(20, seed=3)
    K = make_K()
    dist = DIST if with_distortion else None
    pixels = cam.project(points, K, dist)
    expected, _ = cv2.projectPoints(
        points.numpy(),
        np.zeros(3),
        np.zeros(3),
        K.numpy(),
        DIST.numpy() if with_distortion else np.zeros(5),
    )
    np.testing.assert_allclose(pixels.numpy(), expected[:, 0], atol=1e-9)


def test_project_centre_and_axes() -> None:
    # A point on the optical axis lands on the principal point; +x is right, +y is down.
    K = make_K()
    points = torch.tensor([[0.0, 0.0, 3.0], [0.3, 0.0, 3.0], [0.0, 0.3, 3.0]], dtype=F64)
    pixels = cam.project(points, K)
    torch.testing.assert_close(pixels[0], torch.tensor([127.5, 95.5], dtype=F64))
    torch.testing.assert_close(pixels[1], torch.tensor([127.5 + 50.0, 95.5], dtype=F64))
    torch.testing.assert_close(pixels[2], torch.tensor([127.5, 95.5 + 48.0], dtype=F64))


def test_distort_matches_opencv_formula_and_zero_is_identity() -> None:
    xy = torch.rand(2, 9, 2, dtype=F64) - 0.5
    torch.testing.assert_close(cam.distort(xy, torch.zeros(5, dtype=F64)), xy)
    out = cam.distort(xy, DIST)
    points = torch.cat((xy, torch.ones(2, 9, 1, dtype=F64)), dim=-1).reshape(-1, 3)
    expected, _ = cv2.projectPoints(
        points.numpy(), np.zeros(3), np.zeros(3), np.eye(3), DIST.numpy()
    )
    np.testing.assert_allclose(out.reshape(-1, 2).numpy(), expected[:, 0], atol=1e-12)


@FAST
@given(
    st.floats(-300, 300),
    st.floats(-200, 200),
    st.floats(0.5, 50.0),
    st.floats(-0.2, 0.2),
)
def test_project_of_unproject_returns_pixels(u: float, v: float, depth: float, skew: float) -> None:
    K = make_K(skew=skew)
    pixels = torch.tensor([[u, v]], dtype=F64)
    points = cam.unproject(pixels, torch.tensor([depth], dtype=F64), K)
    torch.testing.assert_close(points[..., 2], torch.tensor([depth], dtype=F64))
    torch.testing.assert_close(cam.project(points, K), pixels, atol=1e-8, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unproject_of_project_returns_points(dtype: torch.dtype) -> None:
    points = random_points_cam(2, 3, 11, seed=4, dtype=dtype)
    K = make_K(skew=0.3).to(dtype)
    pixels = cam.project(points, K)
    assert pixels.dtype == dtype and pixels.shape == (2, 3, 11, 2)
    back = cam.unproject(pixels, points[..., 2], K)
    atol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(back, points, atol=atol, rtol=0)


def test_project_batched_intrinsics() -> None:
    points = random_points_cam(2, 5, seed=5)
    K = torch.stack((make_K(), make_K(fx=300.0, fy=300.0, cx=10.0, cy=20.0)))
    dist = torch.stack((DIST, torch.zeros(5, dtype=F64)))
    out = cam.project(points, K, dist)
    torch.testing.assert_close(out[1], cam.project(points[1], K[1]))
    torch.testing.assert_close(out[0], cam.project(points[0], K[0], DIST))


# --- weak perspective ----------------------------------------------------------------------


def test_weak_perspective_project_formula() -> None:
    points = torch.randn(3, 4, 3, dtype=F64)
    weak = torch.tensor([[0.9, 0.1, -0.2], [1.2, 0.0, 0.3], [0.5, -0.4, 0.0]], dtype=F64)
    out = cam.weak_perspective_project(points, weak)
    expected = weak[:, None, :1] * (points[..., :2] + weak[:, None, 1:])
    torch.testing.assert_close(out, expected)


@FAST
@given(
    st.floats(0.2, 3.0),
    st.floats(-0.5, 0.5),
    st.floats(-0.5, 0.5),
    st.floats(200.0, 5000.0),
    st.sampled_from([64, 224, 256]),
)
def test_weak_perspective_equals_perspective_for_planar_points(
    s: float, tx: float, ty: float, focal: float, size: int
) -> None:
    weak = torch.tensor([s, tx, ty], dtype=F64)
    transl = cam.weak_to_perspective_transl(weak, focal, size)
    torch.testing.assert_close(cam.perspective_transl_to_weak(transl, focal, size), weak)
    # For points at Z = 0 in the model frame the two projections agree exactly.
    points = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(size))
    points[:, 2] = 0.0
    centre = (size - 1) / 2
    K = make_K(focal, focal, centre, centre)
    pixels = cam.project(points + transl, K)
    expected = cam.weak_perspective_project(points, weak)
    torch.testing.assert_close(pixels_to_normalized(pixels, (size, size)), expected)


def test_weak_to_perspective_transl_batched_focal() -> None:
    weak = torch.tensor([[1.0, 0.1, 0.2], [2.0, 0.0, 0.0]], dtype=F64)
    focal = torch.tensor([500.0, 1000.0], dtype=F64)
    transl = cam.weak_to_perspective_transl(weak, focal, 224)
    torch.testing.assert_close(transl[:, 2], 2 * focal / (weak[:, 0] * 224))
    torch.testing.assert_close(transl[:, :2], weak[:, 1:])


# --- the Camera dataclass -----------------------------------------------------------------


def test_camera_dataclass_project_world_and_centre() -> None:
    R, t = random_rotmat(2, seed=6), torch.tensor([[0.1, 0.2, 4.0], [0.0, -0.1, 3.0]], dtype=F64)
    camera = cam.Camera(K=make_K(), R=R, t=t, dist_coeffs=DIST)
    assert camera.batch_shape == (2,)
    points = torch.randn(2, 5, 3, dtype=F64) * 0.3
    expected = cam.project(cam.world_to_camera(points, R, t), camera.K, DIST)
    torch.testing.assert_close(camera.project_world(points), expected)
    torch.testing.assert_close(camera.camera_to_world(camera.world_to_camera(points)), points)
    centre_cam = camera.world_to_camera(camera.center_world().unsqueeze(-2))
    torch.testing.assert_close(centre_cam, torch.zeros(2, 1, 3, dtype=F64))
    as_float = camera.to(dtype=torch.float32)
    assert as_float.K.dtype == as_float.R.dtype == as_float.dist_coeffs.dtype == torch.float32


def test_camera_dataclass_rejects_mismatched_parameters() -> None:
    with pytest.raises(ValueError, match=r"t: expected \(2, 3\) to match R \(2, 3, 3\)"):
        cam.Camera(K=make_K(), R=torch.eye(3).expand(2, 3, 3), t=torch.zeros(3))
    with pytest.raises(ValueError, match=r"K: expected \(3, 3\) or \(2, 3, 3\)"):
        cam.Camera(
            K=torch.eye(3).expand(4, 3, 3), R=torch.eye(3).expand(2, 3, 3), t=torch.zeros(2, 3)
        )


# --- dtypes, gradients, errors -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_are_preserved(dtype: torch.dtype) -> None:
    points = random_points_cam(3, 4, dtype=dtype)
    K, R, t = make_K().to(dtype), random_rotmat(seed=7).to(dtype), torch.zeros(3, dtype=dtype)
    weak = torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
    outputs = [
        cam.project(points, K, DIST.to(dtype)),
        cam.world_to_camera(points, R, t),
        cam.camera_to_world(points, R, t),
        cam.weak_perspective_project(points, weak),
        cam.weak_to_perspective_transl(weak, 500.0, 224),
        cam.perspective_transl_to_weak(t + 3, 500.0, 224),
    ]
    assert all(out.dtype == dtype for out in outputs)


def test_gradcheck() -> None:
    points = random_points_cam(2, 4, seed=8).requires_grad_(True)
    K = make_K(skew=0.5).requires_grad_(True)
    dist = DIST.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(cam.project, (points, K, dist))
    pixels = torch.rand(2, 4, 2, dtype=F64).mul(200).requires_grad_(True)
    depth = torch.rand(2, 4, dtype=F64).add(1).requires_grad_(True)
    assert torch.autograd.gradcheck(cam.unproject, (pixels, depth, K))
    R = random_rotmat(2, seed=9).requires_grad_(True)
    t = torch.randn(2, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(cam.world_to_camera, (points, R, t))
    assert torch.autograd.gradcheck(cam.camera_to_world, (points, R, t))
    weak = torch.tensor([[0.8, 0.1, 0.2], [1.5, -0.1, 0.0]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(cam.weak_perspective_project, (points, weak))
    focal = torch.tensor([500.0, 700.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, f: cam.weak_to_perspective_transl(w, f, 224), (weak, focal)
    )
    transl = torch.tensor([[0.1, 0.2, 5.0]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: cam.perspective_transl_to_weak(x, 500.0, 224), (transl,)
    )


def test_shape_error_messages() -> None:
    with pytest.raises(ValueError) as info:
        cam.project(torch.zeros(4, 17, 2), make_K())
    assert str(info.value) == "points_cam: expected (..., J, 3), got (4, 17, 2)"
    with pytest.raises(ValueError) as info:
        cam.world_to_camera(torch.zeros(4, 17, 3), torch.zeros(5, 3, 3), torch.zeros(3))
    assert str(info.value) == (
        "R: expected (3, 3) or (4, 3, 3) to match the batch dims (4,) of points_world, "
        "got (5, 3, 3)"
    )
    with pytest.raises(ValueError, match=r"depth_m: expected \(..., J\) with J=17, got \(4, 16\)"):
        cam.unproject(torch.zeros(4, 17, 2), torch.zeros(4, 16), make_K())
    with pytest.raises(ValueError, match=r"depth_m: expected \(4, 17\) to match pixels"):
        cam.unproject(torch.zeros(4, 17, 2), torch.zeros(3, 17), make_K())
    with pytest.raises(ValueError, match=r"dist_coeffs: expected \(..., 5\), got \(4,\)"):
        cam.distort(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match=r"focal_px: expected \(\) or \(2,\)"):
        cam.weak_to_perspective_transl(torch.ones(2, 3), torch.ones(3), 224)
    with pytest.raises(
        ValueError, match=r"principal_point_px: expected \(2, 2\) to match focal_px, got \(2,\)"
    ):
        cam.intrinsics_matrix(torch.ones(2, 2), torch.ones(2))
