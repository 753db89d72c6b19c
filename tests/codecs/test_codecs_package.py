"""Tests of the posekit.codecs package: exports and the one shared coordinate convention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import posekit.codecs as codecs
from posekit.codecs import ALIGN_CORNERS, Heatmap2D, Regression2D, Volumetric3D, taylor_refine_2d


def test_all_names_are_exported_and_public():
    assert len(codecs.__all__) == len(set(codecs.__all__))
    for name in codecs.__all__:
        assert getattr(codecs, name) is not None
    for name in ("Heatmap2D", "Volumetric3D", "Regression2D", "VoxelCodec", "soft_argmax_2d"):
        assert name in codecs.__all__


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
