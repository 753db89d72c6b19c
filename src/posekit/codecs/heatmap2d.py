"""2D Gaussian heatmaps: keypoints → training targets, network heatmaps → keypoints.

Shapes:
    B batch, J joints, H/W input (crop) size, h/w heatmap size.

The encoder writes unbiased sub-pixel Gaussians (the centre is not rounded to a cell, as in
DARK's "unbiased encoding"); the decoder takes the argmax and refines it. The default
refinement is DARK (Zhang et al. 2020, "Distribution-Aware Coordinate Representation for Human
Pose Estimation"): the log of a Gaussian is a quadratic, so one Newton step
``m - H^{-1} g`` on the log-heatmap at the argmax lands on its centre, optionally after a
Gaussian blur ("distribution modulation") that makes a network's output more Gaussian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs._common import (
    as_size,
    check_float,
    edge_scale,
    gaussian_1d,
    input_to_map,
    inside_extent,
    map_to_input,
    positive_float,
    visible_mask,
)
from posekit.codecs.soft_argmax import soft_argmax_2d

__all__ = ["Decode2DMethod", "Heatmap2D", "gaussian_blur_2d", "taylor_refine_2d"]

Decode2DMethod = Literal["dark", "quarter", "argmax", "soft_argmax"]
_METHODS = ("dark", "quarter", "argmax", "soft_argmax")

# log() of a heatmap clamps it here first: network outputs can be <= 0, and exact zeros occur in
# empty maps. Far below any value a Gaussian target takes within a few cells of its peak.
_LOG_FLOOR = 1e-10


@dataclass(frozen=True)
class Heatmap2D:
    """Gaussian heatmap codec for 2D keypoints (Newell 2016, Xiao 2018, DARK 2020).

    Shapes:
        B batch, J joints, H/W ``input_size``, h/w ``heatmap_size``.
        encode: keypoints (B, J, 2), visibility (B, J) → heatmaps (B, J, h, w), weights (B, J).
        decode: heatmaps (B, J, h, w) → keypoints (B, J, 2), confidences (B, J).

    Convention:
        Keypoints are (x, y) in input pixels with pixel centres at integer coordinates; sizes are
        (H, W). Input and heatmap are aligned by their outer edges (see `posekit.codecs` and
        ``grid_sample(align_corners=False)``): heatmap cell ``(i, j)`` is centred on input pixel
        ``((j + 0.5) * W / w - 0.5, (i + 0.5) * H / h - 0.5)``. ``sigma`` is in heatmap cells.

    Attributes:
        input_size: (H, W) of the network input crop.
        heatmap_size: (h, w) of the heatmaps, each >= 3 (the DARK stencil needs 3 cells).
        sigma: Gaussian standard deviation in heatmap cells.
        decode_method: ``"dark"`` (Taylor refinement of the log-heatmap, default),
            ``"quarter"`` (argmax + 0.25 cell towards the higher neighbour, Newell 2016),
            ``"argmax"`` (no refinement) or ``"soft_argmax"`` (differentiable integral
            regression, the heatmaps read as logits, see `soft_argmax_2d`).
        blur: with ``"dark"``, blur the heatmaps with a Gaussian of ``sigma`` before the log
            (DARK's distribution modulation; default on). It makes noisy network outputs closer
            to a Gaussian (it cuts the decode error on noisy maps several times, see the
            tests), but a blur cannot see past the border and would drag maxima near it
            inwards, so maxima within ``2 sigma`` cells of the border are refined on the
            unblurred map. Clean targets round-trip to < 0.02 cell either way.
        beta: inverse temperature of ``"soft_argmax"``.
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float = 2.0
    decode_method: Decode2DMethod = "dark"
    blur: bool = True
    beta: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", as_size(self.input_size, 2, "input_size"))
        object.__setattr__(
            self, "heatmap_size", as_size(self.heatmap_size, 2, "heatmap_size", minimum=3)
        )
        object.__setattr__(self, "sigma", positive_float(self.sigma, "sigma"))
        object.__setattr__(self, "beta", positive_float(self.beta, "beta"))
        if self.decode_method not in _METHODS:
            raise ValueError(
                f"decode_method: expected one of {_METHODS}, got {self.decode_method!r}"
            )

    def _scale(self, like: Tensor) -> Tensor:
        """(w / W, h / H) in x, y order."""
        (H, W), (h, w) = self.input_size, self.heatmap_size
        return edge_scale((w, h), (W, H), like)

    def encode(self, keypoints: Tensor, visibility: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Gaussian targets and per-joint weights.

        Shapes:
            keypoints: (B, J, 2) input pixels, (x, y).
            visibility: (B, J), any dtype; a joint is used where it is > 0. None: all used.
            returns: heatmaps (B, J, h, w) with peak 1 at the sub-pixel keypoint, and weights
            (B, J) in {0, 1}; both in the dtype of ``keypoints``.

        Convention:
            A joint gets weight 0 and an all-zero heatmap when it is invisible, when any of its
            coordinates is NaN or infinite (NaN means "missing" and never reaches the targets),
            or when its ``±3 sigma`` box lies entirely outside the heatmap. A joint just outside
            the map keeps weight 1 and the visible tail of its Gaussian.
        """
        dims = check_shape(keypoints, "keypoints", "B J 2")
        check_float(keypoints, "keypoints")
        used = visible_mask(keypoints, visibility, dims)  # (B, J)
        h, w = self.heatmap_size
        # Replace unused keypoints by 0 before any arithmetic: NaN * 0 is NaN.
        mu = input_to_map(torch.where(used[..., None], keypoints, 0.0), self._scale(keypoints))
        used = used & inside_extent(mu, (w, h), self.sigma)
        weights = used.to(keypoints.dtype)  # (B, J)
        gx = gaussian_1d(mu[..., 0], w, self.sigma)  # (B, J, w)
        gy = gaussian_1d(mu[..., 1], h, self.sigma) * weights[..., None]  # (B, J, h)
        heatmaps = gy[..., :, None] * gx[..., None, :]  # (B, J, h, w) outer product
        return heatmaps, weights

    def decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """Keypoints and confidences from heatmaps, with ``decode_method``.

        Shapes:
            heatmaps: (B, J, h, w).
            returns: keypoints (B, J, 2) input pixels (x, y), confidences (B, J) = the heatmap
            maximum; in the dtype of ``heatmaps``.

        Convention:
            Pure maths: no NaN scan. An all-zero heatmap (an unused joint) decodes to cell
            (0, 0) with confidence 0. ``"soft_argmax"`` is differentiable; the other methods are
            not (argmax).
        """
        h, w = self.heatmap_size
        check_shape(heatmaps, "heatmaps", f"B J {h} {w}")
        check_float(heatmaps, "heatmaps")
        B, J = heatmaps.shape[:2]
        confidences, flat_index = heatmaps.reshape(B, J, h * w).max(dim=-1)  # (B, J)
        ix, iy = flat_index % w, flat_index // w
        if self.decode_method == "soft_argmax":
            coords = soft_argmax_2d(heatmaps, self.beta)
        elif self.decode_method == "dark":
            coords = taylor_refine_2d(heatmaps.clamp_min(_LOG_FLOOR).log(), ix, iy)
            if self.blur:
                blurred = gaussian_blur_2d(heatmaps, self.sigma).clamp_min(_LOG_FLOOR).log()
                # The blur cannot see past the border, so it drags peaks near it inwards (by up
                # to 1.5 cells at the edge, 0.05 at 3 cells, for sigma 2). Keep the unblurred
                # step, exact on clean maps, for maxima within 2 sigma of the border.
                m = math.ceil(2.0 * self.sigma)
                far = (ix >= m) & (ix <= w - 1 - m) & (iy >= m) & (iy <= h - 1 - m)
                coords = torch.where(far[..., None], taylor_refine_2d(blurred, ix, iy), coords)
        elif self.decode_method == "quarter":
            coords = _quarter_offset(heatmaps, ix, iy)
        else:
            coords = torch.stack([ix, iy], dim=-1).to(heatmaps.dtype)
        return map_to_input(coords, self._scale(coords)), confidences


def gaussian_blur_2d(maps: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of each map (DARK's distribution modulation).

    Shapes:
        maps: (B, J, H, W) → (B, J, H, W).

    Convention:
        Kernel radius ``ceil(3 sigma)``, normalised to sum 1 (the scale does not matter to the
        log-Taylor step, which only sees log differences). Borders are zero-padded: a peak
        near the edge is then attenuated rather than mirrored, which keeps its side of the
        border right but biases it by a fraction of a cell.
    """
    check_shape(maps, "maps", "B J H W")
    B, J, H, W = maps.shape
    radius = math.ceil(3.0 * sigma)
    k = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-(k**2) / (2.0 * sigma * sigma))
    kernel = kernel / kernel.sum()
    x = maps.reshape(B * J, 1, H, W)  # one channel per map; conv2d wants (N, C, H, W)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1), padding=(0, radius))  # along W
    x = F.conv2d(x, kernel.view(1, 1, -1, 1), padding=(radius, 0))  # along H
    return x.reshape(B, J, H, W)


def taylor_refine_2d(log_maps: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """Second-order Taylor (Newton) refinement of integer maxima on log-heatmaps (DARK).

    Shapes:
        log_maps: (B, J, H, W) log-heatmaps, H, W >= 3.
        ix, iy: (B, J) integer column and row of each maximum.
        returns: (B, J, 2) refined (x, y) in map pixels.

    Convention:
        Gradient and Hessian by central differences on the 3x3 stencil, then
        ``x = c - H^{-1} g``. The stencil is centred on the nearest *interior* cell
        ``c = clamp(argmax, 1, size - 2)``: a maximum on the border needs no padding, and since
        the Newton step on a quadratic is exact from any starting point, the log of a clean
        Gaussian is still recovered exactly there. Where the Hessian is not negative definite
        (a flat or saddle-shaped neighbourhood) the argmax is returned unrefined; the result is
        kept within one cell of the argmax so that noise cannot throw it far.
    """
    check_shape(log_maps, "log_maps", "B J H W")
    B, J, H, W = log_maps.shape
    cx = ix.clamp(1, W - 2)
    cy = iy.clamp(1, H - 2)
    offsets = torch.arange(-1, 2, device=log_maps.device)
    rows = cy[..., None] + offsets  # (B, J, 3)
    cols = cx[..., None] + offsets  # (B, J, 3)
    index = rows[..., :, None] * W + cols[..., None, :]  # (B, J, 3, 3) flat indices
    L = log_maps.reshape(B, J, H * W).gather(-1, index.reshape(B, J, 9)).reshape(B, J, 3, 3)
    # L[..., r, c] is the log value at row cy + r - 1, column cx + c - 1.
    gx = 0.5 * (L[..., 1, 2] - L[..., 1, 0])
    gy = 0.5 * (L[..., 2, 1] - L[..., 0, 1])
    hxx = L[..., 1, 2] - 2.0 * L[..., 1, 1] + L[..., 1, 0]
    hyy = L[..., 2, 1] - 2.0 * L[..., 1, 1] + L[..., 0, 1]
    hxy = 0.25 * (L[..., 2, 2] - L[..., 2, 0] - L[..., 0, 2] + L[..., 0, 0])
    det = hxx * hyy - hxy * hxy
    ok = (hxx < 0) & (det > 0)  # negative definite: a proper maximum
    # torch.where evaluates both branches: divide by a safe 1 where the step is rejected so no
    # inf/NaN is ever formed (it would leak into gradients if this were ever differentiated).
    safe_det = torch.where(ok, det, torch.ones_like(det))
    dx = -(hyy * gx - hxy * gy) / safe_det  # -(H^{-1} g), H^{-1} = [[hyy, -hxy], [-hxy, hxx]] / det
    dy = -(hxx * gy - hxy * gx) / safe_det
    x0, y0 = ix.to(log_maps.dtype), iy.to(log_maps.dtype)
    x = torch.where(ok, cx.to(log_maps.dtype) + dx, x0)
    y = torch.where(ok, cy.to(log_maps.dtype) + dy, y0)
    x = torch.minimum(torch.maximum(x, x0 - 1.0), x0 + 1.0)
    y = torch.minimum(torch.maximum(y, y0 - 1.0), y0 + 1.0)
    return torch.stack([x, y], dim=-1)


def _quarter_offset(heatmaps: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """Argmax moved 0.25 cell towards the higher neighbour on each axis (Newell 2016).

    Shapes:
        heatmaps: (B, J, H, W); ix, iy: (B, J) → (B, J, 2) (x, y) in map pixels.

    On a border cell the missing neighbour means no shift along that axis.
    """
    B, J, H, W = heatmaps.shape
    flat = heatmaps.reshape(B, J, H * W)

    def at(r: Tensor, c: Tensor) -> Tensor:
        index = r.clamp(0, H - 1) * W + c.clamp(0, W - 1)
        return flat.gather(-1, index[..., None])[..., 0]

    inner_x = (ix >= 1) & (ix <= W - 2)
    inner_y = (iy >= 1) & (iy <= H - 2)
    dx = torch.sign(at(iy, ix + 1) - at(iy, ix - 1)) * inner_x
    dy = torch.sign(at(iy + 1, ix) - at(iy - 1, ix)) * inner_y
    x = ix.to(heatmaps.dtype) + 0.25 * dx
    y = iy.to(heatmaps.dtype) + 0.25 * dy
    return torch.stack([x, y], dim=-1)
