"""Synthetic occluders and keypoint visibility.

`paste_occluders` is the occlusion augmentation of Sárándi et al. 2018 ("How robust is 3D
human pose estimation to occlusion?"): with some probability, 1–8 objects of random size and
position are pasted over the image, preferably over the people. Here the objects are
procedural — textured polygons, ellipses, smooth blobs, boxes and a shipped gift-box cut-out —
with hard or soft edges, shading and a darker rim so they read as objects.

Keypoint visibility:

- `update_visibility` marks joints that fall under an occluder invisible. Occluders are pasted
  over everything, so they hide whatever is at their pixels, whatever its depth.
- `visibility_from_depth` decides self- and mutual occlusion of one person's joints from a
  rendered depth map and instance mask.

Convention:
    Keypoints are pixels with pixel centres at integer coordinates; a keypoint (x, y) samples
    the pixel (floor(x + 0.5), floor(y + 0.5)) and is in frame when that pixel is.
    Boxes are (x0, y0, x1, y1) pixels. All randomness comes from the Generator passed in:
    the same seed gives the same bytes.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import cv2
import numpy as np

from posekit._checks import check_shape
from posekit.data.synthetic.textures import random_texture

__all__ = [
    "DEFAULT_DEPTH_TOLERANCE_M",
    "OCCLUDER_SHAPES",
    "OccluderConfig",
    "mask_box",
    "paste_occluders",
    "update_visibility",
    "visibility_from_depth",
]

OCCLUDER_SHAPES = ("polygon", "ellipse", "blob", "box", "gift")

DEFAULT_DEPTH_TOLERANCE_M = 0.15
"""How far a joint may lie behind its own person's visible surface and still count as visible.

Joints are inside the body: a hip or shoulder centre is 0.08–0.15 m behind the skin in front
of it, more on heavy bodies. A limb crossing in front of the joint puts the surface farther
ahead (an arm in front of the hip: 0.2 m and more), which the test then calls occluded.
"""


@dataclass(frozen=True)
class OccluderConfig:
    """Parameters of `paste_occluders`.

    Attributes:
        probability: chance that a sample gets any occluders at all.
        min_count, max_count: number of objects, uniform in [min_count, max_count].
        min_size, max_size: object size (longest side) relative to the reference length:
            sqrt(area) of the chosen person box, or min(H, W) without boxes.
        overlap_bias: chance that an object's centre is drawn inside a person box (when
            boxes are given) rather than anywhere in the image.
        soft_edge_probability: chance that an object gets blurred (soft) edges.
        max_edge_sigma_px: largest Gaussian sigma of a soft edge, in pixels.
        shapes: the shapes to draw from, a subset of `OCCLUDER_SHAPES`.
    """

    probability: float = 0.5
    min_count: int = 1
    max_count: int = 8
    min_size: float = 0.15
    max_size: float = 0.6
    overlap_bias: float = 0.8
    soft_edge_probability: float = 0.5
    max_edge_sigma_px: float = 2.0
    shapes: tuple[str, ...] = OCCLUDER_SHAPES

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1:
            raise ValueError(f"probability: expected in [0, 1], got {self.probability}")
        if not 0 <= self.min_count <= self.max_count:
            raise ValueError(
                f"min_count, max_count: expected 0 <= min <= max, got "
                f"{self.min_count}, {self.max_count}"
            )
        if not 0 < self.min_size <= self.max_size:
            raise ValueError(
                f"min_size, max_size: expected 0 < min <= max, got {self.min_size}, {self.max_size}"
            )
        if not self.shapes or set(self.shapes) - set(OCCLUDER_SHAPES):
            raise ValueError(f"shapes: expected a subset of {OCCLUDER_SHAPES}, got {self.shapes}")


def _outline(rng: np.random.Generator, kind: str, size: float) -> np.ndarray:
    """Polygon outline centred at the origin, longest extent about ``size`` px. -> (N, 2)."""
    r = size / 2
    if kind == "polygon":  # star-shaped random polygon
        n = int(rng.integers(3, 10))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = r * rng.uniform(0.45, 1.0, n)
    elif kind == "blob":  # smooth radial function with a few low harmonics
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        radii = np.ones_like(angles)
        for k in range(2, 6):
            radii += rng.uniform(0, 0.35) / k * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
        radii *= r / radii.max()
    else:  # ellipse or box, with a random aspect ratio
        aspect = rng.uniform(0.25, 1.0)
        if kind == "ellipse":
            angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
            pts = np.stack([r * np.cos(angles), aspect * r * np.sin(angles)], axis=1)
        else:
            pts = np.array([[-r, -aspect * r], [r, -aspect * r], [r, aspect * r], [-r, aspect * r]])
        t = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        return pts @ rot.T
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _object_patch(
    rng: np.random.Generator, kind: str, size: float, cfg: OccluderConfig
) -> tuple[np.ndarray, np.ndarray]:
    """An object's colour and alpha on a square patch. -> (S, S, 3) float32, (S, S) float32."""
    sigma = 0.0
    if rng.random() < cfg.soft_edge_probability:
        sigma = rng.uniform(0.5, cfg.max_edge_sigma_px)
    rgba = _gift_rgba() if kind == "gift" else None
    pts = None
    if rgba is not None:
        extent = size * np.sqrt(2.0)  # the picture may be rotated
    else:
        pts = _outline(rng, "polygon" if kind == "gift" else kind, size)
        extent = 2 * float(np.abs(pts).max())
    side = int(np.ceil(extent + 6 * sigma)) + 3  # room for the blur
    centre = (side - 1) / 2
    if rgba is not None:
        # The gift-box picture shipped with matplotlib, with its alpha, hue-rotated and scaled.
        hsv = cv2.cvtColor(rgba[..., :3], cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(180))) % 180
        rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        s = size / rgba.shape[0]
        angle = rng.uniform(-30, 30)
        M = cv2.getRotationMatrix2D(((rgba.shape[1] - 1) / 2, (rgba.shape[0] - 1) / 2), angle, s)
        M[:, 2] += centre - (np.array(rgba.shape[1::-1]) - 1) / 2
        color = cv2.warpAffine(rgb, M, (side, side), flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha = cv2.warpAffine(rgba[..., 3], M, (side, side), flags=cv2.INTER_LINEAR)
        alpha = (alpha > 127).astype(np.float32)
    else:
        pts = pts + centre
        alpha = np.zeros((side, side), np.uint8)
        cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        alpha = alpha.astype(np.float32)
        color = random_texture(rng, side, side, kinds=("noise", "marble", "stripes", "checker"))
        color = color.astype(np.float32)
        # Shading: a ramp across the object plus a darker rim, so it reads as a solid thing.
        t = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / max(side - 1, 1) - 0.5
        ramp = 1.0 + rng.uniform(0.2, 0.6) * (np.cos(t) * xs + np.sin(t) * ys)
        rim = cv2.erode(alpha, np.ones((3, 3), np.uint8), iterations=max(1, round(size / 40)))
        color *= (ramp * (0.65 + 0.35 * rim))[..., None]
    if sigma > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)
    return np.clip(color, 0, 255), alpha


@functools.cache
def _gift_rgba() -> np.ndarray | None:
    """matplotlib's sample gift-box picture as RGBA uint8 (loaded once), None if absent."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", "Minduka_Present_Blue_Pack.png")
    bgra = cv2.imread(path, cv2.IMREAD_UNCHANGED) if os.path.exists(path) else None
    if bgra is None or bgra.ndim != 3 or bgra.shape[2] != 4:  # pragma: no cover
        return None
    return np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])


def paste_occluders(
    image: np.ndarray,
    rng: np.random.Generator,
    person_boxes: np.ndarray | None = None,
    config: OccluderConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste random occluding objects over an image (Sárándi et al. 2018).

    Args:
        image: the image; not modified.
        rng: the random generator (the only source of randomness).
        person_boxes: boxes of the people; objects are placed over one of them with
            probability ``config.overlap_bias`` and sized relative to it. None: anywhere,
            sized relative to the image.
        config: the parameters; `OccluderConfig()` by default.

    Returns:
        ``(occluded_image, occluder_mask)``: a new image, and a mask that is True where an
        occluder covers the pixel with opacity >= 0.5. Hard-edged objects change exactly the
        masked pixels; soft edges also tint a fringe of about 2 sigma outside the mask.

    Shapes:
        image: (H, W, 3) uint8; person_boxes: (P, 4) float pixels (x0, y0, x1, y1)
        -> (H, W, 3) uint8, (H, W) bool.
    """
    dims = check_shape(image, "image", "H W 3")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
    height, width = dims["H"], dims["W"]
    cfg = OccluderConfig() if config is None else config
    boxes = None
    if person_boxes is not None:
        check_shape(person_boxes, "person_boxes", "P 4")
        boxes = np.asarray(person_boxes, np.float64)
        boxes = boxes if len(boxes) else None
    out = image.copy()
    mask = np.zeros((height, width), bool)
    if rng.random() >= cfg.probability:
        return out, mask
    for _ in range(int(rng.integers(cfg.min_count, cfg.max_count + 1))):
        kind = cfg.shapes[rng.integers(len(cfg.shapes))]
        box = None if boxes is None else boxes[rng.integers(len(boxes))]
        if box is not None:
            ref = float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))
        else:
            ref = float(min(height, width))
        size = max(4.0, rng.uniform(cfg.min_size, cfg.max_size) * ref)
        if box is not None and rng.random() < cfg.overlap_bias:
            cx, cy = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        else:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        color, alpha = _object_patch(rng, kind, size, cfg)
        _composite(out, mask, color, alpha, cx, cy)
    return out, mask


def _composite(
    out: np.ndarray, mask: np.ndarray, color: np.ndarray, alpha: np.ndarray, cx: float, cy: float
) -> None:
    """Alpha-blend a patch centred at (cx, cy) into ``out`` in place, clipped to the image."""
    side = alpha.shape[0]
    x0, y0 = round(cx - (side - 1) / 2), round(cy - (side - 1) / 2)
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + side, out.shape[1]), min(y0 + side, out.shape[0])
    if ix0 >= ix1 or iy0 >= iy1:
        return
    a = alpha[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0, None]
    c = color[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    region = out[iy0:iy1, ix0:ix1]
    blended = a * c + (1.0 - a) * region.astype(np.float32)
    touched = a[..., 0] > 0
    region[touched] = np.clip(blended[touched] + 0.5, 0, 255).astype(np.uint8)
    mask[iy0:iy1, ix0:ix1] |= a[..., 0] >= 0.5


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """Box (x0, y0, x1, y1) around the True pixels, at the outer edges of the outermost ones
    (pixel centres at integers: min - 0.5, max + 0.5); None if there are none.

    Same box as min / max over ``np.nonzero(mask)``, from the rows and columns that hold a
    pixel instead (no index arrays: ~5x faster on a 256x256 mask).

    Shapes:
        mask: (H, W) bool.
    """
    cols = np.flatnonzero(mask.any(axis=0))
    if not len(cols):
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return (cols[0] - 0.5, rows[0] - 0.5, cols[-1] + 0.5, rows[-1] + 0.5)


def _pixel_index(keypoints2d: np.ndarray, height: int, width: int):
    """Nearest pixel of each keypoint and whether it is in frame. -> (..., J) int x2, bool."""
    kp = np.asarray(keypoints2d, np.float64)
    finite = np.isfinite(kp).all(axis=-1)
    px = np.floor(np.where(np.isfinite(kp), kp, -1.0) + 0.5).astype(np.int64)
    x, y = px[..., 0], px[..., 1]
    inside = finite & (x >= 0) & (x < width) & (y >= 0) & (y < height)
    return np.where(inside, x, 0), np.where(inside, y, 0), inside


def update_visibility(
    keypoints2d: np.ndarray, visibility: np.ndarray, occluder_mask: np.ndarray
) -> np.ndarray:
    """Mark keypoints whose pixel is covered by an occluder as invisible.

    Occluders are composited over everything, so depth does not matter: an occluded pixel
    hides any joint there. Keypoints out of frame keep their visibility.

    Shapes:
        keypoints2d: (..., J, 2) pixels; visibility: (..., J) bool, int or float;
        occluder_mask: (H, W) bool -> (..., J), same dtype as ``visibility`` (0 / False
        where occluded).
    """
    dims = check_shape(keypoints2d, "keypoints2d", "... J 2")
    check_shape(visibility, "visibility", "... J", dims)
    if np.shape(visibility) != np.shape(keypoints2d)[:-1]:
        raise ValueError(
            f"visibility: expected {np.shape(keypoints2d)[:-1]}, got {np.shape(visibility)}"
        )
    check_shape(occluder_mask, "occluder_mask", "H W")
    m = np.asarray(occluder_mask, bool)
    x, y, inside = _pixel_index(keypoints2d, *m.shape)
    occluded = inside & m[y, x]
    vis = np.asarray(visibility)
    return np.where(occluded, np.zeros((), vis.dtype), vis).astype(vis.dtype)


def visibility_from_depth(
    keypoints2d: np.ndarray,
    joint_depth_m: np.ndarray,
    depth_map: np.ndarray,
    tolerance_m: float = DEFAULT_DEPTH_TOLERANCE_M,
    instance_mask: np.ndarray | None = None,
    instance_id: int | None = None,
) -> np.ndarray:
    """Visibility of one person's joints by a depth test against the rendered scene.

    A joint is visible when its pixel is in frame, its depth is positive, and:

    - no surface was rendered at its pixel (depth 0 or background): nothing hides it; or
    - with ``instance_mask`` and ``instance_id``: the pixel shows the same person and the
      joint is at most ``tolerance_m`` behind that surface (so the person's own limb in front
      hides it), or the pixel shows another person whose surface there is *behind* the joint
      (any closer surface of someone else hides it, with no tolerance: the tolerance is about
      the person's own thickness);
    - without the instance mask: the joint is at most ``tolerance_m`` behind the surface.

    Args:
        tolerance_m: the allowed depth of a joint under its own visible surface; default
            `DEFAULT_DEPTH_TOLERANCE_M` (0.15 m), see there.
        instance_mask, instance_id: the rendered instance mask and this person's index in it.

    Shapes:
        keypoints2d: (J, 2) pixels; joint_depth_m: (J,) camera z in metres;
        depth_map: (H, W) float metres, 0 where no surface; instance_mask: (H, W) int,
        -1 background -> (J,) bool.
    """
    dims = check_shape(keypoints2d, "keypoints2d", "J 2")
    check_shape(joint_depth_m, "joint_depth_m", "J", dims)
    check_shape(depth_map, "depth_map", "H W", dims)
    if (instance_mask is None) != (instance_id is None):
        raise ValueError("instance_mask, instance_id: expected both or neither")
    if instance_mask is not None:
        check_shape(instance_mask, "instance_mask", "H W", dims)
    if tolerance_m < 0:
        raise ValueError(f"tolerance_m: expected >= 0, got {tolerance_m}")
    x, y, inside = _pixel_index(keypoints2d, dims["H"], dims["W"])
    z = np.asarray(joint_depth_m, np.float64)
    surface = np.asarray(depth_map, np.float64)[y, x]
    no_surface = ~(surface > 0)
    own_ok = z - surface <= tolerance_m
    if instance_mask is not None:
        owner = np.asarray(instance_mask)[y, x]
        other_ok = surface >= z
        ok = np.where(owner < 0, True, np.where(owner == instance_id, own_ok, other_ok))
    else:
        ok = own_ok
    return inside & (z > 0) & (no_surface | ok)
