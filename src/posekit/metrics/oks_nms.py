"""OKS non-maximum suppression of one image's detected people.

Top-down inference runs the pose network once per person box; two boxes around one person
give two near-identical poses, and COCO's evaluation counts the lower-scored one as a false
positive. The field (HRNet, mmpose's ``CocoMetric``) suppresses such duplicates per image
before scoring:

- `oks_nms` (greedy): keep the best-scored detection, drop every other whose OKS with it
  exceeds ``threshold`` (default 0.9, mmpose's), repeat with the rest.
- `soft_oks_nms` (Bodla et al. 2017, with OKS for IoU): keep the best-scored detection, decay
  the scores of the others by their OKS with it, repeat with the rest ranked by the decayed
  scores; Gaussian decay ``s * exp(-oks^2 / threshold)`` or linear decay ``s * (1 - oks)``
  where ``oks >= threshold``. At most ``max_detections`` are kept (20, COCO's ``maxDets``),
  none whose decayed score falls below ``score_threshold``.

Convention:
    The OKS between detections a and b is the evaluation's (`posekit.metrics.coco`) with the
    mean of their areas as the scale: ``mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))``, d_k the
    distance between their joints k in pixels, s^2 = (area_a + area_b) / 2, each area the
    tight box of the detection's keypoints (pycocotools' ``loadRes``, mmpose's ``oks_iou``).
    Joints a detection did not place (NaN) are left out of its box and of the mean; two
    detections without a placed joint in common have OKS 0. Equal scores keep input order.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from posekit._checks import check_finite, check_shape
from posekit.metrics.multiperson import PeopleDetections, oks_sigmas

__all__ = [
    "NMS_METHODS",
    "keypoint_box_areas",
    "oks_nms",
    "pairwise_oks",
    "soft_oks_nms",
    "suppress_people",
]

#: The values of ``suppress_people(nms=...)``.
NMS_METHODS = ("none", "oks", "soft_oks")

_EPS = float(torch.finfo(torch.float64).eps)  # pycocotools' and mmpose's np.spacing(1)


def keypoint_box_areas(keypoints: Tensor) -> Tensor:
    """Area of the tight box of each detection's placed (finite) keypoints; 0 without any.

    Shapes:
        keypoints: (N, J, 2) pixels, NaN unplaced. returns: (N,) pixels^2, float64.
    """
    check_shape(keypoints, "keypoints", "N J 2")
    kp = torch.as_tensor(keypoints).detach().double().cpu()
    placed = kp.isfinite().all(-1, keepdim=True)  # (N, J, 1)
    lo = torch.where(placed, kp, torch.inf).amin(1)  # (N, 2)
    hi = torch.where(placed, kp, -torch.inf).amax(1)
    area = (hi - lo).clamp(min=0).prod(-1)
    return torch.where(placed.any(1).squeeze(-1), area, 0.0)


def pairwise_oks(keypoints: Tensor, sigmas: Tensor, areas: Tensor | None = None) -> Tensor:
    """OKS between every two detections of one image (module docstring).

    Args:
        keypoints: the detections' keypoints in pixels, NaN unplaced.
        sigmas: per-joint OKS sigmas (`posekit.metrics.multiperson.oks_sigmas`).
        areas: the detections' areas (default `keypoint_box_areas`).

    Shapes:
        keypoints: (N, J, 2); sigmas: (J,); areas: (N,). returns: (N, N) float64, symmetric.
    """
    dims = check_shape(keypoints, "keypoints", "N J 2")
    sig = torch.as_tensor(sigmas, dtype=torch.float64).cpu()
    check_shape(sig, "sigmas", "J", dims)
    kp = torch.as_tensor(keypoints).detach().double().cpu()
    if areas is None:
        area = keypoint_box_areas(kp)
    else:
        area = torch.as_tensor(areas, dtype=torch.float64).detach().cpu()
        check_shape(area, "areas", "N", dims)
        check_finite(area, "areas")
    placed = kp.isfinite().all(-1)  # (N, J)
    both = placed[:, None] & placed[None, :]  # (N, N, J)
    d2 = (kp[:, None] - kp[None, :]).square().sum(-1)  # (N, N, J), NaN where either unplaced
    scale = (area[:, None] + area[None, :]) / 2 + _EPS  # (N, N)
    e = d2 / ((2 * sig) ** 2 * scale[..., None] * 2)
    total = torch.where(both, torch.exp(-e), 0.0).sum(-1)
    count = both.sum(-1)
    return torch.where(count > 0, total / count.clamp(min=1), 0.0)


def _checked(keypoints: Tensor, scores: Tensor) -> Tensor:
    dims = check_shape(keypoints, "keypoints", "N J 2")
    s = torch.as_tensor(scores).detach().double().cpu()
    check_shape(s, "scores", "N", dims)
    check_finite(s, "scores")
    return s


def oks_nms(
    keypoints: Tensor,
    scores: Tensor,
    sigmas: Tensor,
    threshold: float = 0.9,
    areas: Tensor | None = None,
) -> Tensor:
    """Greedy OKS-NMS: the detections kept, best score first (module docstring).

    Args:
        keypoints: one image's detections, pixels, NaN unplaced.
        scores: their confidences.
        sigmas: per-joint OKS sigmas.
        threshold: a detection whose OKS with a kept, better-scored one exceeds it is dropped.
        areas: the detections' areas (default `keypoint_box_areas`).

    Shapes:
        keypoints: (N, J, 2); scores: (N,); sigmas: (J,); areas: (N,).
        returns: (K,) int64 indices into the N detections, K <= N.
    """
    s = _checked(keypoints, scores)
    if not isinstance(threshold, int | float) or threshold != threshold:
        raise ValueError(f"threshold: expected a number, got {threshold!r}")
    overlap = pairwise_oks(keypoints, sigmas, areas)
    order = torch.sort(s, descending=True, stable=True).indices
    dropped = torch.zeros(len(s), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if dropped[i]:
            continue
        keep.append(i)
        dropped |= overlap[i] > threshold
    return torch.tensor(keep, dtype=torch.int64)


def soft_oks_nms(
    keypoints: Tensor,
    scores: Tensor,
    sigmas: Tensor,
    *,
    method: Literal["gaussian", "linear"] = "gaussian",
    threshold: float = 0.9,
    score_threshold: float = 0.0,
    max_detections: int = 20,
    areas: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Soft OKS-NMS: the detections kept and their decayed scores (module docstring).

    Args:
        keypoints: one image's detections, pixels, NaN unplaced.
        scores: their confidences.
        sigmas: per-joint OKS sigmas.
        method: ``"gaussian"``: ``s * exp(-oks^2 / threshold)`` for every remaining detection;
            ``"linear"``: ``s * (1 - oks)`` where ``oks >= threshold`` (mmpose's convention:
            one number, default 0.9, for both).
        threshold: see ``method``.
        score_threshold: detections whose decayed score falls below it are dropped.
        max_detections: at most this many are kept.
        areas: the detections' areas (default `keypoint_box_areas`).

    Shapes:
        keypoints: (N, J, 2); scores: (N,); sigmas: (J,); areas: (N,).
        returns: indices (K,) int64 into the N detections, in the order they were kept
        (decreasing decayed score), and their decayed scores (K,) float64.
    """
    s = _checked(keypoints, scores).clone()
    if method not in ("gaussian", "linear"):
        raise ValueError(f"method: expected 'gaussian' or 'linear', got {method!r}")
    if not isinstance(threshold, int | float) or not threshold > 0:
        raise ValueError(f"threshold: expected a number > 0, got {threshold!r}")
    if isinstance(max_detections, bool) or not isinstance(max_detections, int):
        raise ValueError(f"max_detections: expected an integer >= 1, got {max_detections!r}")
    if max_detections < 1:
        raise ValueError(f"max_detections: expected an integer >= 1, got {max_detections}")
    overlap = pairwise_oks(keypoints, sigmas, areas)
    remaining = torch.sort(s, descending=True, stable=True).indices  # ties: input order
    keep: list[int] = []
    while len(remaining) and len(keep) < max_detections:
        pos = int(torch.argmax(s[remaining]))  # the first of equal maxima
        i = int(remaining[pos])
        if s[i] < score_threshold:  # decay only lowers scores: no later one is above
            break
        keep.append(i)
        remaining = torch.cat([remaining[:pos], remaining[pos + 1 :]])
        ov = overlap[i, remaining]
        if method == "gaussian":
            s[remaining] = s[remaining] * torch.exp(-ov.square() / threshold)
        else:
            s[remaining] = torch.where(ov >= threshold, s[remaining] * (1 - ov), s[remaining])
    index = torch.tensor(keep, dtype=torch.int64)
    return index, s[index]


def suppress_people(
    detections: PeopleDetections,
    skeleton: str,
    nms: Literal["none", "oks", "soft_oks"] = "oks",
    *,
    threshold: float = 0.9,
    soft_method: Literal["gaussian", "linear"] = "gaussian",
    score_threshold: float = 0.0,
    max_detections: int = 20,
) -> PeopleDetections:
    """One image's detections after OKS-NMS, best score first.

    Args:
        detections: the people found in one image.
        skeleton: their layout (sets the OKS sigmas, `oks_sigmas`).
        nms: ``"none"`` (returned as given), ``"oks"`` (`oks_nms`) or ``"soft_oks"``
            (`soft_oks_nms`: the kept detections carry their decayed scores).
        threshold: ``oks``: the OKS above which a detection is dropped; ``soft_oks``: see
            `soft_oks_nms`.
        soft_method, score_threshold, max_detections: ``soft_oks`` only (`soft_oks_nms`).

    Returns:
        The kept detections (keypoints, scores, joint scores), best score first.
    """
    if nms not in NMS_METHODS:
        raise ValueError(f"nms: expected one of {', '.join(NMS_METHODS)}, got {nms!r}")
    if nms == "none":
        return detections
    sigmas = oks_sigmas(skeleton)
    if detections.keypoints.shape[1] != len(sigmas):
        raise ValueError(
            f"detections.keypoints: expected {len(sigmas)} joints ({skeleton}), "
            f"got {detections.keypoints.shape[1]}"
        )
    if nms == "oks":
        keep = oks_nms(detections.keypoints, detections.scores, sigmas, threshold)
        scores = detections.scores[keep]
    else:
        keep, decayed = soft_oks_nms(
            detections.keypoints,
            detections.scores,
            sigmas,
            method=soft_method,
            threshold=threshold,
            score_threshold=score_threshold,
            max_detections=max_detections,
        )
        scores = decayed.to(detections.scores.device, detections.scores.dtype)
    joint_scores = None if detections.joint_scores is None else detections.joint_scores[keep]
    return PeopleDetections(detections.keypoints[keep], scores, joint_scores)
