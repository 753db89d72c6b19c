"""Mesh down/upsampling matrices and normalized adjacency for graph CNNs (COMA, GraphCMR).

`mesh_hierarchy` decimates a triangle mesh level by level (quadric edge collapse, the
``fast-simplification`` package) and builds, per level l (level 0 = the input mesh):

- ``down[l]`` (V_{l+1}, V_l): averages each coarse vertex's cluster, the fine vertices the
  decimation collapsed into it (rows sum to 1). Coarse vertex positions are these averages.
- ``up[l]`` (V_l, V_{l+1}): barycentric interpolation from the coarse mesh: each fine vertex
  is projected to its closest point on the coarse surface, and its row holds the barycentric
  coordinates of that point in its coarse triangle (3 non-negative entries summing to 1), as in
  COMA (Ranjan et al. 2018) and GraphCMR (Kolotouros et al. 2019).
- ``adjacency[l]`` (V_l, V_l): ``D^-1/2 (A + I) D^-1/2`` with A the mesh's edge graph and D
  the degrees of A + I (Kipf & Welling's GCN normalization).

All matrices are sparse COO torch tensors (float32). Results are cached on disk under
``$POSEKIT_CACHE/mesh_sampling`` (default ``~/.cache/posekit/mesh_sampling``), keyed by a hash
of the mesh, the factors and the library versions, written atomically (temporary file, then
rename), so concurrent processes never read a partial file.

Example (anny's default body, 13,718 -> 3,430 -> 858 vertices)::

    out = body(torch.zeros(1, 24, 3))
    h = mesh_hierarchy(out.vertices[0], body.faces, factors=(4, 4))
    coarse = sparse_apply(h.down[0], features)  # (B, 13718, C) -> (B, 3430, C)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posekit._checks import check_shape
from posekit._io import atomic_write_npz

__all__ = ["MeshHierarchy", "closest_point_barycentric", "mesh_hierarchy", "sparse_apply"]

_VERSION = 1  # bump when the construction changes, to invalidate caches


@dataclass
class MeshHierarchy:
    """A mesh at several resolutions with the sparse operators between them.

    Attributes:
        vertices: per level, (V_l, 3) positions (level 0 = input; coarser = cluster means).
        faces: per level, (F_l, 3) long.
        down: per level l < L, sparse (V_{l+1}, V_l).
        up: per level l < L, sparse (V_l, V_{l+1}).
        adjacency: per level, sparse (V_l, V_l), symmetric normalized with self loops.
    """

    vertices: list[torch.Tensor]
    faces: list[torch.Tensor]
    down: list[torch.Tensor]
    up: list[torch.Tensor]
    adjacency: list[torch.Tensor]

    @property
    def num_vertices(self) -> list[int]:
        """V_l per level."""
        return [int(v.shape[0]) for v in self.vertices]


def sparse_apply(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a sparse (M, N) operator to batched per-vertex features.

    Shapes:
        matrix: (M, N) sparse; x: (B, N, C); return: (B, M, C).
    """
    dims = check_shape(x, "x", "B N C", {"N": int(matrix.shape[1])})
    B, N, C = dims["B"], dims["N"], dims["C"]
    flat = x.permute(1, 0, 2).reshape(N, B * C)  # (N, B*C)
    out = torch.sparse.mm(matrix, flat)  # (M, B*C)
    return out.reshape(-1, B, C).permute(1, 0, 2)


def _sparse(rows, cols, vals, shape) -> torch.Tensor:
    idx = torch.as_tensor(np.stack([rows, cols]), dtype=torch.long)
    vals = torch.as_tensor(vals, dtype=torch.float32)
    return torch.sparse_coo_tensor(idx, vals, shape, check_invariants=True).coalesce()


def normalized_adjacency(faces: np.ndarray, num_vertices: int) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of a triangle mesh's edge graph, sparse (V, V)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1], np.repeat(np.arange(num_vertices)[:, None], 2, 1)])
    e = np.unique(e, axis=0)  # binary A + I, symmetric
    deg = np.bincount(e[:, 0], minlength=num_vertices).astype(np.float64)
    vals = 1.0 / np.sqrt(deg[e[:, 0]] * deg[e[:, 1]])
    return _sparse(e[:, 0], e[:, 1], vals, (num_vertices, num_vertices))


def closest_point_barycentric(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, k: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, its closest surface point as (triangle, barycentric coordinates).

    Candidate triangles are those incident to the ``k`` mesh vertices nearest the point; the
    closest point on each triangle follows Ericson's region test (Real-Time Collision
    Detection, 5.1.5), vectorized over points and candidates.

    Shapes:
        points: (P, 3); vertices: (V, 3); faces: (F, 3); return: (P,) face index, (P, 3).
    """
    from scipy.spatial import cKDTree

    V = len(vertices)
    # incident faces per vertex, padded with -1: (V, max_valence)
    vf = np.repeat(np.arange(len(faces)), 3)
    order = np.argsort(faces.ravel(), kind="stable")
    vid, vf = faces.ravel()[order], vf[order]
    counts = np.bincount(vid, minlength=V)
    incident = np.full((V, max(int(counts.max()), 1)), -1, dtype=np.int64)
    slot = np.arange(len(vid)) - np.repeat(np.cumsum(counts) - counts, counts)
    incident[vid, slot] = vf
    used = counts > 0  # isolated vertices have no triangle
    tree = cKDTree(vertices[used])
    _, near = tree.query(points, k=min(k, int(used.sum())))
    near = np.flatnonzero(used)[np.atleast_2d(near.T).T.reshape(len(points), -1)]
    cand = incident[near].reshape(len(points), -1)  # (P, M)
    valid = cand >= 0
    tri = vertices[faces[np.where(valid, cand, 0)]]  # (P, M, 3 corners, 3)
    bary = _closest_on_triangles(points[:, None, :], tri)  # (P, M, 3)
    proj = np.einsum("pmk,pmkd->pmd", bary, tri)
    dist = np.where(valid, np.linalg.norm(proj - points[:, None, :], axis=-1), np.inf)
    best = dist.argmin(1)
    rows = np.arange(len(points))
    return cand[rows, best], bary[rows, best]


def _closest_on_triangles(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of the closest point to p on each triangle (Ericson 5.1.5)."""
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        # Degenerate triangles give 0/0 here; nan_to_num sends them to a vertex region and the
        # distance test then prefers a proper neighbour.
        t_ab = np.nan_to_num(d1 / (d1 - d3))
        t_ac = np.nan_to_num(d2 / (d2 - d6))
        t_bc = np.nan_to_num((d4 - d3) / ((d4 - d3) + (d5 - d6)))
        s = va + vb + vc
        v_in, w_in = np.nan_to_num(vb / s), np.nan_to_num(vc / s)
    one, zero = np.ones_like(d1), np.zeros_like(d1)
    regions = [  # first matching region wins (np.select order)
        (d1 <= 0) & (d2 <= 0),
        (d3 >= 0) & (d4 <= d3),
        (vc <= 0) & (d1 >= 0) & (d3 <= 0),
        (d6 >= 0) & (d5 <= d6),
        (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
    ]
    u = np.select(regions, [one, zero, 1 - t_ab, zero, 1 - t_ac, zero], 1 - v_in - w_in)
    v = np.select(regions, [zero, one, t_ab, zero, zero, 1 - t_bc], v_in)
    w = np.select(regions, [zero, zero, zero, one, t_ac, t_bc], w_in)
    return np.stack([u, v, w], axis=-1)


def _decimate(vertices: np.ndarray, faces: np.ndarray, factor: float):
    """One level: coarse vertices, coarse faces, down and up as (rows, cols, values)."""
    import fast_simplification

    _, _, collapses = fast_simplification.simplify(
        vertices, faces, target_reduction=1.0 - 1.0 / factor, return_collapses=True
    )
    _, coarse_faces, mapping = fast_simplification.replay_simplification(vertices, faces, collapses)
    Vc = int(mapping.max()) + 1
    sizes = np.bincount(mapping, minlength=Vc).astype(np.float64)
    down = (mapping, np.arange(len(vertices)), 1.0 / sizes[mapping])
    coarse = np.zeros((Vc, 3))
    np.add.at(coarse, mapping, vertices)
    coarse /= sizes[:, None]
    coarse_faces = np.asarray(coarse_faces, dtype=np.int64).reshape(-1, 3)
    face, bary = closest_point_barycentric(vertices, coarse, coarse_faces)
    up = (np.repeat(np.arange(len(vertices)), 3), coarse_faces[face].ravel(), bary.ravel())
    return coarse, coarse_faces, down, up


def _cache_dir() -> Path:
    root = os.environ.get("POSEKIT_CACHE") or os.path.join("~", ".cache", "posekit")
    return Path(root).expanduser() / "mesh_sampling"


def _key(vertices: np.ndarray, faces: np.ndarray, factors: tuple[float, ...]) -> str:
    import importlib.metadata as md

    import fast_simplification

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    meta = {"factors": list(factors), "v": _VERSION, "fs": md.version("fast-simplification")}
    h.update(json.dumps(meta, sort_keys=True).encode())
    del fast_simplification
    return h.hexdigest()[:32]


def mesh_hierarchy(
    vertices: torch.Tensor | np.ndarray,
    faces: torch.Tensor | np.ndarray,
    factors: tuple[float, ...] = (4.0, 4.0),
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> MeshHierarchy:
    """Decimate a mesh by ``factors`` (vertex-count ratios) and build its graph operators.

    Args:
        vertices: the mesh's vertex positions (e.g. anny's zero-pose default body).
        faces: triangles.
        factors: one per coarser level: V_{l+1} ~ V_l / factor (quadric decimation hits the
            face target; vertex counts follow within a few percent on closed meshes).
        cache_dir: where to cache; default ``$POSEKIT_CACHE/mesh_sampling``.
        use_cache: read and write the disk cache.

    Shapes:
        vertices: (V, 3); faces: (F, 3); see `MeshHierarchy` for the outputs.
    """
    check_shape(vertices, "vertices", "V 3")
    check_shape(faces, "faces", "F 3")
    v = np.asarray(torch.as_tensor(vertices).detach().cpu(), dtype=np.float64)
    f = np.asarray(torch.as_tensor(faces).detach().cpu(), dtype=np.int64)
    factors = tuple(float(x) for x in factors)
    if any(x <= 1.0 for x in factors):
        raise ValueError(f"factors: expected values > 1, got {factors}")
    path = Path(cache_dir or _cache_dir()) / f"hierarchy_{_key(v, f, factors)}.npz"
    arrays: dict[str, np.ndarray] = {}
    if use_cache and path.exists():
        with np.load(path) as data:
            arrays = dict(data)
    else:
        arrays["v0"], arrays["f0"] = v, f
        for level, factor in enumerate(factors):
            coarse, cf, down, up = _decimate(arrays[f"v{level}"], arrays[f"f{level}"], factor)
            arrays[f"v{level + 1}"], arrays[f"f{level + 1}"] = coarse, cf
            for name, (r, c, x) in (("down", down), ("up", up)):
                arrays[f"{name}{level}"] = np.stack([r, c]).astype(np.int64)
                arrays[f"{name}{level}_val"] = np.asarray(x, dtype=np.float64)
        if use_cache:
            atomic_write_npz(path, arrays)
    L = len(factors)
    verts = [torch.as_tensor(arrays[f"v{i}"], dtype=torch.float32) for i in range(L + 1)]
    fcs = [torch.as_tensor(arrays[f"f{i}"], dtype=torch.long) for i in range(L + 1)]
    n = [len(x) for x in verts]
    down = [
        _sparse(*arrays[f"down{i}"], arrays[f"down{i}_val"], (n[i + 1], n[i])) for i in range(L)
    ]
    up = [_sparse(*arrays[f"up{i}"], arrays[f"up{i}_val"], (n[i], n[i + 1])) for i in range(L)]
    adj = [normalized_adjacency(arrays[f"f{i}"], n[i]) for i in range(L + 1)]
    return MeshHierarchy(vertices=verts, faces=fcs, down=down, up=up, adjacency=adj)
