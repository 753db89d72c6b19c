"""The ``hand`` task's codec: the training targets and losses of a hand model's outputs, and
their readout as 3D joints in camera metres, for training, evaluation and ``posekit predict``.

Shapes:
    B cubes, J joints, S output voxels per axis, h/w heatmap size, H/W depth-image size.

The model's outputs choose the route:

- ``"volumes"`` (B, J, S, S, S) (``v2v``): per-voxel Gaussian targets (`VoxelCodec`), MSE;
  read out by argmax + local weighted mean, or by soft-argmax (then also an L1 loss on the
  soft-argmax coordinates when ``loss.coord_weight`` > 0: integral training);
- ``"heatmaps"`` + ``"depth_maps"`` (B, J, h, w) (``depth_heatmaps``): 2D Gaussian targets over
  the cube's x-y extent (`Heatmap2D` on the depth image's pixels), MSE; per-joint depth maps
  trained by an L1 loss weighted by the joint's target Gaussian; read out by DARK on the
  heatmap and the depth map sampled there;
- ``"keypoints"`` (B, J, 3) (``depth_regression``): cube-normalised coordinates ``(p -
  centre) / (c / 2)``, L1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.codecs.soft_argmax import soft_argmax_3d
from posekit.codecs.voxel import VoxelCodec
from posekit.losses import heatmap_mse_loss
from posekit.tasks.hand.config import HandCodecConfig, HandLossConfig

__all__ = ["HAND_ROUTES", "HandCodec"]

#: The output routes a hand model can take (see the module docstring).
HAND_ROUTES = ("volumes", "heatmaps", "keypoints")


class HandCodec:
    """Targets, losses and readout of one hand model (see the module docstring).

    Args:
        config: the ``codec`` section.
        output_shapes: the model's ``output_shapes(1)``.
        input_size: G (voxel grid) for ``volumes``, (H, W) of the depth image otherwise.
    """

    def __init__(
        self, config: HandCodecConfig, output_shapes: Mapping[str, Any], input_size: Any
    ) -> None:
        self.config = config
        self.cube_size_m = float(config.cube_size_m)
        if "volumes" in output_shapes:
            self.route = "volumes"
            S = int(output_shapes["volumes"][-1])
            self.voxel = VoxelCodec(
                grid_size=int(input_size),
                cube_size_m=self.cube_size_m,
                output_size=S,
                sigma=config.sigma,
                neighbourhood=config.neighbourhood,
            )
        elif "heatmaps" in output_shapes and "depth_maps" in output_shapes:
            self.route = "heatmaps"
            h, w = (int(x) for x in output_shapes["heatmaps"][-2:])
            H, W = (int(x) for x in input_size)
            self.image_size = (H, W)
            self.heatmap = Heatmap2D((H, W), (h, w), sigma=config.sigma, decode_method="dark")
        elif "keypoints" in output_shapes:
            self.route = "keypoints"
        else:
            raise ValueError(
                "hand task: the model must output 'volumes', 'heatmaps' + 'depth_maps' or "
                f"'keypoints', got {sorted(output_shapes)}"
            )

    # --- cube coordinates ------------------------------------------------------------------

    def normalise(self, keypoints_m: Tensor, reference_m: Tensor) -> Tensor:
        """Cube-normalised coordinates (B, J, 3): ``(p - centre) / (c / 2)``."""
        return (keypoints_m - reference_m[:, None]) / (0.5 * self.cube_size_m)

    def denormalise(self, normalised: Tensor, reference_m: Tensor) -> Tensor:
        """Camera metres (B, J, 3) of cube-normalised coordinates."""
        return reference_m[:, None] + normalised * (0.5 * self.cube_size_m)

    def _to_image(self, normalised: Tensor) -> Tensor:
        """Depth-image pixels (x, y) of normalised x, y (pixel centres at integers)."""
        H, W = self.image_size
        size = normalised.new_tensor([W, H])
        return (normalised[..., :2] + 1.0) * 0.5 * size - 0.5

    def _from_image(self, pixels: Tensor) -> Tensor:
        H, W = self.image_size
        size = pixels.new_tensor([W, H])
        return (pixels + 0.5) / size * 2.0 - 1.0

    # --- training --------------------------------------------------------------------------

    def loss(
        self,
        out: Mapping[str, Tensor],
        keypoints_m: Tensor,
        reference_m: Tensor,
        loss: HandLossConfig,
    ) -> dict[str, Tensor]:
        """The objective and its terms for a batch of ground-truth keypoints (B, J, 3) in the
        cubes' frame. Every joint with finite coordinates is supervised (NaN: a joint the
        data's layout lacks); joints outside the cube get weight 0 in the heatmap terms."""
        known = keypoints_m.isfinite().all(-1)  # (B, J)
        keypoints_m = torch.where(known[..., None], keypoints_m, reference_m[:, None])
        norm = self.normalise(keypoints_m, reference_m)
        if self.route == "volumes":
            vol = out["volumes"]
            target, weight = self.voxel.encode(keypoints_m, reference_m, known)
            B, J, S = vol.shape[:3]
            # the mean over (S, S*S) cells is the mean over the S³ voxels
            hm = heatmap_mse_loss(
                vol.reshape(B, J, S, S * S),
                target.reshape(B, J, S, S * S),
                weight,
                loss.heatmap_foreground_weight,
            )
            terms = {"heatmap": hm}
            total = loss.heatmap_weight * hm
            if self.config.decode == "soft_argmax" and loss.coord_weight > 0:
                coord = _masked_l1(self._soft_argmax(vol), norm, known)
                terms["coord"] = coord
                total = total + loss.coord_weight * coord
            return {"loss": total, **terms}
        if self.route == "heatmaps":
            uv = self._to_image(norm)
            target, weight = self.heatmap.encode(uv, known)
            hm = heatmap_mse_loss(out["heatmaps"], target, weight, loss.heatmap_foreground_weight)
            g = target * weight[..., None, None]  # (B, J, h, w)
            err = (out["depth_maps"] - norm[..., 2, None, None]).abs()
            depth = (err * g).sum() / g.sum().clamp_min(1e-6)
            total = loss.heatmap_weight * hm + loss.depth_weight * depth
            return {"loss": total, "heatmap": hm, "depth": depth}
        coord = _masked_l1(out["keypoints"], norm, known)
        return {"loss": loss.coord_weight * coord, "coord": coord}

    # --- readout ---------------------------------------------------------------------------

    def _soft_argmax(self, volumes: Tensor) -> Tensor:
        """Cube-normalised (x, y, z) of the volumes' soft-argmax (voxel centres at
        ``-1 + (i + 0.5) 2 / S``)."""
        S = volumes.shape[-1]
        cells = soft_argmax_3d(volumes, self.config.beta)
        return (cells + 0.5) * (2.0 / S) - 1.0

    def decode(self, out: Mapping[str, Tensor], reference_m: Tensor) -> tuple[Tensor, Tensor]:
        """Joints in camera metres (B, J, 3) and a confidence per joint (B, J) (the volume
        or heatmap maximum; 1 for regression)."""
        if self.route == "volumes":
            vol = out["volumes"]
            if self.config.decode == "soft_argmax":
                conf = vol.flatten(2).amax(-1)
                return self.denormalise(self._soft_argmax(vol), reference_m), conf
            return self.voxel.decode(vol, reference_m)
        if self.route == "heatmaps":
            hm, depth = out["heatmaps"], out["depth_maps"]
            uv, conf = self.heatmap.decode(hm)  # depth-image pixels (B, J, 2)
            H, W = self.image_size
            B, J, h, w = depth.shape
            # heatmap cells and image pixels share their outer edges: grid_sample with
            # align_corners=False takes coordinates in [-1, 1] over those edges
            grid = torch.stack([(uv[..., 0] + 0.5) / W, (uv[..., 1] + 0.5) / H], -1) * 2 - 1
            z = F.grid_sample(
                depth.reshape(B * J, 1, h, w),
                grid.reshape(B * J, 1, 1, 2).to(depth.dtype),
                align_corners=False,
                padding_mode="border",
            ).reshape(B, J)  # each joint's depth map at its own point
            xy = self._from_image(uv)
            return self.denormalise(torch.cat([xy, z[..., None].to(xy)], -1), reference_m), conf
        kp = out["keypoints"]
        return self.denormalise(kp, reference_m), torch.ones_like(kp[..., 0])


def _masked_l1(pred: Tensor, target: Tensor, known: Tensor) -> Tensor:
    """Mean |pred - target| over the coordinates of the known joints (B, J); 0 if none."""
    w = known[..., None].to(pred.dtype).expand_as(pred)
    return ((pred - target).abs() * w).sum() / w.sum().clamp_min(1.0)
