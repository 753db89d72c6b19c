"""MPI-INF-3DHP's test-set figures: 3DPCK@150 mm, AUC and MPJPE, overall and per activity.

Protocol (the evaluation code released with the test set, ``mpii_test_predictions.m``,
``mpii_evaluate_errors.m``, ``mpii_compute_3d_pck.m``): ground truth ``univ_annot3``, both poses
made relative to the pelvis; a joint is correct when its error is within 150 mm; AUC is the
mean 3DPCK over the 31 thresholds 0, 5, ..., 150 mm (`PCK3D_THRESHOLDS_M`). 3DPCK and AUC are
taken over the 14 joints of `MPI_INF_3DHP_EVAL14` (head top, neck, shoulders, elbows, wrists,
hips, knees, ankles) or all 17 (`MPI_INF_3DHP_EVAL17`): the two versions of the code's
``mpii_get_pck_auc_joint_groups``. MPJPE is the mean over all 17 joints (the pelvis counts
with error 0), as the code's "Average" column. The code pools every (joint, frame) pair of a
group of frames; posekit averages per-frame fractions, the same number when no ground-truth
joint is missing. posekit's `pck3d` counts an error equal to a threshold as correct, the
MATLAB code does not: the two differ only for errors exactly on a threshold.

Values are fractions in [0, 1] (papers print them x 100) and millimetres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from posekit._checks import check_shape
from posekit.metrics._common import masked_mean, prepare_points, root_relative, sample_summary
from posekit.metrics.pose3d import PCK3D_THRESHOLDS_M, auc3d, pck3d
from posekit.skeletons.mpi_inf_3dhp17 import (
    MPI_INF_3DHP17,
    MPI_INF_3DHP_EVAL14,
    MPI_INF_3DHP_EVAL17,
)

__all__ = ["evaluate_mpi_inf_3dhp", "mpi_inf_3dhp_scores"]

_EVAL = {14: MPI_INF_3DHP_EVAL14, 17: MPI_INF_3DHP_EVAL17}
_ROOT = MPI_INF_3DHP17.index("pelvis")


def mpi_inf_3dhp_scores(
    pred: Any,
    gt: Any,
    visibility: Any = None,
    *,
    joints: int = 14,
    threshold_m: float = 0.15,
    thresholds_m: Sequence[float] = PCK3D_THRESHOLDS_M,
) -> dict[str, torch.Tensor]:
    """Per-frame 3DPCK, AUC (fractions) and MPJPE (metres) of ``mpi_inf_3dhp17`` poses.

    Both poses are made pelvis-relative first; 3DPCK and AUC use the ``joints`` (14 or 17)
    evaluated joints, MPJPE all 17.

    Args:
        pred, gt: metres, skeleton ``mpi_inf_3dhp17`` (e.g. ``univ_annot3`` as ``gt``).
        visibility: optional joint mask (NaN in ``gt`` also masks a joint).
        joints: 14 or 17, the joint set of 3DPCK and AUC.
        threshold_m: the 3DPCK threshold; thresholds_m: the AUC's.

    Returns:
        ``{"pck3d": (N,), "auc3d": (N,), "mpjpe_m": (N,)}``, NaN for an empty frame (no
        pelvis, or no evaluated joint).

    Shapes:
        pred: (N, 17, 3). gt: (N, 17, 3). visibility: (N, 17).

    Raises:
        ValueError: shapes, ``joints`` not 14 or 17, NaN in ``pred`` (`posekit.metrics`).
    """
    if joints not in _EVAL:
        raise ValueError(f"joints: expected 14 or 17, got {joints!r}")
    pred_t, gt_t, mask = prepare_points(pred, gt, visibility, dtype=torch.float64)
    check_shape(pred_t, "pred", f"N {MPI_INF_3DHP17.num_joints} 3")
    pred_t, gt_t, mask = root_relative(pred_t, gt_t, mask, _ROOT)  # no pelvis: empty frame
    sel = MPI_INF_3DHP17.indices(_EVAL[joints])
    p, g, m = pred_t[:, sel], gt_t[:, sel], mask[:, sel]
    return {
        "pck3d": pck3d(p, g, m, threshold_m=threshold_m, root=None),
        "auc3d": auc3d(p, g, m, thresholds_m=thresholds_m, root=None),
        "mpjpe_m": masked_mean(torch.linalg.vector_norm(pred_t - gt_t, dim=-1), mask),
    }


def _summary(scores: Mapping[str, torch.Tensor], rows: torch.Tensor, key: str) -> dict[str, Any]:
    """Means over the non-empty frames of ``rows`` (empty: no evaluated joint)."""
    picked = {key: scores["pck3d"][rows], "auc3d": scores["auc3d"][rows],
              "mpjpe_mm": scores["mpjpe_m"][rows]}  # fmt: skip
    return sample_summary(picked, {"mpjpe_mm": 1000.0})


def _labels(x: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected ({n},) labels, one per sample, got {arr.shape}")
    return arr


def evaluate_mpi_inf_3dhp(
    pred: Any,
    gt: Any,
    activity: Any = None,
    sequence: Any = None,
    *,
    visibility: Any = None,
    joints: int = 14,
    threshold_m: float = 0.15,
    thresholds_m: Sequence[float] = PCK3D_THRESHOLDS_M,
    activity_names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The MPI-INF-3DHP table: overall, per activity and per sequence (module docstring).

    Args:
        pred, gt: (N, 17, 3) metres, skeleton ``mpi_inf_3dhp17``; ``gt`` normally
            `MPIInf3DHPTest.joints3d_universal_m`.
        activity: (N,) activity ids (`MPIInf3DHPTest.activity`), or None.
        sequence: (N,) sequence names (`MPIInf3DHPTest.sequence`), or None.
        visibility: optional (N, 17) joint mask.
        joints: 14 or 17, the joint set of 3DPCK and AUC.
        threshold_m, thresholds_m: the 3DPCK threshold and the AUC's thresholds.
        activity_names: id -> name for the per-activity keys (e.g.
            `posekit.data.datasets.mpi_inf_3dhp.MPI_INF_3DHP_ACTIVITIES`); None: the ids.

    Returns:
        ``{"pck3d_150mm": fraction, "auc3d": fraction, "mpjpe_mm": float, "num_samples": int,
        "num_empty": int, "joints": 14 or 17}`` (the first key follows ``threshold_m``), plus
        ``"per_activity"`` {name or id: the same five numbers} and ``"per_sequence"`` {name:
        ...} when those labels are given. Means are over the non-empty frames.

    Shapes:
        pred: (N, 17, 3). gt: (N, 17, 3). activity: (N,). sequence: (N,).
    """
    scores = mpi_inf_3dhp_scores(
        pred, gt, visibility, joints=joints, threshold_m=threshold_m, thresholds_m=thresholds_m
    )
    n = int(scores["pck3d"].shape[0])
    key = f"pck3d_{round(threshold_m * 1000)}mm"
    out = _summary(scores, torch.ones(n, dtype=torch.bool), key)
    out["joints"] = joints
    for labels, field in ((activity, "per_activity"), (sequence, "per_sequence")):
        if labels is None:
            continue
        arr = _labels(labels, n, field.removeprefix("per_"))
        table = {}
        for value in sorted(set(arr.tolist())):
            name = value
            if field == "per_activity" and activity_names is not None:
                name = activity_names.get(value, value)
            table[name] = _summary(scores, torch.from_numpy(arr == value), key)
        out[field] = table
    return out
