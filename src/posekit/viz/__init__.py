"""Pictures: keypoint overlays, contact sheets (and later 3D plots, mesh renders, reports)."""

from __future__ import annotations

from posekit.viz.overlay import colorize_depth, contact_sheet, draw_sample, draw_skeleton

__all__ = ["colorize_depth", "contact_sheet", "draw_sample", "draw_skeleton"]
