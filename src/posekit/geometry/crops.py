"""Affine crops: box -> crop matrix, keypoint transforms (torch) and image warps (OpenCV).

Pixel convention (see DESIGN.md): x (column) right, y (row) down, pixel centres at integer
coordinates, so pixel ``i`` covers ``[i - 0.5, i + 0.5]`` and a ``(H, W)`` image spans
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. Boxes ``(x0, y0, x1, y1)`` are continuous coordinates
in that frame: the box of a whole ``(H, W)`` image is ``(-0.5, -0.5, W - 0.5, H - 0.5)``.

A crop matrix ``M`` is a ``(2, 3)`` affine map from source-image pixels to crop pixels,
``p_crop = M[:, :2] @ p_img + M[:, 2]``. The same matrix moves keypoints (`apply_affine`,
torch, batched) and images (`warp_image`, numpy via ``cv2.warpAffine``, which uses the same
integer-centre convention), so both stay aligned. With no rotation and ``box_scale = 1`` the
box's *edges* map onto the crop's edges (-0.5 and ``W - 0.5``) and its centre onto the crop's
centre ``((W - 1) / 2, (H - 1) / 2)``; cropping the whole-image box equals ``cv2.resize``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import torch

from posekit._checks import check_shape, shape_of
from posekit.geometry._batch import check_batch_like, leading_shape, to_tensor_like

__all__ = [
    "apply_affine",
    "bbox_to_center_scale",
    "crop_matrix",
    "invert_affine",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "warp_image",
]

_INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
}


def _check_size_hw(size_hw: Sequence[int], name: str) -> tuple[int, int]:
    if len(size_hw) != 2 or any(int(s) != s or s <= 0 for s in size_hw):
        raise ValueError(f"{name}: expected (H, W) with two positive ints, got {size_hw!r}")
    return int(size_hw[0]), int(size_hw[1])


def bbox_to_center_scale(
    bbox_xyxy: torch.Tensor, output_size_hw: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and height of a box padded to the aspect ratio of the output crop.

    The box is enlarged, never shrunk, along one axis so that ``width / height = W / H``;
    the padded box keeps the original centre.

    Args:
        bbox_xyxy: boxes ``(x0, y0, x1, y1)`` in pixels, continuous coordinates (see module).
        output_size_hw: the crop size ``(H, W)`` in pixels.

    Returns:
        ``center_px`` ``(x, y)`` and ``box_height_px``, the height of the padded box (its width
        is ``box_height_px * W / H``); pass both to `crop_matrix`.

    Shapes:
        bbox_xyxy: (..., 4)
        return: (..., 2) and (...)
    """
    check_shape(bbox_xyxy, "bbox_xyxy", "... 4")
    height_out, width_out = _check_size_hw(output_size_hw, "output_size_hw")
    x0, y0, x1, y1 = bbox_xyxy.unbind(-1)
    center = torch.stack(((x0 + x1) / 2, (y0 + y1) / 2), dim=-1)
    box_height = torch.maximum(y1 - y0, (x1 - x0) * (height_out / width_out))
    return center, box_height


def crop_matrix(
    center_px: torch.Tensor,
    box_height_px: float | torch.Tensor,
    output_size_hw: Sequence[int],
    rotation_rad: float | torch.Tensor = 0.0,
    box_scale: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """Affine matrices mapping source-image pixels to crop pixels.

    The crop window is centred on ``center_px``, is ``box_height_px * box_scale`` pixels high
    (and ``W / H`` times as wide) in the source image, and is turned by ``rotation_rad``.

    Args:
        center_px: window centres ``(x, y)`` in source pixels.
        box_height_px: window heights in source pixels, before ``box_scale``
            (from `bbox_to_center_scale`).
        output_size_hw: the crop size ``(H, W)`` in pixels.
        rotation_rad: rotation of the content, radians, float or tensor ``(...)``.
        box_scale: factor on the window size, float or tensor ``(...)``: above 1 the window
            grows (more context, the person looks smaller), below 1 it shrinks (zoom in).

    Returns:
        ``M`` such that ``p_crop = M[..., :2] @ p_img + M[..., 2]``, with the dtype of
        ``center_px``.

    Shapes:
        center_px: (..., 2)
        box_height_px: (...) (a float when center_px is (2,))
        rotation_rad: float, () or (...)
        box_scale: float, () or (...)
        return: (..., 2, 3)

    Convention:
        Positive ``rotation_rad`` turns the image content counter-clockwise *as seen on
        screen* (y down), about the window centre, as ``cv2.getRotationMatrix2D`` with a
        positive angle: a point right of the centre ends up above it. The window therefore
        turns clockwise over the source image. With zero rotation and ``box_scale = 1`` the
        window's edges map onto the crop's edges (-0.5 and ``W - 0.5``, pixel centres at
        integers) and its centre onto ``((W - 1) / 2, (H - 1) / 2)``, i.e.::

            p_crop = a * Rot(rotation) @ (p_img - center) + ((W - 1) / 2, (H - 1) / 2)
            a = H / (box_height_px * box_scale)
    """
    check_shape(center_px, "center_px", "... 2")
    batch = leading_shape(center_px, 1)
    if shape_of(box_height_px) != batch:
        raise ValueError(
            f"box_height_px: expected {batch} to match center_px {tuple(center_px.shape)}, "
            f"got {shape_of(box_height_px)}"
        )
    height_out, width_out = _check_size_hw(output_size_hw, "output_size_hw")
    check_batch_like(rotation_rad, "rotation_rad", "", batch, "center_px")
    check_batch_like(box_scale, "box_scale", "", batch, "center_px")
    rotation = to_tensor_like(rotation_rad, center_px, "rotation_rad")
    scale = to_tensor_like(box_scale, center_px, "box_scale")
    box_height = to_tensor_like(box_height_px, center_px, "box_height_px")
    a = height_out / (box_height * scale)  # (...), crop pixels per source pixel
    a_cos = a * torch.cos(rotation)
    a_sin = a * torch.sin(rotation)
    # Image-axis rotation (y down) that turns content counter-clockwise on screen.
    linear = torch.stack((a_cos, a_sin, -a_sin, a_cos), dim=-1).unflatten(-1, (2, 2))
    out_center = center_px.new_tensor(((width_out - 1) / 2, (height_out - 1) / 2))
    offset = out_center - (linear @ center_px.unsqueeze(-1)).squeeze(-1)  # (..., 2)
    return torch.cat((linear, offset.unsqueeze(-1)), dim=-1)


def invert_affine(M: torch.Tensor) -> torch.Tensor:
    """Inverse of affine matrices: crop -> image if ``M`` is image -> crop.

    Args:
        M: invertible affine matrices ``[A | b]``.

    Returns:
        ``[A^-1 | -A^-1 b]``.

    Shapes:
        M: (..., 2, 3)
        return: (..., 2, 3)

    Convention:
        The 2x2 inverse is written in closed form (adjugate over determinant), exact and
        differentiable; a singular ``A`` gives inf/NaN (pure maths, no check).
    """
    check_shape(M, "M", "... 2 3")
    a, b, c, d = M[..., 0, 0], M[..., 0, 1], M[..., 1, 0], M[..., 1, 1]
    det = a * d - b * c
    inv_linear = torch.stack((d, -b, -c, a), dim=-1).unflatten(-1, (2, 2)) / det[..., None, None]
    inv_offset = -(inv_linear @ M[..., :, 2:3])  # (..., 2, 1)
    return torch.cat((inv_linear, inv_offset), dim=-1)


def apply_affine(points: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Apply affine matrices to 2D points (keypoints in pixels).

    Args:
        points: 2D points ``(x, y)``.
        M: affine matrices, e.g. from `crop_matrix`; one per batch item or one for all.

    Returns:
        ``M[..., :2] @ p + M[..., 2]`` for each point.

    Shapes:
        points: (..., J, 2)
        M: (2, 3) or (..., 2, 3)
        return: (..., J, 2)
    """
    check_shape(points, "points", "... J 2")
    check_batch_like(M, "M", "2 3", leading_shape(points, 2), "points")
    return points @ M[..., :, :2].transpose(-1, -2) + M[..., :, 2].unsqueeze(-2)


def warp_image(
    image: np.ndarray,
    M: np.ndarray | torch.Tensor,
    output_size_hw: Sequence[int],
    interpolation: Literal["nearest", "linear", "cubic"] = "linear",
    border_value: float = 0.0,
) -> np.ndarray:
    """Warp one image with an affine matrix (``cv2.warpAffine``), e.g. to cut a crop.

    Args:
        image: the source image, ``(H_in, W_in)`` or ``(H_in, W_in, C)``, any dtype OpenCV
            accepts (uint8, float32, ...), any number of channels.
        M: source -> output affine matrix, as returned by `crop_matrix` (a single one; a
            torch tensor is detached and copied to the CPU).
        output_size_hw: ``(H, W)`` of the output.
        interpolation: ``"nearest"``, ``"linear"`` or ``"cubic"``. Linear interpolation
            aliases when shrinking by more than about 2x; blur the source first if it matters.
        border_value: value of output pixels that fall outside the source.

    Returns:
        The warped image, ``(H, W)`` or ``(H, W, C)``, same dtype as ``image``.

    Shapes:
        image: (H_in, W_in) or (H_in, W_in, C)
        M: (2, 3)
        return: (H, W) or (H, W, C)

    Convention:
        Output pixel ``p`` takes the source value at ``M^-1 p``; OpenCV samples with pixel
        centres at integer coordinates, as everywhere in posekit, so keypoints moved with
        `apply_affine` and the same ``M`` land on the warped content.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        shape = getattr(image, "shape", None)
        raise ValueError(
            f"image: expected a numpy array (H, W) or (H, W, C), got {type(image).__name__} "
            f"with shape {shape}"
        )
    check_shape(M, "M", "2 3")
    if interpolation not in _INTERPOLATION:
        raise ValueError(
            f"interpolation: expected one of {sorted(_INTERPOLATION)}, got {interpolation!r}"
        )
    height_out, width_out = _check_size_hw(output_size_hw, "output_size_hw")
    if isinstance(M, torch.Tensor):
        M = M.detach().cpu().numpy()
    channels = image.shape[2] if image.ndim == 3 else 0
    out = cv2.warpAffine(
        image,
        np.asarray(M, dtype=np.float64),
        (width_out, height_out),  # OpenCV's dsize is (width, height)
        flags=_INTERPOLATION[interpolation],
        borderMode=cv2.BORDER_CONSTANT,
        # A 4-vector: OpenCV reuses it cyclically for images with more than 4 channels.
        borderValue=(float(border_value),) * 4,
    )
    if channels == 1:  # OpenCV drops a trailing channel axis of size 1
        out = out[..., None]
    return out


def pixels_to_normalized(points_px: torch.Tensor, size_hw: Sequence[int]) -> torch.Tensor:
    """Pixel coordinates to normalized image coordinates in [-1, 1].

    Args:
        points_px: ``(x, y)`` in pixels, pixel centres at integer coordinates.
        size_hw: the image (crop) size ``(H, W)``.

    Returns:
        ``x_n = (2 x + 1) / W - 1`` and ``y_n = (2 y + 1) / H - 1``.

    Shapes:
        points_px: (..., J, 2)
        return: (..., J, 2)

    Convention:
        -1 and +1 are the image's outer edges (-0.5 and ``W - 0.5`` px), 0 its centre, as in
        ``torch.nn.functional.grid_sample(align_corners=False)`` and the weak-perspective
        camera of `posekit.geometry.camera.weak_perspective_project`.
    """
    check_shape(points_px, "points_px", "... J 2")
    height, width = _check_size_hw(size_hw, "size_hw")
    size = points_px.new_tensor((width, height))
    return (2 * points_px + 1) / size - 1


def normalized_to_pixels(points_normalized: torch.Tensor, size_hw: Sequence[int]) -> torch.Tensor:
    """Normalized image coordinates in [-1, 1] to pixels; inverse of `pixels_to_normalized`.

    Args:
        points_normalized: ``(x_n, y_n)``, -1 and +1 at the image's outer edges.
        size_hw: the image (crop) size ``(H, W)``.

    Returns:
        ``x = ((x_n + 1) W - 1) / 2`` and ``y = ((y_n + 1) H - 1) / 2``, pixel centres at
        integer coordinates.

    Shapes:
        points_normalized: (..., J, 2)
        return: (..., J, 2)
    """
    check_shape(points_normalized, "points_normalized", "... J 2")
    height, width = _check_size_hw(size_hw, "size_hw")
    size = points_normalized.new_tensor((width, height))
    return ((points_normalized + 1) * size - 1) / 2
