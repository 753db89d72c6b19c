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
crops). Batches are step-indexed as in `posekit.engine.pose2d` (a resumed run sees the batches
of an uninterrupted one).

Loss: ``loss.heatmap_weight * heatmap_mse_loss`` (multi-person Gaussian targets of
`AssociativeEmbedding.encode`, sigma 2 cells at 64 x 64 scaled with the map, every stack) plus
``TAG_WEIGHT * (pull + push)`` (`associative_embedding_loss` at the ground-truth joints' cells,
every stack). ``TAG_WEIGHT = 1e-3`` is Newell et al.'s ratio (their code weights pull and push
by 1e-3 against a per-pixel mean heatmap MSE, as here); an experiment may set ``loss.tag_weight``
when `LossConfig` has that field. ``loss.intermediate_supervision=false`` supervises the last
stack only.

Validation: every image is decoded by `AssociativeEmbedding` (Hungarian grouping by tag
distance, joints in `JOINT_ORDER` for coco17: head, shoulders, hips, then limbs outwards;
missing joints filled; person score = mean joint score x tag agreement), mapped to image pixels
with ``affine_inv``, and scored by COCO OKS AP against the images' people
(`posekit.engine.multiperson`). ``loss.flip_test``: heatmaps averaged with the mirrored
image's (flipped back), tags of both concatenated (D -> 2 D), as Newell et al. Logged:
``val/ap``, ``val/ap50``, ``val/ap75``, ``val/ar``; ``best.ckpt`` maximizes ``val/ap``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
import torch
from torch import Tensor

from posekit.codecs.associative_embedding import AssociativeEmbedding
from posekit.engine.base import TaskEvaluation, TaskModule, val_source
from posekit.engine.config import ExperimentConfig
from posekit.engine.multiperson import (
    LOGGED,
    PeopleDetections,
    ScenesWithTruth,
    SceneTruth,
    affine_points,
    multiperson_evaluation,
    truth_from_batch,
)
from posekit.engine.pose2d import ImageDataModule, _subset, _val_loader
from posekit.engine.sources import build_source
from posekit.losses.pose2d import associative_embedding_loss, heatmap_mse_loss
from posekit.skeletons import get_skeleton

__all__ = ["JOINT_ORDER", "MAX_PEOPLE", "TAG_WEIGHT", "BottomUpModule"]

#: Weight of the tag loss (pull + push) against the heatmap loss (Newell et al. 2017).
TAG_WEIGHT = 1e-3
#: People per image kept in the padded targets and ground truth, and most people decoded
#: (COCO scores the best 20 detections of an image).
MAX_PEOPLE = 20
#: Grouping order of the decoder per layout (Newell et al.'s COCO order: nose, eyes, ears,
#: shoulders, hips, elbows, wrists, knees, ankles); other layouts group in joint order.
JOINT_ORDER = {"coco17": (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)}
#: Decoder thresholds: a candidate needs a heatmap value above DETECTION_THRESHOLD, and joins
#: a person within TAG_THRESHOLD in tag space (the codec's defaults, Newell et al.'s 1.0).
DETECTION_THRESHOLD = 0.1
TAG_THRESHOLD = 1.0
VAL_BATCH_SIZE = 16


# --- data ---------------------------------------------------------------------------------


def _images(config: ExperimentConfig, split: str, source: str, params: dict[str, Any]) -> Any:
    from posekit.data.pose2d import BottomUpImages
    from posekit.models import model_config

    m = config.model
    mc = model_config(m.name, m.preset, **m.overrides)
    samples = build_source(source, split, config.seed, params, task="pose2d")
    images = BottomUpImages(
        samples,
        input_size_hw=tuple(mc.input_size),
        skeleton=mc.skeleton,
        max_people=MAX_PEOPLE,
        train=split == "train",
        seed=config.seed,
    )
    return images if split == "train" else ScenesWithTruth(images)


# the DataModule: `posekit.engine.pose2d.ImageDataModule` over `_images`


class BottomUpModule(TaskModule):
    """LightningModule of bottom-up multi-person 2D pose (see the module docstring)."""

    task = "bottomup"
    monitor = ("val/ap", "max")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        mc = self.model.config  # type: ignore[union-attr]
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        if "heatmaps" not in shapes or "tags" not in shapes:
            raise ValueError(
                f"bottomup: the model must output 'heatmaps' and 'tags' (hourglass with "
                f"model.overrides.tag_dim >= 1); {config.model.name} outputs {sorted(shapes)}"
            )
        if config.loss.name != "auto":
            raise ValueError(
                f"loss.name: the bottomup task's loss is heatmap MSE + associative embedding; "
                f"expected 'auto', got {config.loss.name!r}"
            )
        self.skeleton_name: str = get_skeleton(mc.skeleton).name
        self.input_size: tuple[int, int] = tuple(mc.input_size)  # type: ignore[assignment]
        h, w = shapes["heatmaps"][-2:]
        J = shapes["heatmaps"][2]
        self.tag_dim = int(shapes["tags"][2]) // J
        self.tag_weight = float(config.loss.tag_weight)
        self.flip_test = bool(config.loss.flip_test)
        self.codec = AssociativeEmbedding(
            self.input_size,
            (h, w),
            sigma=max(1.0, 2.0 * h / 64),
            tag_dim=self.tag_dim,
            max_people=MAX_PEOPLE,
            detection_threshold=DETECTION_THRESHOLD,
            # Tags live on the scale of the push term: the threshold scales with its sigma.
            tag_threshold=TAG_THRESHOLD * config.loss.tag_push_sigma,
            joint_order=JOINT_ORDER.get(self.skeleton_name),
        )
        self._val: list[tuple[list[SceneTruth], list[PeopleDetections]]] = []
        self.last_evaluation: TaskEvaluation | None = None

    @classmethod
    def build_datamodule(cls, config: ExperimentConfig) -> L.LightningDataModule:
        return ImageDataModule(config, _images, VAL_BATCH_SIZE)

    @classmethod
    def evaluation_batches(
        cls,
        config: ExperimentConfig,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Iterable[Mapping[str, Tensor]], int]:
        name, params = val_source(config, source, params)
        scenes = _subset(_images(config, "val", name, params), config.data.val_size)
        loader = _val_loader(scenes, config.trainer.num_workers, VAL_BATCH_SIZE)
        return loader, len(loader)

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
        P = max(1, int(batch["num_people"].max()))  # encode the used rows only
        kp, w = batch["keypoints"][:, :P], batch["target_weight"][:, :P]
        kp = torch.where(w[..., None] > 0, kp, torch.zeros_like(kp))  # no NaN in targets
        target, weight, index = self.codec.encode(kp, w)
        hm, tags = out["heatmaps"], out["tags"]
        if not self.experiment.loss.intermediate_supervision:
            hm, tags = hm[:, -1:], tags[:, -1:]
        heatmap = heatmap_mse_loss(
            hm, target, weight, self.experiment.loss.heatmap_foreground_weight
        )
        pull, push = associative_embedding_loss(
            tags, index, self.tag_dim, push_sigma=self.experiment.loss.tag_push_sigma
        )
        loss = self.experiment.loss.heatmap_weight * heatmap + self.tag_weight * (pull + push)
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
        """The last stack's heatmaps and tags of whole images (flip test when configured).

        Shapes:
            images: (B, 3, H, W); returns: heatmaps (B, J, h, w), tags (B, J * D', h, w),
            D' = D (2 D with the flip test: both images' tags, per joint).
        """
        from posekit.data.transforms import flip_back_heatmaps, flip_image

        out = self.model(images)
        hm, tags = out["heatmaps"][:, -1], out["tags"][:, -1]
        if not self.flip_test:
            return hm, tags
        flipped = self.model(flip_image(images))
        hm_f = flip_back_heatmaps(flipped["heatmaps"][:, -1], self.skeleton_name)
        B, JD, h, w = tags.shape
        J, D = JD // self.tag_dim, self.tag_dim
        tf = flipped["tags"][:, -1].reshape(B, J, D, h, w)
        tf = torch.stack([flip_back_heatmaps(tf[:, :, d], self.skeleton_name) for d in range(D)], 2)
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
        codec = self.codec
        D = tags.shape[1] // heatmaps.shape[1]
        if D != codec.tag_dim:
            from dataclasses import replace

            codec = replace(codec, tag_dim=D)
        out = []
        for hm, tg, inv in zip(heatmaps, tags, affine_inv):
            kp, _, person = codec.decode(hm, tg)  # (N, J, 2) input pixels
            kp_img = affine_points(kp.float().cpu()[None], inv.float().cpu()[None])[0]
            out.append(PeopleDetections(kp_img, person.float().cpu()))
        return out

    def _batch_result(
        self, batch: Mapping[str, Any]
    ) -> tuple[list[SceneTruth], list[PeopleDetections]]:
        hm, tags = self.predict_maps(batch["image"].to(self.device))
        return truth_from_batch(batch), self.decode_people(hm, tags, batch["affine_inv"])

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._val.append(self._batch_result(batch))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        ev = self._evaluate_parts(self._val)
        self._val = []
        for key in LOGGED:
            v = float(ev.metrics[key])
            if math.isfinite(v):
                self.log(f"val/{key}", v, sync_dist=True, prog_bar=key == "ap")
        if not self.trainer.sanity_checking:
            self.last_evaluation = ev

    def _evaluate_parts(
        self, parts: list[tuple[list[SceneTruth], list[PeopleDetections]]]
    ) -> TaskEvaluation:
        truths = [t for p in parts for t in p[0]]
        detections = [d for p in parts for d in p[1]]
        return multiperson_evaluation(truths, detections, self.skeleton_name)

    @torch.no_grad()
    def evaluate(
        self,
        batches: Iterable[Mapping[str, Any]],
        progress: bool = True,
        total: int | None = None,
    ) -> TaskEvaluation:
        """Run the model (eval mode) over validation images; `multiperson_evaluation`."""
        return self._evaluate_parts(self.map_batches(batches, self._batch_result, progress, total))
