"""Stacked Hourglass building blocks (Newell, Yang & Deng 2016, "Stacked Hourglass Networks for
Human Pose Estimation").

Shapes:
    B batch, C channels, H/W input size; features and outputs live at (H / 4, W / 4).

Structure::

    image (B, 3, H, W) → stem: conv 7x7 / 2, bottleneck, maxpool / 2, 2 bottlenecks
        → x (B, C, H/4, W/4)
    for stack i in 1..S:
        y   = hourglass_i(x) → num_blocks bottlenecks → conv 1x1 → BN → ReLU   (features)
        o_i = head_i(y)                                                      (B, K, H/4, W/4)
        x   = x + conv1x1(y) + conv1x1(o_i)        (re-injection; not after the last stack)

Every ``o_i`` is returned, so each stack can be supervised (intermediate supervision). The head
is pluggable: a 1x1 convolution by default, the compositional message passing of
`posekit.models.pose2d.compositional` otherwise. The last stack has no re-injection layers (they
would receive no gradient).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from posekit._checks import check_shape

__all__ = ["Bottleneck", "Hourglass", "HourglassStem", "StackedHourglass"]


class Bottleneck(nn.Module):
    """Pre-activation bottleneck residual module of the hourglass paper.

    ``BN → ReLU → conv1x1 (C_out / 2) → BN → ReLU → conv3x3 → BN → ReLU → conv1x1 (C_out)``, plus
    the input (through a 1x1 convolution when the channels change).

    Shapes:
        x: (B, C_in, H, W) → (B, C_out, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = max(out_channels // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip: nn.Module = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


def _blocks(channels: int, n: int) -> nn.Sequential:
    return nn.Sequential(*(Bottleneck(channels, channels) for _ in range(n)))


class Hourglass(nn.Module):
    """One hourglass of ``depth`` levels: pool down to ``1 / 2**depth`` and back, with a
    residual skip branch at every resolution.

    Shapes:
        x: (B, C, h, w) → (B, C, h, w); h and w must be divisible by ``2 ** depth``.
    """

    def __init__(self, depth: int, channels: int, num_blocks: int = 1) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"Hourglass: depth: expected >= 1, got {depth}")
        self.depth = depth
        self.up1 = _blocks(channels, num_blocks)  # skip branch at this resolution
        self.low1 = _blocks(channels, num_blocks)
        self.low2: nn.Module = (
            Hourglass(depth - 1, channels, num_blocks)
            if depth > 1
            else _blocks(channels, num_blocks)
        )
        self.low3 = _blocks(channels, num_blocks)

    def forward(self, x: Tensor) -> Tensor:
        up = self.up1(x)  # (B, C, h, w)
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))  # (B, C, h/2, w/2)
        return up + F.interpolate(low, scale_factor=2.0, mode="nearest")  # (B, C, h, w)


class HourglassStem(nn.Module):
    """The stem: full resolution → 1/4 with a 7x7 strided convolution, residuals and a max pool.

    Channels grow as ``C/4 → C/2 → C`` (64, 128, 256 for the paper's C = 256).

    Shapes:
        x: (B, C_in, H, W) → (B, C, H / 4, W / 4).
    """

    def __init__(self, channels: int, in_channels: int = 3) -> None:
        super().__init__()
        c1, c2 = max(channels // 4, 1), max(channels // 2, 1)
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, c1, 7, stride=2, padding=3),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            Bottleneck(c1, c2),
            nn.MaxPool2d(2),
            Bottleneck(c2, c2),
            Bottleneck(c2, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def _conv_bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU())


class StackedHourglass(nn.Module):
    """``num_stacks`` hourglasses with a head per stack and re-injection between stacks.

    Args:
        num_stacks: S, number of hourglasses.
        channels: C, feature channels throughout.
        depth: levels of each hourglass (4 in the paper: 64x64 → 4x4).
        out_channels: K, channels of every head's output (re-injected by a 1x1 convolution).
        in_channels: image channels.
        num_blocks: bottlenecks per hourglass branch and after each hourglass.
        make_head: ``make_head(C)`` builds one stack's head, a module mapping (B, C, h, w) to
            (B, K, h, w); default a 1x1 convolution.

    Shapes:
        x: (B, in_channels, H, W), H and W divisible by ``4 * 2 ** depth``.
        returns: list of S tensors (B, K, H / 4, W / 4), one per stack; the last is the
        final prediction.
    """

    def __init__(
        self,
        num_stacks: int,
        channels: int,
        depth: int,
        out_channels: int,
        in_channels: int = 3,
        num_blocks: int = 1,
        make_head: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if num_stacks < 1:
            raise ValueError(f"StackedHourglass: num_stacks: expected >= 1, got {num_stacks}")
        self.num_stacks = num_stacks
        self.in_channels = in_channels
        self.divisor = 4 * 2**depth
        make_head = make_head or (lambda c: nn.Conv2d(c, out_channels, 1))
        self.stem = HourglassStem(channels, in_channels)
        self.hourglasses = nn.ModuleList(
            Hourglass(depth, channels, num_blocks) for _ in range(num_stacks)
        )
        self.features = nn.ModuleList(
            nn.Sequential(_blocks(channels, num_blocks), _conv_bn_relu(channels))
            for _ in range(num_stacks)
        )
        self.heads = nn.ModuleList(make_head(channels) for _ in range(num_stacks))
        # Re-injection into the next stack: none after the last one.
        self.merge_features = nn.ModuleList(
            nn.Conv2d(channels, channels, 1) for _ in range(num_stacks - 1)
        )
        self.merge_outputs = nn.ModuleList(
            nn.Conv2d(out_channels, channels, 1) for _ in range(num_stacks - 1)
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        """Per-stack head outputs.

        Shapes:
            x: (B, in_channels, H, W) → S tensors (B, K, H / 4, W / 4).
        """
        dims = check_shape(x, "x", f"B {self.in_channels} H W")
        if dims["H"] % self.divisor or dims["W"] % self.divisor:
            raise ValueError(
                f"x: expected H and W divisible by {self.divisor} (4 * 2**depth), "
                f"got {tuple(x.shape)}"
            )
        x = self.stem(x)  # (B, C, H/4, W/4)
        outputs = []
        for i in range(self.num_stacks):
            y = self.features[i](self.hourglasses[i](x))  # (B, C, h, w)
            out = self.heads[i](y)  # (B, K, h, w)
            outputs.append(out)
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](y) + self.merge_outputs[i](out)
        return outputs
