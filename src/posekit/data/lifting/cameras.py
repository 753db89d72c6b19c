"""Virtual cameras for lifting: random pinhole cameras around a person, batched in torch.

The defaults mimic Human3.6M's four cameras (focal ~1145-1150 px, 1000 x 1000 images,
~1.5 m high, 3.5-6 m from the subject, looking slightly down, almost no roll), but from any
direction around the person, so a lifter does not learn four viewpoints by heart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from posekit.geometry.camera import Camera

__all__ = ["VirtualCameraSampler"]


def _check_range(name: str, value: tuple[float, float], low: float = -math.inf) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1]:
        raise ValueError(f"{name}: expected (min, max) with {low} <= min <= max, got {value}")


@dataclass(frozen=True)
class VirtualCameraSampler:
    """Random cameras looking at a person whose root (pelvis) is at the world origin.

    Per camera: an azimuth about world Z, an elevation above the horizontal plane, a distance,
    a focal length ``focal_px * (1 + U(-focal_jitter, focal_jitter))`` (square pixels), a roll
    about the optical axis, and an aim point ``U(-aim_jitter_m, aim_jitter_m)`` per world axis
    from the root: the camera sits at ``distance_m`` from the aim point and looks at it, so the
    root lands near, not exactly on, the principal point (like a person walking around a
    Human3.6M capture area seen by fixed cameras).

    Attributes:
        image_size: (H, W) in pixels; the principal point is the image centre
            ``((W - 1) / 2, (H - 1) / 2)`` (pixel centres at integer coordinates).
        focal_px: mean focal length, pixels (Human3.6M: 1145-1150).
        focal_jitter: relative half-range of the focal length.
        azimuth_deg: range of the camera's azimuth about world Z, degrees (from +X toward +Y).
        elevation_deg: range of the camera's elevation above the aim point, degrees
            (positive: the camera looks down).
        distance_m: range of the camera's distance to the aim point, metres.
        roll_deg: range of the roll about the optical axis, degrees.
        aim_jitter_m: half-range of the aim point's offset from the root per axis, metres.

    Shapes:
        sample(B) -> `posekit.geometry.Camera` with K (B, 3, 3), R (B, 3, 3), t (B, 3).

    Convention:
        World frame Z up, metres (the pose pools' frame). Camera frame OpenCV (x right, y down,
        z forward), ``x_cam = R @ x_world + t``. With zero roll the camera's x axis is
        horizontal and world up points up in the image.
    """

    image_size: tuple[int, int] = (1000, 1000)
    focal_px: float = 1150.0
    focal_jitter: float = 0.1
    azimuth_deg: tuple[float, float] = (-180.0, 180.0)
    elevation_deg: tuple[float, float] = (-5.0, 25.0)
    distance_m: tuple[float, float] = (3.5, 6.0)
    roll_deg: tuple[float, float] = (-5.0, 5.0)
    aim_jitter_m: float = 0.3

    def __post_init__(self) -> None:
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"image_size: expected (H, W) >= 1, got {self.image_size}")
        if self.focal_px <= 0 or not 0 <= self.focal_jitter < 1:
            raise ValueError(
                f"focal_px, focal_jitter: expected > 0 and in [0, 1), got {self.focal_px}, "
                f"{self.focal_jitter}"
            )
        _check_range("azimuth_deg", self.azimuth_deg)
        _check_range("elevation_deg", self.elevation_deg)
        if max(abs(e) for e in self.elevation_deg) >= 90:
            raise ValueError(f"elevation_deg: expected within (-90, 90), got {self.elevation_deg}")
        _check_range("distance_m", self.distance_m, 0.0)
        _check_range("roll_deg", self.roll_deg)
        if self.aim_jitter_m < 0:
            raise ValueError(f"aim_jitter_m: expected >= 0, got {self.aim_jitter_m}")

    @property
    def principal_point_px(self) -> tuple[float, float]:
        """(cx, cy): the image centre, pixels."""
        H, W = self.image_size
        return ((W - 1) / 2.0, (H - 1) / 2.0)

    def sample(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Camera:
        """Draw ``batch_size`` cameras.

        Args:
            batch_size: B.
            generator: the source of every draw (one ``torch.rand(B, 8)``); None: torch's
                global generator. Draws are made on the generator's device, then moved.
            dtype: floating dtype of the result.
            device: device of the result (default: the generator's).

        Returns:
            A batched `Camera` (no distortion).
        """
        B = int(batch_size)
        gen_device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(B, 8, generator=generator, dtype=torch.float64, device=gen_device)
        u = u.to(device=device if device is not None else gen_device)

        def lerp(col: int, lo_hi: tuple[float, float]) -> torch.Tensor:
            return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * u[:, col]  # (B,)

        az = torch.deg2rad(lerp(0, self.azimuth_deg))
        el = torch.deg2rad(lerp(1, self.elevation_deg))
        dist = lerp(2, self.distance_m)
        focal = self.focal_px * (1.0 + self.focal_jitter * (2.0 * u[:, 3] - 1.0))
        roll = torch.deg2rad(lerp(4, self.roll_deg))
        aim = self.aim_jitter_m * (2.0 * u[:, 5:8] - 1.0)  # (B, 3)

        # Unit vector from the aim point to the camera; the camera looks along its opposite.
        away = torch.stack((el.cos() * az.cos(), el.cos() * az.sin(), el.sin()), dim=-1)
        center = aim + dist[:, None] * away  # (B, 3) camera centre, world
        forward = -away
        up = torch.tensor([0.0, 0.0, 1.0], dtype=u.dtype, device=u.device).expand(B, 3)
        right = torch.linalg.cross(forward, up)
        right = right / right.norm(dim=-1, keepdim=True)  # |el| < 90 deg: never degenerate
        down = torch.linalg.cross(forward, right)  # OpenCV y = z x x
        c, s = roll.cos()[:, None], roll.sin()[:, None]
        x_axis = c * right + s * down  # roll: rotate x, y about the optical axis
        y_axis = c * down - s * right
        R = torch.stack((x_axis, y_axis, forward), dim=1)  # (B, 3, 3), rows = camera axes
        t = -(R @ center[:, :, None])[:, :, 0]  # (B, 3)
        cx, cy = self.principal_point_px
        K = torch.zeros(B, 3, 3, dtype=u.dtype, device=u.device)
        K[:, 0, 0], K[:, 1, 1] = focal, focal
        K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = cx, cy, 1.0
        return Camera(K=K.to(dtype), R=R.to(dtype), t=t.to(dtype))
