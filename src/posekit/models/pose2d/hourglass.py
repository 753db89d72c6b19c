"""Stacked Hourglass (Newell et al. 2016) with optional integral decoding and associative
embedding (Newell et al. 2017).

Shapes:
    B batch, S stacks, J joints, D ``tag_dim``, H/W input size, h/w = H/4, W/4 heatmap size.

Every stack predicts J heatmaps (and, with ``tag_dim > 0``, J * D tag maps); all stacks are
returned for intermediate supervision (`posekit.losses.heatmap_mse_loss` averages over S), the
last stack is the prediction. Decode with ``Heatmap2D(input_size, (h, w))`` on
``heatmaps[:, -1]``, or for several people with
`posekit.codecs.associative_embedding.AssociativeEmbedding` on the heatmaps and tags of the last
stack.

Integral decoding (``integral=True``): the last stack's heatmaps also go through the
soft-argmax codec (``Heatmap2D(decode_method="soft_argmax", beta=integral_beta)``), which reads
them as logits; ``"keypoints"`` is then differentiable, so a coordinate loss
(`posekit.losses.stage_l1_loss`) can be added to the heatmap loss. Gaussian targets peak at
1 over a zero background, so ``beta`` must be large enough for the peak to dominate the
softmax over h * w cells (``integral_beta = 10``: exp(10) ≈ 2e4 against 4096 cells at 64x64).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.models.backbones.hourglass import StackedHourglass
from posekit.models.pose2d._common import ImageModel, check_image_config, positive_int
from posekit.models.registry import register_model

__all__ = ["HourglassConfig", "HourglassPose"]


@dataclass(frozen=True)
class HourglassConfig:
    """Configuration of `HourglassPose`; the defaults are the paper's 8-stack model (``full``).

    Attributes:
        skeleton: joint layout (a registered skeleton name); sets J.
        input_size: (H, W) of the input crop, multiples of ``4 * 2 ** depth``.
        num_stacks: S, hourglasses (8 in the paper).
        channels: feature channels (256).
        depth: pooling levels per hourglass (4: 64x64 → 4x4).
        num_blocks: bottleneck modules per branch (1).
        integral: also output ``"keypoints"`` by soft-argmax of the last stack's heatmaps.
        integral_beta: soft-argmax inverse temperature (see the module docstring).
        tag_dim: D, associative-embedding tag channels per joint; 0 disables the tags.
    """

    skeleton: str = "coco17"
    input_size: tuple[int, int] = (256, 256)
    num_stacks: int = 8
    channels: int = 256
    depth: int = 4
    num_blocks: int = 1
    integral: bool = False
    integral_beta: float = 10.0
    tag_dim: int = 0

    def __post_init__(self) -> None:
        name = "hourglass"
        positive_int(name, "num_stacks", self.num_stacks)
        positive_int(name, "channels", self.channels, minimum=4)
        positive_int(name, "depth", self.depth)
        positive_int(name, "num_blocks", self.num_blocks)
        positive_int(name, "tag_dim", self.tag_dim, minimum=0)
        if not self.integral_beta > 0:
            raise ValueError(f"{name}: integral_beta: expected > 0, got {self.integral_beta}")
        check_image_config(self, name, divisor=4 * 2**self.depth)


@register_model(
    "hourglass",
    HourglassConfig,
    presets={
        # tiny: 2 small stacks at 128x128 (32x32 heatmaps) for tests and CPU smoke runs:
        # 89,330 parameters, 0.08 GFLOPs per sample (coco17).
        "tiny": {"input_size": (128, 128), "num_stacks": 2, "channels": 32, "depth": 3},
        # full: the paper's 8-stack network: 25.4 M parameters, 54.9 GFLOPs per sample.
        "full": {"input_size": (256, 256), "num_stacks": 8, "channels": 256, "depth": 4},
    },
)
class HourglassPose(ImageModel):
    """Stacked Hourglass heatmap regression with intermediate supervision (Newell et al. 2016).

    Shapes:
        image: (B, 3, H, W).
        returns: ``{"heatmaps": (B, S, J, h, w)}``, plus ``"keypoints": (B, J, 2)`` input
        pixels (x, y) with ``integral``, plus ``"tags": (B, S, J * D, h, w)`` with
        ``tag_dim = D > 0`` (channel ``j * D + d`` is tag component d of joint j).
    """

    def __init__(self, config: HourglassConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        J, D = self.num_joints, config.tag_dim
        H, W = config.input_size
        self.heatmap_size = (H // 4, W // 4)
        self.trunk = StackedHourglass(
            config.num_stacks,
            config.channels,
            config.depth,
            out_channels=J * (1 + D),
            num_blocks=config.num_blocks,
        )
        self.integral_codec = Heatmap2D(
            config.input_size,
            self.heatmap_size,
            decode_method="soft_argmax",
            beta=config.integral_beta,
        )

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        B, S, J, D = batch_size, self.config.num_stacks, self.num_joints, self.config.tag_dim
        h, w = self.heatmap_size
        shapes: dict[str, tuple[int, ...]] = {"heatmaps": (B, S, J, h, w)}
        if self.config.integral:
            shapes["keypoints"] = (B, J, 2)
        if D > 0:
            shapes["tags"] = (B, S, J * D, h, w)
        return shapes

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Heatmaps of every stack (and keypoints, tags when configured).

        Shapes:
            image: (B, 3, H, W) → see `HourglassPose`.
        """
        self.check_image(image)
        J = self.num_joints
        maps = torch.stack(self.trunk(image), dim=1)  # (B, S, J (1 + D), h, w)
        out = {"heatmaps": maps[:, :, :J]}  # (B, S, J, h, w)
        if self.config.integral:
            out["keypoints"], _ = self.integral_codec.decode(maps[:, -1, :J])  # (B, J, 2)
        if self.config.tag_dim > 0:
            out["tags"] = maps[:, :, J:]  # (B, S, J D, h, w)
        return out
