"""Hand cubes: voxel grids and cube depth images against hand-placed points, the reference
point on a scene with a wall behind the hand, the 3D augmentation's consistency between the
points and the joints, and NYU-encoded depth PNGs."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from posekit.codecs.voxel import VoxelCodec
from posekit.data.hand import (
    CubeTransform,
    HandAugment,
    HandCubes,
    box_around,
    cube_depth_image,
    depth_points,
    hand_reference_point,
    voxel_grid,
)
from posekit.data.images import ImageError, read_depth
from posekit.data.sample import Sample

K = np.array([[100.0, 0.0, 32.0], [0.0, 100.0, 24.0], [0.0, 0.0, 1.0]])


def test_voxel_grid_puts_points_in_the_voxels_of_the_convention() -> None:
    pts = np.array(
        [
            [0.0, 0.0, 0.0],  # centre: voxel (2, 2, 2) of 4
            [0.1, -0.1, 0.0],  # x 0.9 of the way -> i 3, y 0.1 -> j 0, z -> k 2
            [-0.125, 0.0, 0.0],  # lower face: inside, i 0
            [0.125, 0.0, 0.0],  # upper face: outside (half-open)
        ]
    )
    grid = voxel_grid(pts, 0.25, 4)
    assert grid.shape == (4, 4, 4) and grid.dtype == np.float32
    expected = np.zeros((4, 4, 4), np.float32)
    expected[2, 2, 2] = expected[2, 0, 3] = expected[2, 2, 0] = 1.0
    np.testing.assert_array_equal(grid, expected)


def test_voxel_grid_agrees_with_the_voxel_codec() -> None:
    rng = np.random.default_rng(0)
    ref = np.array([0.05, -0.02, 0.6])
    pts = ref + rng.uniform(-0.15, 0.15, (500, 3))
    codec = VoxelCodec(grid_size=16, cube_size_m=0.25, output_size=8)
    want = codec.voxelize(torch.from_numpy(pts)[None], torch.from_numpy(ref)[None])[0, 0]
    np.testing.assert_array_equal(voxel_grid(pts - ref, 0.25, 16), want.numpy())


def test_cube_depth_image_keeps_the_nearest_point_of_each_column() -> None:
    pts = np.array(
        [
            [0.0, 0.0, 0.05],  # pixel (row 2, col 2) of 4x4: z 0.05 / 0.125 = 0.4
            [0.0, 0.0, -0.05],  # same column, nearer: -0.4 wins
            [0.1, -0.1, 0.0],  # row 0, col 3: 0
            [-0.1, 0.1, 0.2],  # behind the cube: dropped
        ]
    )
    image = cube_depth_image(pts, 0.25, (4, 4))
    expected = np.ones((4, 4), np.float32)
    expected[2, 2] = -0.4
    expected[0, 3] = 0.0
    np.testing.assert_allclose(image, expected, atol=1e-6)


def _scene(hand_z: float = 0.5, wall_z: float | None = 1.0) -> np.ndarray:
    """A 48x64 depth map: a 10x10 'hand' patch centred on the principal point at hand_z, a
    wall elsewhere (or nothing)."""
    depth = np.full((48, 64), 0.0 if wall_z is None else wall_z, np.float32)
    depth[19:29, 27:37] = hand_z  # rows 19..28, cols 27..36: centred on (32, 24) ± 0.5 px
    return depth


def test_reference_point_is_the_hand_patch_centre_not_the_wall() -> None:
    depth = _scene()
    # the box spans wall pixels around the patch: they are 50 cm behind and left out
    ref = hand_reference_point(depth, K, (20.0, 12.0, 44.0, 36.0))
    # patch columns 27..36 -> mean u 31.5, rows 19..28 -> mean v 23.5 (0.5 px off the centre)
    np.testing.assert_allclose(ref, [-0.5 / 100 * 0.5, -0.5 / 100 * 0.5, 0.5], atol=1e-9)


def test_reference_point_without_depth_in_the_box_is_an_error() -> None:
    depth = _scene(wall_z=None)
    with pytest.raises(ValueError, match="no measured depth inside it"):
        hand_reference_point(depth, K, (0.0, 0.0, 10.0, 10.0))


def test_box_around_a_point_spans_the_projected_cube() -> None:
    depth = _scene()
    # f 100 px, cube 0.25 m at 0.5 m: half side 25 px
    assert box_around(depth, K, (32.0, 24.0), 0.5, 0.25) == pytest.approx((7, -1, 57, 49))
    # z from the depth around the point: the hand patch (0.5 m)
    assert box_around(depth, K, (32.0, 24.0), None, 0.25) == pytest.approx((7, -1, 57, 49))
    with pytest.raises(ValueError, match="outside the 64x48 depth map"):
        box_around(depth, K, (70.0, 24.0), None, 0.25)
    with pytest.raises(ValueError, match="no measured depth within"):
        box_around(_scene(wall_z=None), K, (5.0, 5.0), None, 0.25)


def test_depth_points_back_project_each_measured_pixel() -> None:
    depth = np.zeros((48, 64), np.float32)
    depth[24, 32] = 2.0  # the principal point
    depth[24, 42] = 1.0  # 10 px right at 1 m: x = 0.1
    pts = depth_points(depth, K)
    np.testing.assert_allclose(pts, [[0.0, 0.0, 2.0], [0.1, 0.0, 1.0]], atol=1e-12)


def test_cube_transform_rotates_about_z_and_scales_about_the_reference() -> None:
    ref = np.array([0.1, 0.2, 0.5])
    t = CubeTransform(rotation_rad=math.pi / 2, scale=2.0, shift_m=(0.01, 0.0, -0.02))
    out = t.apply(ref + np.array([[0.01, 0.0, 0.0], [0.0, 0.0, 0.03]]), ref)
    np.testing.assert_allclose(out - ref, [[0.0, 0.02, 0.0], [0.0, 0.0, 0.06]], atol=1e-12)
    np.testing.assert_allclose(t.centre(ref), [0.11, 0.2, 0.48])
    with pytest.raises(ValueError, match="scale"):
        HandAugment(scale=(1.2, 0.8))


def _samples() -> list[Sample]:
    depth = _scene()
    v, u = 20, 30  # a joint on the hand's surface, at a measured pixel
    z = float(depth[v, u])
    on_surface = [(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z]
    joints = np.array([on_surface, [0.0, 0.0, 0.52], [0.02, 0.01, 0.51]], np.float32)
    kp = joints[:, :2] / joints[:, 2:] * 100.0 + K[:2, 2]
    return [
        Sample(
            depth=depth,
            keypoints2d=kp[None].astype(np.float32),
            visibility=np.ones((1, 3), bool),
            joints3d=joints[None],
            K=K.astype(np.float32),
            bbox=np.array([[20.0, 12.0, 44.0, 36.0]], np.float32),
            skeleton="hand21",
        )
    ]


def test_evaluation_cubes_hold_the_ground_truth_unchanged() -> None:
    samples = _samples()
    item = HandCubes(samples, 0.25, "voxels", 16)[0]
    np.testing.assert_array_equal(item["keypoints"].numpy(), samples[0].joints3d[0])
    np.testing.assert_allclose(
        item["reference"].numpy(), hand_reference_point(samples[0].depth, K, samples[0].bbox[0])
    )
    assert item["voxels"].shape == (1, 16, 16, 16) and item["voxels"].sum() > 0
    image = HandCubes(samples, 0.25, "depth", (8, 8))[0]["depth"]
    assert image.shape == (1, 8, 8) and float(image.min()) < 1.0


@pytest.mark.parametrize("epoch", [0, 1, 2])
def test_augmented_cubes_move_points_and_joints_together(epoch: int) -> None:
    samples = _samples()
    cubes = HandCubes(
        samples, 0.25, "voxels", 32, train=True, augment=HandAugment(40.0, (0.8, 1.2), 0.02)
    )
    cubes.set_epoch(epoch)
    item = cubes[0]
    ev = HandCubes(samples, 0.25, "voxels", 32)[0]
    assert not torch.allclose(item["keypoints"], ev["keypoints"])  # it did move
    # the joint on the surface still sits in an occupied voxel
    rel = (item["keypoints"][0] - item["reference"]).double().numpy()
    i, j, k = (np.floor((rel / 0.25 + 0.5) * 32)).astype(int)
    assert item["voxels"][0, k, j, i] == 1.0
    # distances between joints scale by the draw's scale, the same for every pair
    d_aug = torch.cdist(item["keypoints"].double(), item["keypoints"].double())
    d_ev = torch.cdist(ev["keypoints"].double(), ev["keypoints"].double())
    ratio = d_aug[d_ev > 0] / d_ev[d_ev > 0]
    assert 0.8 <= float(ratio.min()) and float(ratio.max()) <= 1.2
    assert float(ratio.max() - ratio.min()) < 1e-4
    # same epoch, same draw; another epoch, another draw
    assert torch.equal(cubes[0]["keypoints"], item["keypoints"])
    cubes.set_epoch(epoch + 10)
    assert not torch.equal(cubes[0]["keypoints"], item["keypoints"])


def test_read_depth_decodes_nyu_pngs(tmp_path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 1], bgr[..., 0] = 3, 232  # green 3, blue 232: 3 * 256 + 232 = 1000 mm
    bgr[0, 0] = 0  # no measurement
    path = tmp_path / "depth_1_0000001.png"
    cv2.imwrite(str(path), bgr)
    depth = read_depth(path)
    assert depth.shape == (4, 5) and depth[0, 0] == 0.0
    np.testing.assert_allclose(depth[1:, :], 1.0)
    bgr[2, 2, 2] = 9  # a red pixel: a colour photo, not a depth map
    cv2.imwrite(str(path), bgr)
    with pytest.raises(ImageError, match="not a depth map"):
        read_depth(path)
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), np.full((4, 5), 7, np.uint8))
    with pytest.raises(ImageError, match="16-bit"):
        read_depth(gray)


def test_a_sample_without_a_box_uses_its_keypoints_box() -> None:
    from posekit.data.hand import hand_box

    s = _samples()[0]
    assert hand_box(s) == pytest.approx((20.0, 12.0, 44.0, 36.0))
    s.bbox = np.zeros((1, 4), np.float32)  # what the engine left on 2 of 8,192 hands
    kp = s.keypoints2d[0]
    assert hand_box(s) == pytest.approx((*kp.min(0), *kp.max(0)))
    s.keypoints2d = np.full((1, 3, 2), -50.0, np.float32)  # nothing in frame
    with pytest.raises(ValueError, match="no hand box"):
        hand_box(s)


def test_samples_of_another_layout_are_mapped_by_joint_name() -> None:
    from posekit.skeletons import NYU14, get_skeleton

    hand21 = get_skeleton("hand21")
    s = _samples()[0]
    joints = np.stack([s.joints3d[0][i % 3] + 0.001 * i for i in range(14)]).astype(np.float32)
    s.joints3d, s.skeleton = joints[None], "nyu14"
    s.visibility = np.ones((1, 14), bool)
    s.keypoints2d = (joints[:, :2] / joints[:, 2:] * 100.0 + K[:2, 2])[None].astype(np.float32)
    item = HandCubes([s], 0.25, "voxels", 16, skeleton="hand21")[0]
    kp, vis = item["keypoints"].numpy(), item["visibility"].numpy()
    assert kp.shape == (21, 3)
    shared = [n for n in hand21.joints if n in NYU14.joints]
    assert len(shared) == 11  # 5 tips, 4 finger PIPs, thumb IP and MCP
    for name in hand21.joints:
        i = hand21.index(name)
        if name in shared:
            np.testing.assert_array_equal(kp[i], joints[NYU14.index(name)])
            assert vis[i] == 1.0
        else:
            assert np.isnan(kp[i]).all() and vis[i] == 0.0


def test_centre_items_and_the_refine_hook() -> None:
    samples = _samples()
    com = hand_reference_point(samples[0].depth, K, samples[0].bbox[0])
    item = HandCubes(samples, 0.25, "depth", (8, 8), centre_only=True)[0]
    np.testing.assert_allclose(item["keypoints"].numpy(), samples[0].joints3d[0].mean(0)[None])
    assert item["visibility"].tolist() == [1.0]

    def refine(depth, K_, ref):  # a refiner that moves the cube 1 cm to the right
        assert depth is samples[0].depth and np.allclose(ref, com)
        return ref + np.array([0.01, 0.0, 0.0])

    item = HandCubes(samples, 0.25, "depth", (8, 8), refine=refine)[0]
    np.testing.assert_allclose(item["reference"].numpy(), com + np.array([0.01, 0, 0]), atol=1e-7)
