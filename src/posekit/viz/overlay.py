"""2D overlays: skeletons drawn on images, depth colour maps, contact sheets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from posekit._checks import check_shape
from posekit.data.sample import Sample
from posekit.skeletons import Skeleton, get_skeleton

__all__ = [
    "CENTRE_RGB",
    "LEFT_RGB",
    "RIGHT_RGB",
    "colorize_depth",
    "contact_sheet",
    "draw_sample",
    "draw_skeleton",
    "limb_color",
]

#: Left limbs warm, right limbs cool, centre limbs neutral (RGB).
LEFT_RGB, RIGHT_RGB, CENTRE_RGB = (255, 140, 0), (0, 160, 255), (60, 220, 60)


def limb_color(sk: Skeleton, a: int, b: int) -> tuple[int, int, int]:
    """The colour of limb (a, b): left, right or centre by its joint names."""
    names = sk.joints[a] + sk.joints[b]
    if "l_" in names and "r_" not in names:
        return LEFT_RGB
    if "r_" in names and "l_" not in names:
        return RIGHT_RGB
    return CENTRE_RGB


def draw_skeleton(
    image: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray | None,
    skeleton: str | Skeleton,
    thickness: int = 2,
) -> np.ndarray:
    """Draw one or several people's keypoints on a copy of an RGB image.

    Visible joints are filled dots and limbs solid lines; joints marked invisible (occluded
    but in frame) are hollow red circles, and limbs touching them are thin lines.

    Shapes:
        image: (H, W, 3) uint8. keypoints: (P, J, 2) or (J, 2) pixels. visibility: (P, J) or
        (J,) bool, or None (all visible).
    """
    check_shape(image, "image", "H W 3")
    sk = get_skeleton(skeleton)
    kp = np.asarray(keypoints, dtype=np.float64)
    kp = kp[None] if kp.ndim == 2 else kp
    dims = check_shape(kp, "keypoints", f"P {sk.num_joints} 2")
    vis = np.ones(kp.shape[:2], bool) if visibility is None else np.asarray(visibility, bool)
    vis = vis[None] if vis.ndim == 1 else vis
    check_shape(vis, "visibility", "P J", dims | {"J": sk.num_joints})
    out = np.ascontiguousarray(image.copy())
    scale = 16  # cv2 fixed-point drawing: sub-pixel accurate positions
    for p in range(kp.shape[0]):
        pts = np.round(np.nan_to_num(kp[p]) * scale).astype(np.int64)
        finite = np.isfinite(kp[p]).all(-1)
        for a, b in sk.limbs:
            if not (finite[a] and finite[b]):
                continue
            both = vis[p, a] and vis[p, b]
            cv2.line(
                out,
                tuple(int(v) for v in pts[a]),
                tuple(int(v) for v in pts[b]),
                limb_color(sk, a, b),
                thickness if both else 1,
                cv2.LINE_AA,
                shift=4,
            )
        for j in range(sk.num_joints):
            if not finite[j]:
                continue
            c = tuple(int(v) for v in pts[j])
            if vis[p, j]:
                cv2.circle(out, c, (thickness + 1) * scale, (255, 255, 255), -1, cv2.LINE_AA, 4)
            else:
                cv2.circle(out, c, (thickness + 2) * scale, (255, 40, 40), 1, cv2.LINE_AA, 4)
    return out


def colorize_depth(
    depth_m: np.ndarray, near_m: float | None = None, far_m: float | None = None
) -> np.ndarray:
    """Depth (H, W) metres → (H, W, 3) uint8 RGB (turbo colour map; 0 = no data, black)."""
    check_shape(depth_m, "depth_m", "H W")
    valid = depth_m > 0
    if not valid.any():
        return np.zeros((*depth_m.shape, 3), np.uint8)
    lo = float(depth_m[valid].min()) if near_m is None else near_m
    hi = float(depth_m[valid].max()) if far_m is None else far_m
    t = np.clip((depth_m - lo) / max(hi - lo, 1e-6), 0, 1)
    gray = (255 * (1 - t)).astype(np.uint8)
    rgb = cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)
    rgb[~valid] = 0
    return rgb


def draw_sample(sample: Sample, boxes: bool = True) -> np.ndarray:
    """A picture of a sample: its image (or colour-mapped depth) with keypoints and boxes."""
    if sample.image is not None:
        img = sample.image
    elif sample.depth is not None:
        img = colorize_depth(sample.depth)
    else:
        raise ValueError("sample: has neither image nor depth to draw")
    out = draw_skeleton(img, sample.keypoints2d, sample.visibility, sample.skeleton)
    if boxes and sample.bbox is not None:
        for x0, y0, x1, y1 in np.asarray(sample.bbox, np.float64):
            cv2.rectangle(
                out, (round(x0), round(y0)), (round(x1), round(y1)), (255, 255, 0), 1, cv2.LINE_AA
            )
    return out


def contact_sheet(
    pictures: Sequence[np.ndarray], columns: int | None = None, tile: tuple[int, int] | None = None
) -> np.ndarray:
    """Tile RGB pictures into one sheet (each resized to ``tile`` (H, W), default the first's)."""
    if not pictures:
        raise ValueError("pictures: expected at least one picture, got none")
    th, tw = tile or pictures[0].shape[:2]
    cols = columns or math.ceil(math.sqrt(len(pictures)))
    rows = math.ceil(len(pictures) / cols)
    sheet = np.full((rows * (th + 2) + 2, cols * (tw + 2) + 2, 3), 32, np.uint8)
    for i, pic in enumerate(pictures):
        check_shape(pic, f"pictures[{i}]", "H W 3")
        r, c = divmod(i, cols)
        if pic.shape[:2] != (th, tw):
            pic = cv2.resize(pic, (tw, th), interpolation=cv2.INTER_AREA)
        y, x = 2 + r * (th + 2), 2 + c * (tw + 2)
        sheet[y : y + th, x : x + tw] = pic
    return sheet
