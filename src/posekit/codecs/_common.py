"""Private helpers shared by the codecs (not part of the public API).

One coordinate convention serves every codec, the *edge-aligned* one (the convention of
``torch.nn.functional.grid_sample(align_corners=False)`` and ``interpolate(align_corners=False)``):
pixel centres sit at integer coordinates, so an axis of ``L`` pixels spans ``[-0.5, L - 0.5]``,
and an input axis of ``L_in`` pixels is mapped onto a map axis of ``L_map`` cells by matching these
outer edges::

    u = (x + 0.5) * L_map / L_in - 0.5        x = (u + 0.5) * L_in / L_map - 0.5

With an integer stride ``s = L_in / L_map`` map cell ``k`` covers input pixels ``k*s .. k*s+s-1``
and its centre is ``k*s + (s-1)/2``, the centre of that block (not ``k*s``, the mmpose choice,
which shifts every decoded keypoint by ``(s-1)/2`` pixels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from posekit._checks import check_shape

__all__ = [
    "argmax_local_mean",
    "as_size",
    "check_float",
    "edge_scale",
    "gaussian_1d",
    "input_to_map",
    "inside_extent",
    "map_to_input",
    "positive_float",
    "visible_mask",
]


def as_size(value: Any, n: int, name: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints, each at least ``minimum``; ``ValueError`` otherwise."""
    if isinstance(value, int) or not isinstance(value, Sequence) or len(value) != n:
        raise ValueError(f"{name}: expected a sequence of {n} ints, got {value!r}")
    out = tuple(int(v) for v in value)
    if any(v != w for v, w in zip(out, value)) or any(v < minimum for v in out):
        raise ValueError(f"{name}: expected {n} ints >= {minimum}, got {value!r}")
    return out


def positive_float(value: Any, name: str) -> float:
    """``value`` as a float > 0 (finite); ``ValueError`` otherwise."""
    try:
        out = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a positive number, got {value!r}") from err
    if not math.isfinite(out) or out <= 0.0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return out


def check_float(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating-point torch tensor."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got {x.dtype}")


def edge_scale(map_len: Sequence[float], input_len: Sequence[float], like: Tensor) -> Tensor:
    """Per-axis ``map_len / input_len`` as a tensor shaped like the last dim of ``like``."""
    ratio = [float(m) / float(i) for m, i in zip(map_len, input_len)]
    return torch.tensor(ratio, dtype=like.dtype, device=like.device)


def input_to_map(x: Tensor, scale: Tensor) -> Tensor:
    """Input coordinates to map coordinates (edge-aligned), ``scale = map_len / input_len``."""
    return (x + 0.5) * scale - 0.5


def map_to_input(u: Tensor, scale: Tensor) -> Tensor:
    """Map coordinates to input coordinates (edge-aligned), the inverse of `input_to_map`."""
    return (u + 0.5) / scale - 0.5


def gaussian_1d(mu: Tensor, size: int, sigma: float) -> Tensor:
    """Unnormalised Gaussian ``exp(-(k - mu)^2 / (2 sigma^2))`` sampled at ``k = 0..size-1``.

    Shapes:
        mu: (...) centres in cell units.
        returns: (..., size), peak value 1 at the (continuous) centre.

    The codecs build their 2D/3D targets as outer products of these 1D factors: the
    separable Gaussian costs ``O(H + W)`` exponentials per joint instead of ``O(H * W)``.
    """
    k = torch.arange(size, dtype=mu.dtype, device=mu.device)
    return torch.exp(-((k - mu[..., None]) ** 2) / (2.0 * sigma * sigma))


def inside_extent(mu: Tensor, sizes: Sequence[int], sigma: float) -> Tensor:
    """Whether the ``±3 sigma`` box around ``mu`` overlaps the map extent on every axis.

    Shapes:
        mu: (..., C) centres in cell units, axes in the order of ``sizes``.
        returns: (...) bool.

    The map extent of an axis of ``L`` cells is ``[-0.5, L - 0.5]``; a Gaussian whose 3-sigma
    box lies entirely beyond it leaves less than ``exp(-4.5) ≈ 1 %`` of its peak on the map, and
    its joint gets weight 0.
    """
    upper = torch.tensor([float(s) - 0.5 for s in sizes], dtype=mu.dtype, device=mu.device)
    margin = 3.0 * sigma
    return ((mu >= -0.5 - margin) & (mu <= upper + margin)).all(dim=-1)


def visible_mask(
    keypoints: Tensor, visibility: Tensor | None, dims: dict[str, int], name: str = "visibility"
) -> Tensor:
    """``visibility > 0`` and every coordinate finite: the joints an encoder may use.

    Shapes:
        keypoints: (B, J, C); visibility: (B, J) of any dtype (bool, int or float) or None (all
        visible). ``dims`` holds the bindings of ``B`` and ``J`` from the keypoint check.
        returns: (B, J) bool.

    NaN or infinite keypoints count as invisible: this is the one place where a codec looks
    at values (the NaN rule of `posekit._checks` makes encoders the exception).
    """
    finite = keypoints.isfinite().all(dim=-1)
    if visibility is None:
        return finite
    check_shape(visibility, name, "B J", dims)
    if not isinstance(visibility, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(visibility).__name__}")
    return finite & (visibility.to(keypoints.device) > 0)


def argmax_local_mean(volumes: Tensor, neighbourhood: int) -> tuple[Tensor, Tensor]:
    """Argmax of each volume refined by the weighted mean of the window around it.

    Shapes:
        volumes: (B, J, D, H, W) axes (z, y, x).
        returns: cells (B, J, 3) as (x, y, z) cell coordinates (cell centres at integers) and
        confidences (B, J) = the maximum; in the dtype of ``volumes``.

    Convention:
        The mean weighs the cell centres of the ``neighbourhood``-cell window (per axis) around
        the argmax by ``max(volume, 0)``; near the border the window shrinks, per axis, to the
        largest one symmetric about the argmax (a one-sided window would pull the mean
        inwards). A window of zero weights falls back to the argmax cell; ``neighbourhood``
        1 is the plain argmax. On a clean Gaussian the mean is biased towards the argmax cell
        but less than the argmax itself (sigma 1.7: at most 0.38 / 0.23 / 0.10 cell per axis
        for 3 / 5 / 7-cell windows against 0.5). Pure maths, no NaN scan.
    """
    B, J, D, H, W = volumes.shape
    flat = volumes.reshape(B, J, D * H * W)
    confidences, flat_index = flat.max(dim=-1)  # (B, J)
    sizes = torch.tensor([W, H, D], device=volumes.device)
    argmax = torch.stack([flat_index % W, (flat_index // W) % H, flat_index // (W * H)], -1)
    r = neighbourhood // 2
    offsets = torch.arange(-r, r + 1, device=volumes.device)
    window = argmax[..., None] + offsets  # (B, J, 3, n) cell indices per axis
    radius = torch.minimum(argmax, sizes - 1 - argmax).clamp(max=r)  # (B, J, 3)
    inside = offsets.abs() <= radius[..., None]  # (B, J, 3, n)
    window = torch.minimum(window.clamp_min(0), (sizes - 1)[:, None])
    wx, wy, wz = window.unbind(dim=-2)  # each (B, J, n)
    mx, my, mz = inside.unbind(dim=-2)
    index = (wz[..., :, None, None] * H + wy[..., None, :, None]) * W + wx[..., None, None, :]
    values = flat.gather(-1, index.reshape(B, J, -1)).view(index.shape)  # (B, J, n, n, n)
    mask = mz[..., :, None, None] & my[..., None, :, None] & mx[..., None, None, :]
    w = values.clamp_min(0.0) * mask  # (B, J, n, n, n)
    total = w.sum(dim=(-3, -2, -1))  # (B, J)
    x = (w.sum(dim=(-3, -2)) * wx.to(volumes.dtype)).sum(-1)  # marginal over z, y; mean of x
    y = (w.sum(dim=(-3, -1)) * wy.to(volumes.dtype)).sum(-1)
    z = (w.sum(dim=(-2, -1)) * wz.to(volumes.dtype)).sum(-1)
    ok = total > 0
    safe_total = torch.where(ok, total, torch.ones_like(total))
    mean = torch.stack([x, y, z], dim=-1) / safe_total[..., None]
    return torch.where(ok[..., None], mean, argmax.to(volumes.dtype)), confidences
