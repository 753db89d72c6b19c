"""Tests of posekit.codecs.voxel: occupancy, targets, decode, depth back-projection, shapes."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs import VoxelCodec, depth_to_points

V2V = VoxelCodec()  # 88³ over 0.25 m, 44³ output, sigma 1.7, 5³ window
REF = torch.tensor([[0.02, -0.03, 0.6], [-0.1, 0.05, 0.9]], dtype=torch.float64)


def test_known_point_lands_in_its_voxel():
    ref = torch.tensor([[0.0, 0.0, 0.5]])
    point = torch.tensor([[[0.01, -0.02, 0.6]]])  # offsets 0.01, -0.02, 0.1 m
    grid = V2V.voxelize(point, ref)
    assert grid.shape == (1, 1, 88, 88, 88)
    # index = floor((offset + 0.125) / 0.25 * 88): x 47 (47.52), y 36 (36.96), z 79 (79.2)
    assert grid[0, 0, 79, 36, 47] == 1 and grid.sum() == 1


def naive_voxelize(codec: VoxelCodec, points, ref, valid) -> np.ndarray:
    G = codec.grid_size
    cube = codec.cube_xyz_m(torch.zeros(1, dtype=torch.float64)).tolist()
    B, N, _ = points.shape
    out = np.zeros((B, 1, G, G, G))
    for b in range(B):
        for n in range(N):
            if not valid[b, n]:
                continue
            idx = []
            for a in range(3):
                s = (points[b, n, a] - ref[b, a] + cube[a] / 2) / cube[a] * G
                if not (0 <= s < G):  # False for NaN too
                    break
                idx.append(math.floor(s))
            else:
                out[b, 0, idx[2], idx[1], idx[0]] = 1
    return out


@pytest.mark.parametrize("cube", [0.3, (0.3, 0.2, 0.4)])
def test_voxelize_matches_naive(cube):
    codec = VoxelCodec(grid_size=8, cube_size_m=cube, output_size=4)
    g = torch.Generator().manual_seed(0)
    points = REF[:, None, :] + (torch.rand(2, 40, 3, generator=g, dtype=torch.float64) - 0.5) * 0.5
    points[0, 0] = float("nan")
    points[1, 1] = REF[1] + torch.tensor([0.15, 0.0, 0.0], dtype=torch.float64)  # upper x face
    valid = torch.rand(2, 40, generator=g) > 0.2
    grid = codec.voxelize(points, REF, valid)
    expected = naive_voxelize(codec, points.numpy(), REF.numpy(), valid.numpy())
    np.testing.assert_array_equal(grid.numpy(), expected)
    assert 0 < grid.sum() < 80  # some points dropped, some kept
    assert codec.voxelize(points.float(), REF.float()).dtype == torch.float32


def naive_targets(codec: VoxelCodec, kp: np.ndarray, ref: np.ndarray) -> np.ndarray:
    S, s = codec.output_size, codec.sigma
    cube = codec.cube_xyz_m(torch.zeros(1, dtype=torch.float64)).tolist()
    B, J, _ = kp.shape
    out = np.zeros((B, J, S, S, S))
    for b in range(B):
        for j in range(J):
            mu = [(kp[b, j, a] - ref[b, a] + cube[a] / 2) / cube[a] * S - 0.5 for a in range(3)]
            for k in range(S):
                for r in range(S):
                    for c in range(S):
                        d2 = (c - mu[0]) ** 2 + (r - mu[1]) ** 2 + (k - mu[2]) ** 2
                        out[b, j, k, r, c] = math.exp(-d2 / (2 * s * s))
    return out


def test_encode_matches_naive_and_weights():
    codec = VoxelCodec(grid_size=12, cube_size_m=(0.3, 0.25, 0.2), output_size=6, sigma=1.2)
    g = torch.Generator().manual_seed(1)
    kp = REF[:, None, :] + (torch.rand(2, 3, 3, generator=g, dtype=torch.float64) - 0.5) * 0.2
    targets, weights = codec.encode(kp, REF)
    np.testing.assert_allclose(
        targets.numpy(), naive_targets(codec, kp.numpy(), REF.numpy()), atol=1e-12
    )
    assert (weights == 1).all()
    kp[0, 0, 2] = float("nan")
    kp[1, 1] = REF[1] + 1.0  # a metre away from a 0.3 m cube
    targets, weights = codec.encode(kp.float(), REF.float(), torch.tensor([[1, 1, 0], [1, 1, 1]]))
    assert weights.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    assert targets.dtype == torch.float32 and not targets.isnan().any()
    assert targets[weights == 0].abs().max() == 0


def naive_decode(codec: VoxelCodec, heatmap: np.ndarray) -> np.ndarray:
    """Argmax, then the mean of the symmetric window, in voxel units (one joint)."""
    S = codec.output_size
    k, j, i = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    num, den = np.zeros(3), 0.0
    rx, ry, rz = (min(codec.neighbourhood // 2, c, S - 1 - c) for c in (i, j, k))
    for z in range(k - rz, k + rz + 1):
        for y in range(j - ry, j + ry + 1):
            for x in range(i - rx, i + rx + 1):
                w = max(heatmap[z, y, x], 0.0)
                num += w * np.array([x, y, z])
                den += w
    return num / den if den > 0 else np.array([i, j, k], dtype=float)


def test_decode_matches_naive_window_mean():
    codec = VoxelCodec(grid_size=14, cube_size_m=0.28, output_size=7, neighbourhood=3)
    g = torch.Generator().manual_seed(2)
    heatmaps = torch.randn(2, 3, 7, 7, 7, generator=g, dtype=torch.float64)
    heatmaps[0, 0, 0, 6, 3] = 10.0  # maximum on two borders: window shrinks on y and z
    out, conf = codec.decode(heatmaps, REF)
    voxel = 0.28 / 7
    for b in range(2):
        for j in range(3):
            cells = naive_decode(codec, heatmaps[b, j].numpy())
            expected = REF[b].numpy() - 0.14 + (cells + 0.5) * voxel
            np.testing.assert_allclose(out[b, j].numpy(), expected, atol=1e-12)
    assert conf[0, 0] == 10.0
    np.testing.assert_allclose(conf.numpy(), heatmaps.reshape(2, 3, -1).amax(-1).numpy())


in_cube = st.tuples(st.floats(-0.5, 43.5), st.floats(-0.5, 43.5), st.floats(-0.5, 43.5))


@settings(max_examples=30, deadline=None)
@given(cells=st.lists(in_cube, min_size=6, max_size=6))
def test_round_trip_below_half_voxel(cells):
    c = torch.tensor(cells, dtype=torch.float64).reshape(2, 3, 3)
    voxel = 0.25 / 44
    kp = REF[:, None, :] - 0.125 + (c + 0.5) * voxel
    for dtype in (torch.float64, torch.float32):
        targets, _ = V2V.encode(kp.to(dtype), REF.to(dtype))
        out, conf = V2V.decode(targets, REF.to(dtype))
        assert out.dtype == dtype
        err_vox = (out.double() - kp).abs() / voxel
        assert err_vox.max() < 0.5 + 1e-3  # per axis, in output voxels (5.7 mm)
        assert (conf > 0.5).all()


def test_window_mean_beats_argmax_numbers():
    # Sub-voxel sweep well inside the cube; per-axis errors in output voxels.
    frac = torch.linspace(-0.49, 0.49, 25, dtype=torch.float64)
    cells = torch.stack([20 + frac, 22 - frac, 21 + 0.5 * frac], -1)[None]  # (1, 25, 3)
    voxel = 0.25 / 44
    ref = REF[:1]
    kp = ref[:, None, :] - 0.125 + (cells + 0.5) * voxel
    targets, _ = V2V.encode(kp, ref)
    errors = {}
    for n in (1, 3, 5, 7):
        out, _ = dataclasses.replace(V2V, neighbourhood=n).decode(targets, ref)
        err = (out - kp).abs() / voxel
        errors[n] = (err.max().item(), err.mean().item())
    # measured (max, mean): n=1 (0.49, 0.21), n=3 (0.38, 0.17), n=5 (0.23, 0.10), n=7 (0.10, 0.04)
    assert errors[1][0] == pytest.approx(0.49, abs=1e-6)
    assert errors[5][0] < 0.25 and errors[5][1] < 0.5 * errors[1][1]
    assert errors[7][0] < errors[5][0] < errors[3][0] < errors[1][0]


def naive_depth_to_points(depth: np.ndarray, K: np.ndarray):
    B, H, W = depth.shape
    pts = np.zeros((B, H * W, 3))
    valid = np.zeros((B, H * W), dtype=bool)
    for b in range(B):
        Kinv = np.linalg.inv(K[b])
        for v in range(H):
            for u in range(W):
                z = depth[b, v, u]
                if np.isfinite(z) and z > 0:
                    pts[b, v * W + u] = z * (Kinv @ np.array([u, v, 1.0]))
                    valid[b, v * W + u] = True
    return pts, valid


def test_depth_to_points_matches_naive_and_reprojects():
    g = torch.Generator().manual_seed(3)
    depth = 0.5 + torch.rand(2, 5, 6, generator=g, dtype=torch.float64)
    depth[0, 1, 2] = 0.0
    depth[1, 4, 5] = float("nan")
    K = torch.tensor([[[100.0, 0.0, 2.5], [0.0, 110.0, 2.0], [0, 0, 1]]], dtype=torch.float64)
    K = torch.cat([K, K * torch.tensor([[1.2], [0.9], [1.0]], dtype=torch.float64)])
    points, valid = depth_to_points(depth, K)
    ref_pts, ref_valid = naive_depth_to_points(depth.numpy(), K.numpy())
    np.testing.assert_allclose(points.numpy(), ref_pts, atol=1e-12)
    np.testing.assert_array_equal(valid.numpy(), ref_valid)
    assert valid.sum() == 2 * 30 - 2 and points.isfinite().all()
    uv = points @ K.transpose(1, 2)
    uv = uv[..., :2] / uv[..., 2:]
    v, u = torch.meshgrid(torch.arange(5.0), torch.arange(6.0), indexing="ij")
    pix = torch.stack([u, v], -1).reshape(30, 2).double()
    torch.testing.assert_close(uv[0, valid[0]], pix[valid[0]])
    grid = V2V.voxelize(points, points[:, 0], valid)  # voxelise around the first pixel's point
    assert grid[0, 0, 44, 44, 44] == 1  # the reference point itself sits at the cube centre


def test_shape_errors_and_config():
    with pytest.raises(ValueError, match=re.escape("reference_m: expected (B, 3) with B=2")):
        V2V.voxelize(torch.zeros(2, 10, 3), torch.zeros(3, 3))
    with pytest.raises(
        ValueError, match=re.escape("keypoints_m: expected (B, J, 3), got (2, 21, 2)")
    ):
        V2V.encode(torch.zeros(2, 21, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=re.escape("heatmaps: expected (B, J, 44, 44, 44), got")):
        V2V.decode(torch.zeros(2, 21, 44, 44, 40), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=re.escape("K: expected (B, 3, 3) with B=2")):
        depth_to_points(torch.ones(2, 4, 4), torch.eye(3)[None])
    with pytest.raises(ValueError, match="neighbourhood: expected an odd int"):
        VoxelCodec(neighbourhood=4)
    with pytest.raises(ValueError, match="cube_size_m: expected a number or 3 numbers"):
        VoxelCodec(cube_size_m=(0.2, 0.3))
    with pytest.raises(ValueError, match="cube_size_m: expected a positive number"):
        VoxelCodec(cube_size_m=-0.2)
