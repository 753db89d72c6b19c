"""A compact ResNet-style backbone (He et al. 2016): stem, stages of basic residual blocks.

Shapes:
    B batch, C channels, H/W input size.

The trunk is ``conv 7x7 / 2 → BN → ReLU → maxpool / 2`` followed by one stage per entry of
``widths``; every stage after the first halves the resolution in its first block, so the
output stride is ``4 * 2 ** (len(widths) - 1)`` (32 for the four ResNet-18 stages). No weights
are downloaded: models that use it are trained from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from posekit._checks import check_shape

__all__ = ["BasicBlock", "ResNet"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut.

    Shapes:
        x: (B, C_in, H, W) → (B, C_out, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-style feature extractor; ``widths=(64, 128, 256, 512), depths=(2, 2, 2, 2)`` is
    ResNet-18's trunk without its classifier.

    Args:
        widths: channels of each stage (the first stage keeps the stem's resolution).
        depths: basic blocks per stage, same length as ``widths``.
        in_channels: input image channels.
        stem_channels: channels of the 7x7 stem convolution (default: ``widths[0]``).

    Shapes:
        x: (B, in_channels, H, W) → (B, widths[-1], ceil(H / stride), ceil(W / stride)) with
        ``stride`` = `ResNet.stride`.
    """

    def __init__(
        self,
        widths: Sequence[int],
        depths: Sequence[int],
        in_channels: int = 3,
        stem_channels: int | None = None,
    ) -> None:
        super().__init__()
        if len(widths) == 0 or len(widths) != len(depths):
            raise ValueError(
                f"ResNet: widths and depths must be non-empty and of equal length, got "
                f"{tuple(widths)} and {tuple(depths)}"
            )
        if any(w < 1 for w in widths) or any(d < 1 for d in depths):
            raise ValueError(f"ResNet: widths and depths must be >= 1, got {widths}, {depths}")
        stem = stem_channels or widths[0]
        self.in_channels = in_channels
        self.out_channels = widths[-1]
        self.stride = 4 * 2 ** (len(widths) - 1)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages: list[nn.Module] = []
        c = stem
        for i, (w, d) in enumerate(zip(widths, depths)):
            blocks = [BasicBlock(c, w, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(w, w) for _ in range(d - 1)]
            stages.append(nn.Sequential(*blocks))
            c = w
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> Tensor:
        """Feature map of an image batch.

        Shapes:
            x: (B, in_channels, H, W) → (B, out_channels, H', W'), H' = ceil(H / stride).
        """
        check_shape(x, "x", f"B {self.in_channels} H W")
        return self.stages(self.stem(x))
