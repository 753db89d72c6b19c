"""Convolutional backbones shared by the image models (no pretrained weights, no downloads).

Modules:
    resnet: `ResNet`, a compact ResNet-style trunk of basic residual blocks (He et al. 2016).
    hourglass: `Bottleneck`, `Hourglass`, `HourglassStem`, `StackedHourglass` (Newell 2016).
"""

from __future__ import annotations

from posekit.models.backbones.hourglass import (
    Bottleneck,
    Hourglass,
    HourglassStem,
    StackedHourglass,
)
from posekit.models.backbones.resnet import BasicBlock, ResNet

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "Hourglass",
    "HourglassStem",
    "ResNet",
    "StackedHourglass",
]
