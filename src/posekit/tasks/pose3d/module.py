"""The ``pose3d`` task: 3D human pose from RGB person crops, trained with Lightning.

Shapes:
    B batch, J joints, (H, W) crop size.

Model: a registered model taking ``image`` (B, 3, H, W) (``volumetric``, ``integral``,
``direct``); its outputs choose the targets, loss and readout (`Pose3DCodec`): 2D crop
pixels and each joint's depth relative to the root, within ``codec.cube_size_m``.

Data: ``data.source`` names a pose3d source (`posekit.tasks.pose3d.sources`); each person
becomes a crop (`posekit.data.pose3d.Pose3DCrops`) with the 2D augmentation of the pose2d task
(rotation, scale, flip, colour) and the occlusion augmentation (``codec.occlusion_*``) in
training. Batches are step-indexed by the generic `posekit.engine.datamodule.ImageDataModule`.

Validation (`pose3d_evaluation`): predictions mapped back to image pixels, placed in 3D with
the intrinsics and the training data's mean bone lengths (``codec.bone_lengths_m``, measured
when training starts), scored root-relative (MPJPE, PA-MPJPE, 3DPCK, AUC, MPJPE at the true
root depth) and absolute (root error, absolute MPJPE). ``best.ckpt`` minimises MPJPE.
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
from posekit.metrics.evaluation import TaskEvaluation
from posekit.models import model_config
from posekit.skeletons import get_skeleton
from posekit.tasks.pose3d.codec import Pose3DCodec
from posekit.tasks.pose3d.evaluation import mean_bone_lengths, pose3d_evaluation

__all__ = [
    "BONE_SAMPLES",
    "VAL_BATCH_SIZE",
    "Pose3DModule",
    "pose3d_crops",
    "training_bone_lengths",
]

VAL_BATCH_SIZE = 32
BONE_SAMPLES = 512


def pose3d_crops(config: ExperimentConfig, split: str, source: str, params: dict[str, Any]) -> Any:
    """One crop per person of data source ``source`` (`Pose3DCrops`) at the model's input size,
    augmented (and occluded, ``codec.occlusion_*``) in the ``train`` split."""
    from posekit.data.pose3d import Pose3DCrops

    m = config.model
    mc = model_config(m.name, m.preset, **m.overrides)
    samples = build_source(source, split, config.seed, params, task="pose3d")
    train = split == "train"
    return Pose3DCrops(
        samples,
        input_size_hw=tuple(mc.input_size),
        skeleton=mc.skeleton,
        train=train,
        seed=config.seed,
        occlusion=config.codec.occlusion() if train else None,
    )


def training_bone_lengths(crops: Any, skeleton: str, limit: int = BONE_SAMPLES) -> list[float]:
    """Mean bone lengths (J,) of up to ``limit`` people of a `Pose3DCrops`, evenly spaced.

    Raises:
        ValueError: no person with 3D joints.
    """
    from posekit.data.pose2d import _get_sample

    n = len(crops)
    idx = sorted({round(i * (n - 1) / max(limit - 1, 1)) for i in range(min(n, limit))})
    poses = []
    for k in idx:
        i, p = crops.index[k]
        poses.append(torch.from_numpy(crops._joints3d(_get_sample(crops.source, i), p, i)))
    if not poses:
        raise ValueError("pose3d task: no training person to measure bone lengths on")
    lengths = mean_bone_lengths(torch.stack(poses).double(), get_skeleton(skeleton).parents)
    return [round(float(x), 5) for x in lengths]


class Pose3DModule(ImageTaskModule):
    """LightningModule of 3D human pose from RGB crops (see the module docstring)."""

    build_items = staticmethod(pose3d_crops)
    val_batch_size = VAL_BATCH_SIZE
    task = "pose3d"
    monitor = ("val/mpjpe_mm", "min")
    logged_metrics = (
        "mpjpe_mm",
        "pa_mpjpe_mm",
        "mpjpe_gt_root_mm",
        "pck3d_150mm",
        "auc3d",
        "root_error_mm",
        "abs_mpjpe_mm",
        "depth_error_mm",
        "mean_error_px",
    )

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        mc = self.model.config  # type: ignore[union-attr]
        self.skeleton_name: str = get_skeleton(mc.skeleton).name
        self.input_size: tuple[int, int] = tuple(mc.input_size)  # type: ignore[assignment]
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        self.codec = Pose3DCodec(
            config.codec, shapes, self.input_size, self.skeleton_name, config.model.name
        )
        self.flip_test = bool(config.eval.flip_test)

    def on_fit_start(self) -> None:
        c = self.experiment.codec
        if c.bone_lengths_m is None:
            dm = self.trainer.datamodule  # type: ignore[attr-defined]
            c.bone_lengths_m = training_bone_lengths(dm.train_set, self.skeleton_name)

    def bone_lengths(self) -> Tensor:
        """``codec.bone_lengths_m`` as a tensor (J,).

        Raises:
            ValueError: not measured yet (the model was never trained).
        """
        b = self.experiment.codec.bone_lengths_m
        if b is None:
            raise ValueError(
                "pose3d task: codec.bone_lengths_m is unset (measured when training starts); "
                "give it with --set codec.bone_lengths_m=[...]"
            )
        return torch.tensor(b, dtype=torch.float64)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.model(image)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        out = self.model(batch["image"])
        terms = self.codec.loss(
            out,
            batch["keypoints"],
            batch["depth_rel_m"],
            batch["target_weight"],
            self.experiment.loss,
        )
        return self.log_loss_terms(terms, batch["image"].shape[0])

    @torch.no_grad()
    def predict_crops(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Crop pixels (B, J, 2), root-relative depths (B, J) and confidences (B, J)."""
        return self.codec.predict(self.model, images, self.flip_test)

    def validation_result(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        kp, dz, _ = self.predict_crops(batch["image"].to(self.device))
        pred = apply_affine(kp.float().cpu(), batch["affine_inv"].float().cpu())
        return {
            "pred": pred,
            "depth_rel_m": dz.float().cpu(),
            "joints3d": batch["joints3d"].float().cpu(),
            "keypoints_image": batch["keypoints_image"].float().cpu(),
            "K": batch["K"].float().cpu(),
        }

    def evaluate_results(self, results: list[dict[str, Tensor]]) -> TaskEvaluation:
        cat = {k: torch.cat([r[k] for r in results]) for k in results[0]}
        return pose3d_evaluation(
            cat["pred"],
            cat["depth_rel_m"],
            cat["joints3d"],
            cat["keypoints_image"],
            cat["K"],
            self.skeleton_name,
            self.bone_lengths(),
            0,  # the skeleton's root joint, as `Pose3DCrops`
        )
