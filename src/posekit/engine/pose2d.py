"""The ``pose2d`` task: single-person (top-down) 2D pose from RGB crops, trained with Lightning.

Models (`posekit.models.pose2d`) and what the task does with their outputs:

- ``"heatmaps"`` (B, S, J, h, w) (``hourglass``, ``compositional``): Gaussian targets from
  `Heatmap2D` (sigma = 2 cells at 64 x 64, scaled with the map), `heatmap_mse_loss` on every
  stack (intermediate supervision); decoded with DARK on the last stack;
- ``"level<l>_heatmaps"`` (``compositional``): part targets of the hierarchy's levels
  (`encode_part_heatmaps`), `compositional_heatmap_loss` over all levels;
- ``"keypoints"`` with ``"heatmaps"`` (``hourglass`` with ``integral``): an L1 coordinate
  loss in crop pixels / crop size added with weight ``loss.coord_weight``; decoded from the
  soft-argmax keypoints;
- ``"keypoints_stages"`` (``deeppose``): `Regression2D` targets, `stage_l1_loss` on every
  cascade stage; decoded from the last stage.

Data: ``data.source`` names a pose2d source (`posekit.engine.pose2d_sources`: synthetic
bodies, COCO, MPII, LSP) that yields `Sample`s; `TopDownCrops` makes one crop per person at
the model's ``input_size`` with augmentation (rotation, scale, flip, colour) in training. The
training batches of step s are a pure function of (seed, rank, s) (an epoch permutation plus
per-epoch augmentation draws), so a resumed run sees the batches the uninterrupted run would.

Validation (`pose2d_evaluation`) maps predictions back to image pixels and reports PCK@0.2
(torso: right shoulder to left hip), PCKh-style @0.5 (the dataset's head size when it has one,
MPII; else the head length of `head_length`), the AUC of PCK@0..0.5 (torso), the mean error
in pixels, and PCK@0.2 on occluded (labelled, not visible) joints; per joint too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from posekit.codecs.heatmap2d import Heatmap2D
from posekit.codecs.regression import Regression2D
from posekit.engine.base import TaskEvaluation, TaskModule, val_source
from posekit.engine.config import ExperimentConfig
from posekit.engine.seeding import STREAM_TRAIN, make_generator
from posekit.engine.sources import build_source
from posekit.losses.pose2d import compositional_heatmap_loss, heatmap_mse_loss, stage_l1_loss
from posekit.metrics.pck import evaluate_pck, pck_per_joint, torso_size
from posekit.skeletons import get_skeleton

__all__ = [
    "ImageDataModule",
    "Pose2DModule",
    "StepBatchSampler",
    "head_length",
    "pose2d_evaluation",
]

#: Summary metrics logged as ``val/<key>``.
_LOGGED = ("pck_0.2", "pckh_0.5", "auc", "mean_error_px", "pck_0.2_occluded")
VAL_BATCH_SIZE = 64

#: Head length per layout when the data has no head boxes: (joint, joint or joint pair).
_HEAD = {
    "mpii16": ("head_top", ("upper_neck",)),
    "lsp14": ("head_top", ("neck",)),
    "h36m17": ("head_top", ("neck_nose",)),
    "coco17": ("nose", ("l_shoulder", "r_shoulder")),
}


def head_length(gt: Tensor, skeleton: str) -> Tensor:
    """A head size for PCKh-style scores on data without head boxes, pixels.

    mpii16 / lsp14: head top to (upper) neck, about MPII's 0.6 x head-box diagonal; h36m17:
    head top to neck_nose; coco17 (no head top): nose to the shoulders' midpoint, about the
    same length on upright people. NaN where a joint is missing.

    Shapes:
        gt: (..., J, 2); returns: (...,).
    """
    sk = get_skeleton(skeleton)
    if sk.name not in _HEAD:
        raise ValueError(f"head_length: no head definition for {sk.name}")
    a, bs = _HEAD[sk.name]
    b = torch.stack([gt[..., sk.index(n), :] for n in bs]).mean(0)
    return torch.linalg.vector_norm(gt[..., sk.index(a), :] - b, dim=-1)


def pose2d_evaluation(
    pred: Tensor,
    gt: Tensor,
    visibility: Tensor,
    skeleton: str,
    head_px: Tensor | None = None,
) -> TaskEvaluation:
    """2D metrics of a set of people (see the module docstring).

    Args:
        pred, gt: image pixels; NaN in ``gt`` = unlabelled joint (left out).
        visibility: labelled and not occluded.
        skeleton: the layout.
        head_px: per-person head size (MPII), NaN where unknown (then `head_length`).

    Shapes:
        pred, gt: (N, J, 2); visibility: (N, J); head_px: (N,) or None.
    """
    pred, gt = pred.double(), gt.double()
    labelled = gt.isfinite().all(-1)
    torso = torso_size(gt, skeleton)
    head = head_length(gt, skeleton)
    if head_px is not None:
        head = torch.where(head_px.double().isfinite(), head_px.double(), head)
    pck = evaluate_pck(pred, gt, labelled, norm=torso, threshold=0.2)
    pckh = evaluate_pck(pred, gt, labelled, norm=head, threshold=0.5)
    occluded = labelled & ~visibility.bool()
    occ = evaluate_pck(pred, gt, occluded, norm=torso, threshold=0.2) if occluded.any() else None
    err = torch.linalg.vector_norm(pred - gt, dim=-1)  # (N, J)
    err_j = torch.where(labelled, err, torch.nan)
    metrics: dict[str, float | int] = {
        "pck_0.2": pck["pck"],
        "pckh_0.5": pckh["pck"],
        "auc": pck["auc"],
        "mean_error_px": float(err_j.nanmean()),
        "pck_0.2_occluded": occ["pck"] if occ is not None else math.nan,
        "occluded_joints": int(occluded.sum()),
        "num_people": int(gt.shape[0]),
    }
    per_joint = {
        "PCK@0.2": pck_per_joint(pred, gt, labelled, norm=torso, threshold=0.2).float(),
        "PCKh@0.5": pck_per_joint(pred, gt, labelled, norm=head, threshold=0.5).float(),
        "error (px)": err_j.nanmean(0).float(),
    }
    return TaskEvaluation(metrics, per_joint, get_skeleton(skeleton).name, int(gt.shape[0]))


# --- data ---------------------------------------------------------------------------------


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """The (index, epoch) keys of the training batches of steps ``start_step, ...`` (endless).

    Step s of epoch e = s // steps_per_epoch takes its slice of a permutation drawn from
    (seed, e); ranks take disjoint slices. The epoch rides along with each index so that the
    dataset draws that epoch's augmentation. A set smaller than one global batch is sampled
    with replacement, one draw per step.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, start_step: int = 0
    ) -> None:
        if n < 1:
            raise ValueError("the training set is empty")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.rank, self.world, self.start_step = int(rank), int(world), int(start_step)
        self.steps_per_epoch = self.n // (self.batch_size * self.world)

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        if self.steps_per_epoch == 0:
            g = make_generator(self.seed, STREAM_TRAIN, self.rank, step)
            idx = torch.randint(self.n, (self.batch_size,), generator=g)
            return [(int(i), step) for i in idx]
        epoch, k = divmod(step, self.steps_per_epoch)
        perm = torch.randperm(self.n, generator=make_generator(self.seed, STREAM_TRAIN, epoch))
        start = (k * self.world + self.rank) * self.batch_size
        return [(int(i), epoch) for i in perm[start : start + self.batch_size]]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch_at(step)
            step += 1


class _EpochKeyed(Dataset):
    """``crops[(index, epoch)]``: the item with that epoch's augmentation."""

    def __init__(self, crops: Any) -> None:
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, epoch = key
        self.crops.set_epoch(epoch)
        return self.crops[index]


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if isinstance(vals[0], Tensor) else vals
    return out


def _crops(config: ExperimentConfig, split: str, source: str, params: dict[str, Any]) -> Any:
    from posekit.data.pose2d import TopDownCrops
    from posekit.models import model_config

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


class ImageDataModule(L.LightningDataModule):
    """Training samples in step-indexed batches and a fixed validation subset, both made by
    ``build(config, split, source, params)``: the DataModule of the image tasks (pose2d crops,
    bottom-up scenes). The validation source follows `val_source`; ``data.val_size`` picks an
    evenly spaced subset."""

    def __init__(
        self, config: ExperimentConfig, build: Callable[..., Any], val_batch_size: int
    ) -> None:
        super().__init__()
        self.config = config
        self.build = build
        self.val_batch_size = val_batch_size
        self.train_set: Any = None
        self.val_set: Any = None

    def setup(self, stage: str) -> None:
        d = self.config.data
        if self.train_set is None and stage == "fit":
            self.train_set = self.build(self.config, "train", d.source, dict(d.params))
        if self.val_set is None:
            name, params = val_source(self.config)
            self.val_set = _subset(self.build(self.config, "val", name, params), d.val_size)

    def train_dataloader(self) -> DataLoader:
        tr = self.trainer
        rank, world, step = (
            (0, 1, 0) if tr is None else (tr.global_rank, tr.world_size, tr.global_step)
        )
        t = self.config.trainer
        sampler = StepBatchSampler(
            len(self.train_set), t.batch_size, self.config.seed, rank, world, step
        )
        return DataLoader(
            _EpochKeyed(self.train_set),
            batch_sampler=sampler,
            num_workers=t.num_workers,
            collate_fn=_collate,
            persistent_workers=t.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        return _val_loader(self.val_set, self.config.trainer.num_workers, self.val_batch_size)


def _subset(crops: Any, size: int) -> Any:
    if size <= 0 or size >= len(crops):
        return crops
    idx = np.linspace(0, len(crops) - 1, size).round().astype(int)
    return torch.utils.data.Subset(crops, idx.tolist())


def _val_loader(data: Any, workers: int, batch_size: int = VAL_BATCH_SIZE) -> DataLoader:
    return DataLoader(
        data, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_collate
    )


# --- the task -------------------------------------------------------------------------------


class Pose2DModule(TaskModule):
    """LightningModule of the 2D pose models (see the module docstring)."""

    task = "pose2d"
    monitor = ("val/pck_0.2", "max")

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config)
        mc = self.model.config  # type: ignore[union-attr]
        self.skeleton_name: str = get_skeleton(mc.skeleton).name
        self.input_size: tuple[int, int] = tuple(mc.input_size)  # type: ignore[assignment]
        shapes = self.model.output_shapes(1)  # type: ignore[operator]
        self.kind = "regression" if "keypoints_stages" in shapes else "heatmap"
        self.integral = self.kind == "heatmap" and "keypoints" in shapes
        self.regression = Regression2D(self.input_size)
        self.heatmap: Heatmap2D | None = None
        self.levels: list[str] = []
        if self.kind == "heatmap":
            h, w = shapes["heatmaps"][-2:]
            self.heatmap = Heatmap2D(self.input_size, (h, w), sigma=max(1.0, 2.0 * h / 64))
            self.levels = sorted(k for k in shapes if k.startswith("level"))
        self.flip_test = bool(config.loss.flip_test)
        if config.loss.name != "auto":
            raise ValueError(
                f"loss.name: the pose2d task picks its loss from the model's outputs; expected "
                f"'auto', got {config.loss.name!r}"
            )
        self._val: list[dict[str, Tensor]] = []
        self.last_evaluation: TaskEvaluation | None = None

    @classmethod
    def build_datamodule(cls, config: ExperimentConfig) -> L.LightningDataModule:
        return ImageDataModule(config, _crops, VAL_BATCH_SIZE)

    @classmethod
    def evaluation_batches(
        cls,
        config: ExperimentConfig,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Iterable[Mapping[str, Tensor]], int]:
        name, params = val_source(config, source, params)
        crops = _subset(_crops(config, "val", name, params), config.data.val_size)
        loader = _val_loader(crops, config.trainer.num_workers)
        return loader, len(loader)

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
        if self.kind == "regression":
            target, tw = self.regression.encode(kp, w)
            return stage_l1_loss(out["keypoints_stages"], target, tw)
        assert self.heatmap is not None
        if self.levels:
            from posekit.models.pose2d.hierarchy import encode_part_heatmaps

            maps, weights = encode_part_heatmaps(kp, w, self.model.hierarchy, self.heatmap)
            keys = ["heatmaps", *self.levels]
            loss = compositional_heatmap_loss([out[k] for k in keys], maps, weights)
        else:
            target, tw = self.heatmap.encode(kp, w)
            loss = heatmap_mse_loss(out["heatmaps"], target, tw, lc.heatmap_foreground_weight)
        loss = lc.heatmap_weight * loss
        if self.integral:
            size = kp.new_tensor([self.input_size[1], self.input_size[0]])
            loss = loss + lc.coord_weight * stage_l1_loss(out["keypoints"] / size, kp / size, w)
        return loss

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        out = self.model(batch["image"])
        loss = self.compute_loss(out, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        self.log_lr()
        return loss

    def decode(self, out: Mapping[str, Tensor]) -> Tensor:
        """Crop-pixel keypoints (B, J, 2) from the model's outputs."""
        if self.kind == "regression":
            return self.regression.decode(out["keypoints"])
        if self.integral:
            return out["keypoints"]
        assert self.heatmap is not None
        return self.heatmap.decode(out["heatmaps"][:, -1])[0]

    @torch.no_grad()
    def predict_crops(self, images: Tensor) -> Tensor:
        """Crop-pixel keypoints of crops, with flip test-time augmentation when configured.

        Shapes:
            images: (B, 3, H, W); returns: (B, J, 2).
        """
        from posekit.data.transforms import flip_back_heatmaps, flip_back_keypoints, flip_image

        out = self.model(images)
        if not self.flip_test:
            return self.decode(out)
        flipped = self.model(flip_image(images))
        if self.kind == "heatmap" and not self.integral:
            assert self.heatmap is not None
            hm = out["heatmaps"][:, -1]
            hm_f = flip_back_heatmaps(flipped["heatmaps"][:, -1], self.skeleton_name)
            return self.heatmap.decode(0.5 * (hm + hm_f))[0]
        a = self.decode(out)
        b = flip_back_keypoints(self.decode(flipped), self.input_size[1], self.skeleton_name)
        return 0.5 * (a + b)

    def _to_image(self, kp_crop: Tensor, affine_inv: Tensor) -> Tensor:
        ones = torch.ones_like(kp_crop[..., :1])
        return torch.cat([kp_crop, ones], -1) @ affine_inv.to(kp_crop).transpose(-1, -2)

    def _batch_result(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        kp = self.predict_crops(batch["image"].to(self.device))
        pred = self._to_image(kp.float().cpu(), batch["affine_inv"].cpu())
        head = batch["norm_length_px"].float().cpu()
        is_head = torch.tensor([k == "head" for k in batch["norm_kind"]], dtype=torch.bool)
        head = torch.where(is_head, head, torch.nan)
        return {
            "pred": pred,
            "gt": batch["keypoints_image"].float().cpu(),
            "visibility": self._image_visibility(batch),
            "head": head,
        }

    @staticmethod
    def _image_visibility(batch: Mapping[str, Any]) -> Tensor:
        # The crop's visibility also drops joints outside the crop: count a joint as occluded
        # only when it is inside the crop (weight 1) and not visible.
        return (batch["visibility"].bool() | (batch["target_weight"] <= 0)).cpu()

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._val.append(self._batch_result(batch))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        ev = self._evaluate_parts(self._val)
        self._val = []
        for key in _LOGGED:
            v = float(ev.metrics[key])
            if math.isfinite(v):
                self.log(f"val/{key}", v, sync_dist=True, prog_bar=key == "pck_0.2")
        if not self.trainer.sanity_checking:
            self.last_evaluation = ev

    def _evaluate_parts(self, parts: list[dict[str, Tensor]]) -> TaskEvaluation:
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        return pose2d_evaluation(
            cat["pred"], cat["gt"], cat["visibility"], self.skeleton_name, cat["head"]
        )

    @torch.no_grad()
    def evaluate(
        self,
        batches: Iterable[Mapping[str, Any]],
        progress: bool = True,
        total: int | None = None,
    ) -> TaskEvaluation:
        """Run the model (eval mode) over validation crop batches; `pose2d_evaluation`."""
        return self._evaluate_parts(self.map_batches(batches, self._batch_result, progress, total))
