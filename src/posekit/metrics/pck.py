"""2D PCK: percentage of correct keypoints, normalized by torso, head or box size, and its AUC.

Convention:
    Keypoints in pixels, (..., J, 2). A visible joint is correct when
    ``|pred_j - gt_j| <= threshold * norm`` with one normalizing length ``norm`` per sample
    (pixels), and ``threshold`` a fraction (0.2 for PCK@0.2, 0.5 for PCKh@0.5). Results are
    fractions in [0, 1] (papers print them x100).

Protocols:
    - LSP, PCK@0.2 (`evaluate_pck_lsp`): norm = the torso size, the ground-truth distance from
      the right shoulder to the left hip (`torso_size`), as in the LSP evaluations of
      DeepPose-era work; a sample missing either of these joints is empty.
    - MPII, PCKh@0.5 (`evaluate_pckh_mpii`): norm = 0.6 x the diagonal of the annotated head
      box (`head_size`), as in MPII's evaluation code (``SC_BIAS = 0.6``). Its headline mean
      leaves out the pelvis and thorax, as the official tables do.
    - Box size (`box_size`, `keypoint_box_size`): max(width, height) of a person box.

Aggregation follows the datasets' evaluation code: per joint and overall, the number of
correct joints divided by the number of visible joints, pooled over all samples. `pck` also
gives a per-sample fraction. The AUC is the mean PCK over evenly spaced thresholds (default
0, 0.01, ..., 0.5), i.e. the area under the PCK curve divided by the threshold range.

Masks: visibility 0, NaN ground truth, and samples whose norm is not a positive finite number
are excluded; a sample with no usable joint is empty (NaN in per-sample results, counted in
``num_empty``). NaN in a prediction raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from posekit._checks import check_shape
from posekit.metrics._common import as_float, prepare_points
from posekit.skeletons import Skeleton, get_skeleton

__all__ = [
    "PCK_THRESHOLDS",
    "box_size",
    "evaluate_pck",
    "evaluate_pck_lsp",
    "evaluate_pckh_mpii",
    "head_size",
    "keypoint_box_size",
    "normalized_distances",
    "pck",
    "pck_curve",
    "pck_per_joint",
    "torso_size",
]

#: Normalized thresholds of the default PCK curve / AUC: 0, 0.01, ..., 0.5.
PCK_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(51))


def torso_size(
    gt: Any,
    skeleton: str | Skeleton = "lsp14",
    joints: tuple[str, str] = ("r_shoulder", "l_hip"),
) -> torch.Tensor:
    """Torso size per sample: the distance between two ground-truth joints (LSP's PCK norm).

    NaN where either joint is NaN (the sample is then empty in PCK).

    Shapes:
        gt: (..., J, 2). return: (...,).
    """
    s = get_skeleton(skeleton)
    g = as_float(gt, "gt")
    check_shape(g, "gt", f"... {s.num_joints} *")
    a, b = s.indices(joints)
    return torch.linalg.vector_norm(g[..., a, :] - g[..., b, :], dim=-1)


def head_size(head_boxes: Any, sc_bias: float = 0.6) -> torch.Tensor:
    """MPII's PCKh norm: ``sc_bias`` x the diagonal of the head box.

    Args:
        head_boxes: head rectangles as corners (x1, y1, x2, y2), pixels.
        sc_bias: 0.6 in MPII's evaluation code.

    Shapes:
        head_boxes: (..., 4). return: (...,).
    """
    hb = as_float(head_boxes, "head_boxes")
    check_shape(hb, "head_boxes", "... 4")
    return sc_bias * torch.linalg.vector_norm(hb[..., 2:] - hb[..., :2], dim=-1)


def box_size(boxes_xyxy: Any) -> torch.Tensor:
    """max(width, height) of boxes given as corners (x1, y1, x2, y2).

    Shapes:
        boxes_xyxy: (..., 4). return: (...,).
    """
    b = as_float(boxes_xyxy, "boxes_xyxy")
    check_shape(b, "boxes_xyxy", "... 4")
    return (b[..., 2:] - b[..., :2]).abs().amax(-1)


def keypoint_box_size(gt: Any, visibility: Any = None) -> torch.Tensor:
    """max(width, height) of the tight box around the visible ground-truth keypoints.

    NaN for a sample with no visible keypoint.

    Shapes:
        gt: (..., J, 2). visibility: (..., J). return: (...,).
    """
    g, _, mask = prepare_points(gt, gt, visibility, spec="... J 2", names=("gt", "gt"))
    m = mask[..., None]
    hi = torch.where(m, g, -torch.inf).amax(-2)
    lo = torch.where(m, g, torch.inf).amin(-2)
    size = (hi - lo).amax(-1)
    return torch.where(mask.any(-1), size, torch.nan)


def normalized_distances(pred: Any, gt: Any, visibility: Any = None, *, norm: Any) -> torch.Tensor:
    """Distances divided by each sample's norm; NaN where the joint or norm is unusable.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). norm: (...,).
        return: (..., J).
    """
    p, g, mask = prepare_points(pred, gt, visibility, spec="... J 2")
    n = as_float(norm, "norm", p.device).to(p.dtype)
    if tuple(n.shape) != tuple(p.shape[:-2]):
        raise ValueError(f"norm: expected {tuple(p.shape[:-2])}, got {tuple(n.shape)}")
    ok = n.isfinite() & (n > 0)
    mask = mask & ok[..., None]
    d = torch.linalg.vector_norm(p - g, dim=-1) / torch.where(ok, n, 1.0)[..., None]
    return torch.where(mask, d, torch.nan)


def _hits(d: torch.Tensor, thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Correct and visible counts per joint and threshold, summed over samples: (J, T) each."""
    flat = d.reshape(-1, d.shape[-1])  # (N, J)
    valid = ~flat.isnan()
    correct = ((flat[..., None] <= thresholds) & valid[..., None]).sum(0)  # (J, T)
    return correct, valid.sum(0)[:, None].expand_as(correct)


def _thresholds(values: float | Sequence[float], like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(-1)
    if t.numel() == 0:
        raise ValueError("thresholds: expected at least one threshold")
    return t


def pck(pred: Any, gt: Any, visibility: Any = None, *, norm: Any, threshold: float) -> torch.Tensor:
    """Fraction of each sample's visible joints within ``threshold * norm``; NaN if empty.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). norm: (...,).
        return: (...,).
    """
    d = normalized_distances(pred, gt, visibility, norm=norm)
    valid = ~d.isnan()
    count = valid.sum(-1)
    correct = ((d <= threshold) & valid).sum(-1).to(d.dtype)
    return torch.where(count > 0, correct / count.clamp(min=1), torch.nan)


def pck_per_joint(
    pred: Any, gt: Any, visibility: Any = None, *, norm: Any, threshold: float
) -> torch.Tensor:
    """PCK of each joint pooled over samples (correct / visible); NaN for a never-visible joint.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). norm: (...,).
        return: (J,).
    """
    d = normalized_distances(pred, gt, visibility, norm=norm)
    correct, count = _hits(d, _thresholds(threshold, d))
    return _ratio(correct[:, 0], count[:, 0], d.dtype)


def _ratio(correct: torch.Tensor, count: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.where(count > 0, correct.to(dtype) / count.clamp(min=1), torch.nan)


def pck_curve(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    norm: Any,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
) -> torch.Tensor:
    """Overall PCK (pooled over joints and samples) at each threshold.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). norm: (...,).
        return: (T,).
    """
    d = normalized_distances(pred, gt, visibility, norm=norm)
    correct, count = _hits(d, _thresholds(thresholds, d))
    return _ratio(correct.sum(0), count.sum(0), d.dtype)


def evaluate_pck(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    norm: Any,
    threshold: float,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
    joints: Sequence[int] | None = None,
) -> dict[str, float | int]:
    """PCK summary of a test set in float64.

    Args:
        pred: predicted keypoints (pixels).
        gt: ground-truth keypoints; NaN marks a missing joint.
        visibility: optional joint mask.
        norm: normalizing length per sample (pixels), e.g. `torso_size` or `head_size`.
        threshold: the PCK threshold, a fraction of ``norm``.
        thresholds: thresholds of the AUC.
        joints: indices of the joints entering ``pck`` and ``auc`` (None: all).

    Returns:
        ``pck`` and ``auc`` (fractions pooled over the selected joints), ``threshold``,
        ``num_samples``, ``num_empty`` (samples with no usable joint among all joints).

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). norm: (...,).
    """
    p, g, mask = prepare_points(pred, gt, visibility, spec="... J 2", dtype=torch.float64)
    d = normalized_distances(p, g, mask, norm=norm)
    t = torch.cat([_thresholds(threshold, d), _thresholds(thresholds, d)])
    sel = d if joints is None else d[..., list(joints)]
    correct, count = _hits(sel, t)
    curve = _ratio(correct.sum(0), count.sum(0), d.dtype)  # (1 + T,)
    empty = d.isnan().all(-1)
    return {
        "pck": float(curve[0]),
        "auc": float(curve[1:].mean()),
        "threshold": float(threshold),
        "num_samples": int(empty.numel()),
        "num_empty": int(empty.sum()),
    }


def evaluate_pck_lsp(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    threshold: float = 0.2,
    skeleton: str | Skeleton = "lsp14",
) -> dict[str, float | int]:
    """LSP PCK@0.2: `evaluate_pck` with the torso norm (right shoulder to left hip).

    The torso comes from the ground-truth coordinates whatever their visibility flags (LSP
    annotates occluded joints too); a sample with either torso joint NaN is empty.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J).
    """
    g = as_float(gt, "gt")
    norm = torso_size(g, skeleton)
    return evaluate_pck(pred, g, visibility, norm=norm, threshold=threshold)


def evaluate_pckh_mpii(
    pred: Any,
    gt: Any,
    visibility: Any,
    head_boxes: Any,
    *,
    threshold: float = 0.5,
    skeleton: str | Skeleton = "mpii16",
    exclude: Sequence[str] = ("pelvis", "thorax"),
) -> dict[str, float | int]:
    """MPII PCKh@0.5: `evaluate_pck` with norm = 0.6 x head-box diagonal.

    ``exclude`` lists joints left out of the headline mean (MPII's tables leave out the pelvis
    and thorax); per-joint values come from `pck_per_joint`.

    Shapes:
        pred: (..., J, 2). gt: (..., J, 2). visibility: (..., J). head_boxes: (..., 4).
    """
    s = get_skeleton(skeleton)
    excluded = set(s.indices(exclude))
    joints = [j for j in range(s.num_joints) if j not in excluded]
    p = as_float(pred, "pred")
    check_shape(p, "pred", f"... {s.num_joints} 2")
    return evaluate_pck(
        p, gt, visibility, norm=head_size(head_boxes), threshold=threshold, joints=joints
    )
