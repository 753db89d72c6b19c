"""Tests of the posekit.codecs package: every export round-trips a hand-worked input, and the
one coordinate convention is shared."""

from __future__ import annotations

import math
import typing

import pytest
import torch
import torch.nn.functional as F

import posekit.codecs as codecs
from posekit.codecs import (
    ALIGN_CORNERS,
    AssociativeEmbedding,
    Heatmap2D,
    Regression2D,
    Volumetric3D,
    VoxelCodec,
    depth_to_points,
    gaussian_blur_2d,
    soft_argmax_2d,
    soft_argmax_3d,
    taylor_refine_2d,
)

# Round trips through the public API on inputs whose codes are worked out by hand. A 64 x 48
# (H x W) input over 16 x 12 maps: stride 4, map cell (i, j) centred on input pixel
# (4 j + 1.5, 4 i + 1.5); pixel (21.5, 29.5) is the centre of cell (row 7, column 5).
CELL_CENTRE = (21.5, 29.5)


def test_regression2d_round_trip():
    kp = torch.tensor([[[11.5, 31.5], [47.5, -0.5], [-0.5, 63.5]]], dtype=torch.float64)
    coords, weights = Regression2D((64, 48)).encode(kp)
    # n = (2 x + 1) / W - 1: the crop centre (23.5, 31.5) is 0, the outer edges are -1 and 1
    expected = torch.tensor([[[-0.5, 0.0], [1.0, -1.0], [-1.0, 1.0]]], dtype=torch.float64)
    torch.testing.assert_close(coords, expected)
    torch.testing.assert_close(weights, torch.ones(1, 3, dtype=torch.float64))
    torch.testing.assert_close(Regression2D((64, 48)).decode(coords), kp)


def test_align_corners_is_the_edge_convention():
    assert ALIGN_CORNERS is False
    img = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]], dtype=torch.float64)  # (1, 1, 2, 2)
    # pixel centres (1, 0) and (0, 1) of a 2 x 2 image sit at +-0.5 in grid coordinates
    grid = torch.tensor([[[[0.5, -0.5], [-0.5, 0.5]]]], dtype=torch.float64)
    out = F.grid_sample(img, grid, align_corners=ALIGN_CORNERS)
    torch.testing.assert_close(out.flatten(), torch.tensor([1.0, 2.0], dtype=torch.float64))


@pytest.mark.parametrize("method", typing.get_args(codecs.Decode2DMethod))
def test_heatmap2d_round_trip_every_decode_method(method):
    assert typing.get_args(codecs.Decode2DMethod) == ("dark", "quarter", "argmax", "soft_argmax")
    codec = Heatmap2D((64, 48), (16, 12), sigma=1.0, decode_method=method)
    kp = torch.tensor([[CELL_CENTRE]], dtype=torch.float64)
    hm, w = codec.encode(kp)
    assert hm.shape == (1, 1, 16, 12) and w.tolist() == [[1.0]]
    assert hm[0, 0, 7, 5] == 1.0  # the peak, on the keypoint's cell
    assert math.isclose(hm[0, 0, 7, 6], math.exp(-0.5)) and math.isclose(
        hm[0, 0, 9, 5], math.exp(-2)
    )
    # soft-argmax reads logits: the log of the target weighs each cell by the Gaussian
    maps = hm.clamp_min(1e-300).log() if method == "soft_argmax" else hm
    out, conf = codec.decode(maps)
    torch.testing.assert_close(out, kp, rtol=0, atol=1e-4)
    if method != "soft_argmax":
        assert conf.tolist() == [[1.0]]


def test_heatmap2d_sub_cell_keypoint():
    codec = Heatmap2D((64, 48), (16, 12), sigma=2.0)  # DARK decoding
    kp = torch.tensor([[[22.7, 27.1]]], dtype=torch.float64)  # cell (x 5.3, y 6.4)
    hm, _ = codec.encode(kp)
    assert hm.reshape(-1).argmax() == 6 * 12 + 5
    assert math.isclose(hm[0, 0, 6, 5], math.exp(-(0.3**2 + 0.4**2) / (2 * 2.0**2)))
    out, _ = codec.decode(hm)
    torch.testing.assert_close(out, kp, rtol=0, atol=0.02 * 4)  # < 0.02 cell, documented


def test_gaussian_blur_2d_spreads_a_delta_into_the_normalised_gaussian():
    delta = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    delta[0, 0, 4, 4] = 1.0
    out = gaussian_blur_2d(delta, 1.0)
    # kernel exp(-k^2 / 2), k = -3..3, sums to 2.50594988: centre 1 / 2.50594988^2
    assert math.isclose(out[0, 0, 4, 4], 0.159241, rel_tol=1e-5)
    assert math.isclose(out[0, 0, 4, 5], 0.159241 * math.exp(-0.5), rel_tol=1e-5)
    assert math.isclose(out[0, 0, 6, 5], 0.159241 * math.exp(-2.5), rel_tol=1e-5)
    assert math.isclose(out.sum(), 1.0)
    flat = gaussian_blur_2d(torch.ones(1, 1, 9, 9, dtype=torch.float64), 1.0)
    assert math.isclose(flat[0, 0, 4, 4], 1.0)  # normalised kernel
    assert flat[0, 0, 0, 0] < 0.75  # zero padding at the border


def test_taylor_refine_2d_recovers_a_quadratic_maximum():
    ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(7.0), indexing="ij")
    dx, dy = xs.double() - 3.3, ys.double() - 1.6
    log_map = -(1.0 * dx**2 + 0.6 * dx * dy + 2.0 * dy**2)  # negative definite, tilted
    out = taylor_refine_2d(log_map[None, None], torch.tensor([[3]]), torch.tensor([[2]]))
    torch.testing.assert_close(out, torch.tensor([[[3.3, 1.6]]], dtype=torch.float64))


def test_soft_argmax_2d_and_3d_are_softmax_means():
    hm = torch.full((1, 1, 3, 4), -1e4, dtype=torch.float64)
    hm[0, 0, 0, 0] = math.log(3.0)  # weight 3 at (x 0, y 0)
    hm[0, 0, 1, 2] = 0.0  # weight 1 at (x 2, y 1)
    torch.testing.assert_close(
        soft_argmax_2d(hm), torch.tensor([[[0.5, 0.25]]], dtype=torch.float64)
    )
    vol = torch.full((1, 1, 3, 3, 4), -1e4, dtype=torch.float64)
    vol[0, 0, 2, 0, 1] = 0.0  # weight 1 at (x 1, y 0, z 2)
    vol[0, 0, 0, 2, 3] = math.log(3.0)  # weight 3 at (x 3, y 2, z 0)
    torch.testing.assert_close(
        soft_argmax_3d(vol), torch.tensor([[[2.5, 1.5, 0.5]]], dtype=torch.float64)
    )


def test_volumetric3d_round_trip():
    assert typing.get_args(codecs.DecodeVolumeMethod) == ("argmax", "soft_argmax")
    vol = Volumetric3D((4, 16, 12), (64, 48), depth_range_m=2.0, sigma=1.0)
    # 4 bins over [-1, 1] m: bin k centred on (k + 0.5) * 0.5 - 1, bin 2 on 0.25 m
    kp = torch.tensor([[CELL_CENTRE]], dtype=torch.float64)
    v, w = vol.encode(kp, torch.tensor([[0.25]], dtype=torch.float64))
    assert v.shape == (1, 1, 4, 16, 12) and w.tolist() == [[1.0]]
    assert v[0, 0, 2, 7, 5] == 1.0 and math.isclose(v[0, 0, 1, 7, 5], math.exp(-0.5))
    px, z, conf = vol.decode(v)
    torch.testing.assert_close(px, kp)
    torch.testing.assert_close(z, torch.tensor([[0.25]], dtype=torch.float64))
    assert conf.tolist() == [[1.0]]
    # soft-argmax: equal weights on bins 1 and 2 of that cell: depth 0 m, between them
    logits = torch.full_like(v, -1e4)
    logits[0, 0, 1:3, 7, 5] = 0.0
    soft = Volumetric3D((4, 16, 12), (64, 48), depth_range_m=2.0, decode_method="soft_argmax")
    px, z, _ = soft.decode(logits)
    torch.testing.assert_close(px, kp)
    torch.testing.assert_close(z, torch.zeros(1, 1, dtype=torch.float64))


def test_associative_embedding_round_trip_two_people():
    ae = AssociativeEmbedding((64, 48), (16, 12), sigma=1.0)
    # person 0: cells (x 2, y 3) and (5, 7); person 1: cells (9, 11) and (6, 13)
    kp = torch.tensor(
        [[[[9.5, 13.5], [21.5, 29.5]], [[37.5, 45.5], [25.5, 53.5]]]], dtype=torch.float64
    )
    hm, w, index = ae.encode(kp)
    assert index.tolist() == [[[3 * 12 + 2, 7 * 12 + 5], [11 * 12 + 9, 13 * 12 + 6]]]
    assert hm[0, 0, 3, 2] == 1.0 and hm[0, 0, 11, 9] == 1.0 and hm[0, 1, 13, 6] == 1.0
    assert w.tolist() == [[1.0, 1.0]]
    tags = torch.zeros(2, 16, 12, dtype=torch.float64)  # person 0 tag 0, person 1 tag 5
    tags[0, 11, 9] = tags[1, 13, 6] = 5.0
    people, scores, person_scores = ae.decode(hm[0], tags)
    assert people.shape == (2, 2, 2)
    people = people[people[:, 0, 0].argsort()]  # person 0 first (leftmost first joint)
    torch.testing.assert_close(people, kp[0])
    assert scores.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    torch.testing.assert_close(person_scores, torch.ones(2, dtype=torch.float64))
    # A joint whose tag (10) is beyond the threshold of every person (tags 0 and 5) is a new
    # person, not the second joint of the nearest one.
    vis = torch.tensor([[[1, 0], [1, 0], [0, 1]]])
    three = torch.cat([kp, kp[:, :1]], dim=1)  # person 2: joint 1 at (25.5, 53.5) only
    three[0, 2, 1] = kp[0, 1, 1]
    hm, _, _ = ae.encode(three, vis)
    tags = torch.zeros(2, 16, 12, dtype=torch.float64)
    tags[0, 11, 9], tags[1, 13, 6] = 5.0, 10.0
    alone = AssociativeEmbedding((64, 48), (16, 12), sigma=1.0, fill_missing=False)
    people, scores, _ = alone.decode(hm[0], tags)
    assert people.shape == (3, 2, 2)
    found = people.isfinite().all(-1)  # (3, 2)
    assert sorted(found.tolist()) == [[False, True], [True, False], [True, False]]
    torch.testing.assert_close(people[found[:, 1], 1], kp[0, 1:, 1])


def test_voxel_codec_round_trip_and_occupancy():
    vc = VoxelCodec(grid_size=8, cube_size_m=0.4, output_size=8, sigma=1.0, neighbourhood=3)
    ref = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    # 5 cm voxels from ref - 0.2 m: voxel (x 5, y 2, z 6) is centred on (0.075, -0.075, 1.125)
    kp = torch.tensor([[[0.075, -0.075, 1.125]]], dtype=torch.float64)
    t, w = vc.encode(kp, ref)
    assert t.shape == (1, 1, 8, 8, 8) and w.tolist() == [[1.0]]
    assert t[0, 0, 6, 2, 5] == 1.0 and math.isclose(t[0, 0, 6, 2, 6], math.exp(-0.5))
    out, conf = vc.decode(t, ref)
    torch.testing.assert_close(out, kp)
    assert conf.tolist() == [[1.0]]
    pts = torch.tensor([[[0.075, -0.075, 1.125], [0.3, 0.0, 1.0], [math.nan, 0.0, 1.0]]])
    occ = vc.voxelize(pts.double(), ref)
    assert occ.shape == (1, 1, 8, 8, 8) and occ.sum() == 1 and occ[0, 0, 6, 2, 5] == 1


def test_depth_to_points_back_projects_pixel_centres():
    depth = torch.tensor([[[1.0, 0.0, 2.0], [4.0, math.nan, -1.0]]], dtype=torch.float64)
    K = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    pts, valid = depth_to_points(depth, K)
    assert valid.tolist() == [[True, False, True, True, False, False]]
    # p = z ((u - cx) / fx, (v - cy) / fy, 1); invalid pixels give the origin
    expected = torch.tensor(
        [[[-0.5, -0.25, 1.0], [0, 0, 0], [1.0, -0.5, 2.0], [-2.0, 1.0, 4.0], [0, 0, 0], [0, 0, 0]]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(pts, expected)


def test_every_export_has_a_round_trip_above():
    """A new export needs its own behavioural test in this file (names only, not behaviour)."""
    tested = {
        "ALIGN_CORNERS", "AssociativeEmbedding", "Decode2DMethod", "DecodeVolumeMethod",
        "Heatmap2D", "Regression2D", "Volumetric3D", "VoxelCodec", "depth_to_points",
        "gaussian_blur_2d", "soft_argmax_2d", "soft_argmax_3d", "taylor_refine_2d",
    }  # fmt: skip
    assert sorted(codecs.__all__) == sorted(tested)


def test_heatmap_cells_sit_on_avg_pool_block_centres():
    # avg_pool of a ramp image gives, per heatmap cell, the mean input coordinate of its block:
    # the cell centre in input pixels. A keypoint there must encode to a peak of exactly 1.
    H, W, s = 12, 16, 4
    ys, xs = torch.meshgrid(torch.arange(float(H)), torch.arange(float(W)), indexing="ij")
    centres = F.avg_pool2d(torch.stack([xs, ys])[None], s)[0]  # (2, 3, 4)
    codec = Heatmap2D((H, W), (H // s, W // s), sigma=1.0)
    kp = centres.permute(1, 2, 0).reshape(1, -1, 2)  # every cell centre, row-major
    heatmaps, _ = codec.encode(kp)
    peaks = heatmaps.reshape(1, 12, -1)
    assert torch.allclose(peaks.amax(-1), torch.ones(1, 12))
    assert peaks.argmax(-1).tolist() == [list(range(12))]


def test_heatmap_and_regression_share_the_grid_sample_frame():
    # Edge alignment: Regression2D's normalised coordinates address the same physical point in
    # the input and in any map of the crop. Sampling a heatmap-sized ramp (each cell holds its
    # own (x, y)) there with grid_sample gives where Heatmap2D put the Gaussian's centre.
    kp = torch.tensor([[[3.7, 50.2], [0.0, 0.0], [47.5, 63.5], [20.0, 9.3]]], dtype=torch.float64)
    reg, _ = Regression2D((64, 48)).encode(kp)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(12.0), indexing="ij")
    ramp = torch.stack([xs, ys])[None].double()  # (1, 2, h, w)
    sampled = F.grid_sample(
        ramp, reg[:, :, None, :], align_corners=ALIGN_CORNERS, padding_mode="border"
    )
    cells_from_grid = sampled[..., 0].transpose(1, 2)  # (1, J, 2)
    heatmaps, _ = Heatmap2D((64, 48), (16, 12)).encode(kp)
    idx = heatmaps.reshape(1, 4, -1).argmax(-1)
    centres = taylor_refine_2d(heatmaps.log(), idx % 12, idx // 12)  # exact Gaussian centres
    inside = [0, 3]  # grid_sample clamps at the border cell centres; compare interior points
    torch.testing.assert_close(cells_from_grid[:, inside], centres[:, inside])
    # the corner keypoints sit on the outer edges: centres at -0.5 and w - 0.5 cells
    torch.testing.assert_close(centres[0, 2], torch.tensor([11.5, 15.5], dtype=torch.float64))
    torch.testing.assert_close(reg[0, 2], torch.tensor([1.0, 1.0], dtype=torch.float64))


def test_volumetric_xy_planes_match_heatmap2d():
    kp = torch.tensor([[[3.7, 50.2], [0.0, 0.0], [47.5, 63.5]]], dtype=torch.float64)
    h2d, _ = Heatmap2D((64, 48), (16, 12), sigma=2.0).encode(kp)
    vol = Volumetric3D((4, 16, 12), (64, 48), depth_range_m=2.0, sigma=2.0)
    v3d, _ = vol.encode(kp, torch.zeros(1, 3, dtype=torch.float64))
    # depth 0 is the edge between bins 1 and 2 (cell 1.5): 0.5 bin from the nearest bin centre
    torch.testing.assert_close(v3d.amax(dim=2), h2d * math.exp(-(0.5**2) / (2 * 2.0**2)))
