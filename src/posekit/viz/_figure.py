"""Shared plumbing of the matplotlib pictures: figures without pyplot, RGB read-back, PNG files.

Figures are built with the object-oriented API (`matplotlib.figure.Figure` on a
`FigureCanvasAgg`): no pyplot, no global backend, no global state, safe on headless machines.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posekit._checks import check_shape
from posekit._io import atomic_write
from posekit.skeletons import Skeleton
from posekit.viz.overlay import limb_color

__all__ = [
    "encode_png",
    "figure_to_png",
    "figure_to_rgb",
    "limb_rgb",
    "new_figure",
    "save_png",
]


def new_figure(size_px: tuple[int, int], dpi: int = 100) -> Figure:
    """A blank Agg figure of exactly ``size_px`` = (H, W) pixels (white background)."""
    h, w = size_px
    if h <= 0 or w <= 0 or dpi <= 0:
        raise ValueError(f"size_px, dpi: expected positive sizes, got {size_px}, {dpi}")
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Draw a figure and return its pixels.

    Shapes:
        return: (H, W, 3) uint8 RGB, H, W = figure size in inches × dpi.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3].copy()


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB image.

    Shapes:
        rgb: (H, W, 3) uint8.
    """
    check_shape(rgb, "rgb", "H W 3")
    if rgb.dtype != np.uint8:
        raise ValueError(f"rgb: expected dtype uint8, got {rgb.dtype}")
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - cv2 only fails on unsupported inputs, checked above
        raise RuntimeError("could not encode the image as PNG")
    return buf.tobytes()


def figure_to_png(fig: Figure) -> bytes:
    """PNG bytes of a drawn figure (same pixels as `figure_to_rgb`)."""
    return encode_png(figure_to_rgb(fig))


def save_png(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write an RGB image as a PNG file, atomically (`posekit._io.atomic_write`).

    Shapes:
        rgb: (H, W, 3) uint8.
    """
    atomic_write(path, encode_png(rgb))


def limb_rgb(skeleton: Skeleton, a: int, b: int) -> tuple[float, float, float]:
    """The limb colour of `posekit.viz.overlay` (left warm, right cool, centre green), in [0, 1]."""
    r, g, b_ = limb_color(skeleton, a, b)
    return (r / 255.0, g / 255.0, b_ / 255.0)
