"""Camera sampler: random intrinsics and a look-at extrinsic that frames a person.

Convention: world frame Z-up metres (posekit's body frame); camera frame OpenCV (x right,
y down, z forward) with ``x_cam = R @ x_world + t``. Azimuth is measured around world +z from
the +x axis, counter-clockwise seen from above; elevation is the camera's height angle above the
target (positive = looking down). Roll rotates the image clockwise by a positive angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posekit._checks import check_shape

__all__ = ["CameraSample", "CameraSampler", "look_at", "project_points"]


@dataclass(frozen=True)
class CameraSample:
    """A sampled pinhole camera.

    Shapes:
        K: (3, 3) intrinsics in pixels.
        R: (3, 3) world-to-camera rotation.
        t: (3,) world-to-camera translation, metres.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world metres → (..., 3) camera metres."""
        return points_world @ self.R.T + self.t


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray | None = None) -> np.ndarray:
    """World-to-camera rotation (OpenCV axes) of a camera at ``eye`` looking at ``target``.

    The camera's y axis (image down) is aligned with world ``-up`` as far as possible.
    """
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    z = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    n = np.linalg.norm(x)
    if n < 1e-8:  # looking straight along up: any x perpendicular to z
        x = np.cross(z, np.array([1.0, 0.0, 0.0]))
        n = np.linalg.norm(x)
    x /= n
    y = np.cross(z, x)
    return np.stack([x, y, z])  # rows: camera axes in world coordinates


def project_points(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """`posekit.geometry.project` for numpy arrays: (..., 3) camera metres → (..., 2) px."""
    check_shape(points_cam, "points_cam", "... 3")
    check_shape(K, "K", "3 3")
    # The same formula as `project` (no distortion), in numpy: no tensor round trips (the
    # camera sampler projects a few times per sample).
    pts = np.asarray(points_cam, dtype=np.float64)
    K = np.asarray(K, np.float64)
    return (pts[..., :2] / pts[..., 2:3]) @ K[:2, :2].T + K[:2, 2]


@dataclass(frozen=True)
class CameraSampler:
    """Samples cameras that see a given set of world points (a person) in the image.

    Attributes:
        image_size: (H, W) pixels.
        vfov_deg: range of the vertical field of view, degrees (focal follows from it).
        elevation_deg: range of the camera elevation above the target, degrees.
        azimuth_deg: range of azimuth, degrees.
        roll_deg: maximum absolute roll, degrees.
        fill: range of the fraction of the image's larger side the person's box spans.
        principal_jitter: maximum principal-point offset as a fraction of the image size.
        out_of_view: probability of letting the person be partly out of view (the box centre
            is pushed towards an edge so 10–40% of the box is outside); 0 = always in view.
    """

    image_size: tuple[int, int] = (256, 256)
    vfov_deg: tuple[float, float] = (35.0, 65.0)
    elevation_deg: tuple[float, float] = (-10.0, 35.0)
    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    roll_deg: float = 10.0
    fill: tuple[float, float] = (0.55, 0.9)
    principal_jitter: float = 0.02
    out_of_view: float = 0.0

    def sample(self, points_world: np.ndarray, rng: np.random.Generator) -> CameraSample:
        """A camera that frames ``points_world`` (N, 3), e.g. a body's vertices or joints."""
        check_shape(points_world, "points_world", "N 3")
        H, W = self.image_size
        vfov = math.radians(rng.uniform(*self.vfov_deg))
        f = 0.5 * H / math.tan(0.5 * vfov)
        jitter = rng.uniform(-1, 1, size=2) * self.principal_jitter * np.array([W, H])
        cx, cy = (W - 1) / 2 + jitter[0], (H - 1) / 2 + jitter[1]
        K = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]], dtype=np.float64)

        lo, hi = points_world.min(0), points_world.max(0)
        target = (lo + hi) / 2
        radius = 0.5 * float(np.linalg.norm(hi - lo))
        az = math.radians(rng.uniform(*self.azimuth_deg))
        el = math.radians(rng.uniform(*self.elevation_deg))
        direction = np.array(
            [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
        )
        roll = math.radians(rng.uniform(-self.roll_deg, self.roll_deg))
        fill = rng.uniform(*self.fill)

        # Distance so that the projected extent spans `fill` of the image: start from the
        # bounding sphere, then correct by the measured extent (perspective makes it
        # non-linear; two corrections land within a few percent).
        dist = radius * f / (0.5 * fill * max(H, W)) + radius
        for _ in range(3):
            R, t = self._extrinsics(target, direction, dist, roll)
            uv = project_points(points_world @ R.T + t, K)
            extent = float((uv.max(0) - uv.min(0)).max())
            dist *= extent / (fill * max(H, W))
            dist = max(dist, radius * 1.2 + 0.1)
        R, t = self._extrinsics(target, direction, dist, roll)

        # Re-centre the box on the principal point by shifting the camera sideways, then
        # optionally push it partly out of view.
        cam = points_world @ R.T + t
        uv = project_points(cam, K)
        centre = (uv.min(0) + uv.max(0)) / 2
        box = uv.max(0) - uv.min(0)
        goal = np.array([cx, cy])
        if self.out_of_view > 0 and rng.uniform() < self.out_of_view:
            side = rng.integers(4)
            frac = rng.uniform(0.1, 0.4)
            axis, sign = side % 2, (-1 if side < 2 else 1)
            size = (W, H)[axis]
            goal[axis] = (size - 1) / 2 + sign * ((size - box[axis]) / 2 + frac * box[axis])
        else:
            slack = np.maximum((np.array([W, H]) - box) / 2 - 2, 0)
            goal += rng.uniform(-1, 1, size=2) * slack * 0.5
        depth = float(np.median(cam[:, 2]))
        t = t + np.array([*(-(centre - goal) * depth / f), 0.0])
        return CameraSample(K=K.astype(np.float32), R=R, t=t, image_size=(H, W))

    @staticmethod
    def _extrinsics(
        target: np.ndarray, direction: np.ndarray, dist: float, roll: float
    ) -> tuple[np.ndarray, np.ndarray]:
        eye = target + dist * direction
        R = look_at(eye, target)
        c, s = math.cos(roll), math.sin(roll)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ R
        return R, -R @ eye
