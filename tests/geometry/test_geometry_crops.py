"""Tests for posekit.geometry.crops: pixel conventions, crops of keypoints and images."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from posekit.geometry import crops

FAST = settings(max_examples=50, deadline=None)
F64 = torch.float64


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth float32 test image (low-frequency noise upsampled), values in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 8 + 2, width // 8 + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def blob_image(height: int, width: int, x: float, y: float, sigma: float = 2.0) -> np.ndarray:
    """A Gaussian dot centred at pixel coordinates (x, y) (pixel centres at integers)."""
    cols = np.arange(width, dtype=np.float64)[None, :]
    rows = np.arange(height, dtype=np.float64)[:, None]
    blob = np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    return blob.astype(np.float32)


def centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((cols * image).sum() / total), float((rows * image).sum() / total)


# --- boxes and matrices --------------------------------------------------------------------


def test_bbox_to_center_scale_pads_to_the_output_aspect() -> None:
    boxes = torch.tensor([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 200.0, 50.0]], dtype=F64)
    center, height = crops.bbox_to_center_scale(boxes, (256, 192))  # aspect W / H = 0.75
    torch.testing.assert_close(center, torch.tensor([[30.0, 70.0], [100.0, 25.0]], dtype=F64))
    # Tall box: 40 x 100 is narrower than 0.75, its height stays. Wide box: 200 wide needs
    # a height of 200 / 0.75.
    torch.testing.assert_close(height, torch.tensor([100.0, 200.0 / 0.75], dtype=F64))


@pytest.mark.parametrize("output_size_hw", [(64, 48), (32, 32), (17, 40)])
def test_unrotated_crop_maps_box_edges_to_output_edges(output_size_hw: tuple[int, int]) -> None:
    height_out, width_out = output_size_hw
    x0, y0 = 13.25, -4.5
    box_w, box_h = 3.0 * width_out, 3.0 * height_out  # already at the output aspect
    box = torch.tensor([x0, y0, x0 + box_w, y0 + box_h], dtype=F64)
    center, height = crops.bbox_to_center_scale(box, output_size_hw)
    M = crops.crop_matrix(center, height, output_size_hw)
    corners = torch.tensor([[x0, y0], [x0 + box_w, y0 + box_h], center.tolist()], dtype=F64)
    expected = torch.tensor(
        [
            [-0.5, -0.5],
            [width_out - 0.5, height_out - 0.5],
            [(width_out - 1) / 2, (height_out - 1) / 2],
        ],
        dtype=F64,
    )
    torch.testing.assert_close(crops.apply_affine(corners, M), expected)


@pytest.mark.parametrize("angle_rad", [0.3, -1.2, math.pi / 2, math.pi])
@pytest.mark.parametrize("box_scale", [1.0, 1.25, 0.8])
def test_rotation_matches_opencv_get_rotation_matrix(angle_rad: float, box_scale: float) -> None:
    # Output the size of the source, window = whole image: M is a rotation about the centre.
    height, width = 40, 60
    center = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=F64)
    M = crops.crop_matrix(center, float(height), (height, width), angle_rad, box_scale)
    expected = cv2.getRotationMatrix2D(center.tolist(), math.degrees(angle_rad), 1 / box_scale)
    np.testing.assert_allclose(M.numpy(), expected, atol=1e-12)


def test_positive_rotation_turns_content_counter_clockwise_on_screen() -> None:
    center = torch.tensor([50.0, 50.0], dtype=F64)
    M = crops.crop_matrix(center, 32.0, (32, 32), rotation_rad=math.pi / 2)
    right_of_center = torch.tensor([[60.0, 50.0]], dtype=F64)
    out = crops.apply_affine(right_of_center, M)[0]
    # 10 px right of the centre becomes 10 px above the output centre (y down).
    torch.testing.assert_close(out, torch.tensor([15.5, 5.5], dtype=F64))


def test_crop_matrix_batched_matches_per_item() -> None:
    gen = torch.Generator().manual_seed(0)
    center = torch.rand(2, 3, 2, generator=gen, dtype=F64) * 100
    height = torch.rand(2, 3, generator=gen, dtype=F64) * 50 + 20
    rotation = torch.rand(2, 3, generator=gen, dtype=F64) * 6 - 3
    scale = torch.rand(2, 3, generator=gen, dtype=F64) + 0.5
    M = crops.crop_matrix(center, height, (64, 48), rotation, scale)
    assert M.shape == (2, 3, 2, 3)
    single = crops.crop_matrix(center[1, 2], height[1, 2], (64, 48), rotation[1, 2], scale[1, 2])
    torch.testing.assert_close(M[1, 2], single)


def test_invert_affine_matches_opencv() -> None:
    M = crops.crop_matrix(torch.tensor([30.0, 40.0], dtype=F64), 50.0, (64, 48), 0.7, 1.3)
    np.testing.assert_allclose(
        crops.invert_affine(M).numpy(), cv2.invertAffineTransform(M.numpy()), atol=1e-12
    )


@FAST
@given(
    st.floats(-50, 150),
    st.floats(-50, 150),
    st.floats(5.0, 300.0),
    st.floats(-math.pi, math.pi),
    st.floats(0.5, 2.0),
)
def test_crop_then_invert_returns_keypoints(
    cx: float, cy: float, box_height: float, rotation: float, box_scale: float
) -> None:
    center = torch.tensor([cx, cy], dtype=F64)
    M = crops.crop_matrix(center, box_height, (64, 48), rotation, box_scale)
    points = torch.rand(3, 17, 2, dtype=F64, generator=torch.Generator().manual_seed(1)) * 200
    back = crops.apply_affine(crops.apply_affine(points, M), crops.invert_affine(M))
    torch.testing.assert_close(back, points, atol=1e-9, rtol=0)


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("output_size_hw", [(20, 30), (80, 120), (40, 60)])
def test_whole_image_crop_equals_resize(output_size_hw: tuple[int, int]) -> None:
    image = smooth_image(40, 60)
    box = torch.tensor([-0.5, -0.5, 59.5, 39.5], dtype=F64)
    M = crops.crop_matrix(*crops.bbox_to_center_scale(box, output_size_hw), output_size_hw)
    warped = crops.warp_image(image, M, output_size_hw)
    resized = cv2.resize(image, output_size_hw[::-1], interpolation=cv2.INTER_LINEAR)
    # Interior only: at the border warpAffine blends with the constant border, resize clamps.
    np.testing.assert_allclose(warped[2:-2, 2:-2], resized[2:-2, 2:-2], atol=2e-3)


@FAST
@given(
    st.floats(40.0, 56.0),
    st.floats(40.0, 56.0),
    st.floats(-4.0, 4.0),
    st.floats(-4.0, 4.0),
    st.floats(24.0, 60.0),
    st.floats(-math.pi, math.pi),
    st.floats(0.8, 1.3),
)
def test_warped_dot_lands_where_apply_affine_says(
    x: float, y: float, dx: float, dy: float, box_height: float, rotation: float, scale: float
) -> None:
    output_size_hw = (48, 64)
    image = blob_image(96, 96, x, y)
    center = torch.tensor([x + dx, y + dy], dtype=F64)
    M = crops.crop_matrix(center, box_height, output_size_hw, rotation, scale)
    expected = crops.apply_affine(torch.tensor([[x, y]], dtype=F64), M)[0]
    margin = 3 * 2.0 * output_size_hw[0] / (box_height * scale) + 1  # 3 sigma in the crop
    assume(margin <= expected[0] <= output_size_hw[1] - 1 - margin)
    assume(margin <= expected[1] <= output_size_hw[0] - 1 - margin)
    warped = crops.warp_image(image, M, output_size_hw)
    found = centroid(warped)
    # A half-pixel convention error would be off by >= 0.3 px here (scale >= 0.6).
    assert math.dist(found, expected.tolist()) < 0.2


def test_warp_image_keeps_channels_and_fills_border() -> None:
    M = crops.crop_matrix(torch.tensor([4.5, 4.5], dtype=F64), 10.0, (10, 10))
    M[0, 2] += 100.0  # push the content out of view
    for channels in (1, 3, 7):
        image = np.ones((10, 10, channels), dtype=np.float32)
        out = crops.warp_image(image, M, (10, 10), border_value=2.0)
        assert out.shape == (10, 10, channels)
        np.testing.assert_array_equal(out, np.full_like(out, 2.0))
    out = crops.warp_image(np.ones((10, 10), np.uint8), M.numpy(), (12, 8), "nearest")
    assert out.shape == (12, 8) and out.dtype == np.uint8


# --- normalized coordinates ----------------------------------------------------------------


def test_normalized_coordinates_match_grid_sample() -> None:
    height, width = 7, 11
    image = torch.rand(1, 1, height, width, dtype=F64)
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=F64), torch.arange(width, dtype=F64), indexing="ij"
    )
    pixels = torch.stack((cols, rows), dim=-1)  # (H, W, 2) as (x, y)
    grid = crops.pixels_to_normalized(pixels, (height, width))
    sampled = F.grid_sample(image, grid[None], mode="bilinear", align_corners=False)
    torch.testing.assert_close(sampled, image)
    edges = torch.tensor([[-0.5, -0.5], [width - 0.5, height - 0.5]], dtype=F64)
    torch.testing.assert_close(
        crops.pixels_to_normalized(edges, (height, width)),
        torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=F64),
    )
    torch.testing.assert_close(crops.normalized_to_pixels(grid, (height, width)), pixels)


# --- dtypes, gradients, errors -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_are_preserved(dtype: torch.dtype) -> None:
    boxes = torch.tensor([[10.0, 20.0, 50.0, 120.0]], dtype=dtype)
    center, height = crops.bbox_to_center_scale(boxes, (64, 48))
    M = crops.crop_matrix(center, height, (64, 48), torch.tensor([0.3], dtype=dtype), 1.25)
    points = torch.rand(1, 5, 2, dtype=dtype) * 100
    outputs = [
        center,
        height,
        M,
        crops.invert_affine(M),
        crops.apply_affine(points, M),
        crops.pixels_to_normalized(points, (64, 48)),
        crops.normalized_to_pixels(points, (64, 48)),
    ]
    assert all(out.dtype == dtype for out in outputs)
    back = crops.apply_affine(crops.apply_affine(points, M), crops.invert_affine(M))
    torch.testing.assert_close(back, points, atol=1e-4, rtol=0)


def test_gradcheck() -> None:
    center = torch.tensor([[30.0, 40.0], [10.0, 5.0]], dtype=F64, requires_grad=True)
    height = torch.tensor([50.0, 20.0], dtype=F64, requires_grad=True)
    rotation = torch.tensor([0.3, -2.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.2, 0.9], dtype=F64, requires_grad=True)

    def matrix(c, h, r, s):
        return crops.crop_matrix(c, h, (64, 48), r, s)

    assert torch.autograd.gradcheck(matrix, (center, height, rotation, scale))
    M = matrix(center, height, rotation, scale).detach().requires_grad_(True)
    points = (torch.rand(2, 5, 2, dtype=F64) * 100).requires_grad_(True)
    assert torch.autograd.gradcheck(crops.apply_affine, (points, M))
    assert torch.autograd.gradcheck(crops.invert_affine, (M,))
    assert torch.autograd.gradcheck(lambda p: crops.pixels_to_normalized(p, (64, 48)), (points,))


def test_shape_error_messages() -> None:
    with pytest.raises(ValueError) as info:
        crops.apply_affine(torch.zeros(4, 17, 3), torch.zeros(2, 3))
    assert str(info.value) == "points: expected (..., J, 2), got (4, 17, 3)"
    with pytest.raises(ValueError) as info:
        crops.apply_affine(torch.zeros(4, 17, 2), torch.zeros(5, 2, 3))
    assert str(info.value) == (
        "M: expected (2, 3) or (4, 2, 3) to match the batch dims (4,) of points, got (5, 2, 3)"
    )
    with pytest.raises(ValueError, match=r"bbox_xyxy: expected \(..., 4\), got \(2, 5\)"):
        crops.bbox_to_center_scale(torch.zeros(2, 5), (64, 48))
    with pytest.raises(ValueError, match=r"box_height_px: expected \(3,\) to match center_px"):
        crops.crop_matrix(torch.zeros(3, 2), torch.ones(2), (64, 48))
    with pytest.raises(ValueError, match=r"rotation_rad: expected \(\) or \(3,\)"):
        crops.crop_matrix(torch.zeros(3, 2), torch.ones(3), (64, 48), torch.zeros(2))
    with pytest.raises(ValueError, match="output_size_hw: expected"):
        crops.crop_matrix(torch.zeros(2), 1.0, (64,))
    with pytest.raises(ValueError, match="output_size_hw: expected"):
        crops.crop_matrix(torch.zeros(2), 1.0, (0, 48))
    with pytest.raises(ValueError, match="image: expected a numpy array"):
        crops.warp_image(torch.zeros(8, 8), np.eye(2, 3), (8, 8))
    with pytest.raises(ValueError, match=r"M: expected \(2, 3\), got \(3, 3\)"):
        crops.warp_image(np.zeros((8, 8)), np.eye(3), (8, 8))
    with pytest.raises(ValueError, match="interpolation: expected one of"):
        crops.warp_image(np.zeros((8, 8)), np.eye(2, 3), (8, 8), "area")  # type: ignore[arg-type]
