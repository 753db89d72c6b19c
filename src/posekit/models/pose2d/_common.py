"""What the 2D pose models share: config checks, the image input, and its dummy example.

Shapes:
    B batch, J joints, H/W input (crop) size.

Convention (all 2D pose models):
    Input ``image`` (B, 3, H, W) float, normalized by the data pipeline (any fixed mean / std);
    sizes are (H, W) = the config's ``input_size``. Keypoint outputs are (x, y) with pixel
    centres at integer coordinates (`posekit.codecs`); heatmaps are edge-aligned with the
    input at a quarter of its resolution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.skeletons import get_skeleton

__all__ = ["ImageModel", "check_image_config", "positive_int"]


def positive_int(model: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ValueError naming the model and field otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{model}: {name}: expected an int >= {minimum}, got {value!r}")
    return value


def check_image_config(config: Any, model: str, divisor: int = 1) -> None:
    """Validate ``config.skeleton`` and ``config.input_size`` (stored back as a tuple).

    Args:
        config: a frozen config dataclass with ``skeleton`` and ``input_size``.
        model: model name for the messages.
        divisor: H and W must be multiples of it.
    """
    get_skeleton(config.skeleton)  # KeyError listing the known skeletons
    size = tuple(config.input_size)
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) for s in size):
        raise ValueError(f"{model}: input_size: expected (H, W) ints, got {config.input_size!r}")
    if any(s < divisor or s % divisor for s in size):
        raise ValueError(
            f"{model}: input_size: expected H and W positive multiples of {divisor}, got {size}"
        )
    object.__setattr__(config, "input_size", size)


class ImageModel(nn.Module):
    """Base of the 2D pose models: skeleton, input size, image checks and `example_input`."""

    config: Any

    def __init__(self, skeleton: str, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.num_joints = self.skeleton.num_joints
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def check_image(self, image: Tensor) -> int:
        """Check ``image`` against (B, 3, H, W) of the config; return B."""
        H, W = self.input_size
        dims = check_shape(image, "image", f"B 3 {H} {W}")
        if not image.is_floating_point():
            raise ValueError(f"image: expected a float tensor, got {image.dtype}")
        return dims["B"]

    def example_input(self, batch_size: int = 2) -> dict[str, Tensor]:
        """A deterministic dummy input: ``{"image": (B, 3, H, W)}`` standard normal values,
        on the model's device and in the dtype of its parameters."""
        ref = next(self.parameters())
        gen = torch.Generator().manual_seed(0)
        image = torch.randn(batch_size, 3, *self.input_size, generator=gen)
        return {"image": image.to(device=ref.device, dtype=ref.dtype)}
