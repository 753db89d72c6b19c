"""3D skeleton plots: size and dtype, not blank, frames (up looks up), pred vs gt styling."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import H36M17, Skeleton
from posekit.viz._figure import figure_to_rgb
from posekit.viz.overlay import LEFT_RGB, RIGHT_RGB
from posekit.viz.plots3d import (
    VIEWS,
    plot_pose3d,
    plot_pose3d_vs_gt,
    pose3d_figure,
    to_plot_frame,
)

# Two limbs from a root: "l_up" (orange, left colour) and "r_down" (blue, right colour).
TWO = Skeleton("two_limbs_test", ("root", "l_up", "r_down"), (-1, 0, 0))


def h36m_world() -> np.ndarray:
    """A standing H36M17 pose in the Z-up world frame (facing -Y), metres."""
    p = {
        "pelvis": (0, 0, 1.0), "r_hip": (-0.12, 0, 0.98), "r_knee": (-0.13, -0.03, 0.55),
        "r_ankle": (-0.14, 0.02, 0.1), "l_hip": (0.12, 0, 0.98), "l_knee": (0.14, -0.1, 0.56),
        "l_ankle": (0.16, -0.05, 0.1), "spine": (0, 0, 1.25), "thorax": (0, 0, 1.5),
        "neck_nose": (0, -0.08, 1.6), "head_top": (0, 0, 1.78), "l_shoulder": (0.18, 0, 1.48),
        "l_elbow": (0.3, -0.05, 1.2), "l_wrist": (0.32, -0.25, 1.05),
        "r_shoulder": (-0.18, 0, 1.48), "r_elbow": (-0.3, 0.02, 1.22),
        "r_wrist": (-0.33, 0.0, 0.97),
    }  # fmt: skip
    return np.array([p[n] for n in H36M17.joints], float)


def near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(rgb)) <= tol).all(-1)


def test_plot_size_dtype_and_not_blank(tmp_path):
    path = tmp_path / "pose.png"
    img = plot_pose3d(h36m_world(), "h36m17", frame="world", size_px=(300, 700), path=path)
    assert img.shape == (300, 700, 3) and img.dtype == np.uint8
    assert img.reshape(-1, 3).std(0).max() > 10  # not a blank canvas
    assert near(img, LEFT_RGB).sum() > 50 and near(img, RIGHT_RGB).sum() > 50  # left/right colours
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    default = plot_pose3d(h36m_world(), "h36m17", frame="world")
    assert default.shape == (420, 400 * len(VIEWS), 3)


def test_to_plot_frame_camera_up_is_up():
    p = np.array([[0.0, -1.0, 3.0]])  # above the camera's optical axis (y down)
    q = to_plot_frame(p, "camera")
    np.testing.assert_allclose(q, [[0.0, 3.0, 1.0]])  # (x, z, -y): z up
    np.testing.assert_allclose(to_plot_frame(p, "world"), p)
    with pytest.raises(ValueError, match="frame"):
        to_plot_frame(p, "yup")  # type: ignore[arg-type]


def test_to_plot_frame_camera_is_a_proper_rotation():
    # The map's matrix, read off the images of the basis vectors (row i is the image of e_i).
    R = to_plot_frame(np.eye(3), "camera").T
    np.testing.assert_allclose(R, [[1, 0, 0], [0, 0, 1], [0, -1, 0]])  # x->X, y->-Z, z->Y
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)  # orthonormal
    assert np.isclose(np.linalg.det(R), 1.0)  # a rotation: nothing is mirrored
    # Linear on any batch shape, so lengths and angles of a whole pose are kept.
    pts = np.random.default_rng(0).normal(size=(2, 5, 3))
    q = to_plot_frame(pts, "camera")
    np.testing.assert_allclose(q, pts @ R.T, atol=1e-12)
    d = lambda a: np.linalg.norm(a[..., :, None, :] - a[..., None, :, :], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(q), d(pts), atol=1e-12)
    # Handedness: the camera's x, y, z triad stays right-handed in the plot frame.
    ex, ey, ez = to_plot_frame(np.eye(3), "camera")
    np.testing.assert_allclose(np.cross(ex, ey), ez, atol=1e-12)


# Where a step along each input axis (x, y, z of the frame) lands on the picture: (right, up)
# unit directions in display pixels (y up), 0 for the axis that points at the viewer.
_SCREEN = {
    ("camera", "front"): [(1, 0), (0, -1), (0, 0)],  # as the camera sees it: y down on screen
    ("camera", "side"): [(0, 0), (0, -1), (1, 0)],  # depth runs to the right
    ("camera", "top"): [(1, 0), (0, 0), (0, 1)],  # from above: depth runs up the picture
    ("world", "front"): [(1, 0), (0, 0), (0, 1)],  # facing the body (-Y): +X right, Z up
    ("world", "side"): [(0, 0), (1, 0), (0, 1)],
    ("world", "top"): [(1, 0), (0, 1), (0, 0)],
}


@pytest.mark.parametrize(("frame", "view"), list(_SCREEN))
def test_axis_views_project_the_frame_axes_as_documented(frame, view):
    """Known points through the figure's own 3D projection: every axis-aligned view shows the
    two in-plane axes at equal scale in the documented directions, the third collapsed."""
    from mpl_toolkits.mplot3d import proj3d

    origin = np.array([0.0, 0.0, 3.0]) if frame == "camera" else np.zeros(3)
    joints = origin + np.array([(0, 0, 0), (0.4, -0.3, 0.2), (-0.3, 0.35, -0.25)])
    fig = pose3d_figure(joints, TWO, frame=frame, views=[view], legend=False)
    fig.canvas.draw()
    ax = fig.axes[0]
    pts = to_plot_frame(origin + np.vstack([np.zeros(3), 0.1 * np.eye(3)]), frame)
    x, y, _ = proj3d.proj_transform(*pts.T, ax.get_proj())
    screen = ax.transData.transform(np.stack([x, y], -1))  # display pixels, y up
    steps = screen[1:] - screen[0]  # (3, 2) per input axis
    scale = np.linalg.norm(steps, axis=1).max()
    assert scale > 20  # 10 cm is tens of pixels in a 400-pixel panel
    np.testing.assert_allclose(steps / scale, _SCREEN[frame, view], atol=1e-6)


@pytest.mark.parametrize(
    ("frame", "up", "down"),
    [("camera", (0, -0.5, 3), (0, 0.5, 3)), ("world", (0, 0, 0.5), (0, 0, -0.5))],
)
@pytest.mark.parametrize("view", ["front", "side"])
def test_up_looks_up(frame, up, down, view):
    joints = np.array([(0, 0, 3) if frame == "camera" else (0, 0, 0), up, down], float)
    fig = pose3d_figure(joints, TWO, frame=frame, views=[view], legend=False)
    img = figure_to_rgb(fig)
    rows_left = np.nonzero(near(img, LEFT_RGB))[0]
    rows_right = np.nonzero(near(img, RIGHT_RGB))[0]
    assert len(rows_left) > 20 and len(rows_right) > 20
    assert rows_left.mean() < rows_right.mean()  # the "up" limb is drawn above


def test_front_view_of_world_pose_puts_body_left_on_picture_right():
    joints = np.array([(0, 0, 0), (0.5, 0, 0), (-0.5, 0, 0)], float)  # l_ at +X (body left)
    img = figure_to_rgb(pose3d_figure(joints, TWO, frame="world", views=["front"], legend=False))
    cols_left = np.nonzero(near(img, LEFT_RGB))[1]
    cols_right = np.nonzero(near(img, RIGHT_RGB))[1]
    assert cols_left.mean() > cols_right.mean()


def test_pred_vs_gt_distinct_styles_and_mpjpe_title():
    gt = h36m_world()
    pred = gt.copy()
    pred[1:] += np.array([0.03, 0.0, 0.04])  # every non-root joint 50 mm off
    fig = pose3d_figure(pred, "h36m17", gt_m=gt, frame="world", title="s1")
    assert fig._suptitle.get_text() == "s1 — MPJPE 47.1 mm"  # 16/17 joints × 50 mm
    ax = fig.axes[0]
    colors = {tuple(np.round(line.get_color(), 3)) for line in ax.get_lines()}
    gt_color = (0.45, 0.45, 0.45)
    assert gt_color in colors
    assert tuple(round(c / 255, 3) for c in LEFT_RGB) in colors  # prediction in limb colours
    # In pixels: the comparison adds the wide grey ground-truth strokes to the picture.
    both = plot_pose3d_vs_gt(pred, gt, "h36m17", frame="world")
    alone = plot_pose3d(pred, "h36m17", frame="world")
    assert both.shape == alone.shape
    grey = lambda im: (np.ptp(im.astype(int), -1) < 12) & (im.mean(-1) > 120) & (im.mean(-1) < 200)  # noqa: E731
    assert grey(both).sum() > grey(alone).sum() + 500
    assert near(both, LEFT_RGB).sum() > 50 and near(both, RIGHT_RGB).sum() > 50


def test_absolute_mpjpe_without_root_alignment():
    gt = h36m_world()
    moved = gt + np.array([0.1, 0, 0])
    fig = pose3d_figure(moved, "h36m17", gt_m=gt, frame="world", root_align=False, views=["top"])
    assert "MPJPE 100.0 mm (absolute)" in fig._suptitle.get_text()
    fig = pose3d_figure(moved, "h36m17", gt_m=gt, frame="world", views=["top"])
    assert "MPJPE 0.0 mm" in fig._suptitle.get_text()


def test_nan_joints_are_skipped_and_bad_inputs_raise():
    gt = h36m_world()
    gt[5] = np.nan
    img = plot_pose3d_vs_gt(gt, gt, "h36m17", frame="world", views=["front"])
    assert img.dtype == np.uint8
    with pytest.raises(ValueError, match="joints_m"):
        plot_pose3d(gt[:5], "h36m17")
    with pytest.raises(ValueError, match="views"):
        plot_pose3d(gt, "h36m17", views=["back"])
    with pytest.raises(ValueError, match="no finite joint"):
        plot_pose3d(np.full((17, 3), np.nan), "h36m17")
    torch = pytest.importorskip("torch")
    as_tensor = torch.tensor(h36m_world(), requires_grad=True)
    img = plot_pose3d_vs_gt(
        as_tensor, as_tensor, "h36m17", views=["top"], visibility=torch.ones(17)
    )
    assert img.dtype == np.uint8
    custom = plot_pose3d(h36m_world(), "h36m17", frame="world", views=[(30, 10)])
    assert custom.shape == (420, 400, 3)
