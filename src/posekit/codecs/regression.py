"""Direct coordinate regression: keypoints in crop pixels ↔ normalised coordinates in [-1, 1].

Shapes:
    B batch, J joints, H/W input (crop) size.

DeepPose (Toshev & Szegedy 2014) regresses joint coordinates normalised by the bounding box of
the crop; its cascade then crops patches around the current estimate. Here the normalised
coordinates are exactly those of ``torch.nn.functional.grid_sample(..., align_corners=False)``,
so a cascade stage can pass the decoded estimate straight to ``grid_sample`` (or
``affine_grid``) with `ALIGN_CORNERS` to sample the image at the keypoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs._common import as_size, check_float, visible_mask

__all__ = ["ALIGN_CORNERS", "Regression2D"]

#: The ``align_corners`` value under which `Regression2D`'s normalised coordinates are those of
#: ``grid_sample`` / ``affine_grid``: -1 and +1 are the outer edges of the border pixels.
ALIGN_CORNERS = False


@dataclass(frozen=True)
class Regression2D:
    """Normalised-coordinate codec for direct regression (DeepPose).

    Shapes:
        B batch, J joints, (H, W) ``input_size``.
        encode: keypoints (B, J, 2), visibility (B, J) → coords (B, J, 2), weights (B, J).
        decode: coords (B, J, 2) → keypoints (B, J, 2).

    Convention:
        Keypoints are (x, y) in crop pixels with pixel centres at integer coordinates, so the
        crop spans ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. Normalised coordinates (x, y) map
        these *outer edges* to -1 and +1, the convention of ``grid_sample(align_corners=False)``
        (`ALIGN_CORNERS`): ``n = (2 x + 1) / W - 1``, so the centre of pixel 0 is at
        ``-1 + 1/W`` and the crop centre ``(W - 1) / 2`` at 0. Points outside the crop map
        outside [-1, 1] and are not clamped (a regressor may legitimately point there).

    Attributes:
        input_size: (H, W) of the network input crop.
    """

    input_size: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", as_size(self.input_size, 2, "input_size"))

    def _size_xy(self, like: Tensor) -> Tensor:
        H, W = self.input_size
        return torch.tensor([float(W), float(H)], dtype=like.dtype, device=like.device)

    def encode(self, keypoints: Tensor, visibility: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Normalised coordinates and per-joint weights.

        Shapes:
            keypoints: (B, J, 2) crop pixels (x, y).
            visibility: (B, J), used where > 0; None: all used.
            returns: coords (B, J, 2) normalised (x, y), weights (B, J) in {0, 1}; in the dtype
            of ``keypoints``.

        Convention:
            Invisible joints and joints with a NaN/inf coordinate get weight 0 and coords 0
            (never NaN, so ``weights * loss`` stays finite).
        """
        dims = check_shape(keypoints, "keypoints", "B J 2")
        check_float(keypoints, "keypoints")
        used = visible_mask(keypoints, visibility, dims)  # (B, J)
        size = self._size_xy(keypoints)
        coords = (2.0 * keypoints + 1.0) / size - 1.0
        coords = torch.where(used[..., None], coords, 0.0)
        return coords, used.to(keypoints.dtype)

    def decode(self, coords: Tensor) -> Tensor:
        """Crop pixels from normalised coordinates (the inverse of `encode`), differentiable.

        Shapes:
            coords: (B, J, 2) normalised (x, y).
            returns: (B, J, 2) crop pixels (x, y), in the dtype of ``coords``.
        """
        check_shape(coords, "coords", "B J 2")
        check_float(coords, "coords")
        size = self._size_xy(coords)
        return ((coords + 1.0) * size - 1.0) / 2.0
