"""Pictures: 2D overlays, 3D skeleton plots, mesh renders, metric plots and HTML reports.

- `overlay`: skeletons drawn on images, depth colour maps, contact sheets (OpenCV).
- `plots3d`: 3D poses from several viewpoints, prediction over ground truth (matplotlib).
- `metric_plots`: PCK and success-rate curves, per-joint error bars, training curves.
- `mesh`: mesh overlays and shaded views through the synthetic engine's renderer (EGL).
- `report`: a self-contained static HTML report (`Report`).

The overlay functions are imported with the package; the others on first use (matplotlib and
the renderer are not loaded by code that only draws overlays).
"""

from __future__ import annotations

import importlib
from typing import Any

from posekit.viz.overlay import colorize_depth, contact_sheet, draw_sample, draw_skeleton

__all__ = [
    "Report",
    "colorize_depth",
    "contact_sheet",
    "draw_sample",
    "draw_skeleton",
    "overlay_mesh",
    "plot_pck_curves",
    "plot_per_joint_errors",
    "plot_pose3d",
    "plot_pose3d_vs_gt",
    "plot_success_curves",
    "plot_training_curves",
    "render_mesh",
    "render_mesh_view",
    "save_png",
]

#: Lazily imported names: name → module.
_LAZY = {
    "Report": "posekit.viz.report",
    "overlay_mesh": "posekit.viz.mesh",
    "plot_pck_curves": "posekit.viz.metric_plots",
    "plot_per_joint_errors": "posekit.viz.metric_plots",
    "plot_pose3d": "posekit.viz.plots3d",
    "plot_pose3d_vs_gt": "posekit.viz.plots3d",
    "plot_success_curves": "posekit.viz.metric_plots",
    "plot_training_curves": "posekit.viz.metric_plots",
    "render_mesh": "posekit.viz.mesh",
    "render_mesh_view": "posekit.viz.mesh",
    "save_png": "posekit.viz._figure",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
