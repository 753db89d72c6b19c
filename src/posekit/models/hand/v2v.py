"""V2V-PoseNet (Moon et al. 2018, "V2V-PoseNet: Voxel-to-Voxel Prediction Network for Accurate
3D Hand and Human Pose Estimation from a Single Depth Map"): a 3D CNN from an occupancy grid to
per-voxel keypoint likelihoods.

Shapes:
    B batch, J joints, G ``grid_size`` (input voxels per axis), S = G / 2 (output voxels per
    axis), w0..w3 ``widths``.

The network, at the resolution of each stage (the paper's Fig. 4 with its widths
16, 32, 64, 128)::

    voxels (B, 1, G, G, G)
    front:   basic(1 → w0, 7³) → pool → res(w0 → w1) → res(w1 → w1) → res(w1 → w1)   # G/2
    encoder: pool → res(w1 → w2) → pool → res(w2 → w3)                              # G/4, G/8
    middle:  res(w3 → w3)
    decoder: res(w3 → w3) → up(w3 → w2) + skip res(w2 → w2) of the G/4 encoder features
             → res(w2 → w2) → up(w2 → w1) + skip res(w1 → w1) of the G/2 front features
    back:    res(w1 → w1) → basic(w1 → w1, 1³) → basic(w1 → w1, 1³)
    output:  conv 1³ (w1 → J) → volumes (B, J, S, S, S)

basic = conv3d → BN → ReLU; res = two 3³ conv3d → BN (ReLU between) plus an identity (1³
conv → BN projection when the channels change), then ReLU; pool = 3D max pool 2; up = 3D
transposed conv (kernel 2, stride 2) → BN → ReLU. Convolutions followed by BN have no bias (BN
cancels it). Three poolings and two upsamplings: G must be a multiple of 8 and S = G / 2.

Volumes are raw per-voxel likelihoods (no activation), in the grid's axis order (z, y, x) of
`posekit.codecs.voxel.VoxelCodec`: train with an MSE against ``VoxelCodec.encode`` Gaussians
(``output_size = grid_size // 2``), decode with ``VoxelCodec.decode``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.models.registry import register_model

__all__ = [
    "BasicBlock3d",
    "Downsample3d",
    "EncoderDecoder3d",
    "ResBlock3d",
    "Upsample3d",
    "V2VConfig",
    "V2VPoseNet",
]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"v2v: {name}: expected an int >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class V2VConfig:
    """Configuration of `V2VPoseNet`; the defaults are the paper's network (``full``).

    Attributes:
        num_joints: J, keypoints per hand (21 for `posekit.skeletons.hand21`).
        grid_size: G, voxels per axis of the input occupancy grid, a multiple of 8 (88 in the
            paper); the output volumes have G / 2 voxels per axis.
        widths: (w0, w1, w2, w3), channels of the 7³ stem, of the G/2 front and back, and of
            the G/4 and G/8 encoder levels (16, 32, 64, 128 in the paper).
        head_width: channels of the two 1³ layers before the output (None: w1, the paper).
            The output is a 1³ convolution of them, so at most ``head_width + 1`` joint
            volumes are independent: keep it above J.
    """

    num_joints: int = 21
    grid_size: int = 88
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    head_width: int | None = None

    def __post_init__(self) -> None:
        _positive_int("num_joints", self.num_joints)
        _positive_int("grid_size", self.grid_size)
        if self.grid_size % 8:
            raise ValueError(
                f"v2v: grid_size: expected a multiple of 8 (three 2x poolings), got "
                f"{self.grid_size}"
            )
        widths = tuple(self.widths)
        if len(widths) != 4:
            raise ValueError(f"v2v: widths: expected 4 ints (w0, w1, w2, w3), got {widths!r}")
        for w in widths:
            _positive_int("widths", w)
        object.__setattr__(self, "widths", widths)
        if self.head_width is not None:
            _positive_int("head_width", self.head_width)


class BasicBlock3d(nn.Sequential):
    """Volumetric basic block: conv3d (k³, same padding) → BN → ReLU.

    Shapes:
        x: (B, C_in, D, H, W) → (B, C_out, D, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv3d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class ResBlock3d(nn.Module):
    """Volumetric residual block: two 3³ conv → BN (ReLU between) plus a shortcut, then ReLU.

    The shortcut is the identity, or a 1³ conv → BN projection when the channels change.

    Shapes:
        x: (B, C_in, D, H, W) → (B, C_out, D, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm3d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.branch(x) + self.shortcut(x))


class Downsample3d(nn.MaxPool3d):
    """Volumetric downsampling: 3D max pool, kernel and stride 2.

    Shapes:
        x: (B, C, D, H, W) → (B, C, D / 2, H / 2, W / 2).
    """

    def __init__(self) -> None:
        super().__init__(kernel_size=2, stride=2)


class Upsample3d(nn.Sequential):
    """Volumetric upsampling: 3D transposed conv (kernel and stride 2) → BN → ReLU.

    Shapes:
        x: (B, C_in, D, H, W) → (B, C_out, 2 D, 2 H, 2 W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose3d(in_channels, out_channels, 2, stride=2, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class EncoderDecoder3d(nn.Module):
    """V2V's two-level encoder–decoder with additive skip connections (see the module
    docstring).

    Shapes:
        x: (B, w1, D, H, W) → (B, w1, D, H, W), D, H and W multiples of 4.
    """

    def __init__(self, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        _, w1, w2, w3 = widths
        self.encoder1 = nn.Sequential(Downsample3d(), ResBlock3d(w1, w2))
        self.encoder2 = nn.Sequential(Downsample3d(), ResBlock3d(w2, w3))
        self.middle = ResBlock3d(w3, w3)
        self.decoder2 = nn.Sequential(ResBlock3d(w3, w3), Upsample3d(w3, w2))
        self.decoder1 = nn.Sequential(ResBlock3d(w2, w2), Upsample3d(w2, w1))
        self.skip1 = ResBlock3d(w1, w1)
        self.skip2 = ResBlock3d(w2, w2)

    def forward(self, x: Tensor) -> Tensor:
        skip1 = self.skip1(x)  # (B, w1, D, H, W)
        x = self.encoder1(x)  # (B, w2, D/2, H/2, W/2)
        skip2 = self.skip2(x)
        x = self.middle(self.encoder2(x))  # (B, w3, D/4, H/4, W/4)
        x = self.decoder2(x) + skip2  # (B, w2, D/2, H/2, W/2)
        return self.decoder1(x) + skip1  # (B, w1, D, H, W)


@register_model(
    "v2v",
    V2VConfig,
    presets={
        # tiny: a 32³ grid (16³ volumes) at half the paper's widths, with a 32-channel head
        # so that 21 joint volumes are independent (a 16-channel head gives at most 17).
        "tiny": {"grid_size": 32, "widths": (8, 16, 32, 64), "head_width": 32},
        # full: the paper's network on an 88³ grid (44³ volumes): 3,408,581 parameters,
        # 72.8 GFLOPs per sample.
        "full": {},
    },
)
class V2VPoseNet(nn.Module):
    """V2V-PoseNet: occupancy grid → 3D CNN → per-voxel keypoint likelihoods (Moon 2018).

    Shapes:
        voxels: (B, 1, G, G, G) float occupancy (1 occupied, 0 empty), axes (z, y, x).
        returns: ``{"volumes": (B, J, S, S, S)}``, S = G / 2, raw per-voxel likelihoods in the
        same (z, y, x) axis order (`posekit.codecs.voxel.VoxelCodec` with
        ``output_size = S``).
    """

    def __init__(self, config: V2VConfig) -> None:
        super().__init__()
        self.config = config
        w0, w1, _, _ = config.widths
        self.front = nn.Sequential(
            BasicBlock3d(1, w0, 7),
            Downsample3d(),
            ResBlock3d(w0, w1),
            ResBlock3d(w1, w1),
            ResBlock3d(w1, w1),
        )
        self.encoder_decoder = EncoderDecoder3d(config.widths)
        head = config.head_width or w1
        self.back = nn.Sequential(
            ResBlock3d(w1, w1),
            BasicBlock3d(w1, head, 1),
            BasicBlock3d(head, head, 1),
        )
        self.output_layer = nn.Conv3d(head, config.num_joints, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's initialization: every (transposed) convolution N(0, 0.001²), biases 0;
        BN weight 1, bias 0.

        Kept because it trains: the outputs start near 0, the background of the Gaussian
        targets. Fitting fixed `VoxelCodec` targets on the tiny preset (Adam, lr 3e-3), the
        loss after 120 steps is ~0.2x that of a zero prediction with it, against ~0.9x with
        PyTorch's default initialization (which starts at ~30x, from its output offset).
        """
        for module in self.modules():
            if isinstance(module, nn.Conv3d | nn.ConvTranspose3d):
                nn.init.normal_(module.weight, std=0.001)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def output_size(self) -> int:
        """S, voxels per axis of the output volumes (``grid_size // 2``)."""
        return self.config.grid_size // 2

    def example_input(self, batch_size: int = 2) -> dict[str, Tensor]:
        """A deterministic dummy input: ``{"voxels": (B, 1, G, G, G)}``, a random ball of
        occupied voxels per sample (its surface shell, like a depth map's points), on the
        model's device and in the dtype of its parameters."""
        ref = next(self.parameters())
        G = self.config.grid_size
        gen = torch.Generator().manual_seed(0)
        axis = torch.arange(G, dtype=torch.float32) + 0.5
        z, y, x = torch.meshgrid(axis, axis, axis, indexing="ij")  # (G, G, G) each
        centres = G * (0.3 + 0.4 * torch.rand(batch_size, 3, generator=gen))  # (B, 3) (x, y, z)
        radii = G * (0.15 + 0.15 * torch.rand(batch_size, generator=gen))  # (B,)
        dist = (
            (x - centres[:, 0, None, None, None]).square()
            + (y - centres[:, 1, None, None, None]).square()
            + (z - centres[:, 2, None, None, None]).square()
        ).sqrt()  # (B, G, G, G)
        shell = (dist - radii[:, None, None, None]).abs() < 1.0
        voxels = shell.to(torch.float32)[:, None]  # (B, 1, G, G, G)
        return {"voxels": voxels.to(device=ref.device, dtype=ref.dtype)}

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        S = self.output_size
        return {"volumes": (batch_size, self.config.num_joints, S, S, S)}

    def forward(self, voxels: Tensor) -> dict[str, Tensor]:
        """Per-voxel keypoint likelihoods from an occupancy grid.

        Shapes:
            voxels: (B, 1, G, G, G) → ``{"volumes": (B, J, G/2, G/2, G/2)}``.
        """
        G = self.config.grid_size
        check_shape(voxels, "voxels", f"B 1 {G} {G} {G}")
        if not voxels.is_floating_point():
            raise ValueError(f"voxels: expected a float tensor, got {voxels.dtype}")
        x = self.front(voxels)  # (B, w1, S, S, S)
        x = self.back(self.encoder_decoder(x))  # (B, w1, S, S, S)
        return {"volumes": self.output_layer(x)}  # (B, J, S, S, S)
