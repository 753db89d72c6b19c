"""DeepPose (Toshev & Szegedy 2014, "DeepPose: Human Pose Estimation via Deep Neural Networks"):
direct regression of joint coordinates, refined by a cascade of patch regressors.

Shapes:
    B batch, S ``num_stages``, J joints, H/W input size, p ``patch_size``.

Stage 1 regresses all J joints of the person crop from the whole image::

    image (B, 3, H, W) → ResNet → global average pool → linear → (B, J, 2)

Every later stage s refines each joint from a patch of the image centred on its current
estimate (the estimate is detached: as in the paper, a stage learns to correct the previous
stages' output, not to move their crops)::

    patches (B J, 3, p, p) = crop_patches(image, estimate, half size)   # grid_sample, batched
        → ResNet_s → pool → linear (2 J) → the 2 outputs of the patch's own joint
        → displacement d (B, J, 2) in the patch's normalized frame
    estimate ← estimate + half_size * d

The patch side is ``patch_scale`` times the pose diameter (the larger side of the bounding
box of the current estimate, in pixels; the paper uses the distance between opposite joints),
and at least an eighth of the crop, so it shrinks as the estimate tightens on the person.
The convolutional trunk of a stage is shared by all joints; its last linear layer has one
2-output row pair per joint (the paper's per-joint regressors sharing a trunk).

Coordinates are those of `posekit.codecs.regression.Regression2D` (normalized, ``grid_sample``
with ``align_corners=False``): train with `posekit.losses.stage_l1_loss` against
``Regression2D.encode`` targets, decode with ``Regression2D.decode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.codecs.regression import ALIGN_CORNERS
from posekit.models.backbones.resnet import ResNet
from posekit.models.pose2d._common import ImageModel, check_image_config, positive_int
from posekit.models.registry import register_model

__all__ = ["DeepPose", "DeepPoseConfig", "crop_patches", "patch_half_sizes"]


def crop_patches(
    image: Tensor, centres: Tensor, half_sizes: Tensor, patch_size: tuple[int, int]
) -> Tensor:
    """Bilinear patches of ``image`` around normalized points, all in one ``grid_sample``.

    Args:
        image: the images the points refer to.
        centres: patch centres, normalized (x, y) of `Regression2D` (``align_corners=False``).
        half_sizes: half extent of each patch along (x, y), in the same normalized units
            (1 = half the image).
        patch_size: (p_h, p_w) output pixels.

    Shapes:
        image: (B, C, H, W); centres, half_sizes: (B, N, 2).
        returns: (B, N, C, p_h, p_w).

    Convention:
        Patch pixel (u, v) samples the image at ``centre + half_size * a`` with
        ``a = ((2 u + 1) / p_w - 1, (2 v + 1) / p_h - 1)``: the patch's outer edges are at
        ``centre ± half_size``, the same edge-aligned convention as the image itself. Outside
        the image the patch is zero. Differentiable in ``image``, ``centres`` and ``half_sizes``.
    """
    dims = check_shape(image, "image", "B C H W")
    check_shape(centres, "centres", "B N 2", dims)
    check_shape(half_sizes, "half_sizes", "B N 2", dims)
    B, N = centres.shape[:2]
    ph, pw = patch_size
    ax = (2.0 * torch.arange(pw, dtype=image.dtype, device=image.device) + 1.0) / pw - 1.0
    ay = (2.0 * torch.arange(ph, dtype=image.dtype, device=image.device) + 1.0) / ph - 1.0
    offsets = torch.stack(torch.broadcast_tensors(ax[None, :], ay[:, None]), dim=-1)  # (ph, pw, 2)
    grid = centres[:, :, None, None, :] + half_sizes[:, :, None, None, :] * offsets  # (B,N,ph,pw,2)
    # One grid_sample per batch: the N patches are stacked along the grid's rows.
    sampled = F.grid_sample(
        image, grid.reshape(B, N * ph, pw, 2), align_corners=ALIGN_CORNERS, padding_mode="zeros"
    )  # (B, C, N ph, pw)
    C = image.shape[1]
    return sampled.reshape(B, C, N, ph, pw).permute(0, 2, 1, 3, 4)  # (B, N, C, ph, pw)


def patch_half_sizes(keypoints: Tensor, input_size: tuple[int, int], patch_scale: float) -> Tensor:
    """Half sizes of DeepPose's square refinement patches, normalized per axis.

    The side in pixels is ``patch_scale * diam``, ``diam`` the larger side of the bounding box
    of the J estimates (pixels), and at least ``min(H, W) / 8``.

    Shapes:
        keypoints: (B, J, 2) normalized (x, y). returns: (B, J, 2) normalized (x, y) half sizes
        (the same for every joint of a sample).
    """
    check_shape(keypoints, "keypoints", "B J 2")
    H, W = input_size
    size = keypoints.new_tensor([float(W), float(H)])
    extent_px = (keypoints.amax(dim=1) - keypoints.amin(dim=1)) * size / 2.0  # (B, 2)
    side_px = (patch_scale * extent_px.amax(dim=-1)).clamp(min=min(H, W) / 8.0)  # (B,)
    half = side_px[:, None] / size  # (B, 2): side / 2 px = side / size in normalized units
    return half[:, None, :].expand_as(keypoints)


@dataclass(frozen=True)
class DeepPoseConfig:
    """Configuration of `DeepPose`; the defaults are the ``full`` preset.

    Attributes:
        skeleton: joint layout (a registered skeleton name); sets J.
        input_size: (H, W) of the person crop (220x220 in the paper).
        widths: channels of the stage-1 ResNet stages (ResNet-18: 64, 128, 256, 512).
        depths: basic blocks per stage-1 ResNet stage.
        num_stages: S, stages of the cascade (1: one-shot regression; the paper uses 3).
        patch_size: side in pixels of the refinement patches fed to stages 2..S.
        patch_widths: channels of each refinement stage's ResNet.
        patch_depths: blocks per refinement ResNet stage.
        patch_scale: patch side as a fraction of the estimated pose diameter.
    """

    skeleton: str = "coco17"
    input_size: tuple[int, int] = (224, 224)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    num_stages: int = 3
    patch_size: int = 64
    patch_widths: tuple[int, ...] = (32, 64, 128, 256)
    patch_depths: tuple[int, ...] = (1, 1, 1, 1)
    patch_scale: float = 0.5

    def __post_init__(self) -> None:
        name = "deeppose"
        check_image_config(self, name)
        positive_int(name, "num_stages", self.num_stages)
        positive_int(name, "patch_size", self.patch_size, minimum=4)
        for field in ("widths", "depths", "patch_widths", "patch_depths"):
            value = tuple(getattr(self, field))
            if not value or any(not isinstance(v, int) or v < 1 for v in value):
                raise ValueError(f"{name}: {field}: expected ints >= 1, got {value!r}")
            object.__setattr__(self, field, value)
        if len(self.widths) != len(self.depths):
            raise ValueError(f"{name}: widths and depths must have the same length")
        if len(self.patch_widths) != len(self.patch_depths):
            raise ValueError(f"{name}: patch_widths and patch_depths must have the same length")
        if not self.patch_scale > 0:
            raise ValueError(f"{name}: patch_scale: expected > 0, got {self.patch_scale}")


class _Regressor(nn.Module):
    """ResNet → global average pool → linear: (N, 3, h, w) → (N, outputs)."""

    def __init__(self, widths: Sequence[int], depths: Sequence[int], outputs: int) -> None:
        super().__init__()
        self.backbone = ResNet(widths, depths)
        self.head = nn.Linear(self.backbone.out_channels, outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x).mean(dim=(-2, -1)))


@register_model(
    "deeppose",
    DeepPoseConfig,
    presets={
        # tiny: a 3-stage ResNet at 128x128 and one 32x32 refinement stage, for tests:
        # 104,228 parameters, 0.08 GFLOPs per sample (coco17).
        "tiny": {
            "input_size": (128, 128),
            "widths": (16, 32, 64),
            "depths": (1, 1, 1),
            "num_stages": 2,
            "patch_size": 32,
            "patch_widths": (16, 32),
            "patch_depths": (1, 1),
        },
        # full: ResNet-18 trunk at 224x224, 3 stages with 64x64 patches: 13.7 M parameters,
        # 5.0 GFLOPs per sample (coco17).
        "full": {},
    },
)
class DeepPose(ImageModel):
    """DeepPose: direct joint regression with a cascade of patch refiners (Toshev 2014).

    Shapes:
        image: (B, 3, H, W).
        returns: ``{"keypoints": (B, J, 2), "keypoints_stages": (B, S, J, 2)}``, normalized
        (x, y) of `Regression2D` (-1 and +1 the crop's outer edges); ``keypoints`` is the last
        stage, ``keypoints_stages[:, s]`` the estimate after stage s.
    """

    def __init__(self, config: DeepPoseConfig) -> None:
        super().__init__(config.skeleton, config.input_size)
        self.config = config
        J = self.num_joints
        self.initial = _Regressor(config.widths, config.depths, 2 * J)
        self.refiners = nn.ModuleList(
            _Regressor(config.patch_widths, config.patch_depths, 2 * J)
            for _ in range(config.num_stages - 1)
        )

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns (see the class docstring)."""
        J, S = self.num_joints, self.config.num_stages
        return {"keypoints": (batch_size, J, 2), "keypoints_stages": (batch_size, S, J, 2)}

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Regress and refine the joints of a person crop.

        Shapes:
            image: (B, 3, H, W) → see `DeepPose`.
        """
        B = self.check_image(image)
        J, p = self.num_joints, self.config.patch_size
        estimate = self.initial(image).reshape(B, J, 2)  # (B, J, 2) normalized
        stages = [estimate]
        eye = torch.eye(J, dtype=torch.bool, device=image.device)
        for refiner in self.refiners:
            centres = estimate.detach()  # crops follow the estimate; no gradient through them
            half = patch_half_sizes(centres, self.input_size, self.config.patch_scale)
            patches = crop_patches(image, centres, half, (p, p))  # (B, J, 3, p, p)
            raw = refiner(patches.reshape(B * J, 3, p, p)).reshape(B, J, J, 2)
            # Patch of joint j keeps the outputs of joint j: (B, J, J, 2) → (B, J, 2).
            delta = raw[:, eye]  # (B, J, 2) in the patch's normalized frame
            estimate = centres + half * delta
            stages.append(estimate)
        return {"keypoints": estimate, "keypoints_stages": torch.stack(stages, dim=1)}
