"""Tests of the 2D pose models (deeppose, hourglass, compositional) beyond the registry's
generic checks: config variants, DeepPose's patch cropping against a naive crop, the cascade's
detached crops, hourglass overfitting real heatmap targets, compositional masking and loss."""

from __future__ import annotations

import pytest
import torch

from posekit.codecs import Heatmap2D, Regression2D
from posekit.losses import compositional_heatmap_loss, heatmap_mse_loss, stage_l1_loss
from posekit.models import create_model
from posekit.models.pose2d import crop_patches, encode_part_heatmaps, level_keys
from posekit.models.pose2d.compositional import MaskedConv2d
from posekit.models.pose2d.deeppose import patch_half_sizes


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- DeepPose


def _naive_crop(image: torch.Tensor, x0: int, y0: int, size: int) -> torch.Tensor:
    """Slice a (C, H, W) image at integer offsets, zero outside."""
    C, H, W = image.shape
    out = torch.zeros(C, size, size, dtype=image.dtype)
    for v in range(size):
        for u in range(size):
            x, y = x0 + u, y0 + v
            if 0 <= x < W and 0 <= y < H:
                out[:, v, u] = image[:, y, x]
    return out


def test_crop_patches_equals_a_naive_crop():
    # A patch of p pixels with half size p / 2 pixels samples exactly on pixel centres when
    # its centre is at a pixel corner (half-integer pixel coordinates): then it is a slice.
    gen = torch.Generator().manual_seed(0)
    B, C, H, W, p = 2, 3, 20, 24, 6
    image = torch.randn(B, C, H, W, generator=gen, dtype=torch.float64)
    corners = torch.tensor(
        [[[5.5, 7.5], [12.5, 3.5], [1.5, 17.5]], [[20.5, 10.5], [-0.5, -0.5], [10.5, 9.5]]],
        dtype=torch.float64,
    )  # (B, N, 2) pixels; some patches stick out of the image
    codec = Regression2D((H, W))
    centres, _ = codec.encode(corners)
    half = torch.tensor([p / W, p / H], dtype=torch.float64).expand(B, 3, 2)
    patches = crop_patches(image, centres, half, (p, p))
    assert patches.shape == (B, 3, C, p, p)
    for b in range(B):
        for n in range(3):
            x0 = int(corners[b, n, 0] + 0.5) - p // 2
            y0 = int(corners[b, n, 1] + 0.5) - p // 2
            torch.testing.assert_close(patches[b, n], _naive_crop(image[b], x0, y0, p))


def test_crop_patches_scales_and_is_differentiable():
    image = torch.arange(16.0).reshape(1, 1, 4, 4).requires_grad_(True)
    whole = crop_patches(image, torch.zeros(1, 1, 2), torch.ones(1, 1, 2), (4, 4))
    torch.testing.assert_close(whole[0, 0], image[0])  # half size 1 = the whole image
    centres = torch.zeros(1, 1, 2, requires_grad=True)
    crop_patches(image, centres, torch.full((1, 1, 2), 0.5), (2, 2)).sum().backward()
    assert image.grad.abs().sum() > 0 and centres.grad is not None


def test_patch_half_sizes_follow_the_pose_diameter():
    kp = torch.tensor([[[-0.5, -0.2], [0.5, 0.4]]])  # extent 1.0 x 0.6 normalized
    half = patch_half_sizes(kp, (100, 200), patch_scale=0.5)
    # diameter = max(1.0 * 200 / 2, 0.6 * 100 / 2) = 100 px; side 50 px
    torch.testing.assert_close(half, torch.tensor([[[50 / 200, 50 / 100]] * 2]))
    tight = patch_half_sizes(torch.zeros(1, 2, 2), (100, 200), 0.5)  # at least min(H, W) / 8
    torch.testing.assert_close(tight[0, 0], torch.tensor([12.5 / 200, 12.5 / 100]))


@pytest.mark.parametrize("num_stages", [1, 3])
def test_deeppose_stages_and_detached_crops(num_stages, one_thread):
    torch.manual_seed(0)
    model = create_model("deeppose", num_stages=num_stages)
    out = model(**model.example_input(2))
    assert out["keypoints_stages"].shape == (2, num_stages, 17, 2)
    torch.testing.assert_close(out["keypoints"], out["keypoints_stages"][:, -1])
    if num_stages > 1:  # later stages do not move the crops: no gradient into stage 1
        stage_l1_loss(out["keypoints_stages"][:, 1:], torch.zeros(2, 17, 2)).backward()
        assert all(p.grad is None or not p.grad.any() for p in model.initial.parameters())
        assert all(p.grad.abs().sum() > 0 for p in model.refiners.parameters())


def test_deeppose_overfits_a_tiny_batch_with_its_codec_and_loss(one_thread):
    torch.manual_seed(0)
    model = create_model("deeppose")
    codec = Regression2D(model.input_size)
    image = model.example_input(4)["image"]
    kp = torch.rand(4, 17, 2) * 100 + 14
    target, weights = codec.encode(kp)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = stage_l1_loss(model(image)["keypoints_stages"], target, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-3:]) < losses[0] / 3, losses


# ---------------------------------------------------------------- hourglass


def test_hourglass_integral_and_tags(one_thread):
    torch.manual_seed(0)
    model = create_model("hourglass", integral=True, tag_dim=2, skeleton="mpii16")
    out = model(**model.example_input(2))
    assert {k: tuple(v.shape) for k, v in out.items()} == model.output_shapes(2)
    assert out["tags"].shape == (2, 2, 32, 32, 32)
    kp = out["keypoints"]  # input pixels, inside the crop
    assert bool(((kp > -0.5) & (kp < 127.5)).all())
    # the integral keypoints are the soft-argmax codec on the last stack
    codec = Heatmap2D((128, 128), (32, 32), decode_method="soft_argmax", beta=10.0)
    torch.testing.assert_close(kp, codec.decode(out["heatmaps"][:, -1])[0])
    stage_l1_loss(kp, torch.full((2, 16, 2), 64.0)).backward()
    assert model.trunk.heads[-1].weight.grad.abs().sum() > 0


def test_hourglass_rejects_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="multiples of 32"):
        create_model("hourglass", input_size=(100, 128))
    with pytest.raises(ValueError, match="tag_dim"):
        create_model("hourglass", tag_dim=-1)
    model = create_model("hourglass")
    with pytest.raises(ValueError, match=r"image: expected \(B, 3, 128, 128\)"):
        model(torch.zeros(1, 3, 64, 64))


def test_hourglass_overfits_heatmap_targets(one_thread):
    torch.manual_seed(0)
    model = create_model("hourglass")
    codec = Heatmap2D(model.input_size, model.heatmap_size, sigma=1.5)
    image = model.example_input(4)["image"]
    kp = torch.rand(4, 17, 2, generator=torch.Generator().manual_seed(1)) * 100 + 14
    target, weights = codec.encode(kp)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = heatmap_mse_loss(model(image)["heatmaps"], target, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-3:]) < losses[0] / 10, losses


# ---------------------------------------------------------------- compositional


def test_masked_conv_only_connects_the_hierarchy_edges():
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # parent 0 ← children 0, 1
    conv = MaskedConv2d(mask, kernel_size=3, dilation=2)
    x = torch.randn(1, 3, 9, 9)
    y = conv(x)
    x2 = x.clone()
    x2[:, 2] += 5.0  # a child of parent 1 only
    y2 = conv(x2)
    torch.testing.assert_close(y[:, 0], y2[:, 0])
    assert not torch.allclose(y[:, 1], y2[:, 1])


def test_compositional_levels_and_multi_level_loss(one_thread):
    torch.manual_seed(0)
    model = create_model("compositional", skeleton="lsp14")
    out = model(**model.example_input(2))
    keys = level_keys(model.hierarchy)
    assert (
        list(out) == keys == ["heatmaps", "level1_heatmaps", "level2_heatmaps", "level3_heatmaps"]
    )
    assert [out[k].shape[2] for k in keys] == list(model.hierarchy.level_sizes)
    codec = Heatmap2D(model.input_size, model.heatmap_size)
    kp = torch.rand(2, 14, 2) * 100 + 14
    targets, weights = encode_part_heatmaps(kp, None, model.hierarchy, codec)
    loss = compositional_heatmap_loss([out[k] for k in keys], targets, weights)
    loss.backward()
    assert loss.isfinite()
    head = model.trunk.heads[0]
    assert head.up[0].weight.grad.abs().sum() > 0 and head.down[-1].weight.grad.abs().sum() > 0


def test_compositional_needs_a_hierarchy():
    with pytest.raises(KeyError, match="no part hierarchy for skeleton 'smpl24'"):
        create_model("compositional", skeleton="smpl24")
