"""The ``hand`` task: 3D hand joints from a depth map (V2V-PoseNet, Moon et al. 2018, and the
depth-image baselines).

Shapes:
    B batch, J joints, G voxel grid size, H/W depth-image size.

Model: a registered model taking ``voxels`` (B, 1, G, G, G) (``v2v``) or ``depth`` (B, 1, H, W)
(``depth_regression``, ``depth_heatmaps``); its outputs choose the targets, loss and readout
(`HandCodec`).

Data: ``data.source`` names a hand source (``synthetic_hand``, ``nyu``); each depth sample
becomes a cube of edge ``codec.cube_size_m`` around a reference point inside the hand
(`posekit.data.hand.HandCubes`: the centre of mass of the depth points near the hand box),
voxelized or seen as a depth image, with 3D augmentation in training (rotation about the
camera's z axis, scale, translation of the cube). Batches are step-indexed by the generic
`posekit.engine.datamodule.ImageDataModule`.

Validation: joints read out in camera metres and scored by `posekit.metrics.evaluate_hand`
(mean joint error, worst joint per frame, success-rate AUC over 0–80 mm) plus the share of
joints outside the cube. Logged: ``val/mean_joint_error_mm``, ``val/max_joint_error_mm``,
``val/success_auc``; ``best.ckpt`` minimises the mean joint error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from posekit.engine.config import ExperimentConfig
from posekit.engine.datamodule import ImageTaskModule
from posekit.engine.sources import build_source
from posekit.metrics.evaluation import TaskEvaluation
from posekit.models import create_model
from posekit.tasks.hand.codec import HandCodec
from posekit.tasks.hand.config import augment_of
from posekit.tasks.hand.evaluation import hand_evaluation, hand_skeleton

__all__ = ["VAL_BATCH_SIZE", "HandModule", "hand_cubes", "model_input"]

VAL_BATCH_SIZE = 16


def model_input(model: Any) -> tuple[str, Any]:
    """The input a hand model takes: ``("voxels", G)`` or ``("depth", (H, W))``.

    Raises:
        ValueError: the model takes neither.
    """
    mc = model.config
    example = model.example_input(1)
    keys = list(example) if isinstance(example, Mapping) else []
    if keys == ["voxels"]:
        return "voxels", int(mc.grid_size)
    if keys == ["depth"]:
        return "depth", (int(mc.input_size[0]), int(mc.input_size[1]))
    raise ValueError(
        f"hand task: model {type(model).__name__} takes {keys or 'a tensor'}; expected "
        "'voxels' (B, 1, G, G, G) or 'depth' (B, 1, H, W)"
    )


def hand_cubes(config: ExperimentConfig, split: str, source: str, params: dict[str, Any]) -> Any:
    """The cubes of data source ``source``'s ``split`` for the model of ``config``
    (`posekit.data.hand.HandCubes`), augmented in the ``train`` split."""
    from posekit.data.hand import HandCubes
    from posekit.tasks.hand.refiner import CentreRefiner

    m = config.model
    model = create_model(m.name, m.preset, **m.overrides)
    kind, size = model_input(model)
    J = next(iter(model.output_shapes(1).values()))[1]
    samples = build_source(source, split, config.seed, params, task="hand")
    return HandCubes(
        samples,
        cube_size_m=config.codec.cube_size_m,
        input=kind,
        size=size,
        train=split == "train",
        augment=augment_of(config.codec),
        seed=config.seed,
        skeleton=hand_skeleton(J) or None,
        centre_only=config.codec.target == "centre",
        refine=CentreRefiner(config.codec.refiner) if config.codec.refiner else None,
    )


class HandModule(ImageTaskModule):
    """LightningModule of 3D hand pose from depth (see the module docstring)."""

    build_items = staticmethod(hand_cubes)
    val_batch_size = VAL_BATCH_SIZE
    task = "hand"
    monitor = ("val/mean_joint_error_mm", "min")
    logged_metrics = ("mean_joint_error_mm", "max_joint_error_mm", "success_auc", "outside_cube")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        self.input_kind, input_size = model_input(self.model)
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        self.codec = HandCodec(config.codec, shapes, input_size)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.model(**{self.input_kind: x})

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        out = self.model(**{self.input_kind: batch[self.input_kind]})
        terms = self.codec.loss(out, batch["keypoints"], batch["reference"], self.experiment.loss)
        return self.log_loss_terms(terms, batch["keypoints"].shape[0])

    @torch.no_grad()
    def predict_joints(self, x: Tensor, reference_m: Tensor) -> tuple[Tensor, Tensor]:
        """Joints in camera metres (B, J, 3) and confidences (B, J) of a batch of inputs."""
        out = self.model(**{self.input_kind: x})
        return self.codec.decode(out, reference_m)

    def validation_result(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        x = batch[self.input_kind].to(self.device)
        ref = batch["reference"].to(self.device)
        pred, _ = self.predict_joints(x, ref)
        return {
            "pred": pred.float().cpu(),
            "gt": batch["keypoints"].float().cpu(),
            "reference": batch["reference"].float().cpu(),
            "visibility": batch["visibility"].float().cpu(),
        }

    def evaluate_results(self, results: list[dict[str, Tensor]]) -> TaskEvaluation:
        cat = {k: torch.cat([r[k] for r in results]) for k in results[0]}
        vis = cat["visibility"] if self.experiment.eval.visible_only else None
        return hand_evaluation(
            cat["pred"], cat["gt"], cat["reference"], self.codec.cube_size_m, vis
        )
