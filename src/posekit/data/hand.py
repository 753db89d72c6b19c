"""Hand cubes: depth samples → the points of a cube around a reference point in the hand, as
V2V-PoseNet's occupancy grid or as a depth image of the cube, with 3D augmentation.

Shapes:
    N points, J joints, G grid size (voxels per axis), H/W depth-image size.

Convention:
    Camera frame OpenCV (x right, y down, z forward), metres. The cube of edge ``c`` is
    centred on ``centre``; a point's cube coordinates are ``p - centre``, in ``[-c/2, c/2)``
    inside. Grids are ordered (z, y, x) like `posekit.codecs.voxel.VoxelCodec`: voxel
    ``(k, j, i)`` covers x in ``[-c/2 + i c/G, -c/2 + (i+1) c/G)`` (same for y with j, z with
    k). The depth image of the cube is its orthographic view along z: pixel (row j, column i)
    covers the same x, y ranges with G = H (rows) or W (columns), and holds the smallest
    ``z / (c/2)`` of the points in its column of the cube, 1 where there is none.

Localisation (`hand_reference_point`): the centre of mass of the nearest surface inside a hand
box — a sample's annotated box (as a hand detector would give it), or the box of a cube around
a user's point (`box_around`) — like V2V-PoseNet's centre of mass of the hand's points (before
its refinement network, which posekit does not have yet).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit._checks import check_shape
from posekit.data.sample import Sample

__all__ = [
    "CubeTransform",
    "HandAugment",
    "HandCubes",
    "box_around",
    "cube_depth_image",
    "depth_points",
    "hand_box",
    "hand_reference_point",
    "sample_cube_transform",
    "voxel_grid",
]


@dataclass(frozen=True)
class HandAugment:
    """Ranges of the 3D augmentation of training cubes (V2V-PoseNet: ±40°, ×0.8–1.2, ±8 of 88
    voxels).

    Attributes:
        rotation_deg: rotation about the camera's z axis through the reference point, uniform
            in ``±rotation_deg``.
        scale: uniform range of the scale about the reference point.
        translation_m: the cube's centre moves by a uniform ``±translation_m`` per axis.
    """

    rotation_deg: float = 40.0
    scale: tuple[float, float] = (0.8, 1.2)
    translation_m: float = 0.02

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi:
            raise ValueError(f"scale: expected 0 < min <= max, got {self.scale!r}")
        if self.rotation_deg < 0 or self.translation_m < 0:
            raise ValueError("rotation_deg and translation_m: expected >= 0")


@dataclass(frozen=True)
class CubeTransform:
    """One draw of `HandAugment`: ``p' = reference + scale · Rz(rotation) (p - reference)``,
    cube centre ``reference + shift_m``."""

    rotation_rad: float = 0.0
    scale: float = 1.0
    shift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def apply(self, points_m: np.ndarray, reference_m: np.ndarray) -> np.ndarray:
        """The transformed points. Shapes: points_m (..., 3), reference_m (3,) → (..., 3)."""
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return reference_m + self.scale * (points_m - reference_m) @ R.T

    def centre(self, reference_m: np.ndarray) -> np.ndarray:
        """The cube centre for ``reference_m`` (3,)."""
        return reference_m + np.asarray(self.shift_m)


def sample_cube_transform(rng: np.random.Generator, augment: HandAugment) -> CubeTransform:
    """A random `CubeTransform` within ``augment``'s ranges."""
    t = augment.translation_m
    return CubeTransform(
        rotation_rad=math.radians(rng.uniform(-augment.rotation_deg, augment.rotation_deg)),
        scale=float(rng.uniform(*augment.scale)),
        shift_m=tuple(float(v) for v in rng.uniform(-t, t, 3)),  # type: ignore[arg-type]
    )


def depth_points(depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The camera-frame points of the measured pixels of a depth map (depth > 0, finite).

    Shapes:
        depth_m: (H, W) metres (camera z); K: (3, 3). returns: (N, 3) float64, row-major order.
    """
    check_shape(depth_m, "depth_m", "H W")
    check_shape(K, "K", "3 3")
    v, u = np.nonzero(np.isfinite(depth_m) & (depth_m > 0))
    z = depth_m[v, u].astype(np.float64)
    K = np.asarray(K, np.float64)
    x = (u - K[0, 2] - K[0, 1] * (v - K[1, 2]) / K[1, 1]) / K[0, 0] * z
    y = (v - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, z], axis=1)


def hand_reference_point(
    depth_m: np.ndarray,
    K: np.ndarray,
    box: Sequence[float],
    near_percentile: float = 10.0,
    depth_band_m: float = 0.12,
) -> np.ndarray:
    """A point inside the hand: the centre of mass of the hand box's nearest surface.

    The measured pixels inside ``box`` whose depth lies within ``[z_near - 2 cm, z_near +
    depth_band_m)``, ``z_near`` their ``near_percentile``-th depth percentile (the hand is
    the nearest thing in its box; the wall or table behind it is left out), back-projected;
    the mean of those points.

    Shapes:
        depth_m: (H, W) metres; K: (3, 3); box: (x0, y0, x1, y1) pixels. returns: (3,) float64
        metres.

    Raises:
        ValueError: no measured depth inside the box (no hand there).
    """
    check_shape(depth_m, "depth_m", "H W")
    H, W = depth_m.shape
    x0, y0, x1, y1 = (float(b) for b in box)
    c0, c1 = max(0, math.ceil(x0)), min(W, math.floor(x1) + 1)
    r0, r1 = max(0, math.ceil(y0)), min(H, math.floor(y1) + 1)
    patch = depth_m[r0:r1, c0:c1].astype(np.float64)
    valid = np.isfinite(patch) & (patch > 0)
    if not valid.any():
        raise ValueError(
            f"hand box {[round(b, 1) for b in (x0, y0, x1, y1)]}: no measured depth inside it "
            "(no hand there)"
        )
    z_near = float(np.percentile(patch[valid], near_percentile))
    keep = valid & (patch > z_near - 0.02) & (patch < z_near + depth_band_m)
    v, u = np.nonzero(keep)
    z = patch[v, u]
    K = np.asarray(K, np.float64)
    y = (v + r0 - K[1, 2]) / K[1, 1] * z
    x = (u + c0 - K[0, 2] - K[0, 1] * y / z) / K[0, 0] * z
    return np.array([x.mean(), y.mean(), z.mean()])


def box_around(
    depth_m: np.ndarray, K: np.ndarray, uv: Sequence[float], z_m: float | None, cube_size_m: float
) -> tuple[float, float, float, float]:
    """The image box of a cube of edge ``cube_size_m`` centred at pixel ``uv`` at depth
    ``z_m`` (None: the 10th percentile of the measured depth within 7 pixels of ``uv``, the
    nearest surface there): the hand box of a user's point.

    Raises:
        ValueError: ``uv`` outside the image, or no measured depth near it.
    """
    H, W = depth_m.shape
    u, v = (float(c) for c in uv)
    if not (0 <= u <= W - 1 and 0 <= v <= H - 1):
        raise ValueError(f"centre ({u}, {v}): outside the {W}x{H} depth map")
    if z_m is None:
        r = 7
        patch = depth_m[
            max(0, round(v) - r) : round(v) + r + 1, max(0, round(u) - r) : round(u) + r + 1
        ]
        z = patch[np.isfinite(patch) & (patch > 0)]
        if z.size == 0:
            raise ValueError(f"centre ({u}, {v}): no measured depth within {r} pixels")
        z_m = float(np.percentile(z, 10.0))
    if not z_m > 0:
        raise ValueError(f"centre depth: expected > 0 metres, got {z_m}")
    half_u = 0.5 * cube_size_m * float(K[0, 0]) / z_m
    half_v = 0.5 * cube_size_m * float(K[1, 1]) / z_m
    return (u - half_u, v - half_v, u + half_u, v + half_v)


def _cells(rel_m: np.ndarray, cube_size_m: float, size: int) -> np.ndarray:
    return np.floor((rel_m / cube_size_m + 0.5) * size).astype(np.int64)


def voxel_grid(rel_m: np.ndarray, cube_size_m: float, grid_size: int) -> np.ndarray:
    """Binary occupancy of the cube's G³ voxels (module convention; points outside dropped).

    Shapes:
        rel_m: (N, 3) cube coordinates, metres. returns: (G, G, G) float32, axes (z, y, x).
    """
    G = int(grid_size)
    idx = _cells(rel_m, cube_size_m, G)
    keep = ((idx >= 0) & (idx < G)).all(axis=1)
    idx = idx[keep]
    grid = np.zeros((G, G, G), np.float32)
    grid[idx[:, 2], idx[:, 1], idx[:, 0]] = 1.0
    return grid


def cube_depth_image(rel_m: np.ndarray, cube_size_m: float, size: tuple[int, int]) -> np.ndarray:
    """The orthographic depth image of the cube along z (module convention).

    Shapes:
        rel_m: (N, 3) cube coordinates, metres. returns: (H, W) float32 in [-1, 1].
    """
    H, W = (int(s) for s in size)
    half = 0.5 * float(cube_size_m)
    z = rel_m[:, 2] / half
    col = _cells(rel_m[:, 0], cube_size_m, W)
    row = _cells(rel_m[:, 1], cube_size_m, H)
    keep = (col >= 0) & (col < W) & (row >= 0) & (row < H) & (z >= -1) & (z < 1)
    image = np.ones(H * W, np.float64)
    np.minimum.at(image, row[keep] * W + col[keep], z[keep])
    return image.reshape(H, W).astype(np.float32)


def hand_box(s: Sample) -> tuple[float, float, float, float]:
    """The hand box of a sample: its first ``bbox`` when it has an area, else the box of its
    in-frame 2D keypoints (the synthetic engine leaves a rare hand without a box).

    Raises:
        ValueError: neither a box nor an in-frame keypoint.
    """
    if s.bbox is not None and len(s.bbox):
        x0, y0, x1, y1 = (float(v) for v in s.bbox[0])
        if x1 > x0 and y1 > y0:
            return x0, y0, x1, y1
    if s.keypoints2d is not None:
        kp = np.asarray(s.keypoints2d[0], np.float64)
        H, W = s.depth.shape if s.depth is not None else (math.inf, math.inf)
        ok = np.isfinite(kp).all(1) & (kp[:, 0] >= 0) & (kp[:, 0] <= W - 1)
        ok &= (kp[:, 1] >= 0) & (kp[:, 1] <= H - 1)
        if ok.any():
            (x0, y0), (x1, y1) = kp[ok].min(0), kp[ok].max(0)
            return float(x0), float(y0), float(x1), float(y1)
    raise ValueError(f"sample {s.meta.get('index', '?')}: no hand box and no in-frame keypoint")


def _to_layout(
    joints: np.ndarray, vis: np.ndarray, src: str, dst: str
) -> tuple[np.ndarray, np.ndarray]:
    """Joints (J_src, 3) and visibility of layout ``src`` in layout ``dst`` (by joint name;
    joints ``dst`` has and ``src`` lacks: NaN, visibility 0)."""
    from posekit.skeletons import get_skeleton, joint_map

    si, di = joint_map(src, dst)
    n = get_skeleton(dst).num_joints
    out = np.full((n, 3), np.nan)
    out[di] = joints[si]
    v = np.zeros(n, np.float32)
    v[di] = vis[si]
    return out, v


def _get(samples: Any, index: int) -> Sample:
    s = samples[index]
    if s.depth is None or s.K is None or s.joints3d is None:
        raise ValueError(f"source[{index}]: a hand sample needs depth, K and joints3d")
    return s


@dataclass
class HandCubes(Dataset):
    """Training / evaluation items of the hand task: one cube per depth sample.

    Each item: ``voxels`` (1, G, G, G) (``input == "voxels"``) or ``depth`` (1, H, W) (``input
    == "depth"``) float32; ``keypoints`` (J, 3) float32 metres in the (augmented) camera
    frame; ``reference`` (3,) float32 the cube centre, metres; ``visibility`` (J,) float32;
    ``index``. Training items are augmented (`HandAugment`, draws keyed by (seed, epoch,
    index), `set_epoch`); evaluation items are not, so their keypoints are the ground truth.

    Attributes:
        samples: indexable `Sample` sequence with ``depth``, ``K``, ``joints3d`` and ``bbox``.
        cube_size_m: cube edge, metres.
        input: ``"voxels"`` or ``"depth"``.
        size: G (voxels) or (H, W) (depth image).
        train: augment.
        augment: the augmentation ranges.
        seed: base seed of the augmentation draws.
        skeleton: the model's joint layout; samples of another layout (NYU's nyu14 for a
            hand21 model) are mapped to it by joint name (`posekit.skeletons.joint_map`),
            joints it lacks being NaN with visibility 0. None: the samples' own joints.
        centre_only: the items' ``keypoints`` are one point (1, 3), the mean of the sample's
            joints (the target of a reference-point refiner).
        refine: ``refine(depth_m, K, reference_m) -> reference_m``, applied to the centre of
            mass before the cube is cut (a refiner network); None: the centre of mass.
    """

    samples: Any
    cube_size_m: float
    input: str
    size: int | tuple[int, int]
    train: bool = False
    augment: HandAugment = field(default_factory=HandAugment)
    seed: int = 0
    skeleton: str | None = None
    centre_only: bool = False
    refine: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    epoch: int = 0

    def __post_init__(self) -> None:
        if self.input not in ("voxels", "depth"):
            raise ValueError(f"input: expected 'voxels' or 'depth', got {self.input!r}")
        if self.cube_size_m <= 0:
            raise ValueError(f"cube_size_m: expected > 0, got {self.cube_size_m}")

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of epoch ``epoch``."""
        self.epoch = int(epoch)

    def reference(self, index: int) -> np.ndarray:
        """The reference point of sample ``index`` (from its first box), metres (3,)."""
        return self._reference(_get(self.samples, index))

    def _reference(self, s: Sample) -> np.ndarray:
        ref = hand_reference_point(s.depth, s.K, hand_box(s))  # type: ignore[arg-type]
        if self.refine is not None:
            ref = np.asarray(self.refine(s.depth, s.K, ref), np.float64).reshape(3)  # type: ignore[arg-type]
        return ref

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = _get(self.samples, index)
        points = depth_points(s.depth, s.K)  # type: ignore[arg-type]
        ref = self._reference(s)
        joints = np.asarray(s.joints3d, np.float64)[0]  # type: ignore[index]
        vis = (
            np.ones(len(joints), np.float32)
            if s.visibility is None
            else np.asarray(s.visibility[0], np.float32)
        )
        if self.centre_only:
            known = np.isfinite(joints).all(axis=1)
            joints, vis = joints[known].mean(axis=0, keepdims=True), np.ones(1, np.float32)
        elif self.skeleton is not None and s.skeleton != self.skeleton:
            joints, vis = _to_layout(joints, vis, s.skeleton, self.skeleton)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            t = sample_cube_transform(rng, self.augment)
            points, joints = t.apply(points, ref), t.apply(joints, ref)
            centre = t.centre(ref)
        else:
            centre = ref
        rel = points - centre
        if self.input == "voxels":
            x = voxel_grid(rel, self.cube_size_m, int(self.size))  # type: ignore[arg-type]
        else:
            x = cube_depth_image(rel, self.cube_size_m, self.size)  # type: ignore[arg-type]
        return {
            self.input: torch.from_numpy(x)[None],
            "keypoints": torch.from_numpy(joints.astype(np.float32)),
            "reference": torch.from_numpy(centre.astype(np.float32)),
            "visibility": torch.from_numpy(vis),
            "index": index,
        }
