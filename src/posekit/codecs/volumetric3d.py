"""Volumetric heatmaps for 3D pose: (pixels, root-relative depth) ↔ (D, H, W) volumes.

Shapes:
    B batch, J joints, D depth bins, H/W volume height and width (the heatmap grid of the
    crop); H_in/W_in the input crop size.

Pavlakos et al. 2017 ("Coarse-to-fine volumetric prediction") and Sun et al. 2018 (integral
regression) predict, per joint, a volume whose x and y axes are the image plane of the crop and
whose z axis discretises the depth relative to the root joint. Decoding by argmax is quantised
to the bins (at most half a bin of error per axis, on clean targets); decoding by soft-argmax
is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs._common import (
    argmax_local_mean,
    as_size,
    check_float,
    edge_scale,
    gaussian_1d,
    inside_extent,
    positive_float,
    visible_mask,
)
from posekit.codecs.soft_argmax import soft_argmax_3d

__all__ = ["DecodeVolumeMethod", "Volumetric3D"]

DecodeVolumeMethod = Literal["argmax", "soft_argmax"]
_METHODS = ("argmax", "soft_argmax")


@dataclass(frozen=True)
class Volumetric3D:
    """Volumetric heatmap codec: 2D pixels of the crop + root-relative depth in metres.

    Shapes:
        B batch, J joints, (D, H, W) ``heatmap_size``, (H_in, W_in) ``input_size``.
        encode: keypoints_px (B, J, 2), depth_rel_m (B, J), visibility (B, J)
            → volumes (B, J, D, H, W), weights (B, J).
        decode: volumes (B, J, D, H, W) → keypoints_px (B, J, 2), depth_rel_m (B, J),
            confidences (B, J).

    Convention:
        x, y: input-crop pixels, pixel centres at integer coordinates, mapped onto the W, H
        axes edge-aligned as in `Heatmap2D`. z: depth relative to the root joint in metres
        (camera z of the joint minus camera z of the root, positive away from the camera),
        mapped linearly onto the D bins so that ``[-depth_range_m / 2, +depth_range_m / 2]``
        spans the outer edges of the bins: bin ``k`` is centred on
        ``(k + 0.5) * depth_range_m / D - depth_range_m / 2``. ``sigma`` is in cells on all
        three axes (bins along z).

        Argmax decoding returns cell centres, so on a clean target its error is at most half a
        cell per axis (``bin_size_m / 2`` in depth); soft-argmax is read on logits (Sun 2018:
        the network output goes through a softmax), so decoding an encoded target with it
        needs the target's log (``softmax(log g) = g / sum(g)``, whose mean is the centre).
        Soft-argmax is exact only while the distribution fits in the volume: a Gaussian cut by
        the border has its mean pulled inwards (about 0.06 cell at 2 sigma from the edge cell,
        1.3 cells on it, sigma 2), whereas the argmax bound of half a cell holds everywhere.

    Attributes:
        heatmap_size: (D, H, W) of the volumes.
        input_size: (H_in, W_in) of the network input crop.
        depth_range_m: total depth range covered by the D bins, centred on the root.
        sigma: Gaussian standard deviation in cells.
        decode_method: ``"argmax"`` (default; matches training on these Gaussian targets) or
            ``"soft_argmax"`` (integral regression, differentiable).
        beta: inverse temperature of ``"soft_argmax"``.
        neighbourhood: with ``"argmax"``, refine the argmax cell by the weighted mean of the
            ``neighbourhood``-cell window around it (sub-voxel refinement,
            `posekit.codecs._common.argmax_local_mean`); 1 (default): the cell centre.
    """

    heatmap_size: tuple[int, int, int]
    input_size: tuple[int, int]
    depth_range_m: float = 2.0
    sigma: float = 2.0
    decode_method: DecodeVolumeMethod = "argmax"
    beta: float = 1.0
    neighbourhood: int = 1

    def __post_init__(self) -> None:
        n = self.neighbourhood
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n % 2 == 0:
            raise ValueError(f"neighbourhood: expected an odd int >= 1, got {n!r}")
        object.__setattr__(self, "heatmap_size", as_size(self.heatmap_size, 3, "heatmap_size"))
        object.__setattr__(self, "input_size", as_size(self.input_size, 2, "input_size"))
        object.__setattr__(
            self, "depth_range_m", positive_float(self.depth_range_m, "depth_range_m")
        )
        object.__setattr__(self, "sigma", positive_float(self.sigma, "sigma"))
        object.__setattr__(self, "beta", positive_float(self.beta, "beta"))
        if self.decode_method not in _METHODS:
            raise ValueError(
                f"decode_method: expected one of {_METHODS}, got {self.decode_method!r}"
            )

    @property
    def bin_size_m(self) -> float:
        """Depth extent of one bin, metres."""
        return self.depth_range_m / self.heatmap_size[0]

    def _affine(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """``(offset, scale)`` with ``cells = (xyz + offset) * scale - 0.5``, (x, y, z) order.

        Every axis maps its extent onto ``[-0.5, L - 0.5]`` cells: the pixel axes span
        ``[-0.5, L_in - 0.5]`` (offset 0.5, as in `Heatmap2D`), the depth axis spans
        ``[-depth_range_m / 2, depth_range_m / 2]`` metres (offset ``depth_range_m / 2``).
        """
        D, H, W = self.heatmap_size
        H_in, W_in = self.input_size
        R = self.depth_range_m
        offset = torch.tensor([0.5, 0.5, R / 2], dtype=like.dtype, device=like.device)
        return offset, edge_scale((W, H, D), (W_in, H_in, R), like)

    def _to_cells(self, xyz: Tensor) -> Tensor:
        """(x px, y px, z_rel m) → (x, y, z) cell coordinates, cell centres at integers."""
        offset, scale = self._affine(xyz)
        return (xyz + offset) * scale - 0.5

    def _from_cells(self, cells: Tensor) -> Tensor:
        """(x, y, z) cell coordinates → (x px, y px, z_rel m); inverse of `_to_cells`."""
        offset, scale = self._affine(cells)
        return (cells + 0.5) / scale - offset

    def encode(
        self, keypoints_px: Tensor, depth_rel_m: Tensor, visibility: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Separable 3D Gaussian targets and per-joint weights.

        Shapes:
            keypoints_px: (B, J, 2) input-crop pixels (x, y).
            depth_rel_m: (B, J) depth relative to the root, metres.
            visibility: (B, J), used where > 0; None: all used.
            returns: volumes (B, J, D, H, W), peak 1 at the sub-cell position, and weights
            (B, J) in {0, 1}; in the dtype of ``keypoints_px``.

        Convention:
            Weight 0 and an all-zero volume for invisible joints, NaN/inf pixels or depths, and
            joints whose ``±3 sigma`` box misses the volume on some axis (e.g. deeper than the
            depth range plus 3 sigma).

        Memory: the volume is one (B, J, D, H, W) allocation built as an outer product of
        three 1D Gaussians, e.g. 17 joints at 64³ cost 17.8 MB per sample in float32.
        """
        dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
        check_shape(depth_rel_m, "depth_rel_m", "B J", dims)
        check_float(keypoints_px, "keypoints_px")
        check_float(depth_rel_m, "depth_rel_m")
        xyz = torch.cat([keypoints_px, depth_rel_m.to(keypoints_px)[..., None]], dim=-1)
        used = visible_mask(xyz, visibility, dims)  # (B, J)
        D, H, W = self.heatmap_size
        mu = self._to_cells(torch.where(used[..., None], xyz, 0.0))  # (B, J, 3), NaN-free
        used = used & inside_extent(mu, (W, H, D), self.sigma)
        weights = used.to(xyz.dtype)
        gx = gaussian_1d(mu[..., 0], W, self.sigma)  # (B, J, W)
        gy = gaussian_1d(mu[..., 1], H, self.sigma)  # (B, J, H)
        gz = gaussian_1d(mu[..., 2], D, self.sigma) * weights[..., None]  # (B, J, D)
        plane = gy[..., :, None] * gx[..., None, :]  # (B, J, H, W), small
        volumes = gz[..., :, None, None] * plane[..., None, :, :]  # (B, J, D, H, W), one alloc
        return volumes, weights

    def decode(self, volumes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Pixels, root-relative depths and confidences from volumes, with ``decode_method``.

        Shapes:
            volumes: (B, J, D, H, W).
            returns: keypoints_px (B, J, 2), depth_rel_m (B, J), confidences (B, J) = the
            volume maximum; in the dtype of ``volumes``.

        Convention:
            Pure maths, no NaN scan. ``"argmax"`` returns cell centres, refined within
            ``neighbourhood`` (not differentiable);
            ``"soft_argmax"`` reads the volume as logits and is differentiable.
        """
        D, H, W = self.heatmap_size
        check_shape(volumes, "volumes", f"B J {D} {H} {W}")
        check_float(volumes, "volumes")
        B, J = volumes.shape[:2]
        if self.decode_method == "soft_argmax":
            confidences = volumes.reshape(B, J, D * H * W).amax(dim=-1)  # (B, J)
            cells = soft_argmax_3d(volumes, self.beta)  # (B, J, 3) x, y, z
        else:
            cells, confidences = argmax_local_mean(volumes, self.neighbourhood)
        xyz = self._from_cells(cells)
        return xyz[..., :2], xyz[..., 2], confidences
