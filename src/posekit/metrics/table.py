"""Per-joint result tables: reduce per-joint values over samples and format them by joint name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["format_joint_table", "per_joint_mean"]


def per_joint_mean(values: Any) -> torch.Tensor:
    """Mean of per-joint values over every leading dim, ignoring NaN (missing joints).

    E.g. ``per_joint_mean(joint_errors(pred, gt))`` is MPJPE per joint. A joint that is NaN in
    every sample gives NaN.

    Shapes:
        values: (..., J). return: (J,).
    """
    v = torch.as_tensor(values)
    if v.ndim == 0:
        raise ValueError(f"values: expected (..., J), got {tuple(v.shape)}")
    v = v.reshape(-1, v.shape[-1])
    return v.to(torch.float64 if not v.is_floating_point() else v.dtype).nanmean(0)


def format_joint_table(
    columns: Mapping[str, Sequence[float] | torch.Tensor],
    skeleton: str | Skeleton,
    *,
    digits: int = 1,
    total: Mapping[str, float] | None = None,
) -> str:
    """A plain-text table: one row per joint (by the skeleton's names), one column per metric.

    Values are printed as given (scale them first, e.g. x1000 for mm or x100 for %). The last
    row is ``total`` when given (the summary's value, e.g. pooled PCK), otherwise ``mean``,
    the unweighted mean of each column over joints with a value.

    Args:
        columns: metric name -> per-joint values (J,), e.g. ``{"MPJPE (mm)": errs * 1000}``.
        skeleton: layout whose joint names label the rows.
        digits: decimals.
        total: metric name -> the value of the last row.

    Returns:
        The table as a string, columns right-aligned; NaN prints as ``-``.
    """
    s = get_skeleton(skeleton)
    cols = {
        k: [float(x) for x in torch.as_tensor(v).reshape(-1).tolist()] for k, v in columns.items()
    }
    for name, vals in cols.items():
        if len(vals) != s.num_joints:
            raise ValueError(
                f"columns[{name!r}]: expected {s.num_joints} values (skeleton {s.name}), "
                f"got {len(vals)}"
            )
    if total is None:
        last_label = "mean"
        last = {k: _nanmean(v) for k, v in cols.items()}
    else:
        last_label = "total"
        last = {k: float(total.get(k, float("nan"))) for k in cols}

    def fmt(x: float) -> str:
        return "-" if x != x else f"{x:.{digits}f}"

    label_w = max(len(j) for j in (*s.joints, last_label, "joint"))
    widths = {k: max(len(k), *(len(fmt(x)) for x in (*v, last[k]))) for k, v in cols.items()}
    header = "joint".ljust(label_w) + "".join(f"  {k:>{widths[k]}}" for k in cols)
    rows = [header, "-" * len(header)]
    for j, name in enumerate(s.joints):
        rows.append(
            name.ljust(label_w) + "".join(f"  {fmt(v[j]):>{widths[k]}}" for k, v in cols.items())
        )
    rows.append("-" * len(header))
    rows.append(last_label.ljust(label_w) + "".join(f"  {fmt(last[k]):>{widths[k]}}" for k in cols))
    return "\n".join(rows)


def _nanmean(values: list[float]) -> float:
    kept = [x for x in values if x == x]
    return sum(kept) / len(kept) if kept else float("nan")
