"""Deeply Learned Compositional Model (Tang, Yu & Wu 2018, "Deeply Learned Compositional Models
for Human Pose Estimation", ECCV).

Shapes:
    B batch, S stacks, J joints, P_l parts at level l (`PartHierarchy`), C channels,
    h/w = H/4, W/4 heatmap size.

A stacked hourglass whose per-stack head infers heatmaps at every level of a part hierarchy
(joints → parts → limbs → body, `posekit.models.pose2d.hierarchy`), by bottom-up then top-down
message passing between levels::

    unary_l   = conv1x1_l(features)                                   (B, P_l, h, w)
    bottom-up:  b_0 = unary_0;   b_l = unary_l + U_l(b_{l-1})          children → parent
    top-down:   t_L = b_L;       t_l = b_l + D_l(t_{l+1})              parent → children

``U_l`` and ``D_l`` are the learned pairwise terms: dilated convolutions whose weights are
masked to the hierarchy's edges (a parent's map is computed from its own children's maps only,
a child's from its own parent's only), so a kernel learns the spatial relation between a part
and its sub-parts. The top-down maps ``t_l`` of every level are the stack's output; all levels
are supervised at every stack (`posekit.losses.compositional_heatmap_loss`) with the targets of
`posekit.models.pose2d.hierarchy.encode_part_heatmaps`. The concatenated maps are re-injected
into the next stack like the hourglass's heatmaps.

Simplification: Tang et al. place the levels at decreasing resolutions along the hourglass;
here all levels live at the heatmap resolution and the pairwise terms reach far through their
dilation (a 7x7 kernel with dilation 2 spans ±6 cells, ±24 input pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.models.backbones.hourglass import StackedHourglass
from posekit.models.pose2d._common import ImageModel, check_image_config, positive_int
from posekit.models.pose2d.hierarchy import PartHierarchy, get_hierarchy, level_key
from posekit.models.registry import register_model

__all__ = ["Compositional", "CompositionalConfig", "CompositionalHead", "MaskedConv2d"]


class MaskedConv2d(nn.Module):
    """A 'same'-padded, dilated convolution whose channel pairs are masked by a 0/1 matrix.

    Shapes:
        mask: (C_out, C_in), 1 where input channel c feeds output channel k.
        x: (B, C_in, h, w) → (B, C_out, h, w).
    """

    mask: Tensor

    def __init__(self, mask: Tensor, kernel_size: int, dilation: int = 1) -> None:
        super().__init__()
        out_c, in_c = mask.shape
        self.dilation = dilation
        self.padding = dilation * (kernel_size // 2)
        self.weight = nn.Parameter(torch.empty(out_c, in_c, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_c))
        self.register_buffer("mask", mask[:, :, None, None].clone())
        # Small weights: each message starts as a gentle correction of the unary maps.
        fan_in = kernel_size * kernel_size
        nn.init.normal_(self.weight, std=0.1 / fan_in)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.weight * self.mask, self.bias, padding=self.padding, dilation=self.dilation
        )


class CompositionalHead(nn.Module):
    """Per-stack head: unary maps per level, bottom-up then top-down messages.

    Shapes:
        features: (B, C, h, w) → (B, sum_l P_l, h, w): the top-down maps of levels 0..L
        concatenated along channels (joints first).
    """

    def __init__(
        self, channels: int, hierarchy: PartHierarchy, kernel_size: int, dilation: int
    ) -> None:
        super().__init__()
        sizes = hierarchy.level_sizes
        self.unary = nn.ModuleList(nn.Conv2d(channels, p, 1) for p in sizes)
        self.up = nn.ModuleList(
            MaskedConv2d(hierarchy.child_matrix(lv), kernel_size, dilation)
            for lv in range(1, len(sizes))
        )  # up[l - 1]: level l-1 → l
        self.down = nn.ModuleList(
            MaskedConv2d(hierarchy.child_matrix(lv).T, kernel_size, dilation)
            for lv in range(1, len(sizes))
        )  # down[l - 1]: level l → l-1

    def forward(self, features: Tensor) -> Tensor:
        unary = [conv(features) for conv in self.unary]  # (B, P_l, h, w) each
        bottom_up = [unary[0]]
        for lv in range(1, len(unary)):
            bottom_up.append(unary[lv] + self.up[lv - 1](bottom_up[-1]))
        top_down = [bottom_up[-1]]
        for lv in range(len(unary) - 2, -1, -1):
            top_down.insert(0, bottom_up[lv] + self.down[lv](top_down[0]))
        return torch.cat(top_down, dim=1)  # (B, sum P_l, h, w)


@dataclass(frozen=True)
class CompositionalConfig:
    """Configuration of `Compositional`; the defaults are the ``full`` preset.

    Attributes:
        skeleton: joint layout; needs a part hierarchy (`HIERARCHY_TABLES`: coco17, mpii16,
            lsp14, h36m17).
        input_size: (H, W), multiples of ``4 * 2 ** depth``.
        num_stacks: S hourglasses.
        channels: feature channels.
        depth: pooling levels per hourglass.
        num_blocks: bottleneck modules per branch.
        pairwise_kernel: odd kernel size of the masked pairwise convolutions.
        pairwise_dilation: their dilation.
        integral: also output ``"keypoints"`` by soft-argmax of the last stack's joint
            heatmaps (as `HourglassConfig.integral`), so a coordinate loss can be added.
        integral_beta: soft-argmax inverse temperature.
    """

    skeleton: str = "coco17"
    input_size: tuple[int, int] = (256, 256)
    num_stacks: int = 8
    channels: int = 256
    depth: int = 4
    num_blocks: int = 1
    pairwise_kernel: int = 7
    pairwise_dilation: int = 2
    integral: bool = False
    integral_beta: float = 10.0

    def __post_init__(self) -> None:
        name = "compositional"
        if not self.integral_beta > 0:
            raise ValueError(f"{name}: integral_beta: expected > 0, got {self.integral_beta}")
        positive_int(name, "num_stacks", self.num_stacks)
        positive_int(name, "channels", self.channels, minimum=4)
        positive_int(name, "depth", self.depth)
        positive_int(name, "num_blocks", self.num_blocks)
        positive_int(name, "pairwise_kernel", self.pairwise_kernel)
        positive_int(name, "pairwise_dilation", self.pairwise_dilation)
        if self.pairwise_kernel % 2 == 0:
            raise ValueError(f"{name}: pairwise_kernel: expected odd, got {self.pairwise_kernel}")
        check_image_config(self, name, divisor=4 * 2**self.depth)
        get_hierarchy(self.skeleton)  # KeyError listing the skeletons with a hierarchy


@register_model(
    "compositional",
    CompositionalConfig,
    presets={
        # tiny: 111,192 parameters, 0.12 GFLOPs per sample (coco17).
        "tiny": {
            "input_size": (128, 128),
            "num_stacks": 2,
            "channels": 32,
            "depth": 3,
            "pairwise_kernel": 5,
        },
        # full: 8 stacks of 256 channels: 25.7 M parameters, 56.7 GFLOPs per sample.
        "full": {"input_size": (256, 256), "num_stacks": 8, "channels": 256, "depth": 4},
    },
)
class Compositional(ImageModel):
    """Compositional hourglass: heatmaps of joints, parts, limbs and body (Tang et al. 2018).

    Shapes:
        image: (B, 3, H, W).
        returns: ``{"heatmaps": (B, S, J, h, w), "level1_heatmaps": (B, S, P_1, h, w), ...,
        "level<L>_heatmaps": (B, S, P_L, h, w)}``; channel k of level l is part
        ``hierarchy.names[l][k]``. ``heatmaps[:, -1]`` decodes like the hourglass's.
    """

    def __init__(self, config: CompositionalConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        self.hierarchy = get_hierarchy(config.skeleton)
        H, W = config.input_size
        self.heatmap_size = (H // 4, W // 4)
        self.trunk = StackedHourglass(
            config.num_stacks,
            config.channels,
            config.depth,
            out_channels=sum(self.hierarchy.level_sizes),
            num_blocks=config.num_blocks,
            make_head=lambda c: CompositionalHead(
                c, self.hierarchy, config.pairwise_kernel, config.pairwise_dilation
            ),
        )
        self.integral_codec = Heatmap2D(
            config.input_size,
            self.heatmap_size,
            decode_method="soft_argmax",
            beta=config.integral_beta,
        )

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        S, (h, w) = self.config.num_stacks, self.heatmap_size
        shapes: dict[str, tuple[int, ...]] = {
            level_key(lv): (batch_size, S, p, h, w)
            for lv, p in enumerate(self.hierarchy.level_sizes)
        }
        if self.config.integral:
            shapes["keypoints"] = (batch_size, self.hierarchy.level_sizes[0], 2)
        return shapes

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Heatmaps of every level and stack.

        Shapes:
            image: (B, 3, H, W) → see `Compositional`.
        """
        self.check_image(image)
        maps = torch.stack(self.trunk(image), dim=1)  # (B, S, sum P_l, h, w)
        levels = maps.split(list(self.hierarchy.level_sizes), dim=2)
        out = {level_key(lv): m for lv, m in enumerate(levels)}
        if self.config.integral:
            out["keypoints"], _ = self.integral_codec.decode(levels[0][:, -1])  # (B, J, 2)
        return out
