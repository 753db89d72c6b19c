"""Coarse-to-fine volumetric prediction (Pavlakos et al. 2017): a stacked hourglass whose
stacks predict per-joint volumes over (root-relative depth, crop y, crop x), each stack at its
own depth resolution.

Shapes:
    B batch, S stacks, J joints, D_s depth bins of stack s, H/W input size, h/w = H/4, W/4.

Stack ``s`` outputs ``J * D_s`` channels, read as J volumes (D_s, h, w); its output goes back
into the next stack through a 1x1 convolution (the re-injection of Newell et al. 2016, here of
``J * D_s`` channels). Every stack is returned for supervision with targets at its own depth
resolution (coarse-to-fine: e.g. 1, 2, 4, 64 bins over 4 stacks, a 1-bin volume being a 2D
heatmap); equal ``depth_bins`` on every stack is the ablation without coarse-to-fine. The last
stack is the prediction, read out by `posekit.codecs.Volumetric3D` (argmax with sub-voxel
refinement in the ``pose3d`` task).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.backbones.hourglass import Hourglass, HourglassStem, _blocks, _conv_bn_relu
from posekit.models.pose2d._common import ImageModel, check_image_config, positive_int
from posekit.models.registry import register_model

__all__ = ["VolumetricConfig", "VolumetricPose"]


@dataclass(frozen=True)
class VolumetricConfig:
    """Configuration of `VolumetricPose`; the defaults are the ``full`` preset.

    Attributes:
        skeleton: joint layout (a registered skeleton name); sets J.
        input_size: (H, W) of the input crop, multiples of ``4 * 2 ** depth``.
        depth_bins: D_s of each stack (its length is the number of stacks S).
        channels: feature channels.
        depth: pooling levels per hourglass.
        num_blocks: bottleneck modules per branch.
    """

    skeleton: str = "h36m17"
    input_size: tuple[int, int] = (256, 256)
    depth_bins: tuple[int, ...] = (1, 2, 4, 64)
    channels: int = 256
    depth: int = 4
    num_blocks: int = 1

    def __post_init__(self) -> None:
        name = "volumetric"
        bins = tuple(self.depth_bins)
        if not bins:
            raise ValueError(f"{name}: depth_bins: expected one entry per stack, got {bins!r}")
        for b in bins:
            positive_int(name, "depth_bins", b)
        object.__setattr__(self, "depth_bins", bins)
        positive_int(name, "channels", self.channels, minimum=4)
        positive_int(name, "depth", self.depth)
        positive_int(name, "num_blocks", self.num_blocks)
        check_image_config(self, name, divisor=4 * 2**self.depth)


@register_model(
    "volumetric",
    VolumetricConfig,
    presets={
        # tiny: 2 stacks of 64 channels at 128x128, 8 then 32 depth bins (32x32 maps):
        # 391,432 parameters, 0.38 GFLOPs per sample (h36m17; 64x64 input: 0.10).
        "tiny": {"input_size": (128, 128), "depth_bins": (8, 32), "channels": 64, "depth": 3},
        # full: Pavlakos et al.'s 4 stacks with 1, 2, 4, 64 depth bins at 256x256:
        # 13.2 M parameters, 32.0 GFLOPs per sample (h36m17).
        "full": {"input_size": (256, 256), "depth_bins": (1, 2, 4, 64), "channels": 256},
    },
)
class VolumetricPose(ImageModel):
    """Coarse-to-fine volumetric heatmaps: a stacked hourglass with per-stack 3D volumes.

    See the module docstring.

    Shapes:
        image: (B, 3, H, W).
        returns: ``{"volumes": (B, J, D_S, h, w)}`` of the last stack and
        ``"volumes_stack<s>": (B, J, D_s, h, w)`` of every earlier stack s = 0 .. S-2.
    """

    def __init__(self, config: VolumetricConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        J, C = self.num_joints, config.channels
        bins = config.depth_bins
        H, W = config.input_size
        self.heatmap_size = (H // 4, W // 4)
        self.stem = HourglassStem(C)
        self.hourglasses = nn.ModuleList(
            Hourglass(config.depth, C, config.num_blocks) for _ in bins
        )
        self.features = nn.ModuleList(
            nn.Sequential(_blocks(C, config.num_blocks), _conv_bn_relu(C)) for _ in bins
        )
        self.heads = nn.ModuleList(nn.Conv2d(C, J * d, 1) for d in bins)
        self.merge_features = nn.ModuleList(nn.Conv2d(C, C, 1) for _ in bins[:-1])
        self.merge_outputs = nn.ModuleList(nn.Conv2d(J * d, C, 1) for d in bins[:-1])

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        J, (h, w), bins = self.num_joints, self.heatmap_size, self.config.depth_bins
        shapes = {f"volumes_stack{s}": (batch_size, J, d, h, w) for s, d in enumerate(bins[:-1])}
        shapes["volumes"] = (batch_size, J, bins[-1], h, w)
        return shapes

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Volumes of every stack.

        Shapes:
            image: (B, 3, H, W) → see `VolumetricPose`.
        """
        B = self.check_image(image)
        J, (h, w), bins = self.num_joints, self.heatmap_size, self.config.depth_bins
        x = self.stem(image)  # (B, C, h, w)
        out: dict[str, Tensor] = {}
        for s, d in enumerate(bins):
            y = self.features[s](self.hourglasses[s](x))  # (B, C, h, w)
            head = self.heads[s](y)  # (B, J D_s, h, w)
            last = s == len(bins) - 1
            out["volumes" if last else f"volumes_stack{s}"] = head.view(B, J, d, h, w)
            if not last:
                x = x + self.merge_features[s](y) + self.merge_outputs[s](head)
        return out

    def stack_volumes(self, out: dict[str, Tensor]) -> list[Tensor]:
        """The volumes of every stack of a ``forward`` result, first to last."""
        S = len(self.config.depth_bins)
        return [out[f"volumes_stack{s}"] for s in range(S - 1)] + [out["volumes"]]
