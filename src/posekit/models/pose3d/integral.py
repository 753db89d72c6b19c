"""Integral regression (Sun et al. 2018; Sárándi et al. 2018) and direct 3D regression, on one
ResNet trunk.

Shapes:
    B batch, J joints, D depth bins, H/W input size, h/w the volume size = (H, W) / t * 2^U for
    the trunk stride t and U upsampling layers.

``integral``: ResNet → U transposed convolutions (4x4, stride 2, BN, ReLU; Xiao et al.'s
simple-baseline head) → 1x1 conv to ``J * D`` channels, read as J volumes (D, h, w) of logits.
The ``pose3d`` task reads them out by soft-argmax (`posekit.codecs.Volumetric3D`,
``decode_method="soft_argmax"``), differentiable, and trains on the coordinates.

``direct``: ResNet → global average pool → linear → ReLU → linear → (B, J, 3): the crop's x and
y over its width and height minus 0.5, and the root-relative depth over the depth range
(the naive route: coordinates straight from pooled features).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.backbones.resnet import ResNet
from posekit.models.pose2d._common import ImageModel, check_image_config, positive_int
from posekit.models.registry import register_model

__all__ = ["DirectConfig", "DirectPose3D", "IntegralConfig", "IntegralPose"]


def _check_trunk(config: object, name: str) -> None:
    widths, depths = tuple(config.widths), tuple(config.depths)  # type: ignore[attr-defined]
    if not widths or len(widths) != len(depths):
        raise ValueError(f"{name}: widths and depths: expected equal non-empty lengths")
    for w in widths:
        positive_int(name, "widths", w)
    for d in depths:
        positive_int(name, "depths", d)
    object.__setattr__(config, "widths", widths)
    object.__setattr__(config, "depths", depths)
    check_image_config(config, name, divisor=4 * 2 ** (len(widths) - 1))


@dataclass(frozen=True)
class IntegralConfig:
    """Configuration of `IntegralPose`; the defaults are the ``full`` preset.

    Attributes:
        skeleton: joint layout; sets J.
        input_size: (H, W), multiples of the trunk stride ``4 * 2 ** (len(widths) - 1)``.
        widths, depths: ResNet stages (channels, basic blocks).
        upsample: U, transposed-convolution layers of the head.
        head_width: channels of the head's layers.
        depth_bins: D.
    """

    skeleton: str = "h36m17"
    input_size: tuple[int, int] = (256, 256)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    upsample: int = 3
    head_width: int = 256
    depth_bins: int = 64

    def __post_init__(self) -> None:
        name = "integral"
        _check_trunk(self, name)
        positive_int(name, "upsample", self.upsample, minimum=0)
        positive_int(name, "head_width", self.head_width)
        positive_int(name, "depth_bins", self.depth_bins)


@register_model(
    "integral",
    IntegralConfig,
    presets={
        # tiny: a 4-stage ResNet at 128x128 (stride 32), 3 upsamplings to 32x32, 32 bins:
        # 1,659,200 parameters, 0.29 GFLOPs per sample (h36m17).
        "tiny": {
            "input_size": (128, 128),
            "widths": (32, 64, 128, 256),
            "depths": (1, 1, 1, 1),
            "head_width": 64,
            "depth_bins": 32,
        },
        # full: ResNet-18 trunk at 256x256, 3 upsamplings of 256 channels to 64x64, 64 bins:
        # 15.7 M parameters, 9.97 GFLOPs per sample (h36m17).
        "full": {},
    },
)
class IntegralPose(ImageModel):
    """Integral regression: ResNet + deconvolution head to per-joint volumes of logits.

    See the module docstring.

    Shapes:
        image: (B, 3, H, W) → ``{"volumes": (B, J, D, h, w)}``.
    """

    def __init__(self, config: IntegralConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        self.trunk = ResNet(config.widths, config.depths)
        layers: list[nn.Module] = []
        c = config.widths[-1]
        for _ in range(config.upsample):
            layers += [
                nn.ConvTranspose2d(c, config.head_width, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(config.head_width),
                nn.ReLU(inplace=True),
            ]
            c = config.head_width
        layers.append(nn.Conv2d(c, self.num_joints * config.depth_bins, 1))
        self.head = nn.Sequential(*layers)
        H, W = config.input_size
        up, t = 2**config.upsample, self.trunk.stride
        self.heatmap_size = (H * up // t, W * up // t)

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        h, w = self.heatmap_size
        return {"volumes": (batch_size, self.num_joints, self.config.depth_bins, h, w)}

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Volumes of logits. Shapes: image (B, 3, H, W) → see `IntegralPose`."""
        B = self.check_image(image)
        h, w = self.heatmap_size
        out = self.head(self.trunk(image))  # (B, J D, h, w)
        return {"volumes": out.view(B, self.num_joints, self.config.depth_bins, h, w)}


@dataclass(frozen=True)
class DirectConfig:
    """Configuration of `DirectPose3D`; the defaults are the ``full`` preset.

    Attributes:
        skeleton: joint layout; sets J.
        input_size: (H, W), multiples of the trunk stride.
        widths, depths: ResNet stages.
        hidden: features of the MLP's hidden layer.
    """

    skeleton: str = "h36m17"
    input_size: tuple[int, int] = (256, 256)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    hidden: int = 1024

    def __post_init__(self) -> None:
        _check_trunk(self, "direct")
        positive_int("direct", "hidden", self.hidden)


@register_model(
    "direct",
    DirectConfig,
    presets={
        # tiny: the integral tiny trunk at 128x128, 512 hidden features:
        # 1,387,987 parameters, 0.17 GFLOPs per sample (h36m17).
        "tiny": {
            "input_size": (128, 128),
            "widths": (32, 64, 128, 256),
            "depths": (1, 1, 1, 1),
            "hidden": 512,
        },
        # full: ResNet-18 trunk at 256x256, 1024 hidden: 11.8 M parameters, 4.74 GFLOPs.
        "full": {},
    },
)
class DirectPose3D(ImageModel):
    """Direct 3D regression: pooled ResNet features → MLP → (x, y, depth) per joint.

    See the module docstring.

    Shapes:
        image: (B, 3, H, W) → ``{"coords": (B, J, 3)}``.
    """

    def __init__(self, config: DirectConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        self.trunk = ResNet(config.widths, config.depths)
        self.mlp = nn.Sequential(
            nn.Linear(config.widths[-1], config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, self.num_joints * 3),
        )

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        return {"coords": (batch_size, self.num_joints, 3)}

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Normalised coordinates. Shapes: image (B, 3, H, W) → see `DirectPose3D`."""
        B = self.check_image(image)
        f = self.trunk(image).mean(dim=(2, 3))  # (B, C)
        return {"coords": self.mlp(f).view(B, self.num_joints, 3)}
