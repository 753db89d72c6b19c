"""Mesh pictures through the synthetic engine's renderer: overlays on images and shaded views.

Nothing here rasterizes: every picture is drawn by `posekit.data.synthetic.render.Renderer`
(OpenGL through EGL, moderngl on Mesa's llvmpipe), with its conventions (OpenCV camera
frame, metres, intrinsics ``K`` in pixels, pixel centres at integer coordinates).

Renderers are made on first use and kept per image size (at most a few) for the process.
EGL contexts do not survive ``fork``: call these functions in the process that will use them
(the renderer raises a RuntimeError in a forked child rather than hang).

Convention (views): `render_mesh_view` looks at a mesh from the named viewpoints of
`posekit.viz.plots3d` (``"front"``, ``"side"``, ``"top"``, ``"three_quarter"`` or an
(elevation, azimuth) pair in degrees), with the same ``frame=`` argument (``"camera"``:
OpenCV; ``"world"``: Z-up), through a virtual camera that frames the whole mesh.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from posekit._checks import check_shape
from posekit.data.synthetic.render import MeshInstance, Renderer, RenderOutput
from posekit.viz.plots3d import VIEWS, Frame, View, to_plot_frame

__all__ = ["MESH_RGB", "overlay_mesh", "render_mesh", "render_mesh_view"]

#: Default albedo of rendered bodies: a light clay blue (linear RGB in [0, 1]).
MESH_RGB = (0.62, 0.74, 0.92)

_MAX_RENDERERS = 4
_renderers: OrderedDict[tuple[int, int, int], Renderer] = OrderedDict()


def _renderer(height: int, width: int) -> Renderer:
    """A cached renderer of this size, made in this process (least recently used evicted)."""
    key = (os.getpid(), int(height), int(width))
    for stale in [k for k in _renderers if k[0] != key[0]]:
        del _renderers[stale]  # made before a fork: unusable here, never touch its GL objects
    r = _renderers.get(key)
    if r is None:
        r = Renderer(height, width)
        _renderers[key] = r
        while len(_renderers) > _MAX_RENDERERS:
            _renderers.popitem(last=False)[1].release()
    _renderers.move_to_end(key)
    return r


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def _instance(vertices_m: Any, faces: Any, color: Any) -> MeshInstance:
    v = _numpy(vertices_m).astype(np.float32)
    f = _numpy(faces).astype(np.int64)
    dims = check_shape(v, "vertices_m", "V 3")
    check_shape(f, "faces", "F 3")
    rgb = np.asarray(color, np.float32)
    if rgb.shape == (3,):
        rgb = np.broadcast_to(rgb, (dims["V"], 3))
    check_shape(rgb, "color", "V 3", dims)
    if rgb.size and (rgb.min() < 0 or rgb.max() > 1):
        raise ValueError("color: expected RGB in [0, 1]")
    return MeshInstance(v, f, colors=np.ascontiguousarray(rgb))


def render_mesh(
    vertices_m: Any,
    faces: Any,
    K: Any,
    size_hw: tuple[int, int],
    *,
    color: Any = MESH_RGB,
    background: np.ndarray | None = None,
    light_dir: np.ndarray | None = None,
) -> RenderOutput:
    """Render a mesh in the camera frame through intrinsics ``K``.

    Args:
        vertices_m: vertices in the OpenCV camera frame, metres (torch or numpy).
        faces: triangle vertex indices.
        K: camera intrinsics, pixels.
        size_hw: image size (H, W).
        color: one RGB albedo in [0, 1] for the whole mesh, or one per vertex.
        background: image under the mesh (H, W, 3) uint8, or None for black.
        light_dir: towards the light, camera frame (default: the renderer's, upper left).

    Returns:
        The renderer's `RenderOutput`: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) metres,
        ``instance_mask`` (0 on the mesh, -1 elsewhere), ``part_mask``.

    Shapes:
        vertices_m: (V, 3). faces: (F, 3). K: (3, 3). color: (3,) or (V, 3).
    """
    mesh = _instance(vertices_m, faces, color)
    K = _numpy(K).astype(np.float64)
    check_shape(K, "K", "3 3")
    h, w = size_hw
    return _renderer(h, w).render([mesh], K, background=background, light_dir=light_dir)


def overlay_mesh(
    image: np.ndarray,
    vertices_m: Any,
    faces: Any,
    K: Any,
    *,
    alpha: float = 0.7,
    color: Any = MESH_RGB,
    light_dir: np.ndarray | None = None,
) -> np.ndarray:
    """Alpha-blend a shaded render of a mesh onto an image (pixels off the mesh unchanged).

    Args:
        image: the picture the camera ``K`` took, RGB uint8.
        vertices_m: vertices in that camera's OpenCV frame, metres.
        alpha: opacity of the mesh in [0, 1].

    Shapes:
        image: (H, W, 3) uint8. vertices_m: (V, 3). faces: (F, 3). K: (3, 3).
        return: (H, W, 3) uint8.
    """
    check_shape(image, "image", "H W 3")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a value in [0, 1], got {alpha}")
    out = render_mesh(vertices_m, faces, K, image.shape[:2], color=color, light_dir=light_dir)
    on = out.instance_mask >= 0
    blended = image.copy()
    mix = alpha * out.rgb[on].astype(np.float32) + (1 - alpha) * image[on].astype(np.float32)
    blended[on] = np.clip(np.rint(mix), 0, 255).astype(np.uint8)
    return blended


def _view_rotation(elev_deg: float, azim_deg: float) -> np.ndarray:
    """Rotation from the Z-up plot frame to a camera looking from (elev, azim) (matplotlib).

    Rows: image right, image down, forward (OpenCV camera axes in plot-frame coordinates).
    """
    e, a = np.deg2rad(elev_deg), np.deg2rad(azim_deg)
    forward = -np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    right = np.array([-np.sin(a), np.cos(a), 0.0])
    down = np.cross(forward, right)
    return np.stack([right, down / np.linalg.norm(down), forward])


def render_mesh_view(
    vertices_m: Any,
    faces: Any,
    *,
    frame: Frame = "camera",
    view: View = "side",
    size_hw: tuple[int, int] = (512, 384),
    color: Any = MESH_RGB,
    background_rgb: tuple[int, int, int] = (255, 255, 255),
    fill: float = 0.9,
) -> np.ndarray:
    """A shaded render of a mesh from a viewpoint (default: from the side), framed to fit.

    A virtual camera looks at the mesh's bounding-box centre from the direction of ``view``
    (see the module Convention), three bounding radii away; its intrinsics are chosen so the
    mesh spans ``fill`` of the picture along its tighter dimension, centred.

    Args:
        vertices_m: vertices in ``frame`` (``"camera"``: OpenCV; ``"world"``: Z-up), metres.
        faces: triangle vertex indices.
        view: a name of `posekit.viz.plots3d.VIEWS` or (elevation, azimuth) in degrees.
        size_hw: picture size (H, W).
        background_rgb: background colour, uint8 RGB.
        fill: fraction of the picture the mesh spans, in (0, 1].

    Shapes:
        vertices_m: (V, 3). faces: (F, 3). return: (H, W, 3) uint8.
    """
    v = _numpy(vertices_m).astype(np.float64)
    check_shape(v, "vertices_m", "V 3")
    if len(v) == 0 or not np.isfinite(v).all():
        raise ValueError("vertices_m: expected at least one vertex, all finite")
    if not 0.0 < fill <= 1.0:
        raise ValueError(f"fill: expected a value in (0, 1], got {fill}")
    if isinstance(view, str):
        if view not in VIEWS:
            raise ValueError(f"view: unknown view {view!r}; named views: {', '.join(VIEWS)}")
        elev, azim = VIEWS[view]
    else:
        elev, azim = (float(x) for x in view)
    p = to_plot_frame(v, frame)
    centre = (p.min(0) + p.max(0)) / 2
    radius = max(float(np.linalg.norm(p - centre, axis=1).max()), 1e-3)
    cam = (p - centre) @ _view_rotation(elev, azim).T
    cam[:, 2] += 3.0 * radius
    # Intrinsics that frame the projected mesh: u = f x/z + cx, centred, `fill` of the picture.
    h, w = size_hw
    xz, yz = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
    span_x, span_y = max(np.ptp(xz), 1e-9), max(np.ptp(yz), 1e-9)
    f = fill * min(w / span_x, h / span_y)
    cx = (w - 1) / 2 - f * (xz.max() + xz.min()) / 2
    cy = (h - 1) / 2 - f * (yz.max() + yz.min()) / 2
    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    background = np.empty((h, w, 3), np.uint8)
    background[:] = np.asarray(background_rgb, np.uint8)
    return render_mesh(cam, faces, K, (h, w), color=color, background=background).rgb
