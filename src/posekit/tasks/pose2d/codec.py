"""The ``pose2d`` task's codec: one object, built from the experiment's ``codec`` section and
the model's outputs, that makes the training targets and turns network outputs into crop
keypoints (with the flip test when asked), for training, evaluation and ``posekit predict``.

Shapes:
    B crops, S stacks / stages, J joints, H/W crop size, h/w heatmap size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.codecs.regression import Regression2D
from posekit.data.transforms import flip_back_heatmaps, flip_back_keypoints, flip_image
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.config import HeatmapCodecConfig

__all__ = ["Pose2DCodec"]

#: A network: a batch of crops (B, 3, H, W) → its outputs.
Network = Callable[[Tensor], Mapping[str, Tensor]]


class Pose2DCodec:
    """Targets and decoding of a 2D pose model, chosen by the model's outputs.

    - ``"keypoints_stages"`` (``deeppose``): `Regression2D` targets; decoded from the last
      stage's ``"keypoints"``; scores 1;
    - ``"heatmaps"`` (``hourglass``, ``compositional``): `Heatmap2D` targets and decoding
      (sigma and method from ``config``) on the last stack; scores: each joint's heatmap
      maximum, clamped to [0, 1];
    - ``"heatmaps"`` with ``"keypoints"`` (integral regression): the soft-argmax keypoints,
      heatmap-maximum scores.

    Args:
        config: the ``codec`` section.
        output_shapes: the model's ``output_shapes(1)``.
        input_size: (H, W) of the crops.
        skeleton: the joint layout (flip pairs of the flip test).
    """

    def __init__(
        self,
        config: HeatmapCodecConfig,
        output_shapes: Mapping[str, Any],
        input_size: tuple[int, int],
        skeleton: str,
    ) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.skeleton = get_skeleton(skeleton).name
        self.kind = "regression" if "keypoints_stages" in output_shapes else "heatmap"
        self.integral = self.kind == "heatmap" and "keypoints" in output_shapes
        self.regression = Regression2D(self.input_size)
        self.heatmap: Heatmap2D | None = None
        if self.kind == "heatmap":
            h, w = (int(x) for x in output_shapes["heatmaps"][-2:])
            self.heatmap = Heatmap2D(
                self.input_size,
                (h, w),
                sigma=config.sigma_for(h),
                decode_method=config.decode,  # type: ignore[arg-type]
                blur=config.blur,
            )

    def decode(self, out: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Crop-pixel keypoints (B, J, 2) and scores (B, J) of one pass's outputs."""
        if self.kind == "regression":
            kp = self.regression.decode(out["keypoints"])
            return kp, torch.ones(kp.shape[:2], dtype=kp.dtype, device=kp.device)
        hm = out["heatmaps"][:, -1]  # (B, J, h, w), last stack
        scores = hm.flatten(2).amax(-1).clamp(0.0, 1.0)
        if self.integral:
            return out["keypoints"], scores
        assert self.heatmap is not None
        return self.heatmap.decode(hm)[0], scores

    @torch.no_grad()
    def predict(self, net: Network, images: Tensor, flip_test: bool) -> tuple[Tensor, Tensor]:
        """Crop-pixel keypoints (B, J, 2) and scores (B, J) of ``net`` on crops (B, 3, H, W):
        the flip test averages the mirrored crop's heatmaps (heatmap models) or keypoints
        (regression and integral models), flipped back, with the crop's own."""
        out = net(images)
        if not flip_test:
            return self.decode(out)
        flipped = net(flip_image(images))
        if self.kind == "heatmap" and not self.integral:
            assert self.heatmap is not None
            hm = out["heatmaps"][:, -1]
            hm_f = flip_back_heatmaps(flipped["heatmaps"][:, -1], self.skeleton)
            avg = 0.5 * (hm + hm_f)
            return self.heatmap.decode(avg)[0], avg.flatten(2).amax(-1).clamp(0.0, 1.0)
        a, scores = self.decode(out)
        b, _ = self.decode(flipped)
        b = flip_back_keypoints(b, self.input_size[1], self.skeleton)
        return 0.5 * (a + b), scores
