"""Tests of the lifting models (posekit.models.lift): Martinez ablation switches, LCN locality
and receptive field, the DAE's inputs, max-norm, input handling and config validation."""

from __future__ import annotations

import re
from collections import deque

import pytest
import torch
from torch import nn

from posekit.models import count_parameters, create_model
from posekit.models.lift import (
    LCN,
    DAEConfig,
    LocallyConnected,
    NoiseConfig,
    lcn_adjacency,
    structured_noise,
)
from posekit.models.lift._common import ResidualBlock
from posekit.skeletons import H36M17, Skeleton

LIFTERS = ["martinez", "lcn", "smplr_dae"]


def _count(model: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def _graph_distances(skeleton: Skeleton, link_flip_pairs: bool = False) -> list[list[float]]:
    """All-pairs hop distances by breadth-first search (a reference independent of the model)."""
    J = skeleton.num_joints
    nbrs: list[set[int]] = [set() for _ in range(J)]
    edges = [(p, j) for j, p in enumerate(skeleton.parents) if p >= 0]
    edges += list(skeleton.flip_pairs) if link_flip_pairs else []
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    dist = [[float("inf")] * J for _ in range(J)]
    for s in range(J):
        dist[s][s] = 0
        queue = deque([s])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if dist[s][v] == float("inf"):
                    dist[s][v] = dist[s][u] + 1
                    queue.append(v)
    return dist


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("name", LIFTERS)
def test_root_is_zero_and_input_coords_are_recorded(name):
    model = create_model(name, input_coords="camera")
    assert model.config.input_coords == "camera"
    out = model(**model.example_input(3))["joints3d"]
    assert out.shape == (3, 17, 3)
    assert torch.equal(out[:, 0], torch.zeros(3, 3))
    assert out[:, 1:].abs().sum() > 0


@pytest.mark.parametrize("name", LIFTERS)
def test_invisible_joints_are_fed_as_the_mean_even_when_nan(name):
    model = create_model(name).eval()
    kp = model.example_input(2)["keypoints2d"]
    vis = torch.ones(2, 17)
    vis[0, 13] = 0
    nan_kp = kp.clone()
    nan_kp[0, 13] = float("nan")
    mean_kp = kp.clone()
    mean_kp[0, 13] = 0.0  # the input mean (identity normalization)
    out = model(nan_kp, vis)["joints3d"]
    assert out.isfinite().all()
    if name == "smplr_dae":  # visibility is an input channel: compare with a visible-flag run
        return
    torch.testing.assert_close(out, model(mean_kp)["joints3d"])


@pytest.mark.parametrize("name", LIFTERS)
def test_input_normalization_buffers_are_applied_and_saved(name):
    model = create_model(name).eval()
    gen = torch.Generator().manual_seed(0)
    mean = 100 + 10 * torch.randn(17, 2, generator=gen)
    std = 5 + torch.rand(17, 2, generator=gen)
    kp = mean + std * torch.randn(4, 17, 2, generator=gen)
    plain = model((kp - mean) / std)["joints3d"]
    model.set_input_normalization(mean, std)
    torch.testing.assert_close(model(kp)["joints3d"], plain)
    # a checkpoint carries the statistics
    restored = create_model(name).eval()
    restored.load_state_dict(model.state_dict())
    torch.testing.assert_close(restored(kp)["joints3d"], plain)
    with pytest.raises(ValueError, match=r"std: expected every entry > 0"):
        model.set_input_normalization(mean, torch.zeros(17, 2))
    with pytest.raises(ValueError, match=re.escape("mean: expected (17, 2), got (16, 2)")):
        model.set_input_normalization(mean[:16], std[:16])


@pytest.mark.parametrize("name", LIFTERS)
def test_shape_errors_have_clear_messages(name):
    model = create_model(name)
    with pytest.raises(
        ValueError, match=re.escape("keypoints2d: expected (B, 17, 2), got (4, 16, 2)")
    ):
        model(torch.zeros(4, 16, 2))
    with pytest.raises(
        ValueError, match=re.escape("keypoints2d: expected (B, 17, 2), got (17, 2)")
    ):
        model(torch.zeros(17, 2))
    with pytest.raises(
        ValueError, match=re.escape("visibility: expected (B, 17) with B=4, got (3, 17)")
    ):
        model(torch.zeros(4, 17, 2), torch.ones(3, 17))
    with pytest.raises(ValueError, match="expected a float tensor"):
        model(torch.zeros(4, 17, 2, dtype=torch.int64))


@pytest.mark.parametrize("name", LIFTERS)
def test_config_validation_and_other_skeletons(name):
    with pytest.raises(ValueError, match="input_coords: expected one of"):
        create_model(name, input_coords="metres")
    with pytest.raises(KeyError, match="unknown skeleton 'nope'"):
        create_model(name, skeleton="nope")
    model = create_model(name, skeleton="mpii16")
    out = model(**model.example_input(2))["joints3d"]
    assert out.shape == (2, 16, 3)


@pytest.mark.parametrize("name", LIFTERS)
def test_float64(name):
    model = create_model(name).double()
    inputs = model.example_input(2)
    assert inputs["keypoints2d"].dtype == torch.float64
    assert model(**inputs)["joints3d"].dtype == torch.float64


# ---------------------------------------------------------------- Martinez


def test_martinez_paper_structure_and_parameter_count():
    J, W = 17, 1024
    model = create_model("martinez", "full")
    assert (model.config.width, model.config.num_blocks, model.config.dropout) == (W, 2, 0.5)
    assert _count(model, nn.Linear) == 2 + 2 * 2
    assert _count(model, nn.BatchNorm1d) == 1 + 2 * 2
    assert _count(model, nn.Dropout) == 1 + 2 * 2
    linear = (2 * J + 1) * W + 4 * (W + 1) * W + (W + 1) * 3 * (J - 1)
    assert count_parameters(model) == linear + 5 * 2 * W  # + BN weight and bias


@pytest.mark.parametrize("num_blocks", [0, 1, 2, 4])
def test_martinez_num_blocks(num_blocks):
    model = create_model("martinez", num_blocks=num_blocks)
    assert len(model.blocks) == num_blocks
    assert _count(model, nn.Linear) == 2 + 2 * num_blocks


def test_martinez_ablation_switches_change_the_structure():
    no_bn = create_model("martinez", batch_norm=False)
    assert _count(no_bn, nn.BatchNorm1d) == 0
    assert _count(create_model("martinez", batch_norm=True), nn.BatchNorm1d) == 5
    assert _count(create_model("martinez", dropout=0.0), nn.Dropout) == 0
    drop = create_model("martinez", dropout=0.3)
    assert [m.p for m in drop.modules() if isinstance(m, nn.Dropout)] == [0.3] * 5
    no_res = create_model("martinez", residual=False)
    assert all(not b.residual for b in no_res.blocks)
    assert all(b.residual for b in create_model("martinez").blocks)
    # the structure is otherwise identical: the same state dict loads into both
    create_model("martinez").load_state_dict(no_res.state_dict())


def test_residual_switch_adds_the_block_input():
    torch.manual_seed(0)
    block = ResidualBlock(lambda: nn.Linear(8, 8), 8, batch_norm=False, dropout=0.0, residual=True)
    x = torch.randn(5, 8)
    with_res = block(x)
    block.residual = False
    torch.testing.assert_close(with_res, x + block(x))


@pytest.mark.parametrize("name", LIFTERS)
def test_max_norm_clamps_row_norms(name):
    model = create_model(name, max_norm=True)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(50.0)
        small = next(m for m in model.modules() if isinstance(m, nn.Linear | LocallyConnected))
        small.weight.mul_(1e-4)  # rows already inside the ball: left unchanged
    small_before = small.weight.clone()
    bn_before = [m.weight.clone() for m in _bns(model)]
    model.apply_max_norm()
    torch.testing.assert_close(small.weight, small_before)
    assert bn_before and all(torch.equal(a, m.weight) for a, m in zip(bn_before, _bns(model)))
    for m in model.modules():
        if isinstance(m, nn.Linear):
            rows = torch.linalg.vector_norm(m.weight, dim=1)
        elif isinstance(m, LocallyConnected):  # a column of the dense (J Ci, J Co) matrix
            J, Ci, Co = m.num_joints, m.in_channels, m.out_channels
            dense = m.dense_weight().permute(0, 2, 1, 3).reshape(J * Ci, J * Co)
            rows = torch.linalg.vector_norm(dense, dim=0)
        else:
            continue
        assert rows.max() <= 1 + 1e-5
        assert rows.max() >= 1 - 1e-5 or m is small  # the big ones were scaled to exactly 1


def _bns(model: nn.Module) -> list[nn.BatchNorm1d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]


@pytest.mark.parametrize("name", LIFTERS)
def test_max_norm_off_is_a_no_op(name):
    model = create_model(name, max_norm=False)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(50.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.apply_max_norm()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


# ---------------------------------------------------------------- LCN


def test_lcn_adjacency_from_parents_and_flip_pairs():
    one = lcn_adjacency(H36M17, hops=1)
    expected = torch.eye(17, dtype=torch.bool)
    for j, p in enumerate(H36M17.parents):
        if p >= 0:
            expected[j, p] = expected[p, j] = True
    assert torch.equal(one, expected)
    dist = torch.tensor(_graph_distances(H36M17))
    for k in (1, 2, 3):
        assert torch.equal(lcn_adjacency("h36m17", hops=k), dist <= k)
    lw, rw = H36M17.index("l_wrist"), H36M17.index("r_wrist")
    assert not one[lw, rw]
    linked = lcn_adjacency(H36M17, hops=1, link_flip_pairs=True)
    assert linked[lw, rw] and linked[rw, lw]
    assert int(linked.sum() - one.sum()) == 2 * len(H36M17.flip_pairs)
    with pytest.raises(ValueError, match="hops"):
        lcn_adjacency(H36M17, hops=0)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_one_lc_layer_only_sees_k_hop_neighbours(hops):
    torch.manual_seed(0)
    Ci, Co = 3, 4
    mask = lcn_adjacency(H36M17, hops)
    layer = LocallyConnected(mask, Ci, Co).double()
    dist = torch.tensor(_graph_distances(H36M17))
    x = torch.randn(2, 17 * Ci, dtype=torch.float64)
    base = layer(x).reshape(2, 17, Co)
    for i in range(17):
        x2 = x.reshape(2, 17, Ci).clone()
        x2[:, i] += 1.0  # perturb input joint i
        changed = (layer(x2.reshape(2, 17 * Ci)).reshape(2, 17, Co) != base).any(-1).any(0)
        assert torch.equal(changed, dist[i] <= hops), i
    # the dense weight is zero outside the mask, and the parameters hold only the mask
    dense = layer.dense_weight()
    assert dense[~mask].abs().sum() == 0
    assert layer.weight.numel() == int(mask.sum()) * Ci * Co


@pytest.mark.parametrize(
    ("num_blocks", "hops", "link"), [(0, 1, False), (1, 1, False), (0, 2, False), (0, 1, True)]
)
def test_lcn_receptive_field_grows_with_depth(num_blocks, hops, link):
    torch.manual_seed(0)
    model = create_model(
        "lcn", num_blocks=num_blocks, hops=hops, link_flip_pairs=link, channels=8
    ).double()
    model.eval()  # BatchNorm with running statistics: per feature, no mixing
    reach = model.receptive_field_hops
    assert reach == (2 + 2 * num_blocks) * hops
    dist = torch.tensor(_graph_distances(H36M17, link))
    kp = torch.randn(4, 17, 2, dtype=torch.float64)
    base = model(kp)["joints3d"]
    for i in range(17):
        kp2 = kp.clone()
        kp2[:, i] += 0.5
        changed = (model(kp2)["joints3d"] != base).any(-1).any(0)  # (J,)
        expected = dist[i] <= reach
        expected[0] = False  # the root output is fixed at 0
        assert torch.equal(changed, expected), (i, changed, expected)
    assert (dist > reach).any()  # the test would see a leak: some joints lie out of reach


def test_lcn_parameter_count_is_the_masked_count():
    model = create_model("lcn", num_blocks=1, channels=8, hops=2, batch_norm=False)
    E = int(lcn_adjacency(H36M17, 2).sum())
    J, C = 17, 8
    expected = (E * 2 * C + J * C) + 2 * (E * C * C + J * C) + (E * C * 3 + J * 3)
    assert count_parameters(model) == expected
    assert isinstance(model, LCN) and model.num_lc_layers == 4


def test_lc_layer_rejects_wrong_feature_size():
    layer = LocallyConnected(lcn_adjacency(H36M17), 2, 4)
    with pytest.raises(ValueError, match=re.escape("x: expected (B, 34), got (3, 17, 2)")):
        layer(torch.zeros(3, 17, 2))


# ---------------------------------------------------------------- DAE


def test_dae_visibility_channel():
    with_vis = create_model("smplr_dae", use_visibility=True)
    without = create_model("smplr_dae", use_visibility=False)
    assert with_vis.encoder[0][0].in_features == 17 * 3
    assert without.encoder[0][0].in_features == 17 * 2
    model = with_vis.eval()
    kp = model.example_input(2)["keypoints2d"]
    kp[:, 5] = 0.0  # at the mean, so only the visibility flag differs
    vis = torch.ones(2, 17)
    hidden = vis.clone()
    hidden[:, 5] = 0
    assert not torch.allclose(model(kp, vis)["joints3d"], model(kp, hidden)["joints3d"])


def test_dae_structure_and_noise_config():
    model = create_model(
        "smplr_dae", encoder_widths=[64, 32], latent=16, decoder_widths=[32], batch_norm=False
    )
    widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    assert widths == [64, 32, 16, 32, 3 * 16]
    assert model.config.encoder_widths == (64, 32)
    assert model.encode(**model.example_input(3)).shape == (3, 16)
    config = DAEConfig(noise={"swap_prob": 0.5})
    assert config.noise == NoiseConfig(swap_prob=0.5)
    assert create_model("smplr_dae", "full").config.noise.drop_prob > 0
    with pytest.raises(ValueError, match="latent"):
        DAEConfig(latent=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", LIFTERS)
def test_cuda_matches_cpu(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    inputs = model.example_input(3)
    expected = model(**inputs)["joints3d"]
    model.cuda()
    out = model(**model.example_input(3))["joints3d"]
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), expected, atol=1e-4, rtol=1e-4)
    model.apply_max_norm()  # runs on the device
    # the noise model draws on the generator's device: the same seed gives the same noise
    cfg = NoiseConfig(jitter_sigma=0.05, swap_prob=0.3, drop_prob=0.2, outlier_prob=0.1)
    kp = inputs["keypoints2d"]
    cpu = structured_noise(kp, None, "h36m17", cfg, torch.Generator().manual_seed(0))
    gpu = structured_noise(kp.cuda(), None, "h36m17", cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu[0].cpu(), cpu[0])
    torch.testing.assert_close(gpu[1].cpu(), cpu[1])
