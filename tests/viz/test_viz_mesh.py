"""Mesh pictures through the engine's renderer: render, overlay, framed views (needs EGL)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.synthetic.render import get_gl_context
from posekit.viz.mesh import overlay_mesh, render_mesh, render_mesh_view


@pytest.fixture(scope="module", autouse=True)
def gl():
    try:
        return get_gl_context()
    except RuntimeError as err:  # pragma: no cover - machines without EGL
        pytest.skip(str(err))


def box(centre, half) -> tuple[np.ndarray, np.ndarray]:
    """An axis-aligned box: 8 vertices, 12 triangles."""
    c = np.asarray(centre, float)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    faces = np.array(
        [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    )  # fmt: skip
    return c + half * corners, faces


def two_boxes(a, b, half=0.2):
    """A red box at ``a`` and a blue one at ``b``, as one mesh with per-vertex colours."""
    va, fa = box(a, half)
    vb, fb = box(b, half)
    colors = np.r_[np.tile([1.0, 0, 0], (8, 1)), np.tile([0, 0, 1.0], (8, 1))]
    return np.r_[va, vb], np.r_[fa, fb + 8], colors


def centroid(img: np.ndarray, channel: int) -> np.ndarray:
    others = [c for c in range(3) if c != channel]
    mask = (img[..., channel] > 60) & (img[..., others].max(-1) < 30)
    assert mask.sum() > 20, "colour not found in the picture"
    return np.argwhere(mask).mean(0)  # (row, col)


K = np.array([[100.0, 0, 47.5], [0, 100.0, 31.5], [0, 0, 1]])


def test_render_and_overlay():
    v, f = box((0, 0, 3), 0.3)
    out = render_mesh(v, f, K, (64, 96))
    assert out.rgb.shape == (64, 96, 3) and out.rgb.dtype == np.uint8
    on = out.instance_mask >= 0
    assert 100 < on.sum() < 64 * 96
    image = np.full((64, 96, 3), 200, np.uint8)
    ov = overlay_mesh(image, v, f, K, alpha=0.5)
    assert ov.shape == image.shape and ov.dtype == np.uint8
    np.testing.assert_array_equal(ov[~on], image[~on])  # off the mesh: untouched
    assert np.abs(ov[on].astype(int) - 200).max() > 10
    np.testing.assert_array_equal(overlay_mesh(image, v, f, K, alpha=0.0), image)
    full = overlay_mesh(image, v, f, K, alpha=1.0)
    np.testing.assert_array_equal(full[on], out.rgb[on])


def test_torch_inputs_and_bad_inputs():
    torch = pytest.importorskip("torch")
    v, f = box((0, 0, 3), 0.3)
    out = render_mesh(torch.as_tensor(v), torch.as_tensor(f), torch.as_tensor(K), (64, 96))
    assert (out.instance_mask >= 0).any()
    with pytest.raises(ValueError, match="vertices_m"):
        render_mesh(v[:, :2], f, K, (64, 96))
    with pytest.raises(ValueError, match="alpha"):
        overlay_mesh(np.zeros((64, 96, 3), np.uint8), v, f, K, alpha=2.0)
    with pytest.raises(ValueError, match="image"):
        overlay_mesh(np.zeros((64, 96, 3), np.float32), v, f, K)
    with pytest.raises(ValueError, match="view"):
        render_mesh_view(v, f, view="back")


@pytest.mark.parametrize(
    ("frame", "up", "down"),
    [("camera", (0, -1, 3), (0, 1, 3)), ("world", (0, 0, 1), (0, 0, -1))],
)
@pytest.mark.parametrize("view", ["front", "side", "three_quarter"])
def test_views_keep_up_up(frame, up, down, view):
    v, f, colors = two_boxes(up, down)
    img = render_mesh_view(v, f, frame=frame, view=view, size_hw=(96, 64), color=colors)
    assert img.shape == (96, 64, 3) and img.dtype == np.uint8
    assert centroid(img, 0)[0] < centroid(img, 2)[0]  # red ("up") above blue


def test_views_of_a_world_body():
    # World: body faces -Y, its left at +X. Front view: its left on the picture's right;
    # side view (from +X): its front (-Y) on the picture's left; top: +Y up in the picture.
    v, f, colors = two_boxes((1, 0, 0), (-1, 0, 0))
    front = render_mesh_view(v, f, frame="world", view="front", size_hw=(64, 96), color=colors)
    assert centroid(front, 0)[1] > centroid(front, 2)[1]
    v, f, colors = two_boxes((0, -1, 0), (0, 1, 0))
    side = render_mesh_view(v, f, frame="world", view="side", size_hw=(64, 96), color=colors)
    assert centroid(side, 0)[1] < centroid(side, 2)[1]
    top = render_mesh_view(v, f, frame="world", view="top", size_hw=(96, 64), color=colors)
    assert centroid(top, 0)[0] > centroid(top, 2)[0]


def test_view_is_framed_and_centred():
    v, f = box((5.0, -2.0, 30.0), 0.5)  # far away and off-centre: the view still frames it
    img = render_mesh_view(v, f, view="front", size_hw=(80, 80), fill=0.5)
    fg = np.argwhere((img != 255).any(-1))
    assert len(fg) > 0
    rows, cols = fg[:, 0], fg[:, 1]
    assert abs((rows.min() + rows.max()) / 2 - 39.5) <= 1.5
    assert abs((cols.min() + cols.max()) / 2 - 39.5) <= 1.5
    assert 30 <= cols.max() - cols.min() + 1 <= 50  # about half of the picture
