from __future__ import annotations

import numpy as np
import pytest

from posekit.data.synthetic.cameras import CameraSampler, look_at, project_points


def _person(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform([-0.3, -0.2, 0.0], [0.3, 0.2, 1.8], size=(400, 3))


def test_look_at_axes() -> None:
    R = look_at(np.array([0.0, -5.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R[2], [0, 1, 0], atol=1e-12)  # looks along +y
    np.testing.assert_allclose(R[1], [0, 0, -1], atol=1e-12)  # image down = world down


def test_person_fully_in_view_by_default_and_upright() -> None:
    rng = np.random.default_rng(0)
    sampler = CameraSampler(image_size=(200, 160), roll_deg=0.0)
    for _ in range(50):
        pts = _person(rng)
        cam = sampler.sample(pts, rng)
        pc = cam.world_to_camera(pts)
        assert (pc[:, 2] > 0).all()
        uv = project_points(pc, cam.K)
        assert (uv >= 0).all() and (uv[:, 0] <= 159).all() and (uv[:, 1] <= 199).all()
        # the head (high z) appears above the feet (smaller image row)
        head, feet = pts[:, 2].argmax(), pts[:, 2].argmin()
        assert uv[head, 1] < uv[feet, 1]


def test_out_of_view_option_cuts_the_person() -> None:
    rng = np.random.default_rng(1)
    sampler = CameraSampler(out_of_view=1.0)
    fractions = []
    for _ in range(30):
        pts = _person(rng)
        cam = sampler.sample(pts, rng)
        uv = project_points(cam.world_to_camera(pts), cam.K)
        fractions.append(((uv >= 0) & (uv <= 255)).all(1).mean())
    assert max(fractions) < 1.0 and min(fractions) > 0.3


def test_same_seed_same_camera() -> None:
    pts = _person(np.random.default_rng(2))
    a = CameraSampler().sample(pts, np.random.default_rng(5))
    b = CameraSampler().sample(pts, np.random.default_rng(5))
    np.testing.assert_array_equal(a.K, b.K)
    np.testing.assert_array_equal(a.R, b.R)
    with pytest.raises(ValueError, match=r"points_world: expected \(N, 3\)"):
        CameraSampler().sample(pts[:, :2], np.random.default_rng(0))
