"""The ``bottomup`` task's codec: the associative-embedding targets and grouping, built once
from the experiment's ``codec`` section and the model's outputs, and the whole-image pass with
the flip test, for training, validation and ``posekit predict`` alike.

Shapes:
    B images, S stacks, P people (padded), J joints, D tag dimensions, H/W input size, h/w map
    size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from posekit.codecs.associative_embedding import AssociativeEmbedding
from posekit.data.transforms import flip_back_heatmaps, flip_image
from posekit.geometry.crops import apply_affine
from posekit.metrics.multiperson import PeopleDetections
from posekit.skeletons import get_skeleton
from posekit.tasks.bottomup.config import AssociativeEmbeddingCodecConfig

__all__ = ["JOINT_ORDER", "BottomUpCodec"]

#: Grouping order of the decoder per layout (Newell et al.'s COCO order: nose, eyes, ears,
#: shoulders, hips, elbows, wrists, knees, ankles); other layouts group in joint order.
JOINT_ORDER = {"coco17": (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)}

#: A network: a batch of images (B, 3, H, W) → its outputs.
Network = Callable[[Tensor], Mapping[str, Tensor]]


class BottomUpCodec:
    """`AssociativeEmbedding` of a bottom-up model, and its whole-image inference.

    Args:
        config: the ``codec`` section.
        push_sigma: ``loss.tag_push_sigma``: the tag threshold is ``config.tag_threshold``
            times it.
        output_shapes: the model's output shapes (``heatmaps`` (B, S, J, h, w), ``tags``
            (B, S, J * D, h, w)).
        input_size: (H, W) of the network input.
        skeleton: the joint layout (grouping order, flip pairs).

    Raises:
        ValueError: the outputs lack ``heatmaps`` or ``tags``.
    """

    def __init__(
        self,
        config: AssociativeEmbeddingCodecConfig,
        push_sigma: float,
        output_shapes: Mapping[str, Any],
        input_size: tuple[int, int],
        skeleton: str,
    ) -> None:
        if "heatmaps" not in output_shapes or "tags" not in output_shapes:
            raise ValueError(
                "bottomup: the model must output 'heatmaps' and 'tags' (hourglass with "
                f"model.overrides.tag_dim >= 1); it outputs {sorted(output_shapes)}"
            )
        self.skeleton = get_skeleton(skeleton).name
        self.input_size = (int(input_size[0]), int(input_size[1]))
        hm_shape = output_shapes["heatmaps"]
        h, w = int(hm_shape[-2]), int(hm_shape[-1])
        J = int(hm_shape[2])
        self.tag_dim = int(output_shapes["tags"][2]) // J
        self.max_people = config.max_people
        self.ae = AssociativeEmbedding(
            self.input_size,
            (h, w),
            sigma=config.sigma_for(h),
            tag_dim=self.tag_dim,
            max_people=config.max_people,
            detection_threshold=config.detection_threshold,
            tag_threshold=config.tag_threshold * push_sigma,
            joint_order=JOINT_ORDER.get(self.skeleton),
        )

    @torch.no_grad()
    def predict_maps(self, net: Network, images: Tensor, flip_test: bool) -> tuple[Tensor, Tensor]:
        """The last stack's heatmaps and tags of whole images (the flip test averages the
        mirrored image's heatmaps, flipped back, and appends its tags).

        Shapes:
            images: (B, 3, H, W); returns: heatmaps (B, J, h, w), tags (B, J * D', h, w),
            D' = D (2 D with the flip test: both images' tags, per joint).
        """
        out = net(images)
        hm, tags = out["heatmaps"][:, -1], out["tags"][:, -1]
        if not flip_test:
            return hm, tags
        flipped = net(flip_image(images))
        hm_f = flip_back_heatmaps(flipped["heatmaps"][:, -1], self.skeleton)
        B, JD, h, w = tags.shape
        J, D = JD // self.tag_dim, self.tag_dim
        tf = flipped["tags"][:, -1].reshape(B, J, D, h, w)
        tf = torch.stack([flip_back_heatmaps(tf[:, :, d], self.skeleton) for d in range(D)], 2)
        both = torch.cat([tags.reshape(B, J, D, h, w), tf], dim=2)  # (B, J, 2 D, h, w)
        return 0.5 * (hm + hm_f), both.reshape(B, J * 2 * D, h, w)

    def decode_people(
        self, heatmaps: Tensor, tags: Tensor, affine_inv: Tensor
    ) -> list[PeopleDetections]:
        """Group each image's detections into people and map them to image pixels.

        Shapes:
            heatmaps: (B, J, h, w); tags: (B, J * D', h, w) (D' = D, or 2 D from the flip
            test); affine_inv: (B, 2, 3) input -> image. returns: B `PeopleDetections`.
        """
        ae = self.ae
        D = tags.shape[1] // heatmaps.shape[1]
        if D != ae.tag_dim:
            ae = replace(ae, tag_dim=D)
        out = []
        for hm, tg, inv in zip(heatmaps, tags, affine_inv, strict=True):
            kp, joint_scores, person = ae.decode(hm, tg)  # (N, J, 2) input pixels
            kp_img = apply_affine(kp.float().cpu(), inv.float().cpu())
            out.append(PeopleDetections(kp_img, person.float().cpu(), joint_scores.float().cpu()))
        return out
