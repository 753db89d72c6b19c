"""2D pose augmentation as one affine per sample, and flip test-time augmentation.

Shapes:
    P people, J joints, H/W crop (input) size, h/w heatmap size.

Training augmentation draws `AugmentParams` (rotation, scale, horizontal flip, colour jitter)
from a numpy ``Generator`` with `sample_augment`, so a sample's augmentation is a function of
the generator's seed only. The geometric part is ONE affine matrix per sample,
`augment_matrix` = (flip in the crop) ∘ `crop_matrix` (crop window with rotation and scale),
applied to the image (`warp_image`) and to the keypoints (`apply_affine`) alike; a flip also
swaps left and right joints with the skeleton's flip pairs. `crop_and_augment` does all of it
and marks joints that leave the crop invisible.

Convention:
    Pixel centres at integer coordinates (see `posekit.geometry.crops`). A horizontal flip of
    a ``W``-wide crop maps ``x -> W - 1 - x``: the crop's outer edges (-0.5 and ``W - 0.5``)
    swap, exactly what reversing the pixel columns does. A joint is inside the crop when
    ``-0.5 <= x < W - 0.5`` and ``-0.5 <= y < H - 0.5``.

Flip test-time augmentation (`flip_image`, `flip_back_heatmaps`, `flip_back_keypoints`): run
the network on the image and on its mirror, map the mirror's outputs back and average. The
1-pixel question: codebases that align heatmap cell ``j`` with input pixel ``j * stride``
(corner alignment) shift flipped-back heatmaps by one cell to line them up. posekit's
heatmaps are aligned by their outer edges (`posekit.codecs.heatmap2d.Heatmap2D`: cell ``j`` is
centred on input pixel ``(j + 0.5) * W / w - 0.5``), and under that convention reversing the
``w`` columns is exactly the input mirror ``x -> W - 1 - x``; so no shift is applied (the tests
check that the flipped-back targets of a mirrored image equal the original targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from posekit._checks import check_shape
from posekit.geometry.crops import apply_affine, crop_matrix, warp_image
from posekit.skeletons import Skeleton, get_skeleton

__all__ = [
    "AugmentConfig",
    "AugmentParams",
    "augment_matrix",
    "color_jitter",
    "crop_and_augment",
    "flip_back_heatmaps",
    "flip_back_keypoints",
    "flip_image",
    "flip_matrix",
    "flip_permutation",
    "inside_crop",
    "sample_augment",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random training augmentation.

    Attributes:
        rotation_deg: maximum rotation, degrees; the angle is uniform in ``[-r, r]``.
        rotation_probability: chance that a sample is rotated at all (0.6 as in SimpleBaseline
            and HRNet; 1.0 rotates every sample).
        scale_range: (min, max) factor on the crop window, uniform; above 1 the window grows
            (more context, the person looks smaller).
        flip_probability: chance of a horizontal flip.
        brightness, contrast, saturation: colour jitter strengths ``s``; each factor is uniform
            in ``[1 - s, 1 + s]`` (0 disables it), as torchvision's ``ColorJitter``.
    """

    rotation_deg: float = 30.0
    rotation_probability: float = 0.6
    scale_range: tuple[float, float] = (0.75, 1.25)
    flip_probability: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range: expected 0 < min <= max, got {self.scale_range}")
        for name in ("rotation_probability", "flip_probability"):
            p = getattr(self, name)
            if not 0 <= p <= 1:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {p}")
        for name in ("rotation_deg", "brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) >= 1:
                raise ValueError(f"{name}: expected < 1 (factors stay positive)")


@dataclass(frozen=True)
class AugmentParams:
    """One sample's augmentation: the identity by default.

    Attributes:
        rotation_rad: content rotation, radians (counter-clockwise on screen, as `crop_matrix`).
        scale: factor on the crop window (`crop_matrix`'s ``box_scale``).
        flip: mirror the crop horizontally (and swap left/right joints).
        brightness, contrast, saturation: colour factors (1 = unchanged), see `color_jitter`.
    """

    rotation_rad: float = 0.0
    scale: float = 1.0
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0


def sample_augment(rng: np.random.Generator, config: AugmentConfig) -> AugmentParams:
    """Draw one sample's augmentation.

    The generator is always advanced by the same seven draws in the same order, whatever the
    configuration, so two configurations differ only where their ranges differ.
    """
    u = rng.uniform(size=7)
    rotate = u[0] < config.rotation_probability
    angle = math.radians(config.rotation_deg) * (2 * u[1] - 1) if rotate else 0.0
    lo, hi = config.scale_range
    return AugmentParams(
        rotation_rad=float(angle),
        scale=float(lo + (hi - lo) * u[2]),
        flip=bool(u[3] < config.flip_probability),
        brightness=float(1 + config.brightness * (2 * u[4] - 1)),
        contrast=float(1 + config.contrast * (2 * u[5] - 1)),
        saturation=float(1 + config.saturation * (2 * u[6] - 1)),
    )


def flip_matrix(width_px: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The (2, 3) affine of a horizontal mirror of a ``width_px``-wide image: x -> W - 1 - x."""
    return torch.tensor([[-1.0, 0.0, width_px - 1.0], [0.0, 1.0, 0.0]], dtype=dtype)


def _compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a ∘ b`` for (2, 3) affines: apply ``b`` first."""
    return torch.cat((a[:, :2] @ b[:, :2], a[:, :2] @ b[:, 2:] + a[:, 2:]), dim=1)


def augment_matrix(
    center_px: torch.Tensor,
    box_height_px: float | torch.Tensor,
    output_size_hw: Sequence[int],
    params: AugmentParams = AugmentParams(),
) -> torch.Tensor:
    """The one image -> crop affine of a sample: crop window, rotation, scale, then flip.

    Args:
        center_px: crop window centre (x, y) in image pixels (from `bbox_to_center_scale`).
        box_height_px: window height in image pixels before ``params.scale``.
        output_size_hw: crop size (H, W).
        params: the augmentation (identity by default).

    Returns:
        ``M`` (2, 3) in float64: ``p_crop = M[:, :2] @ p_img + M[:, 2]``.

    Shapes:
        center_px: (2,)
        return: (2, 3)
    """
    check_shape(center_px, "center_px", "2")
    center = torch.as_tensor(center_px, dtype=torch.float64)
    M = crop_matrix(center, float(box_height_px), output_size_hw, params.rotation_rad, params.scale)
    if params.flip:
        M = _compose(flip_matrix(int(output_size_hw[1])), M)
    return M


def flip_permutation(skeleton: Skeleton | str | Sequence[int]) -> list[int]:
    """The joint permutation of a horizontal flip (a skeleton, its name, or the permutation)."""
    if isinstance(skeleton, (Skeleton, str)):
        return get_skeleton(skeleton).flip_permutation
    return [int(i) for i in skeleton]


def inside_crop(keypoints: np.ndarray, output_size_hw: Sequence[int]) -> np.ndarray:
    """Whether each (finite) keypoint lies in the crop ``[-0.5, W - 0.5) x [-0.5, H - 0.5)``.

    Shapes:
        keypoints: (..., J, 2) crop pixels; return: (..., J) bool (False for NaN).
    """
    check_shape(keypoints, "keypoints", "... J 2")
    H, W = int(output_size_hw[0]), int(output_size_hw[1])
    x, y = keypoints[..., 0], keypoints[..., 1]
    with np.errstate(invalid="ignore"):
        return (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)


def color_jitter(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Brightness, contrast and saturation factors on an RGB uint8 image, in that order.

    Brightness multiplies the pixels; contrast blends with the mean grey level of the image
    (``c * img + (1 - c) * mean``); saturation blends with the image's own grey version
    (ITU-R 601 luma, as ``cv2.COLOR_RGB2GRAY``). Results are clipped to [0, 255] and rounded.

    Shapes:
        image: (H, W, 3) uint8; return: (H, W, 3) uint8.
    """
    check_shape(image, "image", "H W 3")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
    if params.brightness == params.contrast == params.saturation == 1.0:
        return image
    img = image.astype(np.float32) * np.float32(params.brightness)
    if params.contrast != 1.0:
        grey = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        mean = np.float32(grey.mean())
        img = params.contrast * img + (1 - params.contrast) * mean
    if params.saturation != 1.0:
        grey = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        img = params.saturation * img + (1 - params.saturation) * grey[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def crop_and_augment(
    image: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray,
    center_px: torch.Tensor,
    box_height_px: float,
    output_size_hw: Sequence[int],
    params: AugmentParams,
    skeleton: Skeleton | str | Sequence[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
    """Cut an augmented crop: image, keypoints and visibility through the same affine.

    Args:
        image: RGB uint8 source image.
        keypoints: image pixels; NaN where a joint's position is unknown (stays NaN).
        visibility: per-joint flags; joints that leave the crop (or are NaN) become False.
        center_px, box_height_px: the crop window (see `augment_matrix`).
        output_size_hw: crop size (H, W).
        params: the augmentation; `AugmentParams()` for a plain crop.
        skeleton: the keypoints' layout (for the flip pairs), or a flip permutation.

    Returns:
        ``(crop, keypoints_crop, visibility_crop, M)``: the (H, W, 3) uint8 crop with colour
        jitter applied, keypoints in crop pixels (flipped joints swapped left/right), the
        visibility, and ``M`` (2, 3) float64 image -> crop.

    Shapes:
        image: (H_in, W_in, 3); keypoints: (P, J, 2) or (J, 2); visibility: (P, J) or (J,);
        returns: (H, W, 3), keypoints' shape, visibility's shape, (2, 3).
    """
    dims = check_shape(keypoints, "keypoints", "... J 2")
    check_shape(visibility, "visibility", "... J", dims)
    if visibility.shape != keypoints.shape[:-1]:
        raise ValueError(
            f"visibility: expected {keypoints.shape[:-1]} to match keypoints, "
            f"got {visibility.shape}"
        )
    size = (int(output_size_hw[0]), int(output_size_hw[1]))
    M = augment_matrix(center_px, box_height_px, size, params)
    crop = color_jitter(warp_image(image, M, size), params)
    kp = apply_affine(torch.from_numpy(np.asarray(keypoints, dtype=np.float64)), M).numpy()
    vis = np.asarray(visibility, dtype=bool) & inside_crop(kp, size)
    if params.flip:
        perm = flip_permutation(skeleton)
        if len(perm) != dims["J"]:
            raise ValueError(f"skeleton: flip permutation has {len(perm)} joints, J={dims['J']}")
        kp, vis = kp[..., perm, :], vis[..., perm]
    return crop, kp.astype(np.float32), vis, M


def flip_image(images: torch.Tensor) -> torch.Tensor:
    """Mirror images horizontally (x -> W - 1 - x), for flip test-time augmentation.

    Shapes:
        images: (..., C, H, W) or heatmaps (..., J, h, w); return: the same.
    """
    check_shape(images, "images", "... H W")
    return images.flip(-1)


def flip_back_heatmaps(
    heatmaps: torch.Tensor, skeleton: Skeleton | str | Sequence[int]
) -> torch.Tensor:
    """Heatmaps predicted on a mirrored image, mapped back to the original image.

    Mirrors the columns and swaps left/right joint channels. No 1-cell shift: posekit's
    heatmaps are edge-aligned, under which the column reversal is the exact mirror (module
    docstring). Average the result with the heatmaps of the original image.

    Shapes:
        heatmaps: (B, J, h, w); return: (B, J, h, w).
    """
    check_shape(heatmaps, "heatmaps", "B J h w")
    perm = flip_permutation(skeleton)
    if len(perm) != heatmaps.shape[1]:
        raise ValueError(
            f"heatmaps: expected J={len(perm)} channels for the skeleton, got {heatmaps.shape[1]}"
        )
    return heatmaps.flip(-1)[:, perm]


def flip_back_keypoints(
    keypoints: torch.Tensor, width_px: int, skeleton: Skeleton | str | Sequence[int]
) -> torch.Tensor:
    """Keypoints predicted on a mirrored ``width_px``-wide image, mapped back: x -> W - 1 - x,
    left/right joints swapped.

    Shapes:
        keypoints: (..., J, 2) pixels of the mirrored image; return: (..., J, 2).
    """
    check_shape(keypoints, "keypoints", "... J 2")
    perm = flip_permutation(skeleton)
    if len(perm) != keypoints.shape[-2]:
        raise ValueError(
            f"keypoints: expected J={len(perm)} joints for the skeleton, got {keypoints.shape[-2]}"
        )
    x = (width_px - 1) - keypoints[..., 0]
    out = torch.stack((x, keypoints[..., 1]), dim=-1)
    return out[..., perm, :]
