"""A structured-light depth sensor (Kinect v1-like) applied to a clean rendered depth map.

`simulate_depth_sensor` turns an exact depth map (``Renderer`` output: camera z in metres, 0
where no surface) into what a first-generation Kinect / PrimeSense camera would deliver:

1. **Projector shadows.** The IR projector sits ``projector_baseline_m`` (7.5 cm on the
   Kinect v1) to the side of the IR camera, so surfaces that the projector cannot see get no
   depth: a band on one side of every foreground object (left of it in the image for a
   projector on the camera's +x side, as on the Kinect v1), and small shadows of fingers on
   the palm. See `projector_shadow`.
2. **Axial noise.** Gaussian, with a standard deviation that grows with the square of the
   depth — the disparity error propagates to depth as ``σ_z ∝ z²`` (Khoshelham & Elberink,
   *Accuracy and resolution of Kinect depth data for indoor mapping applications*, Sensors
   12(2), 2012) — plus the incidence-angle term of Nguyen, Izadi & Lovell (*Modeling Kinect
   sensor noise for improved 3D reconstruction and tracking*, 3DIMPVT 2012)::

       σ(z, θ) = noise_sigma_m · (z / noise_ref_depth_m)² + angle_noise_m / √z · θ² / (π/2 − θ)²

   with z in metres and θ the angle between the viewing ray and the surface normal. The
   default, 1.5 mm at 0.5 m (0.5 mm at 0.3 m, 2.9 mm at 0.7 m), is of the order of the axial
   noise Nguyen et al. measured at hand distances (1.2–1.4 mm over 0.5–0.8 m).
3. **Missing pixels.** At depth discontinuities and silhouettes (the correlation window
   straddles two surfaces: each pixel with a 4-neighbour more than ``edge_jump_m`` away or
   empty is dropped with probability ``edge_dropout``); at grazing angles (the probability
   rises linearly from 0 at ``grazing_deg[0]`` to 1 at ``grazing_deg[1]``); in random blobs
   (IR-absorbing or specular patches: a smooth random field thresholded so that a fraction
   drawn from ``hole_fraction`` of the measured pixels is lost); and isolated pixels
   (``pixel_dropout``).
4. **Range and quantization.** Depths outside [``min_range_m``, ``max_range_m``] become 0;
   the rest are rounded to ``quantization_m`` (1 mm: the unit of NYU's and most datasets'
   depth PNGs).

Convention:
    Depth maps are (H, W) float32 camera z in metres, 0 = no measurement. The projector is at
    ``(projector_baseline_m, 0, 0)`` in the OpenCV camera frame, with rows as epipolar lines
    (a rectified pair); a negative baseline puts it on the -x side. All randomness comes from
    the numpy Generator passed in, in a fixed order: same input and seed, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posekit._checks import check_shape

__all__ = ["DepthSensorConfig", "noise_sigma", "projector_shadow", "simulate_depth_sensor"]


@dataclass(frozen=True)
class DepthSensorConfig:
    """Parameters of `simulate_depth_sensor` (see the module docstring for the model).

    Attributes:
        noise_sigma_m: axial noise σ at ``noise_ref_depth_m``, metres (0 disables the noise).
        noise_ref_depth_m: depth of that reference σ, metres.
        angle_noise_m: coefficient of the incidence-angle term, metres·√m (Nguyen 2012: 1e-4).
        quantization_m: depth step of the output, metres (0: no rounding).
        projector_baseline_m: projector offset along the camera's x axis (0: no shadows).
        grazing_deg: incidence angles (degrees) over which the dropout rises from 0 to 1;
            None: no grazing-angle dropout.
        edge_jump_m: depth step between 4-neighbours that counts as a discontinuity.
        edge_dropout: probability of losing a pixel at a discontinuity or silhouette.
        hole_fraction: (min, max) of the per-image fraction of measured pixels lost in blobs.
        hole_scale_px: size of the blobs' random-field cells, pixels.
        pixel_dropout: probability of losing any single pixel.
        min_range_m, max_range_m: measurable depth range, metres.
    """

    noise_sigma_m: float = 0.0015
    noise_ref_depth_m: float = 0.5
    angle_noise_m: float = 1e-4
    quantization_m: float = 0.001
    projector_baseline_m: float = 0.075
    grazing_deg: tuple[float, float] | None = (70.0, 88.0)
    edge_jump_m: float = 0.01
    edge_dropout: float = 0.5
    hole_fraction: tuple[float, float] = (0.0, 0.03)
    hole_scale_px: float = 5.0
    pixel_dropout: float = 0.001
    min_range_m: float = 0.0
    max_range_m: float = 4.0

    def __post_init__(self) -> None:
        for name in ("noise_sigma_m", "angle_noise_m", "quantization_m", "edge_jump_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.noise_ref_depth_m <= 0 or self.hole_scale_px <= 0:
            raise ValueError(
                "noise_ref_depth_m, hole_scale_px: expected > 0, got "
                f"{self.noise_ref_depth_m}, {self.hole_scale_px}"
            )
        for name in ("edge_dropout", "pixel_dropout"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: expected in [0, 1], got {getattr(self, name)}")
        lo, hi = self.hole_fraction
        if not 0 <= lo <= hi < 1:
            raise ValueError(f"hole_fraction: expected 0 <= min <= max < 1, got {lo}, {hi}")
        if self.grazing_deg is not None:
            g0, g1 = self.grazing_deg
            if not 0 <= g0 < g1 <= 90:
                raise ValueError(f"grazing_deg: expected 0 <= start < end <= 90, got {g0}, {g1}")
        if not 0 <= self.min_range_m < self.max_range_m:
            raise ValueError(
                f"min_range_m, max_range_m: expected 0 <= min < max, got "
                f"{self.min_range_m}, {self.max_range_m}"
            )

    @classmethod
    def noiseless(cls) -> DepthSensorConfig:
        """A sensor that returns the clean depth (no noise, holes, shadows or rounding)."""
        return cls(
            noise_sigma_m=0.0,
            angle_noise_m=0.0,
            quantization_m=0.0,
            projector_baseline_m=0.0,
            grazing_deg=None,
            edge_dropout=0.0,
            hole_fraction=(0.0, 0.0),
            pixel_dropout=0.0,
            max_range_m=1e6,
        )


def noise_sigma(
    depth_m: np.ndarray, cos_incidence: np.ndarray, config: DepthSensorConfig
) -> np.ndarray:
    """Standard deviation of the axial noise, metres (the module docstring's formula).

    Shapes:
        depth_m, cos_incidence: (...) -> (...) float32; depths must be > 0.
    """
    z = np.asarray(depth_m, np.float32)
    sigma = np.float32(config.noise_sigma_m / config.noise_ref_depth_m**2) * z * z
    if config.angle_noise_m > 0:
        # θ capped at 85°: the term explodes at 90°, where pixels are dropped anyway.
        theta = np.arccos(np.clip(np.abs(cos_incidence), np.cos(np.deg2rad(85.0)), 1.0))
        theta = theta.astype(np.float32)
        ratio = theta / (np.float32(np.pi / 2) - theta)
        sigma += np.float32(config.angle_noise_m) / np.sqrt(z) * ratio * ratio
    return sigma


def projector_shadow(depth_m: np.ndarray, fx: float, baseline_m: float) -> np.ndarray:
    """Pixels with depth that the projector cannot light (structured-light shadows).

    A pixel at column u and depth z is lit by projector column ``u_p = u - fx·b/z`` (rows are
    epipolar lines). Along a row, nearer surfaces are shifted further; a pixel is shadowed
    when some pixel to its right (for b > 0) has a smaller ``u_p``: by continuity a surface
    between them crosses the same projector ray closer to the projector. Surfaces the camera
    does not see are ignored.

    Args:
        depth_m: camera z in metres, 0 where no surface.
        fx: focal length in pixels.
        baseline_m: projector position along the camera's x axis (sign: which side).

    Shapes:
        depth_m: (H, W) -> (H, W) bool, True where a surface is shadowed.
    """
    check_shape(depth_m, "depth_m", "H W")
    depth = np.asarray(depth_m, np.float32)
    valid = depth > 0
    if baseline_m == 0 or not valid.any():
        return np.zeros(depth.shape, bool)
    if baseline_m < 0:  # mirror the problem: the projector on the -x side
        return projector_shadow(depth[:, ::-1], fx, -baseline_m)[:, ::-1].copy()
    # Only the bounding box of the surfaces matters (empty pixels neither shadow nor are
    # shadowed): work there, with the same column values as on the whole image (same bits).
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box, vbox = depth[r0:r1, c0:c1], valid[r0:r1, c0:c1]
    # projector columns, reversed left-right so that "to the right" becomes a prefix
    up = np.full(box.shape, np.inf, np.float32)  # empty pixels never shadow anything
    np.divide(np.float32(-fx * baseline_m), box[:, ::-1], out=up, where=vbox[:, ::-1])
    up += np.arange(c1 - 1, c0 - 1, -1, dtype=np.float32)
    # min over the columns strictly to the right: a cumulative minimum, shifted by one
    before = np.empty_like(up)
    before[:, 0] = np.inf
    np.minimum.accumulate(up[:, :-1], axis=1, out=before[:, 1:])
    out = np.zeros(depth.shape, bool)
    out[r0:r1, c0:c1] = (before < up)[:, ::-1] & vbox
    return out


def _edge_pixels(depth: np.ndarray, valid: np.ndarray, jump_m: float) -> np.ndarray:
    """Measured pixels with a 4-neighbour that is empty or more than ``jump_m`` away."""
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        a = np.swapaxes(depth, 0, axis)
        va = np.swapaxes(valid, 0, axis)
        e = np.swapaxes(edge, 0, axis)  # a view: writes go to ``edge``
        jump = (np.abs(a[1:] - a[:-1]) > jump_m) | (va[1:] != va[:-1])
        e[1:] |= jump
        e[:-1] |= jump
    return edge & valid


def simulate_depth_sensor(
    depth_m: np.ndarray,
    cos_incidence: np.ndarray,
    fx: float,
    rng: np.random.Generator,
    config: DepthSensorConfig | None = None,
) -> np.ndarray:
    """Apply the sensor model of the module docstring to a clean depth map.

    Args:
        depth_m: clean depth, camera z in metres, 0 where no surface.
        cos_incidence: |cos| of the angle between each pixel's viewing ray and the surface
            normal there (any value where there is no surface).
        fx: focal length in pixels (for the projector shadows).
        rng: the only source of randomness.
        config: the sensor; default `DepthSensorConfig()`.

    Returns:
        The measured depth, float32 metres, 0 where no measurement.

    Shapes:
        depth_m, cos_incidence: (H, W) -> (H, W).
    """
    cfg = DepthSensorConfig() if config is None else config
    dims = check_shape(depth_m, "depth_m", "H W")
    check_shape(cos_incidence, "cos_incidence", "H W", dims)
    clean = np.asarray(depth_m, np.float32)
    valid = clean > 0
    # Work on the N measured pixels only (row-major order): all draws are per such pixel.
    idx = np.flatnonzero(valid)
    z = np.take(clean.reshape(-1), idx)
    keep = ~np.take(projector_shadow(clean, fx, cfg.projector_baseline_m).reshape(-1), idx)

    # Axial noise (one normal draw per pixel).
    cos = np.abs(np.take(np.asarray(cos_incidence, np.float32).reshape(-1), idx))
    noisy = z
    if cfg.noise_sigma_m > 0 or cfg.angle_noise_m > 0:
        noisy = z + noise_sigma(z, cos, cfg) * rng.standard_normal(len(idx), dtype=np.float32)

    # Grazing angles (dropout rising linearly over grazing_deg) and single pixels: one draw.
    p_lost = np.full(len(idx), np.float32(cfg.pixel_dropout))
    if cfg.grazing_deg is not None:
        c0, c1 = np.cos(np.deg2rad(cfg.grazing_deg)).astype(np.float32)
        p_graze = np.clip((c0 - cos) / (c0 - c1), np.float32(0.0), np.float32(1.0))
        p_lost += p_graze * (np.float32(1.0) - p_lost)
    keep &= rng.random(len(idx), dtype=np.float32) >= p_lost

    # Discontinuities and silhouettes (one draw per edge pixel).
    if cfg.edge_dropout > 0:
        edge = np.flatnonzero(np.take(_edge_pixels(clean, valid, cfg.edge_jump_m), idx))
        keep[edge[rng.random(len(edge)) < cfg.edge_dropout]] = False

    # Blobs: a smooth random field, thresholded at the quantile that loses ``frac`` pixels.
    frac = rng.uniform(*cfg.hole_fraction)
    if frac > 0 and len(idx):
        H, W = clean.shape
        s = cfg.hole_scale_px
        coarse = rng.standard_normal((int(np.ceil(H / s)) + 1, int(np.ceil(W / s)) + 1))
        field = cv2.resize(coarse.astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
        values = np.take(field.reshape(-1), idx)
        k = min(len(values) - 1, round((1.0 - frac) * len(values)))
        keep &= values < np.partition(values, k)[k]

    if cfg.quantization_m > 0:
        q = np.float32(cfg.quantization_m)
        noisy = np.round(noisy / q) * q
    keep &= (noisy >= cfg.min_range_m) & (noisy <= cfg.max_range_m) & (noisy > 0)
    out = np.zeros(clean.shape, np.float32)
    out.reshape(-1)[idx] = np.where(keep, noisy, np.float32(0.0))
    return out
