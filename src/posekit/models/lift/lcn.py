"""Locally Connected Network (Ci et al. 2019, "Optimizing Network Structure for 3D Human Pose
Estimation").

A lifting network whose layers keep one feature vector per joint and connect output joint j
only to the input joints in j's k-hop neighbourhood of the skeleton graph, with a separate
(unshared) weight matrix per (input joint, output joint) pair::

    out_j = b_j + sum_{i in N_k(j)} x_i W_ij          W_ij: (C_in, C_out), N_k(j) includes j

Unlike a graph convolution the weights are not shared between joints; unlike a dense layer
joint j cannot see joints farther than k hops. Stacking L such layers gives each output joint a
receptive field of L * k hops. The network has Martinez et al.'s layout (input layer, residual
blocks of two layers with BN / ReLU / dropout, output layer), each linear layer replaced by a
locally connected one; BatchNorm runs over the J * C features, so it mixes no joints either.

Grouping correlated joints: the paper's structure is a choice of graph, and joints that are
correlated without sharing a bone can be linked directly. ``link_flip_pairs=True`` implements
this option as one extra edge per left/right pair of the skeleton (both wrists, both knees,
...), so symmetric joints see each other within one hop.

Implementation: a layer stores only the allowed weights, ``weight`` (E, C_in, C_out) for the E
(input, output) joint pairs of the mask, so parameter counts are honest; ``dense_weight()``
scatters them into the masked (J, J, C_in, C_out) tensor and ``forward`` runs one dense
(B, J C_in) @ (J C_in, J C_out) product (FLOP counts include the masked zeros it multiplies).
The root output is computed and discarded: the model returns root-relative joints with the
root at 0 (see `posekit.models.lift._common`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.models.lift._common import (
    LiftingModel,
    ResidualBlock,
    check_lift_config,
    dense_layer,
    prepend_root,
)
from posekit.models.registry import register_model
from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["LCN", "LCNConfig", "LocallyConnected", "lcn_adjacency"]


def lcn_adjacency(skeleton: str | Skeleton, hops: int = 1, link_flip_pairs: bool = False) -> Tensor:
    """The k-hop neighbourhood mask of a skeleton graph, self included.

    The graph has an edge per bone of ``skeleton.parents`` (undirected) and, with
    ``link_flip_pairs``, one per left/right flip pair.

    Returns:
        ``mask`` (J, J) bool, ``mask[i, j]`` True when joints i and j are at most ``hops``
        edges apart (symmetric; the diagonal is True).
    """
    skeleton = get_skeleton(skeleton)
    if hops < 1:
        raise ValueError(f"hops: expected >= 1, got {hops}")
    J = skeleton.num_joints
    edges = list(skeleton.bones) + (list(skeleton.flip_pairs) if link_flip_pairs else [])
    step = torch.eye(J, dtype=torch.int64)
    for a, b in edges:
        step[a, b] = step[b, a] = 1
    reach = step.clone()
    for _ in range(hops - 1):
        reach = (reach @ step).clamp(max=1)  # paths of one more edge
    return reach.bool()


class LocallyConnected(nn.Module):
    """A locally connected layer: per-(input joint, output joint) weights, masked by a graph.

    Features are passed flat, joint-major, so the layer drops into ``nn.Sequential`` with
    ``BatchNorm1d(J * C_out)``.

    Shapes:
        mask: (J, J) bool, ``mask[i, j]``: input joint i feeds output joint j.
        x: (B, J * C_in) → (B, J * C_out).
        weight: (E, C_in, C_out), E = ``mask.sum()``; bias: (J, C_out).
    """

    src: Tensor
    dst: Tensor
    mask: Tensor

    def __init__(self, mask: Tensor, in_channels: int, out_channels: int) -> None:
        super().__init__()
        check_shape(mask, "mask", "J J")
        self.num_joints = int(mask.shape[0])
        self.in_channels = in_channels
        self.out_channels = out_channels
        src, dst = mask.bool().nonzero(as_tuple=True)  # (E,), (E,)
        # Derived from the config: not saved in checkpoints.
        self.register_buffer("mask", mask.bool().clone(), persistent=False)
        self.register_buffer("src", src, persistent=False)
        self.register_buffer("dst", dst, persistent=False)
        self.weight = nn.Parameter(torch.empty(len(src), in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(self.num_joints, out_channels))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """``nn.Linear``'s default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), per output joint.

        An output joint's fan-in is its number of neighbours times C_in.
        """
        fan_in = self.mask.sum(0).to(torch.float32) * self.in_channels  # (J,)
        bound = fan_in.rsqrt()  # (J,)
        self.weight.uniform_(-1.0, 1.0).mul_(bound[self.dst][:, None, None])
        self.bias.uniform_(-1.0, 1.0).mul_(bound[:, None])

    def dense_weight(self) -> Tensor:
        """The full masked weight tensor, zero outside the mask.

        Shapes:
            return: (J, J, C_in, C_out), ``[i, j]`` maps input joint i to output joint j.
        """
        J, Ci, Co = self.num_joints, self.in_channels, self.out_channels
        dense = self.weight.new_zeros(J, J, Ci, Co)
        dense[self.src, self.dst] = self.weight  # (E, Ci, Co) into the masked entries
        return dense

    def forward(self, x: Tensor) -> Tensor:
        J, Ci, Co = self.num_joints, self.in_channels, self.out_channels
        check_shape(x, "x", f"B {J * Ci}")
        w = self.dense_weight().permute(0, 2, 1, 3).reshape(J * Ci, J * Co)  # (J Ci, J Co)
        return torch.addmm(self.bias.reshape(J * Co), x, w)  # (B, J Co)

    @torch.no_grad()
    def clamp_weight_norms_(self, max_norm: float = 1.0) -> None:
        """Max-norm: scale each output unit's incoming weights (all its (i, c_in) entries) to
        L2 norm <= ``max_norm``, in place."""
        sq = self.weight.pow(2).sum(1)  # (E, Co)
        unit_sq = sq.new_zeros(self.num_joints, self.out_channels).index_add_(0, self.dst, sq)
        scale = max_norm / unit_sq.sqrt().clamp(min=max_norm)  # (J, Co), <= 1
        self.weight.mul_(scale[self.dst][:, None, :])  # (E, 1, Co) broadcast over C_in

    def extra_repr(self) -> str:
        return (
            f"joints={self.num_joints}, in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}, edges={len(self.src)}"
        )


@dataclass(frozen=True)
class LCNConfig:
    """Configuration of `LCN` (defaults: the ``full`` preset).

    Attributes:
        skeleton: joint layout (a registered skeleton name); the graph comes from its
            ``parents`` (and ``flip_pairs`` with ``link_flip_pairs``).
        input_coords: ``"pixel"`` or ``"camera"`` (normalized image plane), what the data
            pipeline feeds; recorded for the checkpoint (see `MartinezConfig`).
        channels: features per joint in every hidden layer (hidden width is J * channels).
        hops: neighbourhood size k: each layer connects joints at most k edges apart
            (1, 2, 3, ...). The whole network sees ``num_lc_layers * hops`` hops.
        link_flip_pairs: "grouping correlated joints": add an edge between every left/right
            pair to the graph.
        num_blocks: residual blocks of two locally connected layers each.
        batch_norm: BatchNorm1d over the J * channels features after every hidden layer.
        dropout: dropout probability after every hidden ReLU (0: no dropout modules).
        residual: residual connection around each block.
        max_norm: max-norm (<= 1) on every output unit's incoming weights, applied by
            ``apply_max_norm()`` after each optimizer step.
    """

    skeleton: str = "h36m17"
    input_coords: str = "pixel"
    channels: int = 64
    hops: int = 3
    link_flip_pairs: bool = False
    num_blocks: int = 3
    batch_norm: bool = True
    dropout: float = 0.25
    residual: bool = True
    max_norm: bool = True

    def __post_init__(self) -> None:
        check_lift_config("lcn", self.skeleton, self.input_coords, self.dropout)
        if self.channels < 1:
            raise ValueError(f"lcn: channels: expected >= 1, got {self.channels}")
        if self.hops < 1:
            raise ValueError(f"lcn: hops: expected >= 1, got {self.hops}")
        if self.num_blocks < 0:
            raise ValueError(f"lcn: num_blocks: expected >= 0, got {self.num_blocks}")


@register_model(
    "lcn",
    LCNConfig,
    presets={
        # tiny: for tests and smoke runs; no dropout so that a tiny batch can be overfit.
        "tiny": {"channels": 16, "hops": 1, "num_blocks": 2, "dropout": 0.0},
        "full": {"channels": 64, "hops": 3, "num_blocks": 3, "dropout": 0.25},
    },
)
class LCN(LiftingModel):
    """Locally Connected Network for 2D → 3D lifting (Ci et al. 2019).

    Shapes:
        keypoints2d: (B, J, 2); visibility: (B, J) or None.
        returns: ``{"joints3d": (B, J, 3)}`` root-relative metres, root = 0.
    """

    def __init__(self, config: LCNConfig) -> None:
        super().__init__(config.skeleton)
        self.config = config
        J, C = self.num_joints, config.channels
        mask = lcn_adjacency(self.skeleton, config.hops, config.link_flip_pairs)

        def hidden() -> LocallyConnected:
            return LocallyConnected(mask, C, C)

        bn, p = config.batch_norm, config.dropout
        self.input_layer = dense_layer(LocallyConnected(mask, 2, C), J * C, bn, p)
        self.blocks = nn.ModuleList(
            ResidualBlock(hidden, J * C, bn, p, config.residual) for _ in range(config.num_blocks)
        )
        self.output_layer = LocallyConnected(mask, C, 3)

    @property
    def num_lc_layers(self) -> int:
        """Locally connected layers on the path from input to output (input, 2 per block,
        output); the receptive field is ``num_lc_layers * hops`` hops."""
        return 2 + 2 * self.config.num_blocks

    @property
    def receptive_field_hops(self) -> int:
        """Graph distance beyond which an input joint cannot influence an output joint."""
        return self.num_lc_layers * self.config.hops

    def forward(self, keypoints2d: Tensor, visibility: Tensor | None = None) -> dict[str, Tensor]:
        """Lift 2D joints to root-relative 3D joints.

        Shapes:
            keypoints2d: (B, J, 2); visibility: (B, J) or None (invisible joints → input mean).
            returns: ``{"joints3d": (B, J, 3)}`` metres, ``joints3d[:, 0] == 0``.
        """
        x, _ = self.prepare_input(keypoints2d, visibility)  # (B, J, 2)
        B, J, _ = x.shape
        h = self.input_layer(x.reshape(B, J * 2))  # (B, J C), joint-major
        for block in self.blocks:
            h = block(h)  # (B, J C)
        out = self.output_layer(h).reshape(B, J, 3)  # (B, J, 3)
        return {"joints3d": prepend_root(out[:, 1:])}  # root output dropped, 0 put in front
