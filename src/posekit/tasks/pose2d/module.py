"""The ``pose2d`` task: single-person (top-down) 2D pose from RGB crops, trained with Lightning.

Models (`posekit.models.pose2d`) and what the task does with their outputs:

- ``"heatmaps"`` (B, S, J, h, w) (``hourglass``, ``compositional``): Gaussian targets from
  the task's `Pose2DCodec` (``codec`` section: sigma, decoding), `heatmap_mse_loss` on every
  stack (intermediate supervision); decoded on the last stack;
- ``"level<l>_heatmaps"`` (``compositional``): part targets of the hierarchy's levels
  (`encode_part_heatmaps`), `compositional_heatmap_loss` over all levels;
- ``"keypoints"`` with ``"heatmaps"`` (``hourglass`` with ``integral``): an L1 coordinate
  loss in crop pixels / crop size added with weight ``loss.coord_weight``; decoded from the
  soft-argmax keypoints;
- ``"keypoints_stages"`` (``deeppose``): `Regression2D` targets, `stage_l1_loss` on every
  cascade stage; decoded from the last stage.

Data: ``data.source`` names a pose2d source (`posekit.tasks.pose2d.sources`: synthetic
bodies, COCO, MPII, LSP) that yields `Sample`s; `TopDownCrops` makes one crop per person at
the model's ``input_size`` with augmentation (rotation, scale, flip, colour) in training,
batched by the generic `posekit.engine.datamodule.ImageDataModule` (step-indexed: a resumed
run sees the batches the uninterrupted run would).

Validation (`pose2d_evaluation`; ``eval.flip_test`` for the flip test) maps predictions back to
image pixels and reports PCK@0.2 (torso: right shoulder to left hip), PCKh-style @0.5 (the
dataset's head size when it has one, MPII; else the head length of `head_length`), the AUC of
PCK@0..0.5 (torso), the mean error in pixels, and PCK@0.2 on occluded (labelled, not visible)
joints; per joint too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from posekit.engine.config import ExperimentConfig
from posekit.engine.datamodule import ImageTaskModule
from posekit.engine.sources import build_source
from posekit.geometry.crops import apply_affine
from posekit.losses.pose2d import compositional_heatmap_loss, heatmap_mse_loss, stage_l1_loss
from posekit.metrics.evaluation import TaskEvaluation
from posekit.models import model_config
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.codec import Pose2DCodec
from posekit.tasks.pose2d.evaluation import pose2d_evaluation

__all__ = ["VAL_BATCH_SIZE", "Pose2DModule", "topdown_crops"]

VAL_BATCH_SIZE = 64


def topdown_crops(config: ExperimentConfig, split: str, source: str, params: dict[str, Any]) -> Any:
    """One crop per person of data source ``source`` (`TopDownCrops`) at the model's input
    size, augmented in the ``train`` split."""
    from posekit.data.pose2d import TopDownCrops

    m = config.model
    mc = model_config(m.name, m.preset, **m.overrides)
    samples = build_source(source, split, config.seed, params, task="pose2d")
    return TopDownCrops(
        samples,
        input_size_hw=tuple(mc.input_size),
        skeleton=mc.skeleton,
        train=split == "train",
        seed=config.seed,
    )


class Pose2DModule(ImageTaskModule):
    """LightningModule of the 2D pose models (see the module docstring)."""

    build_items = staticmethod(topdown_crops)
    val_batch_size = VAL_BATCH_SIZE
    task = "pose2d"
    monitor = ("val/pck_0.2", "max")
    logged_metrics = (
        "pck_0.2",
        "pckh_0.5",
        "auc",
        "mean_error_px",
        "pck_0.2_occluded",
        "lr_merged",
        "lr_swapped",
    )

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        mc = self.model.config  # type: ignore[union-attr]
        self.skeleton_name: str = get_skeleton(mc.skeleton).name
        self.input_size: tuple[int, int] = tuple(mc.input_size)  # type: ignore[assignment]
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        self.codec = Pose2DCodec(config.codec, shapes, self.input_size, self.skeleton_name)
        self.levels: list[str] = sorted(k for k in shapes if k.startswith("level"))
        self.flip_test = bool(config.eval.flip_test)

    # --- steps ----------------------------------------------------------------------------

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.model(image)

    def compute_loss(self, out: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
        """The training objective of the model's outputs against a batch's crop keypoints."""
        kp, w = batch["keypoints"], batch["target_weight"]
        kp = torch.where(w[..., None] > 0, kp, torch.zeros_like(kp))  # no NaN in targets
        lc = self.experiment.loss
        if not lc.intermediate_supervision:  # supervise the last stack / stage only
            out = {k: (v[:, -1:] if v.ndim >= 4 else v) for k, v in out.items()}
        codec = self.codec
        if codec.kind == "regression":
            target, tw = codec.regression.encode(kp, w)
            return stage_l1_loss(out["keypoints_stages"], target, tw)
        assert codec.heatmap is not None
        if self.levels:
            from posekit.models.pose2d.hierarchy import encode_part_heatmaps

            maps, weights = encode_part_heatmaps(kp, w, self.model.hierarchy, codec.heatmap)
            keys = ["heatmaps", *self.levels]
            loss = compositional_heatmap_loss([out[k] for k in keys], maps, weights)
        else:
            target, tw = codec.heatmap.encode(kp, w)
            loss = heatmap_mse_loss(out["heatmaps"], target, tw, lc.heatmap_foreground_weight)
        loss = lc.heatmap_weight * loss
        if codec.integral:
            size = kp.new_tensor([self.input_size[1], self.input_size[0]])
            loss = loss + lc.coord_weight * stage_l1_loss(out["keypoints"] / size, kp / size, w)
        return loss

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        out = self.model(batch["image"])
        loss = self.compute_loss(out, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        self.log_lr()
        return loss

    @torch.no_grad()
    def predict_crops(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Crop-pixel keypoints (B, J, 2) and scores (B, J) of crops (B, 3, H, W), with the
        flip test when ``eval.flip_test`` is set (`Pose2DCodec.predict`)."""
        return self.codec.predict(self.model, images, self.flip_test)

    # --- validation -----------------------------------------------------------------------

    def validation_result(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Image-pixel predictions, ground truth, visibility and head sizes of a crop batch."""
        kp, _ = self.predict_crops(batch["image"].to(self.device))
        pred = apply_affine(kp.float().cpu(), batch["affine_inv"].float().cpu())
        head = batch["norm_length_px"].float().cpu()
        is_head = torch.tensor([k == "head" for k in batch["norm_kind"]], dtype=torch.bool)
        # The crop's visibility also drops joints outside the crop: count a joint as occluded
        # only when it is inside the crop (weight 1) and not visible.
        visible = (batch["visibility"].bool() | (batch["target_weight"] <= 0)).cpu()
        return {
            "pred": pred,
            "gt": batch["keypoints_image"].float().cpu(),
            "visibility": visible,
            "head": torch.where(is_head, head, torch.nan),
        }

    def evaluate_results(self, results: list[dict[str, Tensor]]) -> TaskEvaluation:
        cat = {k: torch.cat([p[k] for p in results]) for k in results[0]}
        return pose2d_evaluation(
            cat["pred"], cat["gt"], cat["visibility"], self.skeleton_name, cat["head"]
        )
