"""3D skeleton plots: one pose, or a prediction over its ground truth, from several viewpoints.

Convention:
    Poses are (J, 3) metres in one of two frames, named by ``frame=``:

    - ``"camera"``: OpenCV camera frame (x right, y down, z forward). It is plotted in the
      Z-up plot frame ``(x, z, -y)`` (a proper rotation, no mirror) so that image-up is up and
      the depth axis runs away from the viewer in the front view.
    - ``"world"``: posekit's world frame, Z-up (bodies face -Y with their left at +X,
      `posekit.body.frames`); plotted as given.

    Views are (elevation, azimuth) in degrees as in matplotlib's ``view_init`` on the plot
    frame: ``"front"`` (0, -90) looks along +Y (the camera's own view for camera-frame poses,
    facing the body for world poses: the body's left on the picture's right), ``"side"``
    (0, 0) looks along -X, ``"top"`` (90, -90) looks down, ``"three_quarter"`` (20, -55).
    Every view is an orthographic projection with equal scale on the three axes (metres).

Colours follow `posekit.viz.overlay`: left limbs orange, right limbs blue, centre limbs green.
In a comparison the ground truth is a thick translucent grey skeleton, the prediction the
coloured one, and thin red segments join each predicted joint to its ground truth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from posekit._checks import check_shape
from posekit.metrics import mpjpe
from posekit.skeletons import Skeleton, get_skeleton
from posekit.viz._figure import figure_to_rgb, limb_rgb, new_figure, save_png
from posekit.viz.overlay import CENTRE_RGB, LEFT_RGB, RIGHT_RGB

__all__ = [
    "DEFAULT_VIEWS",
    "VIEWS",
    "Frame",
    "View",
    "plot_pose3d",
    "plot_pose3d_vs_gt",
    "pose3d_figure",
    "to_plot_frame",
]

Frame = Literal["camera", "world"]
View = str | tuple[float, float]

#: Named viewpoints: name → (elevation, azimuth) in degrees, on the Z-up plot frame.
VIEWS: dict[str, tuple[float, float]] = {
    "front": (0.0, -90.0),
    "side": (0.0, 0.0),
    "top": (90.0, -90.0),
    "three_quarter": (20.0, -55.0),
}
DEFAULT_VIEWS: tuple[str, ...] = ("front", "side", "top", "three_quarter")

_GT_RGB = (0.45, 0.45, 0.45)
_ERR_RGB = (0.85, 0.1, 0.1)
# Axis labels of the plot frame's X, Y, Z per input frame.
_AXIS_LABELS: dict[str, tuple[str, str, str]] = {
    "camera": ("x right (m)", "z depth (m)", "-y up (m)"),
    "world": ("x (m)", "y (m)", "z up (m)"),
}


def to_plot_frame(points_m: np.ndarray, frame: Frame) -> np.ndarray:
    """Points in ``frame`` → the Z-up plot frame (see the module Convention).

    Shapes:
        points_m: (..., 3) -> (..., 3), metres.
    """
    check_shape(points_m, "points_m", "... 3")
    p = np.asarray(points_m, np.float64)
    if frame == "camera":
        return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)
    if frame == "world":
        return p.copy()
    raise ValueError(f"frame: expected 'camera' or 'world', got {frame!r}")


def _resolve_view(view: View) -> tuple[str, float, float]:
    if isinstance(view, str):
        if view not in VIEWS:
            raise ValueError(f"views: unknown view {view!r}; named views: {', '.join(VIEWS)}")
        return (view.replace("_", " "), *VIEWS[view])
    elev, azim = (float(v) for v in view)
    return (f"elev {elev:g}°, azim {azim:g}°", elev, azim)


def _view_direction(elev_deg: float, azim_deg: float) -> np.ndarray:
    """Unit vector from the scene towards the viewer (matplotlib's convention)."""
    e, a = np.deg2rad(elev_deg), np.deg2rad(azim_deg)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


def _prepare(joints_m: Any, name: str, sk: Skeleton, frame: Frame) -> np.ndarray:
    j = np.asarray(joints_m.detach().cpu() if hasattr(joints_m, "detach") else joints_m)
    check_shape(j, name, f"{sk.num_joints} 3")
    return to_plot_frame(j.astype(np.float64), frame)


def _draw_pose(ax, p: np.ndarray, sk: Skeleton, *, gt_style: bool) -> None:
    finite = np.isfinite(p).all(-1)
    for a, b in sk.limbs:
        if not (finite[a] and finite[b]):
            continue
        seg = p[[a, b]]
        if gt_style:
            ax.plot(*seg.T, color=_GT_RGB, lw=4.0, alpha=0.55, solid_capstyle="round")
        else:
            ax.plot(*seg.T, color=limb_rgb(sk, a, b), lw=2.2, solid_capstyle="round")
    q = p[finite]
    if gt_style:
        ax.scatter(*q.T, s=14, color=_GT_RGB, alpha=0.6, depthshade=False, linewidths=0)
    else:
        ax.scatter(*q.T, s=10, color="black", depthshade=False, linewidths=0)


def pose3d_figure(
    joints_m: np.ndarray,
    skeleton: str | Skeleton,
    *,
    gt_m: np.ndarray | None = None,
    visibility: np.ndarray | None = None,
    frame: Frame = "camera",
    views: Sequence[View] = DEFAULT_VIEWS,
    root_align: bool = True,
    title: str | None = None,
    legend: bool = True,
    size_px: tuple[int, int] | None = None,
    dpi: int = 100,
) -> Figure:
    """A matplotlib figure of a 3D pose (optionally over its ground truth), one panel per view.

    Args:
        joints_m: the pose (the prediction when ``gt_m`` is given), metres, in ``frame``.
        skeleton: the joint layout (limbs, left/right names).
        gt_m: ground truth to compare with, or None. The title then carries the sample's MPJPE
            in mm over the visible joints (root-relative, protocol 1, if ``root_align``;
            absolute otherwise).
        visibility: joints that count in the MPJPE, or None (all finite ones).
        frame: ``"camera"`` (OpenCV) or ``"world"`` (Z-up); see the module Convention.
        views: names from `VIEWS` or (elevation, azimuth) pairs in degrees.
        root_align: translate the prediction so that its root (joint 0) sits on the ground
            truth's root, as root-relative predictions are evaluated.
        title: figure title (the MPJPE is appended when comparing).
        legend: draw the colour legend under the panels.
        size_px: (H, W) of the figure; default 420 high and 400 wide per view.
        dpi: resolution (fonts scale with it).

    Shapes:
        joints_m: (J, 3). gt_m: (J, 3). visibility: (J,) bool.
    """
    sk = get_skeleton(skeleton)
    if not views:
        raise ValueError("views: expected at least one view, got none")
    resolved = [_resolve_view(v) for v in views]
    pose = _prepare(joints_m, "joints_m", sk, frame)
    gt = None if gt_m is None else _prepare(gt_m, "gt_m", sk, frame)
    if visibility is not None:
        visibility = np.asarray(
            visibility.detach().cpu() if hasattr(visibility, "detach") else visibility, bool
        )
        check_shape(visibility, "visibility", f"{sk.num_joints}")
    subtitle = ""
    if gt is not None:
        if root_align and np.isfinite(pose[0]).all() and np.isfinite(gt[0]).all():
            pose = pose - pose[0] + gt[0]
        finite = np.isfinite(pose).all(-1) & np.isfinite(gt).all(-1)
        vis = finite if visibility is None else finite & np.asarray(visibility, bool)
        err_m = float(
            mpjpe(
                np.nan_to_num(pose),
                np.where(vis[:, None], gt, np.nan),
                root=0 if root_align else None,
            )
        )
        subtitle = f"MPJPE {1000 * err_m:.1f} mm" + ("" if root_align else " (absolute)")
    pts = pose if gt is None else np.concatenate([pose, gt])
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) == 0:
        raise ValueError("joints_m: no finite joint to plot")
    centre = (pts.min(0) + pts.max(0)) / 2
    half = max(float((pts.max(0) - pts.min(0)).max()) / 2 * 1.08, 0.05)

    n = len(resolved)
    fig = new_figure(size_px or (420, 400 * n), dpi)
    labels = _AXIS_LABELS[frame]
    for i, (name, elev, azim) in enumerate(resolved):
        ax = fig.add_subplot(1, n, i + 1, projection="3d", proj_type="ortho")
        ax.view_init(elev=elev, azim=azim, roll=0)
        if gt is not None:
            _draw_pose(ax, gt, sk, gt_style=True)
            ok = np.isfinite(pose).all(-1) & np.isfinite(gt).all(-1)
            for j in np.flatnonzero(ok):
                ax.plot(*np.stack([pose[j], gt[j]]).T, color=_ERR_RGB, lw=1.0)
        _draw_pose(ax, pose, sk, gt_style=False)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(centre[2] - half, centre[2] + half)
        towards_viewer = _view_direction(elev, azim)
        # An axis-aligned view leaves the box's depth unused: zoom in; an oblique one needs
        # room for the three labelled axes.
        ax.set_box_aspect((1, 1, 1), zoom=1.25 if np.abs(towards_viewer).max() > 0.99 else 0.9)
        _label_axes(ax, labels, towards_viewer)
        ax.set_title(name, fontsize=11, pad=0)
    heading = " — ".join(t for t in (title, subtitle) if t)
    if heading:
        fig.suptitle(heading, fontsize=13)
    if legend:
        fig.legend(
            handles=_legend_handles(gt is not None),
            loc="lower center",
            ncol=5,
            fontsize=9,
            frameon=False,
        )
    fig.subplots_adjust(
        left=0.02, right=0.98, bottom=0.08, top=0.88 if heading else 0.95, wspace=0.05
    )
    return fig


def _label_axes(ax, labels: tuple[str, str, str], towards_viewer: np.ndarray) -> None:
    """Label the axes in metres; hide the axis that points at the viewer (it has no extent)."""
    axes = (ax.xaxis, ax.yaxis, ax.zaxis)
    setters = (ax.set_xlabel, ax.set_ylabel, ax.set_zlabel)
    for k, (axis, set_label, label) in enumerate(zip(axes, setters, labels)):
        if abs(towards_viewer[k]) > 0.99:
            axis.set_ticklabels([])
            set_label("")
        else:
            set_label(label, fontsize=8, labelpad=-4)
            ax.tick_params(axis="xyz"[k], labelsize=7, pad=-2)
    for axis in axes:
        axis.set_major_locator(MaxNLocator(nbins=4))
        axis.pane.set_alpha(0.35)


def _legend_handles(compare: bool) -> list[Line2D]:
    handles = []
    if compare:
        handles.append(Line2D([], [], color=_GT_RGB, lw=4, alpha=0.55, label="ground truth"))
    prefix = "prediction: " if compare else ""
    for rgb, side in ((LEFT_RGB, "left"), (RIGHT_RGB, "right"), (CENTRE_RGB, "centre")):
        color = tuple(c / 255 for c in rgb)
        handles.append(Line2D([], [], color=color, lw=2.2, label=f"{prefix}{side}"))
    if compare:
        handles.append(Line2D([], [], color=_ERR_RGB, lw=0.8, label="error"))
    return handles


def plot_pose3d(
    joints_m: np.ndarray,
    skeleton: str | Skeleton,
    *,
    frame: Frame = "camera",
    views: Sequence[View] = DEFAULT_VIEWS,
    title: str | None = None,
    size_px: tuple[int, int] | None = None,
    dpi: int = 100,
    path: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """A picture of one 3D pose from several viewpoints (see `pose3d_figure`).

    Args:
        path: also write the picture there as a PNG (atomically), if given.

    Shapes:
        joints_m: (J, 3) metres in ``frame``. return: (H, W, 3) uint8 RGB.
    """
    fig = pose3d_figure(
        joints_m, skeleton, frame=frame, views=views, title=title, size_px=size_px, dpi=dpi
    )
    return _finish(fig, path)


def plot_pose3d_vs_gt(
    pred_m: np.ndarray,
    gt_m: np.ndarray,
    skeleton: str | Skeleton,
    *,
    visibility: np.ndarray | None = None,
    frame: Frame = "camera",
    views: Sequence[View] = DEFAULT_VIEWS,
    root_align: bool = True,
    title: str | None = None,
    size_px: tuple[int, int] | None = None,
    dpi: int = 100,
    path: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """A picture of a predicted 3D pose over its ground truth, MPJPE in the title.

    See `pose3d_figure` for the arguments; ``path``: also write a PNG there.

    Shapes:
        pred_m, gt_m: (J, 3) metres in ``frame``. visibility: (J,). return: (H, W, 3) uint8.
    """
    fig = pose3d_figure(
        pred_m,
        skeleton,
        gt_m=gt_m,
        visibility=visibility,
        frame=frame,
        views=views,
        root_align=root_align,
        title=title,
        size_px=size_px,
        dpi=dpi,
    )
    return _finish(fig, path)


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> np.ndarray:
    rgb = figure_to_rgb(fig)
    if path is not None:
        save_png(path, rgb)
    return rgb
