"""Pictures of a ``pose2d`` model on the real photos (`posekit.tasks.pose2d.real_images`): per
set, a grid of the person crops with the predicted skeleton and the ground-truth joints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from posekit.data.pose2d import IMAGENET_MEAN, IMAGENET_STD, TopDownCrops
from posekit.geometry.crops import apply_affine
from posekit.tasks.pose2d.real_images import RealImageScore, load_real_image_set

__all__ = ["write_real_image_pictures"]


def _crop_rgb(image: Tensor) -> np.ndarray:
    """A normalised crop (3, H, W) back to (H, W, 3) uint8 RGB."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = ((image.float() * std + mean) * 255.0).round().clamp(0, 255).byte()
    return rgb.permute(1, 2, 0).contiguous().numpy()


def _tile(
    item: Mapping[str, Any], pred_img: np.ndarray, score: RealImageScore, scale: float
) -> np.ndarray:
    from posekit.viz import draw_skeleton

    crop = _crop_rgb(item["image"])
    H, W = crop.shape[:2]
    crop = cv2.resize(crop, (round(W * scale), round(H * scale)), interpolation=cv2.INTER_LINEAR)
    M = item["affine"].double()

    def to_tile(xy_img: np.ndarray) -> np.ndarray:
        xy = apply_affine(torch.from_numpy(xy_img).double(), M).numpy()
        return (xy + 0.5) * scale - 0.5  # pixel centres at integers

    out = draw_skeleton(crop, to_tile(pred_img), None, score.model_skeleton)
    for x, y in to_tile(item["keypoints_image"].numpy()):
        if np.isfinite(x) and np.isfinite(y):
            c = (round(float(x)), round(float(y)))
            cv2.drawMarker(out, c, (0, 0, 0), cv2.MARKER_CROSS, 11, 4, cv2.LINE_AA)
            cv2.drawMarker(out, c, (255, 0, 255), cv2.MARKER_CROSS, 11, 2, cv2.LINE_AA)
    return out


def write_real_image_pictures(
    scores: Mapping[str, RealImageScore],
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    prefix: str = "",
    max_people: int = 24,
    tile_height_px: int = 256,
) -> list[Path]:
    """Per set, a PNG grid of the crops with the predicted skeleton (the model's layout, left
    limbs orange, right blue) and the ground-truth joints (magenta crosses), written atomically
    as ``<out_dir>/<prefix><set>.png``.

    Args:
        scores: `evaluate_real_images` results (its crops are rebuilt from ``root``).
        root: the folder they were scored on.
        out_dir: where the pictures go (created).
        prefix: file name prefix (e.g. the checkpoint's name and ``"_"``).
        max_people: people drawn per set (the first ones).
        tile_height_px: each crop is scaled to this height.

    Returns:
        The files written, in the order of ``scores``.
    """
    from posekit.viz import contact_sheet, save_png

    paths = []
    for name, score in scores.items():
        source = load_real_image_set(root, name)
        crops = TopDownCrops(
            source, score.input_size_hw, skeleton=score.skeleton, train=False, min_labelled=1
        )
        n = min(len(crops), max_people, len(score.pred_px))
        tiles = []
        for k in range(n):
            item = crops[k]
            where = (int(item["sample_index"]), int(item["person_index"]))
            if where != tuple(score.people_index[k]):
                raise ValueError(
                    f"set {name!r}: person {k} is {where} under {root}, "
                    f"{tuple(score.people_index[k])} in the scores: not the same data"
                )
            scale = tile_height_px / score.input_size_hw[0]
            tiles.append(_tile(item, score.pred_px[k], score, scale))
        sheet = contact_sheet(tiles, columns=min(len(tiles), 6))
        caption = (
            f"{name}: predicted {score.model_skeleton} skeleton, ground truth ({score.skeleton}) "
            f"magenta crosses; PCK@0.2 {100 * score.pck:.1f} %, PCKh@0.5 {100 * score.pckh:.1f} %"
        )
        band = np.full((24, sheet.shape[1], 3), 32, np.uint8)
        cv2.putText(band, caption, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)  # fmt: skip
        path = Path(out_dir) / f"{prefix}{name}.png"
        save_png(path, np.concatenate([band, sheet]))
        paths.append(path)
    return paths
