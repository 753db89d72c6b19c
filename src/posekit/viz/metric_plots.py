"""Metric plots: PCK curves, hand success-rate curves, per-joint error bars, training curves.

Every ``plot_*`` function returns the picture as an (H, W, 3) uint8 RGB array and, given
``path``, also writes it as a PNG (atomically). Figures use matplotlib's object-oriented API
on the Agg canvas (no pyplot, headless).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from posekit._checks import check_shape
from posekit.skeletons import Skeleton, get_skeleton
from posekit.viz._figure import figure_to_rgb, new_figure, save_png
from posekit.viz.overlay import LEFT_RGB, RIGHT_RGB

__all__ = [
    "plot_pck_curves",
    "plot_per_joint_errors",
    "plot_success_curves",
    "plot_training_curves",
    "read_metrics_csv",
]

PathLike = str | os.PathLike[str]

# Bar colours of per-joint charts: no orange or blue, which name the body sides there.
_BAR_COLORS = ("tab:purple", "tab:green", "tab:gray", "tab:brown", "tab:pink", "tab:olive")


def _finish(fig: Figure, path: PathLike | None) -> np.ndarray:
    rgb = figure_to_rgb(fig)
    if path is not None:
        save_png(path, rgb)
    return rgb


def _as_1d(values: Any, name: str, length: int | None = None) -> np.ndarray:
    v = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, np.float64)
    check_shape(v, name, "T" if length is None else str(length))
    return v


def _curves_figure(
    x: np.ndarray,
    curves: Mapping[str, Any],
    *,
    xlabel: str,
    ylabel: str,
    title: str | None,
    size_px: tuple[int, int],
    dpi: int,
) -> Figure:
    if not curves:
        raise ValueError("curves: expected at least one method, got none")
    fig = new_figure(size_px, dpi)
    ax = fig.add_subplot(1, 1, 1)
    for name, values in curves.items():
        y = _as_1d(values, f"curves[{name!r}]", len(x))
        auc = float(np.nanmean(y)) if np.isfinite(y).any() else float("nan")
        ax.plot(x, 100 * y, lw=2, label=f"{name} (AUC {100 * auc:.1f})")
    ax.set_xlim(float(x.min()), float(x.max()))
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, alpha=0.35)
    ax.legend(loc="lower right", fontsize=10)
    if title:
        ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_pck_curves(
    thresholds: Any,
    curves: Mapping[str, Any],
    *,
    xlabel: str = "threshold (fraction of the normalizing size)",
    ylabel: str = "PCK (%)",
    title: str | None = "PCK",
    size_px: tuple[int, int] = (480, 640),
    dpi: int = 100,
    path: PathLike | None = None,
) -> np.ndarray:
    """PCK against its threshold, one line per method, AUC (mean of the curve, %) in the legend.

    Works for 2D PCK (thresholds as fractions of torso / head / box size, from
    `posekit.metrics.pck_curve`) and 3DPCK (pass thresholds in mm and ``xlabel`` to match).

    Args:
        thresholds: the x values shared by every curve.
        curves: method name → PCK per threshold, fractions in [0, 1].

    Shapes:
        thresholds: (T,). curves: each (T,). return: (H, W, 3) uint8.
    """
    x = _as_1d(thresholds, "thresholds")
    fig = _curves_figure(
        x, curves, xlabel=xlabel, ylabel=ylabel, title=title, size_px=size_px, dpi=dpi
    )
    return _finish(fig, path)


def plot_success_curves(
    thresholds_m: Any,
    curves: Mapping[str, Any],
    *,
    title: str | None = "Hand pose: success rate",
    size_px: tuple[int, int] = (480, 640),
    dpi: int = 100,
    path: PathLike | None = None,
) -> np.ndarray:
    """Hand success-rate curves: fraction of frames whose worst joint is within the threshold.

    The x axis is in mm; the legend carries each curve's AUC (mean of the curve, %), as
    `posekit.metrics.evaluate_hand`'s ``success_auc``.

    Args:
        thresholds_m: thresholds in metres (e.g. `posekit.metrics.SUCCESS_THRESHOLDS_M`).
        curves: method name → success rate per threshold, fractions in [0, 1]
            (`posekit.metrics.success_rate_curve`).

    Shapes:
        thresholds_m: (T,). curves: each (T,). return: (H, W, 3) uint8.
    """
    x_mm = 1000.0 * _as_1d(thresholds_m, "thresholds_m")
    fig = _curves_figure(
        x_mm,
        curves,
        xlabel="maximum joint error threshold (mm)",
        ylabel="frames with every joint within threshold (%)",
        title=title,
        size_px=size_px,
        dpi=dpi,
    )
    return _finish(fig, path)


def _side_color(joint: str) -> str:
    if joint.startswith("l_") or joint.endswith("_l"):
        return "#{:02x}{:02x}{:02x}".format(*LEFT_RGB)
    if joint.startswith("r_") or joint.endswith("_r"):
        return "#{:02x}{:02x}{:02x}".format(*RIGHT_RGB)
    return "black"


def _common_unit(names: Sequence[str]) -> str:
    units = {n[n.rfind("(") + 1 : -1] for n in names if n.endswith(")") and "(" in n}
    return f" ({units.pop()})" if len(units) == 1 else ""


def plot_per_joint_errors(
    per_joint: Any,
    skeleton: str | Skeleton | None = None,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = "Per-joint error",
    xlabel: str | None = None,
    size_px: tuple[int, int] | None = None,
    dpi: int = 100,
    path: PathLike | None = None,
) -> np.ndarray:
    """Horizontal bars per joint (named by the skeleton), one bar colour per column.

    Joint names of the left side are written in the left-limb colour of
    `posekit.viz.overlay` (orange), the right side in blue. A dashed line per column marks its
    mean over joints (NaN joints left out, drawn as no bar).

    Args:
        per_joint: a `posekit.engine.base.TaskEvaluation` (its ``per_joint`` columns and
            ``skeleton`` are used) or a mapping column name → per-joint values in the unit
            of the column name, e.g. ``{"MPJPE (mm)": ...}``.
        skeleton: the layout naming the rows (taken from the evaluation when omitted).
        columns: which columns to draw (default: all).
        xlabel: default: "error" with the unit shared by the column names.
        size_px: (H, W); default grows with the number of joints.

    Shapes:
        per_joint: each column (J,). return: (H, W, 3) uint8.
    """
    if hasattr(per_joint, "per_joint"):
        skeleton = skeleton or getattr(per_joint, "skeleton", None) or None
        per_joint = per_joint.per_joint
    if skeleton is None:
        raise ValueError("skeleton: required when per_joint is a mapping of columns")
    sk = get_skeleton(skeleton)
    names = list(per_joint) if columns is None else list(columns)
    if not names:
        raise ValueError("per_joint: expected at least one column, got none")
    for n in names:
        if n not in per_joint:
            raise ValueError(f"columns: no column {n!r}; columns: {', '.join(per_joint)}")
    values = {n: _as_1d(per_joint[n], f"per_joint[{n!r}]", sk.num_joints) for n in names}

    J, C = sk.num_joints, len(names)
    fig = new_figure(size_px or (max(300, 110 + 22 * J + 6 * J * (C - 1)), 760), dpi)
    ax = fig.add_subplot(1, 1, 1)
    bar_h = 0.8 / C
    y = np.arange(J)
    for c, n in enumerate(names):
        v = values[n]
        offset = (c - (C - 1) / 2) * bar_h
        color = _BAR_COLORS[c % len(_BAR_COLORS)]
        m = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
        ax.barh(y + offset, np.nan_to_num(v), height=bar_h, color=color, label=f"{n}, mean {m:.1f}")
        if math.isfinite(m):
            ax.axvline(m, color=color, ls="--", lw=1.2)
    ax.set_yticks(y, sk.joints, fontsize=9)
    for label, joint in zip(ax.get_yticklabels(), sk.joints):
        label.set_color(_side_color(joint))
    ax.set_ylim(J - 0.5, -0.5)  # first joint on top
    ax.set_xlabel(xlabel or f"error{_common_unit(names)}", fontsize=11)
    ax.grid(True, axis="x", alpha=0.35)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07 - 0.5 / J), ncol=min(C, 3), fontsize=9)
    if title:
        ax.set_title(f"{title} ({sk.name}; dashed: mean over joints)", fontsize=12)
    fig.tight_layout()
    return _finish(fig, path)


def read_metrics_csv(path: PathLike) -> dict[str, np.ndarray]:
    """A Lightning ``metrics.csv`` as columns (empty cells → NaN).

    Lightning's CSVLogger writes one row per logging call: training rows leave the
    validation columns empty and the other way round.

    Returns:
        Column name → (N,) float64 values, e.g. ``"step"``, ``"train/loss"``.
    """
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        cols: dict[str, list[float]] = {k: [] for k in header}
        for row in reader:
            for k in header:
                cell = row.get(k) or ""
                try:
                    cols[k].append(float(cell) if cell.strip() else math.nan)
                except ValueError:
                    cols[k].append(math.nan)
    if not cols:
        raise ValueError(f"{path}: not a metrics CSV (no header)")
    return {k: np.asarray(v, np.float64) for k, v in cols.items()}


def plot_training_curves(
    metrics_csv: PathLike,
    metrics: Sequence[str] | None = None,
    *,
    x: str = "step",
    log_y: Sequence[str] = (),
    title: str | None = None,
    size_px: tuple[int, int] | None = None,
    dpi: int = 100,
    path: PathLike | None = None,
) -> np.ndarray:
    """Training curves from a Lightning CSV log: one panel per metric against ``x``.

    Args:
        metrics_csv: the run's ``csv/metrics.csv``.
        metrics: columns to plot; default ``train/loss`` and ``val/mpjpe_mm``, those present.
        x: the x column (``"step"`` or ``"epoch"``).
        log_y: metrics drawn on a logarithmic y axis.
        title: figure title (default: the run folder's name).

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: a requested column is not in the log (the message lists the columns).
    """
    cols = read_metrics_csv(metrics_csv)
    if metrics is None:
        metrics = [m for m in ("train/loss", "val/mpjpe_mm") if m in cols]
        if not metrics:
            metrics = [k for k in cols if k.startswith(("train/", "val/"))][:2]
    missing = [m for m in (*metrics, x) if m not in cols]
    if missing or not metrics:
        raise ValueError(
            f"{metrics_csv}: no column {', '.join(missing) or '(none asked)'}; "
            f"columns: {', '.join(cols)}"
        )
    n = len(metrics)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig = new_figure(size_px or (70 + 300 * nrows, 520 * ncols), dpi)
    xs = cols[x]
    for i, m in enumerate(metrics):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        keep = np.isfinite(cols[m]) & np.isfinite(xs)
        xv, yv = xs[keep], cols[m][keep]
        is_val = m.startswith("val/")
        color = "C1" if is_val else "C0"
        ax.plot(xv, yv, color=color, lw=1.6, marker="o" if is_val else None, ms=4)
        if len(yv):
            best = int(np.argmin(yv)) if not m.endswith(("auc", "auc3d", "pck")) else None
            last = f"last {yv[-1]:.4g}"
            extra = "" if best is None else f", min {yv[best]:.4g} at {x} {xv[best]:g}"
            ax.set_title(f"{m}  ({last}{extra})", fontsize=10)
        else:
            ax.set_title(f"{m}  (no values)", fontsize=10)
        if m in log_y:
            ax.set_yscale("log")
        ax.set_xlabel(x, fontsize=10)
        ax.set_ylabel(m, fontsize=10)
        ax.grid(True, alpha=0.35)
    fig.suptitle(title if title is not None else Path(metrics_csv).parent.parent.name, fontsize=12)
    fig.tight_layout()
    return _finish(fig, path)
