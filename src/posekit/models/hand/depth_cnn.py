"""Depth-image baselines for 3D hand pose: a 2D CNN on the depth crop, regressing coordinates
(``depth_regression``, DeepPrior-style, Oberweger et al. 2015) or predicting per-joint 2D
heatmaps and per-pixel depth maps (``depth_heatmaps``, dense 2.5D heads as in Wan et al. 2018
or A2J): the 2D-input designs V2V-PoseNet (Moon et al. 2018) argues against.

Shapes:
    B batch, J joints, H/W ``input_size``, h/w = H/4, W/4 output map size, C trunk channels.

Both models share one trunk, posekit's `ResNet` on one input channel::

    depth (B, 1, H, W) → ResNet (stride t = 4 * 2 ** (len(widths) - 1)) → (B, C, H/t, W/t)

``depth_regression``: global average pool → linear → ReLU → linear → (B, J, 3).
``depth_heatmaps``: len(widths) - 1 upsampling layers (transposed conv 4x4 / 2 → BN → ReLU,
as in Xiao et al. 2018's simple baselines) back to stride 4 → 1x1 conv → 2 J maps of
(h, w): J heatmaps, then J depth maps.

Convention (both models):
    Input ``depth`` (B, 1, H, W) float, a depth crop around the hand normalised by the data
    pipeline to [-1, 1] inside the hand's cube (z relative to the cube centre over half the
    cube size), 1 = background / no measurement. Output coordinates are cube-normalised the
    same way: (x, y, z) relative to the cube centre over half the cube size, (-1, 1) inside the
    cube, linear outputs. Heatmaps are raw scores (no activation), edge-aligned with the input
    at a quarter of its resolution like the 2D pose models' (`posekit.codecs.Heatmap2D` with
    ``heatmap_size = (h, w)``); ``depth[:, j]`` of the output is, at every pixel, the estimated
    normalised z of joint j (read it at the heatmap peak, or average it under the softmaxed
    heatmap). The output key ``depth`` is also the input's name, so an ONNX export of
    ``depth_heatmaps`` fails (an ONNX graph needs distinct input and output names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.models.backbones.resnet import ResNet
from posekit.models.registry import register_model

__all__ = [
    "DepthHeatmaps",
    "DepthHeatmapsConfig",
    "DepthImageModel",
    "DepthRegression",
    "DepthRegressionConfig",
    "check_depth_config",
]


def _positive_int(model: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{model}: {name}: expected an int >= 1, got {value!r}")
    return value


def check_depth_config(config: Any, model: str) -> None:
    """Validate the fields both depth models have (stored back as tuples); ValueError otherwise.

    ``num_joints`` >= 1; ``widths`` and ``depths`` non-empty ints >= 1 of equal length;
    ``input_size`` (H, W) positive multiples of the trunk stride ``4 * 2 ** (len(widths) - 1)``
    (so that the heatmaps are exactly a quarter of the input).
    """
    _positive_int(model, "num_joints", config.num_joints)
    for field in ("widths", "depths"):
        value = tuple(getattr(config, field))
        if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
            raise ValueError(f"{model}: {field}: expected ints >= 1, got {value!r}")
        object.__setattr__(config, field, value)
    if len(config.widths) != len(config.depths):
        raise ValueError(
            f"{model}: widths and depths must have the same length, got {config.widths} and "
            f"{config.depths}"
        )
    stride = 4 * 2 ** (len(config.widths) - 1)
    size = tuple(config.input_size)
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) for s in size):
        raise ValueError(f"{model}: input_size: expected (H, W) ints, got {config.input_size!r}")
    if any(s < stride or s % stride for s in size):
        raise ValueError(
            f"{model}: input_size: expected H and W positive multiples of the trunk stride "
            f"{stride} (4 * 2 ** (len(widths) - 1)), got {size}"
        )
    object.__setattr__(config, "input_size", size)


@dataclass(frozen=True)
class DepthRegressionConfig:
    """Configuration of `DepthRegression`; the defaults are the ``full`` preset.

    Attributes:
        num_joints: J, keypoints per hand (21 for `posekit.skeletons.hand21`).
        input_size: (H, W) of the depth crop, multiples of the trunk stride.
        widths: channels of the ResNet stages (ResNet-18: 64, 128, 256, 512).
        depths: basic blocks per ResNet stage.
        hidden: features of the MLP's hidden layer.
    """

    num_joints: int = 21
    input_size: tuple[int, int] = (128, 128)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    hidden: int = 1024

    def __post_init__(self) -> None:
        check_depth_config(self, "depth_regression")
        _positive_int("depth_regression", "hidden", self.hidden)


@dataclass(frozen=True)
class DepthHeatmapsConfig:
    """Configuration of `DepthHeatmaps`; the defaults are the ``full`` preset.

    Attributes:
        num_joints: J, keypoints per hand (21 for `posekit.skeletons.hand21`).
        input_size: (H, W) of the depth crop, multiples of the trunk stride.
        widths: channels of the ResNet stages (ResNet-18: 64, 128, 256, 512).
        depths: basic blocks per ResNet stage.
        head_width: channels of the upsampling layers (256 in Xiao et al. 2018).
    """

    num_joints: int = 21
    input_size: tuple[int, int] = (128, 128)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    head_width: int = 256

    def __post_init__(self) -> None:
        check_depth_config(self, "depth_heatmaps")
        _positive_int("depth_heatmaps", "head_width", self.head_width)


class DepthImageModel(nn.Module):
    """Base of the depth-image models: the ResNet trunk on one channel, input checks and
    `example_input`.

    Shapes:
        features: depth (B, 1, H, W) → (B, widths[-1], H / t, W / t), t = ``self.trunk.stride``.
    """

    config: Any

    def __init__(
        self,
        num_joints: int,
        input_size: tuple[int, int],
        widths: Sequence[int],
        depths: Sequence[int],
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.trunk = ResNet(widths, depths, in_channels=1)

    def check_depth(self, depth: Tensor) -> int:
        """Check ``depth`` against (B, 1, H, W) of the config; return B."""
        H, W = self.input_size
        dims = check_shape(depth, "depth", f"B 1 {H} {W}")
        if not depth.is_floating_point():
            raise ValueError(f"depth: expected a float tensor, got {depth.dtype}")
        return dims["B"]

    def features(self, depth: Tensor) -> Tensor:
        """Trunk features of a checked depth batch (see the class docstring)."""
        self.check_depth(depth)
        return self.trunk(depth)

    def example_input(self, batch_size: int = 2) -> dict[str, Tensor]:
        """A deterministic dummy input: ``{"depth": (B, 1, H, W)}``, a random disc per sample
        with a smooth depth ramp in [-1, 1) over a background of 1, on the model's device and
        in the dtype of its parameters."""
        ref = next(self.parameters())
        H, W = self.input_size
        gen = torch.Generator().manual_seed(0)
        y = torch.linspace(-1.0, 1.0, H)[:, None]  # (H, 1)
        x = torch.linspace(-1.0, 1.0, W)[None, :]  # (1, W)
        centre = 0.6 * torch.rand(batch_size, 2, 1, 1, generator=gen) - 0.3  # (B, 2, 1, 1)
        radius = 0.3 + 0.3 * torch.rand(batch_size, 1, 1, generator=gen)  # (B, 1, 1)
        slope = torch.rand(batch_size, 2, 1, 1, generator=gen) - 0.5  # (B, 2, 1, 1)
        dx, dy = x - centre[:, 0], y - centre[:, 1]  # (B, H, W) each
        inside = dx.square() + dy.square() < radius.square()
        ramp = (slope[:, 0] * dx + slope[:, 1] * dy).clamp(-0.99, 0.99)
        depth = torch.where(inside, ramp, torch.ones(()))[:, None]  # (B, 1, H, W)
        return {"depth": depth.to(device=ref.device, dtype=ref.dtype)}


@register_model(
    "depth_regression",
    DepthRegressionConfig,
    presets={
        # tiny: a 3-stage ResNet at 64x64, for tests and CPU smoke runs:
        # 94,191 parameters, 0.008 GFLOPs per sample.
        "tiny": {
            "input_size": (64, 64),
            "widths": (16, 32, 64),
            "depths": (1, 1, 1),
            "hidden": 128,
        },
        # full: ResNet-18 trunk at 128x128, 1024 hidden features: 11.76 M parameters,
        # 1.13 GFLOPs per sample.
        "full": {},
    },
)
class DepthRegression(DepthImageModel):
    """Depth crop → 2D CNN → pooled features → MLP → cube-normalised 3D joints.

    Shapes:
        depth: (B, 1, H, W) normalised depth crop (see the module docstring).
        returns: ``{"keypoints": (B, J, 3)}``, cube-normalised (x, y, z), linear outputs.
    """

    def __init__(self, config: DepthRegressionConfig) -> None:
        super().__init__(config.num_joints, config.input_size, config.widths, config.depths)
        self.config = config
        self.head = nn.Sequential(
            nn.Linear(self.trunk.out_channels, config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, 3 * config.num_joints),
        )

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        return {"keypoints": (batch_size, self.num_joints, 3)}

    def forward(self, depth: Tensor) -> dict[str, Tensor]:
        """Regress the joints of a depth crop.

        Shapes:
            depth: (B, 1, H, W) → ``{"keypoints": (B, J, 3)}``.
        """
        pooled = self.features(depth).mean(dim=(-2, -1))  # (B, C)
        keypoints = self.head(pooled).reshape(-1, self.num_joints, 3)  # (B, J, 3)
        return {"keypoints": keypoints}


@register_model(
    "depth_heatmaps",
    DepthHeatmapsConfig,
    presets={
        # tiny: a 3-stage ResNet at 64x64 (16x16 maps), for tests and CPU smoke runs:
        # 128,410 parameters, 0.011 GFLOPs per sample.
        "tiny": {
            "input_size": (64, 64),
            "widths": (16, 32, 64),
            "depths": (1, 1, 1),
            "head_width": 32,
        },
        # full: ResNet-18 trunk at 128x128 and three 256-channel upsampling layers (32x32
        # maps): 15.38 M parameters, 1.89 GFLOPs per sample.
        "full": {},
    },
)
class DepthHeatmaps(DepthImageModel):
    """Depth crop → 2D CNN → upsampling head → per-joint 2D heatmaps and depth maps.

    Shapes:
        depth: (B, 1, H, W) normalised depth crop (see the module docstring).
        returns: ``{"heatmaps": (B, J, h, w), "depth_maps": (B, J, h, w)}``, (h, w) = (H/4,
        W/4):
        raw heatmap scores and, per pixel, the joint's normalised z.
    """

    def __init__(self, config: DepthHeatmapsConfig) -> None:
        super().__init__(config.num_joints, config.input_size, config.widths, config.depths)
        self.config = config
        layers: list[nn.Module] = []
        channels = self.trunk.out_channels
        for _ in range(len(config.widths) - 1):  # stride 4 * 2 ** (n - 1) → 4
            layers += [
                nn.ConvTranspose2d(channels, config.head_width, 4, 2, 1, bias=False),
                nn.BatchNorm2d(config.head_width),
                nn.ReLU(inplace=True),
            ]
            channels = config.head_width
        self.upsample = nn.Sequential(*layers)
        self.output_layer = nn.Conv2d(channels, 2 * config.num_joints, 1)
        # PyTorch's default initialization, except the output layer: N(0, 0.001²), bias 0 (as
        # in Xiao et al. 2018), so the maps start near 0, the background of Gaussian heatmap
        # targets. Fitting fixed targets on the tiny preset (Adam, lr 2e-3), the heatmap loss
        # falls to ~0.12x that of a zero prediction in 60 steps, against ~0.5x with the default
        # output layer, whose initial offset costs ~8x.
        nn.init.normal_(self.output_layer.weight, std=0.001)
        nn.init.zeros_(self.output_layer.bias)

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(h, w) = (H / 4, W / 4), size of the output maps."""
        return self.input_size[0] // 4, self.input_size[1] // 4

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        shape = (batch_size, self.num_joints, *self.heatmap_size)
        return {"heatmaps": shape, "depth_maps": shape}

    def forward(self, depth: Tensor) -> dict[str, Tensor]:
        """Per-joint heatmaps and depth maps of a depth crop.

        Shapes:
            depth: (B, 1, H, W) → ``{"heatmaps": (B, J, H/4, W/4),
            "depth_maps": (B, J, H/4, W/4)}``.
        """
        maps = self.output_layer(self.upsample(self.features(depth)))  # (B, 2 J, h, w)
        heatmaps, depth_maps = maps.split(self.num_joints, dim=1)  # (B, J, h, w) each
        return {"heatmaps": heatmaps, "depth_maps": depth_maps}
