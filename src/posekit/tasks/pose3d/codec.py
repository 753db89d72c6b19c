"""The ``pose3d`` task's codec: targets, losses and readout of the model's outputs.

Shapes:
    B batch, J joints, S stacks, D_s depth bins, (h, w) volume size, (H, W) crop size.

What a model outputs chooses the route:

- ``"volumes"`` (B, J, D, h, w) (and ``"volumes_stack<s>"`` of earlier stacks): volumes over
  (root-relative depth, crop y, crop x), each stack read by its own `Volumetric3D` at its depth
  resolution. ``heatmap`` readout: 3D Gaussian targets, `heatmap_mse_loss` per stack (the
  depth axis folded into the rows), argmax + ``neighbourhood`` refinement. ``integral``
  readout: soft-argmax of the last volume as logits, L1 on normalised coordinates (plus an
  optional volume MSE).
- ``"coords"`` (B, J, 3) (``direct``): normalised coordinates ``(x / W - 0.5, y / H - 0.5,
  depth_rel / cube_size_m)``, L1.

Every route decodes to crop pixels (B, J, 2) and root-relative depth in metres (B, J).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from posekit.codecs.volumetric3d import Volumetric3D
from posekit.data.transforms import (
    flip_back_heatmaps,
    flip_back_keypoints,
    flip_image,
    flip_permutation,
)
from posekit.losses.pose2d import heatmap_mse_loss
from posekit.losses.pose3d import joint_l1_loss
from posekit.tasks.pose3d.config import Pose3DCodecConfig, Pose3DLossConfig

__all__ = ["Pose3DCodec"]

Network = Callable[[Tensor], Mapping[str, Tensor]]


class Pose3DCodec:
    """Targets, loss and readout for the outputs ``shapes`` of a pose3d model (module docstring).

    Args:
        config: the ``codec`` section.
        shapes: the model's ``output_shapes(1)``.
        input_size: (H, W) of the crops.
        skeleton: the joint layout (flip pairs of the flip test).
        model_name: the registered model name (``auto`` readout: ``heatmap`` for
            ``volumetric``).

    Raises:
        ValueError: outputs with neither ``volumes`` nor ``coords``.
    """

    def __init__(
        self,
        config: Pose3DCodecConfig,
        shapes: Mapping[str, tuple[int, ...]],
        input_size: tuple[int, int],
        skeleton: str,
        model_name: str = "",
    ) -> None:
        self.config = config
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.skeleton = skeleton
        self.cube_size_m = float(config.cube_size_m)
        if "volumes" in shapes:
            self.kind = "volumes"
            readout = config.readout
            if readout == "auto":
                readout = "heatmap" if model_name == "volumetric" else "integral"
            self.readout = readout
            stacks = sorted(
                (k for k in shapes if k.startswith("volumes_stack")), key=lambda k: int(k[13:])
            )
            self.stack_keys = [*stacks, "volumes"]
            method = "argmax" if readout == "heatmap" else "soft_argmax"
            self.volume_codecs = [
                Volumetric3D(
                    tuple(shapes[k][2:5]),
                    self.input_size,
                    depth_range_m=self.cube_size_m,
                    sigma=config.sigma_for(shapes[k][3]),
                    decode_method=method,
                    beta=config.beta,
                    neighbourhood=config.neighbourhood,
                )
                for k in self.stack_keys
            ]
        elif "coords" in shapes:
            self.kind, self.readout, self.stack_keys, self.volume_codecs = (
                "coords",
                "direct",
                [],
                [],
            )
        else:
            raise ValueError(
                f"pose3d task: model outputs {sorted(shapes)}; expected 'volumes' (B, J, D, h, "
                "w) or 'coords' (B, J, 3)"
            )

    # --- normalised coordinates -----------------------------------------------------------

    def normalise(self, keypoints_px: Tensor, depth_rel_m: Tensor) -> Tensor:
        """(B, J, 2) crop pixels + (B, J) metres → (B, J, 3) normalised coordinates."""
        H, W = self.input_size
        size = keypoints_px.new_tensor([W, H])
        xy = keypoints_px / size - 0.5
        return torch.cat([xy, (depth_rel_m / self.cube_size_m)[..., None]], dim=-1)

    def denormalise(self, coords: Tensor) -> tuple[Tensor, Tensor]:
        """Inverse of `normalise`: (B, J, 3) → crop pixels (B, J, 2), depth metres (B, J)."""
        H, W = self.input_size
        size = coords.new_tensor([W, H])
        return (coords[..., :2] + 0.5) * size, coords[..., 2] * self.cube_size_m

    # --- training -------------------------------------------------------------------------

    def loss(
        self,
        out: Mapping[str, Tensor],
        keypoints_px: Tensor,
        depth_rel_m: Tensor,
        weights: Tensor,
        lc: Pose3DLossConfig,
    ) -> dict[str, Tensor]:
        """The loss terms of a batch: ``{"loss": total, <term>: value}``.

        Shapes:
            keypoints_px: (B, J, 2) crop pixels; depth_rel_m: (B, J); weights: (B, J) (0:
            unsupervised joint).
        """
        kp = torch.where(weights[..., None] > 0, keypoints_px, torch.zeros_like(keypoints_px))
        dz = torch.where(weights > 0, depth_rel_m, torch.zeros_like(depth_rel_m))
        target = self.normalise(kp, dz)
        terms: dict[str, Tensor] = {}
        if self.kind == "coords":
            terms["coord"] = lc.coord_weight * joint_l1_loss(out["coords"], target, weights)
        else:
            heat_w = lc.heatmap_weight if self.readout == "heatmap" else lc.integral_heatmap_weight
            pairs = list(zip(self.stack_keys, self.volume_codecs))
            if not lc.intermediate_supervision:
                pairs = pairs[-1:]
            if heat_w > 0:
                losses = []
                for key, codec in pairs:
                    vol = out[key]
                    tgt, tw = codec.encode(kp, dz, weights)
                    B, J, D, h, w = vol.shape
                    losses.append(
                        heatmap_mse_loss(
                            vol.reshape(B, J, D * h, w),
                            tgt.reshape(B, J, D * h, w),
                            tw,
                            lc.heatmap_foreground_weight,
                        )
                    )
                terms["heatmap"] = heat_w * torch.stack(losses).mean()
            if self.readout == "integral" and lc.coord_weight > 0:
                codec = self.volume_codecs[-1]
                xy, z, _ = codec.decode(out["volumes"])
                pred = self.normalise(xy, z)
                terms["coord"] = lc.coord_weight * joint_l1_loss(pred, target, weights)
        if not terms:
            raise ValueError("pose3d task: every loss term has weight 0")
        terms["loss"] = sum(terms.values())  # type: ignore[assignment]
        return terms

    # --- readout --------------------------------------------------------------------------

    def decode(self, out: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Crop pixels (B, J, 2), root-relative depth metres (B, J) and confidences (B, J)."""
        if self.kind == "coords":
            xy, z = self.denormalise(out["coords"])
            return xy, z, torch.ones_like(z)
        return self.volume_codecs[-1].decode(out["volumes"])

    def predict(
        self, net: Network, images: Tensor, flip_test: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """`decode` of ``net`` on crops (B, 3, H, W); with the flip test, the mirrored crop's
        volumes (``heatmap`` readout) or decoded joints (otherwise), flipped back, are
        averaged with the crop's own."""
        out = net(images)
        if not flip_test:
            return self.decode(out)
        flipped = net(flip_image(images))
        if self.kind == "volumes" and self.readout == "heatmap":
            vol, vol_f = out["volumes"], flipped["volumes"]
            B, J, D, h, w = vol.shape
            back = flip_back_heatmaps(vol_f.reshape(B, J, D * h, w), self.skeleton)
            avg = 0.5 * (vol + back.reshape(B, J, D, h, w))
            return self.volume_codecs[-1].decode(avg)
        a, za, conf = self.decode(out)
        b, zb, _ = self.decode(flipped)
        b = flip_back_keypoints(b, self.input_size[1], self.skeleton)
        zb = zb[:, flip_permutation(self.skeleton)]
        return 0.5 * (a + b), 0.5 * (za + zb), conf
