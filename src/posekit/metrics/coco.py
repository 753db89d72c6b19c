"""COCO keypoint AP (object keypoint similarity, OKS) through pycocotools, from arrays.

Builds the ground-truth and detection `COCO` objects in memory (no temporary JSON files),
runs the official `COCOeval` with ``iouType="keypoints"`` and returns its ten summary numbers.
pycocotools' printing is captured (``verbose=True`` lets it through).

Convention:
    Keypoints in pixels, (N, K, 2); one row per annotated person (ground truth) or per
    detection. COCO visibility flags: 0 not labelled, 1 labelled but occluded, 2 visible; any
    value > 0 enters the OKS. Ground-truth person areas (the OKS scale s^2) come from
    ``gt_areas`` when given (COCO's own annotations use the segmentation area), else from
    ``gt_boxes_xywh`` (width x height), else from the tight box of the labelled keypoints.
    Detection areas are the tight box of their keypoints, as pycocotools' ``loadRes`` computes
    them. At most 20 detections per image count (COCO's ``maxDets`` for keypoints).

NaN rule: NaN in a detection raises ``ValueError``; a NaN ground-truth keypoint is treated as
not labelled (flag 0). A ground-truth person with no labelled keypoint is ignored by COCOeval.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit._checks import check_finite, check_shape

__all__ = ["COCO_SIGMAS", "coco_keypoint_ap"]

#: Per-keypoint OKS sigmas of the 17 COCO keypoints (coco17 order), from pycocotools.
COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

_STAT_KEYS = (
    "ap",
    "ap50",
    "ap75",
    "ap_medium",
    "ap_large",
    "ar",
    "ar50",
    "ar75",
    "ar_medium",
    "ar_large",
)


def _np(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers ({err})") from None


def _ids(x: Any, n: int, name: str) -> np.ndarray:
    ids = np.arange(n) if x is None else _np(x, name)
    if ids.shape != (n,):
        raise ValueError(f"{name}: expected ({n},), got {ids.shape}")
    if not np.all(ids == np.round(ids)):
        raise ValueError(f"{name}: expected integer image ids")
    return ids.astype(np.int64)


def coco_keypoint_ap(
    gt_keypoints: Any,
    gt_visibility: Any,
    dt_keypoints: Any,
    dt_scores: Any = None,
    *,
    gt_image_ids: Any = None,
    dt_image_ids: Any = None,
    gt_boxes_xywh: Any = None,
    gt_areas: Any = None,
    sigmas: Any = None,
    verbose: bool = False,
) -> dict[str, float]:
    """COCO keypoint AP/AR with the official pycocotools evaluation.

    Args:
        gt_keypoints: ground-truth persons' keypoints (pixels); NaN = not labelled.
        gt_visibility: COCO flags per keypoint (0, 1, 2), or bool; > 0 means labelled.
        dt_keypoints: detected persons' keypoints (pixels).
        dt_scores: detection confidences (None: all 1).
        gt_image_ids: image of each ground-truth person (None: 0, 1, ..., N - 1).
        dt_image_ids: image of each detection (None: 0, 1, ..., M - 1, which needs M == N:
            one detection per ground-truth image, as in top-down evaluation).
        gt_boxes_xywh: person boxes (x, y, width, height), for the areas when ``gt_areas`` is
            None.
        gt_areas: person areas in pixels^2 (COCO's segmentation areas).
        sigmas: per-keypoint OKS sigmas (K,), required unless K = 17 (then `COCO_SIGMAS`).
        verbose: let pycocotools print its progress and table.

    Returns:
        ``ap`` (AP at OKS 0.50:0.95), ``ap50``, ``ap75``, ``ap_medium``, ``ap_large``, ``ar``,
        ``ar50``, ``ar75``, ``ar_medium``, ``ar_large`` as fractions in [0, 1]; NaN where
        pycocotools reports -1 (no ground truth in that area range).

    Shapes:
        gt_keypoints: (N, K, 2). gt_visibility: (N, K). dt_keypoints: (M, K, 2).
        dt_scores: (M,). gt_image_ids: (N,). dt_image_ids: (M,). gt_boxes_xywh: (N, 4).
        gt_areas: (N,). sigmas: (K,).
    """
    gk = _np(gt_keypoints, "gt_keypoints")
    dims = check_shape(gk, "gt_keypoints", "N K 2")
    gv = _np(gt_visibility, "gt_visibility")
    check_shape(gv, "gt_visibility", "N K", dims)
    dk = _np(dt_keypoints, "dt_keypoints")
    check_shape(dk, "dt_keypoints", "M K 2", dims)
    check_finite(dk, "dt_keypoints")
    N, K, M = dims["N"], dims["K"], dims["M"]
    scores = np.ones(M) if dt_scores is None else _np(dt_scores, "dt_scores")
    check_shape(scores, "dt_scores", "M", dims)
    check_finite(scores, "dt_scores")
    if dt_image_ids is None and M != N:
        raise ValueError(f"dt_image_ids: required when M ({M}) != N ({N})")
    g_img = _ids(gt_image_ids, N, "gt_image_ids")
    d_img = _ids(dt_image_ids, M, "dt_image_ids")
    if sigmas is None:
        if K != len(COCO_SIGMAS):
            raise ValueError(f"sigmas: required for K = {K} keypoints (defaults exist for 17)")
        sig = np.asarray(COCO_SIGMAS)
    else:
        sig = _np(sigmas, "sigmas")
        check_shape(sig, "sigmas", "K", dims)

    labelled = (gv > 0) & np.isfinite(gk).all(-1)  # (N, K)
    flags = np.where(labelled, np.where(gv >= 2, 2.0, 1.0), 0.0)
    gk = np.where(labelled[..., None], gk, 0.0)
    boxes = _gt_boxes(gk, labelled, gt_boxes_xywh, N)
    if gt_areas is not None:
        areas = _np(gt_areas, "gt_areas")
        check_shape(areas, "gt_areas", "N", dims)
    else:
        areas = boxes[:, 2] * boxes[:, 3]

    categories = [{"id": 1, "name": "person", "keypoints": [f"k{k}" for k in range(K)]}]
    images = [{"id": int(i)} for i in sorted(set(g_img.tolist()) | set(d_img.tolist()))]
    annotations = [
        {
            "id": i + 1,
            "image_id": int(g_img[i]),
            "category_id": 1,
            "keypoints": np.concatenate([gk[i], flags[i][:, None]], -1).reshape(-1).tolist(),
            "num_keypoints": int(labelled[i].sum()),
            "area": float(areas[i]),
            "bbox": boxes[i].tolist(),
            "iscrowd": 0,
        }
        for i in range(N)
    ]
    results = [
        {
            "image_id": int(d_img[i]),
            "category_id": 1,
            "keypoints": np.concatenate([dk[i], np.ones((K, 1))], -1).reshape(-1).tolist(),
            "score": float(scores[i]),
        }
        for i in range(M)
    ]
    log = io.StringIO()
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(log)
    with quiet:
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
        gt.createIndex()
        if results:
            dt = gt.loadRes(results)
        else:  # loadRes cannot take an empty list
            dt = COCO()
            dt.dataset = {"images": images, "annotations": [], "categories": categories}
            dt.createIndex()
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = sig
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (float(v) if v >= 0 else float("nan")) for k, v in zip(_STAT_KEYS, ev.stats)}


def _gt_boxes(gk: np.ndarray, labelled: np.ndarray, boxes_xywh: Any, n: int) -> np.ndarray:
    """Person boxes (N, 4) xywh: given, or the tight box of the labelled keypoints."""
    if boxes_xywh is not None:
        boxes = _np(boxes_xywh, "gt_boxes_xywh")
        if boxes.shape != (n, 4):
            raise ValueError(f"gt_boxes_xywh: expected ({n}, 4), got {boxes.shape}")
        return boxes
    lo = np.where(labelled[..., None], gk, np.inf).min(1)  # (N, 2)
    hi = np.where(labelled[..., None], gk, -np.inf).max(1)
    ok = labelled.any(1)[:, None]
    return np.concatenate([np.where(ok, lo, 0.0), np.where(ok, hi - lo, 0.0)], -1)
