"""Soft-argmax (integral regression): differentiable expected coordinates of 2D and 3D maps.

Sun et al. 2018 ("Integral Human Pose Regression") and Sárándi et al. 2018 read a joint
position as the expectation of the coordinates under ``softmax(beta * map)``: unlike the argmax
it is differentiable and not quantised to the cells. The functions here return map units; the
codecs (`Heatmap2D`, `Volumetric3D` with ``decode_method="soft_argmax"``) map them back to input
pixels and metres.

Shapes:
    B batch, J joints, D depth bins, H/W map size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs._common import check_float, positive_float

__all__ = ["soft_argmax_2d", "soft_argmax_3d"]


def _softmax_flat(maps: Tensor, beta: float, n_spatial: int) -> Tensor:
    """``softmax(beta * maps)`` over the last ``n_spatial`` dims jointly, same shape as ``maps``."""
    beta = positive_float(beta, "beta")
    lead = maps.shape[: maps.dim() - n_spatial]
    logits = beta * maps.reshape(*lead, -1)  # (B, J, cells)
    # Subtract the per-joint maximum before exp so that no exp overflows (float32 overflows past
    # exp(88)). The shift cancels in the ratio, so its gradient is exactly zero: detaching it
    # only saves autograd the work of routing that zero through the max.
    logits = logits - logits.amax(dim=-1, keepdim=True).detach()
    weights = torch.exp(logits)  # largest entry is exp(0) = 1, so the sum is >= 1: no 0/0
    probs = weights / weights.sum(dim=-1, keepdim=True)
    return probs.reshape(maps.shape)


def soft_argmax_2d(heatmaps: Tensor, beta: float = 1.0) -> Tensor:
    """Expected (x, y) of each heatmap under ``softmax(beta * heatmap)``.

    Shapes:
        heatmaps: (B, J, H, W) logits (any real values).
        returns: (B, J, 2), (x, y) in map pixels, same dtype as ``heatmaps``.

    Convention:
        Map pixel centres at integer coordinates: x in ``[0, W-1]`` (column), y in ``[0, H-1]``
        (row); the result is a convex combination of pixel centres, so it stays inside that box.
        ``beta`` is the inverse temperature: large ``beta`` approaches the hard argmax, small
        ``beta`` pulls towards the map centre. The map is read as logits: feeding a
        probability-like map ``g >= 0`` with ``beta = 1`` weighs cells by ``exp(g)``, not ``g``
        (pass ``log(g)`` to weigh by ``g``).

    Args:
        heatmaps: network outputs, read as logits.
        beta: inverse temperature (> 0).

    Returns:
        Differentiable coordinates; gradients are finite for finite inputs.
    """
    check_shape(heatmaps, "heatmaps", "B J H W")
    check_float(heatmaps, "heatmaps")
    _, _, H, W = heatmaps.shape
    probs = _softmax_flat(heatmaps, beta, 2)  # (B, J, H, W)
    xs = torch.arange(W, dtype=heatmaps.dtype, device=heatmaps.device)
    ys = torch.arange(H, dtype=heatmaps.dtype, device=heatmaps.device)
    # Expectation through the marginals: sum over rows gives p(x), over columns p(y).
    x = (probs.sum(dim=-2) * xs).sum(dim=-1)  # (B, J)
    y = (probs.sum(dim=-1) * ys).sum(dim=-1)  # (B, J)
    return torch.stack([x, y], dim=-1)


def soft_argmax_3d(volumes: Tensor, beta: float = 1.0) -> Tensor:
    """Expected (x, y, z) of each volume under ``softmax(beta * volume)``.

    Shapes:
        volumes: (B, J, D, H, W) logits.
        returns: (B, J, 3), (x, y, z) in voxel index units, same dtype as ``volumes``.

    Convention:
        Voxel centres at integer coordinates; x indexes W (last axis), y indexes H, z indexes D
        (the depth bins). ``beta`` and the logit reading as in `soft_argmax_2d`.

    Args:
        volumes: network outputs, read as logits.
        beta: inverse temperature (> 0).

    Returns:
        Differentiable coordinates.
    """
    check_shape(volumes, "volumes", "B J D H W")
    check_float(volumes, "volumes")
    _, _, D, H, W = volumes.shape
    probs = _softmax_flat(volumes, beta, 3)  # (B, J, D, H, W)
    xs = torch.arange(W, dtype=volumes.dtype, device=volumes.device)
    ys = torch.arange(H, dtype=volumes.dtype, device=volumes.device)
    zs = torch.arange(D, dtype=volumes.dtype, device=volumes.device)
    x = (probs.sum(dim=(-3, -2)) * xs).sum(dim=-1)  # (B, J)
    y = (probs.sum(dim=(-3, -1)) * ys).sum(dim=-1)
    z = (probs.sum(dim=(-2, -1)) * zs).sum(dim=-1)
    return torch.stack([x, y, z], dim=-1)
