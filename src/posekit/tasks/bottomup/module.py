"""The ``bottomup`` task: multi-person 2D pose by associative embedding (Newell et al. 2017).

Shapes:
    B batch, S stacks, P people (padded), J joints, D tag dimensions, H/W input size, h/w map
    size.

Model: a registered model whose outputs hold ``"heatmaps"`` (B, S, J, h, w) and ``"tags"``
(B, S, J * D, h, w): the ``hourglass`` with ``model.overrides.tag_dim >= 1``. One pass over the
whole image predicts every person's joints (one heatmap per joint type) and a tag per joint
that says whose it is.

Data: ``data.source`` names a pose2d source (``synthetic_body`` with ``people: [2, 4]`` for
multi-person scenes); `BottomUpImages` letterboxes each whole image to the model's input size
with augmentation in training (same rotation / scale / flip / colour ranges as the top-down
crops). Batches are step-indexed by the generic `posekit.engine.datamodule.ImageDataModule` (a
resumed run sees the batches of an uninterrupted one).

Loss (`BottomUpLossConfig`): ``loss.heatmap_weight * heatmap_mse_loss`` (multi-person Gaussian
targets of the task's `BottomUpCodec`, every stack) plus ``loss.tag_weight * (pull + push)``
(`associative_embedding_loss` at the ground-truth joints' cells, every stack).
``loss.intermediate_supervision=false`` supervises the last stack only.

Validation: every image is decoded by the codec (Hungarian grouping by tag distance, joints in
`JOINT_ORDER` for coco17: head, shoulders, hips, then limbs outwards; missing joints filled;
person score = mean joint score x tag agreement), mapped to image pixels with ``affine_inv``,
and scored by COCO OKS AP against the images' people (`posekit.metrics.multiperson`).
``eval.flip_test``: heatmaps averaged with the mirrored image's (flipped back), tags of both
concatenated (D -> 2 D), as Newell et al. Logged: ``val/ap``, ``val/ap50``, ``val/ap75``,
``val/ar``; ``best.ckpt`` maximizes ``val/ap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from posekit.engine.config import ExperimentConfig
from posekit.engine.datamodule import ImageTaskModule
from posekit.engine.sources import build_source
from posekit.losses.pose2d import associative_embedding_loss, heatmap_mse_loss
from posekit.metrics.evaluation import TaskEvaluation
from posekit.metrics.multiperson import (
    PeopleDetections,
    ScenesWithTruth,
    SceneTruth,
    multiperson_evaluation,
    truth_from_batch,
)
from posekit.models import model_config
from posekit.skeletons import get_skeleton
from posekit.tasks.bottomup.codec import BottomUpCodec

__all__ = ["VAL_BATCH_SIZE", "BottomUpModule", "bottomup_images"]

VAL_BATCH_SIZE = 16
#: The task whose data sources bottom-up training reads (`TaskSpec.source_task`).
BOTTOMUP_SOURCE_TASK = "pose2d"


def bottomup_images(
    config: ExperimentConfig, split: str, source: str, params: dict[str, Any]
) -> Any:
    """The whole images of data source ``source`` letterboxed to the model's input
    (`BottomUpImages`), augmented in the ``train`` split; the ``val`` split also carries each
    image's ground-truth people (`ScenesWithTruth`)."""
    from posekit.data.pose2d import BottomUpImages

    m = config.model
    mc = model_config(m.name, m.preset, **m.overrides)
    samples = build_source(source, split, config.seed, params, task=BOTTOMUP_SOURCE_TASK)
    images = BottomUpImages(
        samples,
        input_size_hw=tuple(mc.input_size),
        skeleton=mc.skeleton,
        max_people=config.codec.max_people,
        train=split == "train",
        seed=config.seed,
    )
    return images if split == "train" else ScenesWithTruth(images)


class BottomUpModule(ImageTaskModule):
    """LightningModule of bottom-up multi-person 2D pose (see the module docstring)."""

    build_items = staticmethod(bottomup_images)
    val_batch_size = VAL_BATCH_SIZE
    task = "bottomup"
    monitor = ("val/ap", "max")
    logged_metrics = ("ap", "ap50", "ap75", "ar")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        mc = self.model.config  # type: ignore[union-attr]
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        self.skeleton_name: str = get_skeleton(mc.skeleton).name
        self.input_size: tuple[int, int] = tuple(mc.input_size)  # type: ignore[assignment]
        self.codec = BottomUpCodec(
            config.codec, config.loss.tag_push_sigma, shapes, self.input_size, self.skeleton_name
        )
        self.flip_test = bool(config.eval.flip_test)

    # --- steps ----------------------------------------------------------------------------

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.model(image)

    def compute_loss(
        self, out: Mapping[str, Tensor], batch: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        """The training objective and its terms.

        Shapes:
            out: ``heatmaps`` (B, S, J, h, w), ``tags`` (B, S, J * D, h, w); batch:
            ``keypoints`` (B, Pmax, J, 2) input pixels, ``target_weight`` (B, Pmax, J),
            ``num_people`` (B,). returns: ``loss``, ``heatmap``, ``pull``, ``push`` scalars.
        """
        lc = self.experiment.loss
        P = max(1, int(batch["num_people"].max()))  # encode the used rows only
        kp, w = batch["keypoints"][:, :P], batch["target_weight"][:, :P]
        kp = torch.where(w[..., None] > 0, kp, torch.zeros_like(kp))  # no NaN in targets
        target, weight, index = self.codec.ae.encode(kp, w)
        hm, tags = out["heatmaps"], out["tags"]
        if not lc.intermediate_supervision:
            hm, tags = hm[:, -1:], tags[:, -1:]
        heatmap = heatmap_mse_loss(hm, target, weight, lc.heatmap_foreground_weight)
        pull, push = associative_embedding_loss(
            tags, index, self.codec.tag_dim, push_sigma=lc.tag_push_sigma
        )
        loss = lc.heatmap_weight * heatmap + lc.tag_weight * (pull + push)
        return {"loss": loss, "heatmap": heatmap, "pull": pull, "push": push}

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        out = self.model(batch["image"])
        terms = self.compute_loss(out, batch)
        B = batch["image"].shape[0]
        self.log("train/loss", terms["loss"], prog_bar=True, batch_size=B)
        for k in ("heatmap", "pull", "push"):
            self.log(f"train/{k}", terms[k], batch_size=B)
        self.log_lr()
        return terms["loss"]

    @torch.no_grad()
    def predict_maps(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The last stack's heatmaps and tags of whole images (`BottomUpCodec.predict_maps`,
        with the flip test when ``eval.flip_test`` is set)."""
        return self.codec.predict_maps(self.model, images, self.flip_test)

    # --- validation -----------------------------------------------------------------------

    def validation_result(
        self, batch: Mapping[str, Any]
    ) -> tuple[list[SceneTruth], list[PeopleDetections]]:
        """The ground truth and the people found in each image of a batch."""
        hm, tags = self.predict_maps(batch["image"].to(self.device))
        return truth_from_batch(batch), self.codec.decode_people(hm, tags, batch["affine_inv"])

    def evaluate_results(
        self, results: list[tuple[list[SceneTruth], list[PeopleDetections]]]
    ) -> TaskEvaluation:
        truths = [t for p in results for t in p[0]]
        detections = [d for p in results for d in p[1]]
        return multiperson_evaluation(truths, detections, self.skeleton_name)
