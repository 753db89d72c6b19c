"""Multi-person 2D pose evaluation: COCO OKS AP of people found in whole images.

Shared by the bottom-up task (`posekit.engine.bottomup`: associative embedding, every person of
an image from one network pass) and top-down inference over person boxes
(`topdown_multiperson_evaluation`: a ``pose2d`` checkpoint run on one crop per person), so that
both are scored against the same ground truth with the same code.

Ground truth (`scene_ground_truth`), per image and person, COCO-style:

- keypoints in image pixels, in the evaluated skeleton (joints matched by name);
- flags: 2 labelled and visible, 1 labelled but occluded, 0 not labelled. A joint is labelled
  when its position is known and inside the image (COCO annotates no joint outside the image);
- area (the OKS scale s^2): the person's pixel count in the ``"instance"`` mask when the sample
  has one (COCO's segmentation area: the visible body; synthetic scenes have it), else the area
  of the person's box, else of the tight box of its labelled keypoints.

Top-down here means inference over the **ground-truth** person boxes (no person detector): it
measures the pose network alone, an upper bound of a detector + pose pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from posekit._checks import check_shape
from posekit.engine.base import TaskEvaluation
from posekit.metrics.coco import COCO_SIGMAS, coco_keypoint_ap
from posekit.skeletons import get_skeleton, joint_map

__all__ = [
    "PeopleDetections",
    "SceneTruth",
    "ScenesWithTruth",
    "affine_points",
    "multiperson_evaluation",
    "oks_sigmas",
    "scene_ground_truth",
    "topdown_multiperson_evaluation",
    "truth_from_batch",
]

#: Summary metrics of `multiperson_evaluation` logged as ``val/<key>``.
LOGGED = ("ap", "ap50", "ap75", "ar")


@dataclass
class SceneTruth:
    """The ground-truth people of one image (see the module docstring).

    Shapes:
        keypoints: (P, J, 2) image pixels, NaN unknown; flags: (P, J) int64 in {0, 1, 2};
        area_px2: (P,) pixels^2.
    """

    keypoints: Tensor
    flags: Tensor
    area_px2: Tensor

    def __post_init__(self) -> None:
        dims = check_shape(self.keypoints, "keypoints", "P J 2")
        check_shape(self.flags, "flags", "P J", dims)
        check_shape(self.area_px2, "area_px2", "P", dims)


@dataclass
class PeopleDetections:
    """The people a method found in one image.

    Shapes:
        keypoints: (N, J, 2) image pixels (NaN: a joint the method did not place);
        scores: (N,) person confidences (they rank detections across images for AP).
    """

    keypoints: Tensor
    scores: Tensor

    def __post_init__(self) -> None:
        dims = check_shape(self.keypoints, "keypoints", "N J 2")
        check_shape(self.scores, "scores", "N", dims)


def oks_sigmas(skeleton: str) -> Tensor:
    """Per-joint OKS sigmas of a layout: COCO's for joints named like a coco17 joint, the mean
    COCO sigma for the others.

    Shapes:
        returns: (J,) float64.
    """
    sk = get_skeleton(skeleton)
    sig = torch.full((sk.num_joints,), float(np.mean(COCO_SIGMAS)), dtype=torch.float64)
    if sk.name == "coco17":
        return torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    s_idx, d_idx = joint_map("coco17", sk.name)
    sig[list(d_idx)] = torch.tensor(COCO_SIGMAS, dtype=torch.float64)[list(s_idx)]
    return sig


def scene_ground_truth(sample: Any, skeleton: str | None = None) -> SceneTruth:
    """The COCO-style ground truth of a `Sample`'s people (see the module docstring).

    Args:
        sample: a `posekit.data.sample.Sample` with an image (for its size) or ``image_size``.
        skeleton: the evaluated layout; default the sample's own.
    """
    from posekit.data.pose2d import convert_skeleton

    skeleton = skeleton or sample.skeleton
    kp, vis = convert_skeleton(sample.keypoints2d, sample.visibility, sample.skeleton, skeleton)
    kp = np.asarray(kp, np.float64)
    size = sample.image_size
    if size is None:
        raise ValueError("sample: expected an image or depth map (its size bounds the labels)")
    H, W = size
    inside = (
        np.isfinite(kp).all(-1)
        & (kp[..., 0] >= -0.5)
        & (kp[..., 0] <= W - 0.5)
        & (kp[..., 1] >= -0.5)
        & (kp[..., 1] <= H - 0.5)
    )
    flags = np.where(inside, np.where(vis, 2, 1), 0).astype(np.int64)
    P = kp.shape[0]
    area = np.full(P, np.nan)
    inst = sample.masks.get("instance") if sample.masks else None
    if inst is not None:
        area = np.array([float((inst == p).sum()) for p in range(P)])
    if sample.bbox is not None:
        b = np.asarray(sample.bbox, np.float64)
        box = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
        area = np.where(np.isfinite(area) & (area > 0), area, box)
    lo = np.where(inside[..., None], kp, np.inf).min(1)
    hi = np.where(inside[..., None], kp, -np.inf).max(1)
    tight = np.where(inside.any(1), np.prod(np.clip(hi - lo, 0, None), -1), 0.0)
    area = np.where(np.isfinite(area) & (area > 0), area, tight)
    return SceneTruth(
        torch.from_numpy(kp).float(), torch.from_numpy(flags), torch.from_numpy(area).float()
    )


def multiperson_evaluation(
    truths: Sequence[SceneTruth],
    detections: Sequence[PeopleDetections],
    skeleton: str,
) -> TaskEvaluation:
    """COCO OKS AP / AR of detected people against the ground truth, image by image.

    A detection's unplaced (NaN) joints are put at the mean of its placed joints (COCO's
    results must hold every keypoint; there they count as misses, as they would far away, but
    leave the detection's area as the method placed it). At most 20 detections per image count
    (COCO's ``maxDets``), the best scored.

    Args:
        truths: one `SceneTruth` per image.
        detections: one `PeopleDetections` per image, same order.
        skeleton: the layout (sets the OKS sigmas, `oks_sigmas`).

    Returns:
        metrics: ``ap`` (OKS 0.50:0.95), ``ap50``, ``ap75``, ``ap_medium``, ``ap_large``,
        ``ar``, ``ar50``, ``ar75``, ``ar_medium``, ``ar_large`` (fractions; NaN without ground
        truth), ``num_images``, ``num_people`` (with a labelled joint), ``num_detections``;
        no per-joint columns.
    """
    if len(truths) != len(detections):
        raise ValueError(
            f"detections: expected one entry per image ({len(truths)}), got {len(detections)}"
        )
    J = get_skeleton(skeleton).num_joints
    gk, gf, ga, gi, dk, ds, di = [], [], [], [], [], [], []
    for i, (t, d) in enumerate(zip(truths, detections)):
        if t.keypoints.shape[1] != J or d.keypoints.shape[1] != J:
            raise ValueError(f"image {i}: expected {J} joints ({skeleton})")
        gk.append(t.keypoints.double())
        gf.append(t.flags)
        ga.append(t.area_px2.double())
        gi.append(torch.full((len(t.flags),), i, dtype=torch.int64))
        kp = d.keypoints.detach().double().cpu()
        placed = kp.isfinite().all(-1, keepdim=True)  # (N, J, 1)
        mean = torch.where(placed, kp, 0.0).sum(1, keepdim=True) / placed.sum(
            1, keepdim=True
        ).clamp(min=1)
        dk.append(torch.where(placed, kp, mean))
        ds.append(d.scores.detach().double().cpu())
        di.append(torch.full((len(kp),), i, dtype=torch.int64))
    gt_kp = torch.cat(gk) if gk else torch.zeros(0, J, 2, dtype=torch.float64)
    flags = torch.cat(gf) if gf else torch.zeros(0, J, dtype=torch.int64)
    num_people = int((flags > 0).any(-1).sum())
    counts: dict[str, float | int] = {
        "num_images": len(truths),
        "num_people": num_people,
        "num_detections": int(sum(len(s) for s in ds)),
    }
    if num_people == 0:
        stats = dict.fromkeys(
            ("ap", "ap50", "ap75", "ap_medium", "ap_large", "ar", "ar50", "ar75"), math.nan
        )
        stats |= {"ar_medium": math.nan, "ar_large": math.nan}
        return TaskEvaluation({**stats, **counts}, {}, get_skeleton(skeleton).name, len(truths))
    stats = coco_keypoint_ap(
        gt_kp,
        flags,
        torch.cat(dk),
        torch.cat(ds),
        gt_image_ids=torch.cat(gi),
        dt_image_ids=torch.cat(di),
        gt_areas=torch.cat(ga),
        sigmas=oks_sigmas(skeleton),
    )
    return TaskEvaluation({**stats, **counts}, {}, get_skeleton(skeleton).name, len(truths))


# --- ground truth beside bottom-up images ------------------------------------------------------


class ScenesWithTruth(Dataset):
    """`BottomUpImages` items plus their images' `SceneTruth`, padded to ``max_people`` rows.

    Added keys: ``gt_keypoints`` (Pmax, J, 2) image pixels, ``gt_flags`` (Pmax, J) int64,
    ``gt_area_px2`` (Pmax,), ``gt_num_people`` () int64 (rows past it are padding: flags 0).
    People past ``max_people`` are left out of the ground truth, as of the item.

    Args:
        images: a `posekit.data.pose2d.BottomUpImages` (not augmented).
    """

    def __init__(self, images: Any) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.images[index]
        src = self.images.source
        sample = src.sample(index) if hasattr(src, "sample") else src[index]
        truth = scene_ground_truth(sample, self.images.skeleton)
        Pmax = self.images.max_people
        P = min(len(truth.flags), Pmax)
        J = truth.keypoints.shape[1]
        kp = torch.full((Pmax, J, 2), float("nan"))
        flags = torch.zeros(Pmax, J, dtype=torch.int64)
        area = torch.zeros(Pmax)
        kp[:P], flags[:P], area[:P] = truth.keypoints[:P], truth.flags[:P], truth.area_px2[:P]
        return {
            **item,
            "gt_keypoints": kp,
            "gt_flags": flags,
            "gt_area_px2": area,
            "gt_num_people": torch.tensor(P, dtype=torch.int64),
        }


def truth_from_batch(batch: Mapping[str, Any]) -> list[SceneTruth]:
    """The per-image `SceneTruth` of a collated batch of `ScenesWithTruth` items."""
    out = []
    for b in range(len(batch["gt_num_people"])):
        P = int(batch["gt_num_people"][b])
        out.append(
            SceneTruth(
                batch["gt_keypoints"][b, :P].float().cpu(),
                batch["gt_flags"][b, :P].cpu(),
                batch["gt_area_px2"][b, :P].float().cpu(),
            )
        )
    return out


# --- top-down inference over ground-truth person boxes ----------------------------------------


def affine_points(points: Tensor, affine: Tensor) -> Tensor:
    """Apply 2 x 3 affine maps to points: ``[x, y, 1] @ affine.T``.

    Shapes:
        points: (B, J, 2); affine: (B, 2, 3); returns: (B, J, 2).
    """
    ones = torch.ones_like(points[..., :1])
    return torch.cat([points, ones], -1) @ affine.to(points).transpose(-1, -2)


@torch.no_grad()
def topdown_multiperson_evaluation(
    checkpoint: str | Path,
    source: str,
    params: Mapping[str, Any] | None = None,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> TaskEvaluation:
    """COCO AP of a top-down ``pose2d`` checkpoint over the ground-truth person boxes.

    Every person box of the validation split of ``source`` is cropped (`TopDownCrops`,
    ``train=False``, the checkpoint's crop size and padding 1.25), the model predicts the
    crop's keypoints (with the flip test when its experiment asks for it), which are mapped
    back to the image. Person score: the mean over joints of the maximum of each joint's
    heatmap (last stack), a confidence in [0, ~1]; 1.0 for models without heatmaps
    (``deeppose``). Scored with `multiperson_evaluation` against `scene_ground_truth`.

    Args:
        checkpoint: a ``pose2d`` checkpoint.
        source: a pose2d data source (``synthetic_body``); its ``val`` split is evaluated.
        params: the source's parameters (e.g. ``people: [2, 4]`` for multi-person scenes).
        batch_size: crops per forward pass.
        device: where to run the model.
        num_workers: data-loading processes.
        progress: show a progress bar.

    Returns:
        As `multiperson_evaluation`, plus ``num_boxes`` (crops evaluated).
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from posekit.data.pose2d import TopDownCrops
    from posekit.engine.evaluate import module_from_checkpoint
    from posekit.engine.pose2d import _collate
    from posekit.engine.sources import build_source

    module, config, _ = module_from_checkpoint(checkpoint)
    if module.task != "pose2d":
        raise ValueError(
            f"{checkpoint}: expected a pose2d (top-down) checkpoint, got {module.task}"
        )
    module.to(device).eval()
    skeleton: str = module.skeleton_name  # type: ignore[assignment]
    samples = build_source(source, "val", config.seed, dict(params or {}), task="pose2d")
    crops = TopDownCrops(
        samples, input_size_hw=module.input_size, skeleton=skeleton, train=False, min_labelled=0
    )
    loader = DataLoader(
        crops, batch_size=batch_size, num_workers=num_workers, collate_fn=_collate, shuffle=False
    )
    found: dict[int, list[tuple[Tensor, Tensor]]] = {}
    for batch in tqdm(loader, desc="top-down", disable=not progress, unit="batch"):
        images = batch["image"].to(module.device)
        out = module.model(images)
        if module.flip_test:
            kp = module.predict_crops(images)
        else:
            kp = module.decode(out)
        if "heatmaps" in out:
            score = out["heatmaps"][:, -1].flatten(-2).amax(-1).mean(-1)  # (B,)
        else:
            score = torch.ones(len(kp))
        kp_img = affine_points(kp.float().cpu(), batch["affine_inv"])
        for b, i in enumerate(batch["sample_index"].tolist()):
            found.setdefault(i, []).append((kp_img[b], score[b].float().cpu()))
    truths, detections = [], []
    J = get_skeleton(skeleton).num_joints
    for i in range(len(samples)):
        s = samples.sample(i) if hasattr(samples, "sample") else samples[i]
        truths.append(scene_ground_truth(s, skeleton))
        people = found.get(i, [])
        detections.append(
            PeopleDetections(
                torch.stack([k for k, _ in people]) if people else torch.zeros(0, J, 2),
                torch.stack([c for _, c in people]) if people else torch.zeros(0),
            )
        )
    ev = multiperson_evaluation(truths, detections, skeleton)
    ev.metrics["num_boxes"] = len(crops)
    return ev
