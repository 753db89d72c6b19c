"""The ``lift`` task: 2D → 3D lifting models (``martinez``, ``lcn``, ``smplr_dae``) trained
with Lightning.

- input normalization: at ``setup("fit")`` the model's ``input_mean`` / ``input_std`` buffers
  are set from statistics of the training inputs, so the checkpoint is self-contained (a
  resumed run restores the saved buffers);
- loss (``loss.name``, `LiftLossConfig`): ``mpjpe`` (mean joint distance), ``l1`` or ``mse``,
  over the joints with finite ground truth;
- denoising models: when the model's config holds a non-zero ``noise`` (`NoiseConfig`, the DAE
  of SMPLR), the training inputs are corrupted by `structured_noise` with a generator of
  (seed, rank, step); validation inputs stay clean;
- validation (`lift_evaluation`, run by the `TaskModule` loop): `evaluate_pose3d` over the
  whole validation set, whose inputs are made from pixels and intrinsics as ``posekit
  predict`` makes them (`posekit.tasks.lift.inputs.lifter_inputs`); logged as
  ``val/mpjpe_mm``, ``val/pa_mpjpe_mm``, ``val/n_mpjpe_mm``, ``val/pck3d_150mm``,
  ``val/auc3d``; ``best.ckpt`` minimizes ``val/mpjpe_mm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import lightning as L
import torch
from torch import Tensor

from posekit.data.lifting.noise import NoiseConfig, structured_noise
from posekit.engine.base import TaskModule
from posekit.engine.config import ExperimentConfig
from posekit.engine.seeding import STREAM_NOISE, make_generator
from posekit.losses import joint_l1_loss, joint_mse_loss, mpjpe_loss
from posekit.metrics.evaluation import TaskEvaluation
from posekit.tasks.lift.batches import TensorBatches
from posekit.tasks.lift.datamodule import VAL_BATCH_SIZE, LiftDataModule, lift_eval_set
from posekit.tasks.lift.evaluation import lift_evaluation

__all__ = ["LOSS_FUNCTIONS", "LiftModule"]

LOSS_FUNCTIONS: dict[str, Callable[..., Tensor]] = {
    "mpjpe": mpjpe_loss,
    "l1": joint_l1_loss,
    "mse": joint_mse_loss,
}


def _is_noisy(noise: NoiseConfig | None) -> bool:
    if noise is None:
        return False
    return any(
        getattr(noise, k) > 0 for k in ("jitter_sigma", "swap_prob", "drop_prob", "outlier_prob")
    )


class LiftModule(TaskModule):
    """LightningModule of the lifting models (see the module docstring).

    Args:
        config: an experiment with ``task: lift``.
    """

    task = "lift"
    #: The data source ``posekit eval CKPT --data FILE`` reads a file with (`keypoints_file`).
    file_source = "keypoints_file"
    monitor = ("val/mpjpe_mm", "min")
    logged_metrics = ("mpjpe_mm", "pa_mpjpe_mm", "n_mpjpe_mm", "pck3d_150mm", "auc3d")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        self.loss_fn = LOSS_FUNCTIONS[config.loss.name]
        noise = getattr(getattr(self.model, "config", None), "noise", None)
        self.noise: NoiseConfig | None = noise if _is_noisy(noise) else None
        self.skeleton_name: str = self.model.skeleton.name  # type: ignore[union-attr]

    # --- data -----------------------------------------------------------------------------

    @classmethod
    def build_datamodule(cls, config: ExperimentConfig) -> L.LightningDataModule:
        return LiftDataModule(config)

    @classmethod
    def evaluation_batches(
        cls,
        config: ExperimentConfig,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Iterable[Mapping[str, Tensor]], int]:
        ev = lift_eval_set(config, source, params)
        batches = TensorBatches(ev.tensors, VAL_BATCH_SIZE, ev.num_available, ev.drawn)
        return batches, len(batches)

    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        dm = self.trainer.datamodule
        skeleton = getattr(dm, "skeleton", None)
        if skeleton is not None and skeleton != self.skeleton_name:
            raise ValueError(
                f"data source {self.experiment.data.source!r} yields {skeleton} joints, but the "
                f"model is built for {self.skeleton_name} (set model.overrides.skeleton)"
            )
        coords = getattr(dm, "coords", None)
        model_coords = getattr(self.model.config, "input_coords", None)
        if coords is not None and model_coords is not None and coords != model_coords:
            raise ValueError(
                f"the data source feeds {coords!r} coordinates, but the model expects "
                f"{model_coords!r} (set data.params.coords or model.overrides.input_coords)"
            )
        if hasattr(self.model, "set_input_normalization"):
            mean, std = dm.input_statistics()
            self.model.set_input_normalization(mean, std)

    # --- steps ----------------------------------------------------------------------------

    def forward(self, keypoints2d: Tensor, visibility: Tensor | None = None) -> dict[str, Tensor]:
        return self.model(keypoints2d, visibility)

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        kp, vis, gt = batch["keypoints2d"], batch["visibility"], batch["joints3d"]
        if self.noise is not None:
            gen = make_generator(
                self.experiment.seed, STREAM_NOISE, self.global_rank, self.global_step
            )
            kp, vis = structured_noise(kp, vis, self.skeleton_name, self.noise, gen)
        pred = self.model(kp, vis)["joints3d"]  # (B, J, 3)
        valid = gt.isfinite().all(-1)  # (B, J): joints with ground truth
        loss = self.loss_fn(pred, gt, valid)
        B = kp.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=B)
        with torch.no_grad():
            mpjpe = mpjpe_loss(pred, gt, valid) * 1000.0
        self.log("train/mpjpe_mm", mpjpe, prog_bar=True, batch_size=B)
        self.log_lr()
        return loss

    def validation_result(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(predicted, ground-truth) joints (B, J, 3) of one batch, on the CPU."""
        kp, vis = batch["keypoints2d"].to(self.device), batch["visibility"].to(self.device)
        pred = self.model(kp, vis)["joints3d"]
        return pred.detach().float().cpu(), batch["joints3d"].detach().float().cpu()

    def evaluate_results(self, results: list[tuple[Tensor, Tensor]]) -> TaskEvaluation:
        pred, gt = (torch.cat(x) for x in zip(*results, strict=True))
        return lift_evaluation(pred, gt, self.skeleton_name)
