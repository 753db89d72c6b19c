"""Mesh hierarchy for graph CNNs: sizes, operator properties, smooth round trip, disk cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.body import mesh_sampling
from posekit.body.mesh_sampling import closest_point_barycentric, mesh_hierarchy, sparse_apply

pytest.importorskip("fast_simplification", reason="mesh sampling needs fast-simplification")


@pytest.fixture(scope="module")
def sphere():
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=4)  # 2562 vertices
    return np.asarray(m.vertices), np.asarray(m.faces)


@pytest.fixture(scope="module")
def anny_hierarchy(anny_body, tmp_path_factory):
    out = anny_body(torch.zeros(1, 24, 3))
    cache = tmp_path_factory.mktemp("mesh_cache")
    return mesh_hierarchy(out.vertices[0], anny_body.faces, (4, 4), cache_dir=cache)


def _smooth(v: torch.Tensor) -> torch.Tensor:
    return torch.sin(3 * v[:, 0]) + torch.cos(2 * v[:, 2]) + v[:, 1]


def _check_operators(h):
    n = h.num_vertices
    for level in range(len(h.down)):
        D, U = h.down[level], h.up[level]
        assert D.shape == (n[level + 1], n[level]) and U.shape == (n[level], n[level + 1])
        torch.testing.assert_close(torch.sparse.sum(D, 1).to_dense(), torch.ones(n[level + 1]))
        torch.testing.assert_close(torch.sparse.sum(U, 1).to_dense(), torch.ones(n[level]))
        assert (U.values() >= -1e-6).all()
        assert torch.bincount(U.indices()[0], minlength=n[level]).max() <= 3
        # every fine vertex belongs to exactly one coarse cluster
        assert torch.bincount(D.indices()[1], minlength=n[level]).eq(1).all()
    for level, A in enumerate(h.adjacency):
        At = A.t().coalesce()
        assert torch.equal(A.indices(), At.indices())
        torch.testing.assert_close(A.values(), At.values())  # symmetric
        i, j = A.indices()
        assert (A.values()[i == j] > 0).sum() == n[level]  # every self loop
        if n[level] <= 1000:  # GCN normalization: spectrum within [-1, 1]
            eig = torch.linalg.eigvalsh(A.to_dense().double())
            assert eig.abs().max() <= 1 + 1e-6


def test_sphere_hierarchy(sphere, tmp_path):
    v, f = sphere
    h = mesh_hierarchy(v, f, (4, 4), cache_dir=tmp_path)
    n = h.num_vertices
    assert n[0] == 2562
    assert abs(n[1] / n[0] - 1 / 4) < 0.03 and abs(n[2] / n[0] - 1 / 16) < 0.02, n
    _check_operators(h)
    x = _smooth(h.vertices[0])[None, :, None]
    rec = sparse_apply(h.up[0], sparse_apply(h.down[0], x))
    assert (rec - x).abs().max() < 0.1 * x.std()


def test_anny_hierarchy(anny_hierarchy):
    h = anny_hierarchy
    n = h.num_vertices
    assert n[0] == 13718
    assert abs(n[1] / n[0] - 1 / 4) < 0.03 and abs(n[2] / n[0] - 1 / 16) < 0.02, n
    _check_operators(h)
    v = h.vertices[0]
    x = torch.stack([_smooth(v), v[:, 2]], dim=1)[None]  # (1, V, 2)
    rec = sparse_apply(h.up[0], sparse_apply(h.down[0], x))
    err = (rec - x).abs()
    assert err.mean() < 0.01 * x.std() and err.max() < 0.1 * x.std()
    # coarse levels still look like the body: same bounding box within 3 cm
    for level in (1, 2):
        box = h.vertices[level].amax(0) - h.vertices[level].amin(0)
        assert (box - (v.amax(0) - v.amin(0))).abs().max() < 0.03


def test_cache_is_used_and_atomic(sphere, tmp_path, monkeypatch):
    v, f = sphere
    h1 = mesh_hierarchy(v, f, (4,), cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary file left behind

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(mesh_sampling, "_decimate", fail)
    h2 = mesh_hierarchy(v, f, (4,), cache_dir=tmp_path)
    torch.testing.assert_close(h1.up[0].to_dense(), h2.up[0].to_dense())
    # another mesh or other factors: another key
    with pytest.raises(AssertionError, match="recomputed"):
        mesh_hierarchy(v * 2.0, f, (4,), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="factors"):
        mesh_hierarchy(v, f, (0.5,), cache_dir=tmp_path)


def test_closest_point_matches_brute_force(sphere):
    v, f = sphere
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(40, 3))
    pts = pts / np.linalg.norm(pts, axis=1, keepdims=True) * rng.uniform(0.8, 1.2, (40, 1))
    face, bary = closest_point_barycentric(pts, v, f)
    proj = np.einsum("pk,pkd->pd", bary, v[f[face]])
    d = np.linalg.norm(proj - pts, axis=1)
    # naive reference: dense sampling of every triangle
    s = rng.dirichlet(np.ones(3), size=16)
    samples = np.einsum("sk,fkd->fsd", s, v[f]).reshape(-1, 3)
    corners = v
    ref = np.minimum(
        np.linalg.norm(pts[:, None] - samples[None], axis=-1).min(1),
        np.linalg.norm(pts[:, None] - corners[None], axis=-1).min(1),
    )
    assert (d <= ref + 1e-9).all()
    np.testing.assert_allclose(bary.sum(1), 1.0)
    assert (bary >= -1e-9).all()
