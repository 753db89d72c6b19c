"""Tests of the headless renderer: projection, orientation, depth, occlusion, masks."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.synthetic import render as render_mod
from posekit.data.synthetic.render import (
    MeshInstance,
    Renderer,
    get_gl_context,
    projection_from_intrinsics,
    random_light_direction,
    vertex_normals,
)


@pytest.fixture(scope="module")
def gl():
    try:
        return get_gl_context()
    except RuntimeError as err:  # pragma: no cover - machines without EGL
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def r64(gl) -> Renderer:
    return Renderer(48, 64)  # non-square on purpose: catches swapped axes


def intrinsics(fx=70.0, fy=65.0, cx=31.3, cy=22.6, s=3.0) -> np.ndarray:
    return np.array([[fx, s, cx], [0, fy, cy], [0, 0, 1]], np.float64)


def unproject(K: np.ndarray, u, v, z) -> np.ndarray:
    """Camera point at depth z that projects to pixel (u, v) (independent of the renderer)."""
    uv1 = np.stack(np.broadcast_arrays(u, v, np.ones_like(np.asarray(u, float))), axis=-1)
    return (uv1 @ np.linalg.inv(K).T) * np.asarray(z)[..., None]


def quad(K, u0, v0, u1, v1, z) -> tuple[np.ndarray, np.ndarray]:
    """A fronto-parallel rectangle at depth z covering pixels [u0, u1] × [v0, v1] in the image."""
    us, vs = np.array([u0, u1, u1, u0]), np.array([v0, v0, v1, v1])
    verts = unproject(K, us, vs, np.full(4, z)).astype(np.float32)
    return verts, np.array([[0, 1, 2], [0, 2, 3]])


def uv_sphere(centre, radius, n_lon=128, n_lat=64) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0, np.pi, n_lat + 1)[:, None]
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)[None, :]
    pts = np.stack(
        [
            np.sin(theta) * np.cos(phi),
            np.cos(theta) * np.ones_like(phi),
            np.sin(theta) * np.sin(phi),
        ],
        axis=-1,
    ).reshape(-1, 3)
    faces = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            c, d = a + n_lon, b + n_lon
            faces += [[a, c, b], [b, c, d]]
    return (pts * radius + centre).astype(np.float32), np.array(faces)


def solid(verts, faces, rgb, **kw) -> MeshInstance:
    return MeshInstance(verts, faces, colors=np.tile(np.float32(rgb), (len(verts), 1)), **kw)


@pytest.mark.parametrize(
    ("u", "v"), [(10.3, 7.8), (0.2, 0.1), (62.6, 46.7), (31.0, 23.0), (47.38, 11.61)]
)
def test_point_lands_on_rounded_pixel(r64, u, v):
    """A tiny square (±0.45 px) around a K-projected point covers exactly pixel round(u, v)."""
    K = intrinsics()
    z = 1.7
    verts, faces = quad(K, u - 0.45, v - 0.45, u + 0.45, v + 0.45, z)
    centre = verts.mean(0)
    proj = K @ centre / centre[2]
    assert np.allclose(proj[:2], [u, v], atol=1e-4)  # the square is centred on (u, v)
    out = r64.render([solid(verts, faces, [1, 1, 1])], K)
    ys, xs = np.nonzero(out.instance_mask >= 0)
    assert (ys.tolist(), xs.tolist()) == ([round(v)], [round(u)])
    assert out.depth[round(v), round(u)] == pytest.approx(z, abs=1e-4)


def test_coverage_matches_analytic_triangle(r64):
    """Pixels whose centres lie inside the K-projected triangle, and only those, are covered."""
    K = intrinsics()
    tri_px = np.array([[5.3, 3.7], [58.2, 12.4], [20.6, 44.1]])
    z = np.array([1.5, 2.5, 2.0])
    verts = unproject(K, tri_px[:, 0], tri_px[:, 1], z).astype(np.float32)
    out = r64.render([solid(verts, np.array([[0, 1, 2]]), [1, 0, 0])], K)
    ys, xs = np.mgrid[0:48, 0:64].astype(np.float64)
    edge = []
    for i in range(3):
        (x0, y0), (x1, y1) = tri_px[i], tri_px[(i + 1) % 3]
        e = (x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0)
        edge.append(e / np.hypot(x1 - x0, y1 - y0))  # signed distance in pixels
    edge = np.stack(edge)
    inside = np.all(edge > 0, axis=0) | np.all(edge < 0, axis=0)
    clear = np.abs(edge).min(axis=0) > 0.01  # skip pixel centres on an edge (tie rules)
    covered = out.instance_mask >= 0
    assert inside.sum() > 300
    np.testing.assert_array_equal(covered[clear], inside[clear])


def test_orientation_top_left_is_top_left(r64):
    """A red square up-left in the camera frame (x<0, y<0) is at the image's top left."""
    K = intrinsics(s=0.0)
    red = quad(K, 2, 2, 12, 10, 2.0)
    blue = quad(K, 40, 30, 60, 44, 2.0)
    assert red[0][:, 0].max() < 0 and red[0][:, 1].max() < 0  # camera x left, y up
    out = r64.render([solid(*red, [1, 0, 0]), solid(*blue, [0, 0, 1])], K)
    assert out.rgb.shape == (48, 64, 3)
    top_left, bottom_right = out.rgb[6, 7], out.rgb[37, 50]
    assert top_left[0] > 100 and top_left[2] == 0
    assert bottom_right[2] > 100 and bottom_right[0] == 0
    assert out.instance_mask[6, 7] == 0 and out.instance_mask[37, 50] == 1
    assert out.instance_mask[37, 7] == -1 and out.instance_mask[6, 50] == -1


def test_depth_of_planes_is_analytic(r64):
    """Fronto-parallel and tilted planes: depth equals the ray/plane intersection, < 1 mm."""
    K = intrinsics()
    verts, faces = quad(K, -5, -5, 70, 55, 3.25)
    out = r64.render([solid(verts, faces, [1, 1, 1])], K)
    assert (out.instance_mask == 0).all()
    np.testing.assert_allclose(out.depth, 3.25, atol=1e-3)
    # Tilted plane z = 2 + 0.8 x + 0.3 y, i.e. n·p = 2 with n = (-0.8, -0.3, 1).
    n = np.array([-0.8, -0.3, 1.0])
    corners = np.array([[-0.6, -0.6], [0.6, -0.6], [0.6, 0.6], [-0.6, 0.6]])  # x/z, y/z
    rays = np.concatenate([corners, np.ones((4, 1))], axis=1)  # points with z = 1 on each ray
    verts = (rays * (2.0 / (rays @ n))[:, None]).astype(np.float32)
    out = r64.render([solid(verts, faces, [1, 1, 1])], K)
    ys, xs = np.mgrid[0:48, 0:64]
    d = unproject(K, xs, ys, np.ones(xs.shape))  # (H, W, 3) rays with z = 1
    expected = 2.0 / (d @ n)
    fg = out.instance_mask == 0
    assert fg.mean() > 0.9
    np.testing.assert_allclose(out.depth[fg], expected[fg], atol=1e-3)
    assert (out.depth[~fg] == 0).all()


def test_depth_of_sphere_is_analytic(gl):
    renderer = Renderer(64, 64)
    K = intrinsics(fx=90, fy=90, cx=31.5, cy=31.5, s=0)
    c, rad = np.array([0.05, -0.03, 1.2]), 0.3
    verts, faces = uv_sphere(c, rad)
    out = renderer.render([solid(verts, faces, [0.5, 0.5, 0.5])], K)
    ys, xs = np.mgrid[0:64, 0:64]
    d = unproject(K, xs, ys, np.ones(xs.shape))  # ray directions with z = 1
    # |t d - c|^2 = r^2: the nearer root t is the camera z of the hit.
    a, b, cc = (d * d).sum(-1), (d @ c), c @ c - rad**2
    disc = b * b - a * cc
    hit = disc > 0
    t = (b - np.sqrt(np.where(hit, disc, 0))) / a
    centre_region = hit & (disc > 0.5 * disc.max())  # away from the tessellated silhouette
    assert centre_region.sum() > 200
    assert (out.instance_mask[centre_region] == 0).all()
    np.testing.assert_allclose(out.depth[centre_region], t[centre_region], atol=1e-3)
    assert (out.instance_mask[~hit] == -1).all()  # the inscribed mesh lies inside the sphere
    renderer.release()


@pytest.mark.parametrize("near_first", [True, False])
def test_mutual_occlusion_nearer_wins(r64, near_first):
    K = intrinsics()
    near = solid(*quad(K, 10, 10, 40, 40, 2.0), [1, 0, 0])
    far = solid(*quad(K, 25, 5, 60, 30, 3.0), [0, 1, 0])
    meshes = [near, far] if near_first else [far, near]
    i_near, i_far = (0, 1) if near_first else (1, 0)
    out = r64.render(meshes, K)
    overlap = (20, 30)  # (row, col) inside both quads
    far_only = (15, 50)
    near_only = (35, 15)
    assert out.instance_mask[overlap] == i_near and out.instance_mask[far_only] == i_far
    assert out.instance_mask[near_only] == i_near
    assert out.depth[overlap] == pytest.approx(2.0, abs=1e-3)
    assert out.depth[far_only] == pytest.approx(3.0, abs=1e-3)
    assert out.rgb[overlap][0] > 0 and out.rgb[overlap][1] == 0
    assert out.rgb[far_only][1] > 0 and out.rgb[far_only][0] == 0


def test_part_mask_and_part_colors(r64):
    K = intrinsics(s=0)
    (va, fa), (vb, fb) = quad(K, 2, 2, 20, 20, 2.0), quad(K, 30, 10, 60, 40, 2.5)
    verts = np.concatenate([va, vb])
    faces = np.concatenate([fa, fb + 4])
    part_ids = np.array([3, 3, 3, 3, 7, 7, 7, 7])
    table = np.zeros((8, 3), np.float32)
    table[3], table[7] = [1, 0, 0], [0, 0, 1]
    mesh = MeshInstance(verts, faces, part_ids=part_ids, part_colors=table)
    bg = np.full((48, 64, 3), 77, np.uint8)
    out = r64.render([mesh], K, background=bg)
    assert out.part_mask.dtype == np.int16 and out.instance_mask.dtype == np.int16
    assert set(np.unique(out.part_mask).tolist()) == {-1, 3, 7}
    assert out.part_mask[10, 10] == 3 and out.part_mask[25, 45] == 7
    assert out.rgb[10, 10][0] > 0 and out.rgb[10, 10][2] == 0
    assert out.rgb[25, 45][2] > 0 and out.rgb[25, 45][0] == 0
    bgmask = out.part_mask == -1
    assert (out.instance_mask[bgmask] == -1).all() and (out.depth[bgmask] == 0).all()
    assert (out.rgb[bgmask] == 77).all()


def test_lighting_lambert_two_sided(r64):
    K = intrinsics(s=0)
    verts, faces = quad(K, 0, 0, 63, 47, 2.0)
    mesh, flipped = solid(verts, faces, [1, 1, 1]), solid(verts, faces[:, ::-1], [1, 1, 1])
    head_on = r64.render([mesh], K, light_dir=np.array([0, 0, -1.0]), ambient=0.2, diffuse=0.5)
    grazing = r64.render([mesh], K, light_dir=np.array([1, 0, -0.2]), ambient=0.2, diffuse=0.5)
    back = r64.render([flipped], K, light_dir=np.array([0, 0, -1.0]), ambient=0.2, diffuse=0.5)
    assert head_on.rgb[20, 20, 0] == pytest.approx(0.7 * 255, abs=1.5)
    assert grazing.rgb[20, 20, 0] < head_on.rgb[20, 20, 0] - 60
    np.testing.assert_array_equal(back.rgb, head_on.rgb)


def test_vertex_normals_match_naive_reference():
    verts, faces = uv_sphere(np.zeros(3), 1.0, 24, 12)
    rng = np.random.default_rng(0)
    verts = verts + rng.normal(0, 0.01, verts.shape).astype(np.float32)
    ref = np.zeros((len(verts), 3))
    for f in faces:
        a, b, c = verts[f].astype(np.float64)
        for i in f:
            ref[i] += np.cross(b - a, c - a)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(vertex_normals(verts, faces), ref, atol=1e-5)


def test_projection_matrix_and_light():
    K = intrinsics()
    P = projection_from_intrinsics(K, 48, 64, 0.1, 10.0).astype(np.float64)
    p = np.array([0.3, -0.2, 2.0, 1.0])
    clip = P @ p
    u, v = (K @ p[:3] / p[2])[:2]
    assert clip[0] / clip[3] == pytest.approx((2 * u + 1) / 64 - 1, abs=1e-6)
    assert clip[1] / clip[3] == pytest.approx((2 * v + 1) / 48 - 1, abs=1e-6)
    for z, ndc in ((0.1, -1.0), (10.0, 1.0)):
        c = P @ np.array([0, 0, z, 1.0])
        assert c[2] / c[3] == pytest.approx(ndc, abs=1e-5)
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = random_light_direction(rng, 60.0)
        assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-6) and d[2] <= -0.5 + 1e-6


def test_bad_inputs_raise(r64):
    v, f = quad(intrinsics(), 0, 0, 10, 10, 2.0)
    with pytest.raises(ValueError, match="K"):
        r64.render([solid(v, f, [1, 1, 1])], np.eye(4))
    with pytest.raises(ValueError, match="background"):
        r64.render([solid(v, f, [1, 1, 1])], intrinsics(), np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match="colors"):
        MeshInstance(v, f, colors=np.zeros((3, 3)))
    empty = r64.render([], intrinsics())
    assert (empty.instance_mask == -1).all() and (empty.rgb == 0).all()


def test_missing_egl_names_debian_packages(monkeypatch):
    import moderngl

    def fail(*args, **kwargs):
        raise Exception("EGL: eglInitialize failed")

    monkeypatch.setattr(render_mod, "_CONTEXT", None)
    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    with pytest.raises(RuntimeError, match="libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"):
        get_gl_context()


def test_forked_child_gets_an_error_not_a_hang(gl, monkeypatch):
    import os

    real = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real + 1)
    with pytest.raises(RuntimeError, match="forked"):
        get_gl_context()


def test_mesh_index_validation():
    v, f = quad(intrinsics(), 0, 0, 10, 10, 2.0)
    with pytest.raises(ValueError, match="faces"):
        MeshInstance(v, f + 2)
    with pytest.raises(ValueError, match="part_ids"):
        MeshInstance(v, f, part_ids=np.array([0, 1, 2, 3]), part_colors=np.zeros((3, 3)))


def test_render_is_deterministic(r64):
    K = intrinsics()
    verts, faces = uv_sphere(np.array([0.0, 0.0, 1.0]), 0.3, 32, 16)
    rng = np.random.default_rng(0)
    mesh = MeshInstance(verts, faces, colors=rng.uniform(size=verts.shape).astype(np.float32))
    a, b = r64.render([mesh], K), r64.render([mesh], K)
    for name in ("rgb", "depth", "instance_mask", "part_mask"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
