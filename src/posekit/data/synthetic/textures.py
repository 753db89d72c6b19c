"""Procedural textures and backgrounds, and clothing / skin colours for synthetic bodies.

Everything here is fast numpy / OpenCV (a 256×256 background costs about a millisecond) and
seed-deterministic: all randomness comes from the ``numpy.random.Generator`` passed in, so the
same generator state gives the same bytes.

Scalar fields (``value_noise``, ``stripes``, ``checker``, ``gradient``) are (H, W) float32 in
[0, 1]; ``colorize`` maps one through a colour palette. ``random_texture`` and
``random_background`` mix all kinds, including random crops of the few person-free pictures
that matplotlib ships (see `photo_names`); matplotlib's ``grace_hopper.jpg`` is a portrait and
is never used, since an unlabelled person in a background would be a wrong label.

Convention:
    Images are (H, W, 3) uint8 RGB (not OpenCV's BGR); colours as floats are RGB in [0, 1].
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

__all__ = [
    "TEXTURE_KINDS",
    "body_part_colors",
    "checker",
    "colorize",
    "gradient",
    "photo_names",
    "random_background",
    "random_palette",
    "random_texture",
    "sample_photo",
    "stripes",
    "value_noise",
]

TEXTURE_KINDS = ("noise", "marble", "stripes", "checker", "gradient", "photo")
"""Kinds that `random_texture` draws from, uniformly unless weights are given."""


def _check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise ValueError(f"height, width: expected positive sizes, got {height}, {width}")


def value_noise(
    rng: np.random.Generator,
    height: int,
    width: int,
    octaves: int = 5,
    base_cells: float = 3.0,
    persistence: float = 0.5,
    anisotropy: float = 1.0,
) -> np.ndarray:
    """Multi-octave value noise (fractal), rescaled to span [0, 1].

    Each octave is a grid of uniform random values, ``base_cells · 2^o`` cells across the
    image (times ``anisotropy`` along x), upsampled with bicubic interpolation and weighted by
    ``persistence^o``.

    Shapes:
        -> (height, width) float32 in [0, 1].
    """
    _check_size(height, width)
    out = np.zeros((height, width), np.float32)
    amp = 1.0
    for o in range(octaves):
        cy = max(1, round(base_cells * 2**o))
        cx = max(1, round(base_cells * anisotropy * 2**o))
        grid = rng.random((cy + 1, cx + 1), dtype=np.float32)
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amp *= persistence
    return _normalize(out)


def _normalize(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return ((x - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _rotated_coords(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Pixel coordinates projected on a random direction, in units of the image diagonal."""
    theta = rng.uniform(0, np.pi)
    diag = float(np.hypot(height, width))
    ys = np.arange(height, dtype=np.float32)[:, None] * np.float32(np.sin(theta) / diag)
    xs = np.arange(width, dtype=np.float32)[None, :] * np.float32(np.cos(theta) / diag)
    return ys + xs  # (H, W)


def stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Parallel stripes at a random angle, period and edge sharpness.

    Shapes:
        -> (height, width) float32 in [0, 1].
    """
    _check_size(height, width)
    t = _rotated_coords(rng, height, width)
    period = rng.uniform(0.03, 0.25)
    wave = np.sin(t * np.float32(2 * np.pi / period) + np.float32(rng.uniform(0, 2 * np.pi)))
    sharp = np.float32(rng.uniform(1.0, 12.0))
    return (0.5 + 0.5 * np.tanh(sharp * wave) / np.tanh(sharp)).astype(np.float32)


def checker(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A checkerboard with random cell size and rotation (values 0 and 1).

    Shapes:
        -> (height, width) float32 in {0, 1}.
    """
    _check_size(height, width)
    cell = rng.uniform(0.03, 0.2) * float(np.hypot(height, width))
    theta = rng.uniform(0, np.pi / 2)
    c, s = np.float32(np.cos(theta) / cell), np.float32(np.sin(theta) / cell)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    a = np.floor(xs * c + ys * s).astype(np.int32)
    b = np.floor(ys * c - xs * s).astype(np.int32)
    return ((a + b) & 1).astype(np.float32)


def gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A linear (random direction) or radial (random centre) gradient.

    Shapes:
        -> (height, width) float32 in [0, 1].
    """
    _check_size(height, width)
    if rng.random() < 0.5:
        return _normalize(_rotated_coords(rng, height, width))
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    ys = (np.arange(height, dtype=np.float32)[:, None] - np.float32(cy)) ** 2
    xs = (np.arange(width, dtype=np.float32)[None, :] - np.float32(cx)) ** 2
    return _normalize(np.sqrt(ys + xs))


def random_palette(rng: np.random.Generator, n_colors: int = 4) -> np.ndarray:
    """Colours around one random hue (analogous or complementary), with varied value.

    Shapes:
        -> (n_colors, 3) float32 RGB in [0, 1].
    """
    base = rng.uniform(0, 360)
    spread = rng.choice([20.0, 40.0, 180.0])  # analogous, wider, complementary
    hues = (base + spread * rng.integers(0, 2, n_colors) + rng.normal(0, 12, n_colors)) % 360
    sats = rng.uniform(0.05, 0.85, n_colors)
    vals = rng.uniform(0.15, 1.0, n_colors)
    hsv = np.stack([hues / 2, sats * 255, vals * 255], axis=1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255.0


def colorize(field: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map a scalar field in [0, 1] through a palette (piecewise linear, evenly spaced stops).

    Shapes:
        field: (H, W) float in [0, 1]; palette: (N, 3) float RGB in [0, 1], N >= 1
        -> (H, W, 3) uint8.
    """
    if field.ndim != 2:
        raise ValueError(f"field: expected (H, W), got {field.shape}")
    if palette.ndim != 2 or palette.shape[1] != 3 or len(palette) < 1:
        raise ValueError(f"palette: expected (N, 3) with N >= 1, got {palette.shape}")
    stops = np.linspace(0.0, 1.0, len(palette)) if len(palette) > 1 else np.zeros(1)
    levels = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(levels, stops, palette[:, c]) for c in range(3)], axis=1)
    lut = np.clip(lut * 255 + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    idx = np.clip(field * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([idx, idx, idx]), lut)


@functools.cache
def _photos() -> dict[str, np.ndarray]:
    """Person-free pictures shipped by matplotlib, as RGB uint8 (loaded once per process).

    The Jacksboro and topobathy elevation maps are hill-shaded into aerial-view pictures
    with earthy colour maps; ``grace_hopper.jpg`` (a person) is deliberately left out.
    """
    import matplotlib
    from matplotlib import colormaps
    from matplotlib.colors import LightSource

    root = os.path.join(matplotlib.get_data_path(), "sample_data")
    photos: dict[str, np.ndarray] = {}
    ls = LightSource(azdeg=315, altdeg=45)
    for name, file, key in (
        ("jacksboro", "jacksboro_fault_dem.npz", "elevation"),
        ("topobathy", "topobathy.npz", "topo"),
    ):
        path = os.path.join(root, file)
        if not os.path.exists(path):  # pragma: no cover - depends on the matplotlib build
            continue
        with np.load(path) as data:
            z = np.asarray(data[key], np.float64)
        for cmap in ("gist_earth", "terrain", "copper"):
            rgb = ls.shade(z, cmap=colormaps[cmap], blend_mode="overlay", vert_exag=0.05)
            photos[f"{name}_{cmap}"] = (rgb[..., :3] * 255 + 0.5).astype(np.uint8)
    gift = os.path.join(root, "Minduka_Present_Blue_Pack.png")
    if os.path.exists(gift):
        bgra = cv2.imread(gift, cv2.IMREAD_UNCHANGED)
        if bgra is not None and bgra.ndim == 3 and bgra.shape[2] == 4:
            alpha = bgra[..., 3:].astype(np.float32) / 255
            rgb = bgra[..., 2::-1].astype(np.float32) * alpha + 255 * (1 - alpha)
            photos["gift"] = rgb.astype(np.uint8)
    return photos


def photo_names() -> list[str]:
    """Names of the bundled person-free pictures that `sample_photo` crops from."""
    return sorted(_photos())


def sample_photo(
    rng: np.random.Generator, height: int, width: int, name: str | None = None
) -> np.ndarray:
    """A random crop of a bundled picture, rescaled, flipped / rotated and colour-jittered.

    Args:
        name: one of `photo_names`, or None for a random one.

    Shapes:
        -> (height, width, 3) uint8.
    """
    _check_size(height, width)
    photos = _photos()
    if not photos:  # pragma: no cover - depends on the matplotlib build
        return colorize(value_noise(rng, height, width), random_palette(rng))
    names = sorted(photos)
    img = photos[name if name is not None else names[rng.integers(len(names))]]
    ih, iw = img.shape[:2]
    frac = rng.uniform(0.35, 1.0)  # crop side relative to the largest crop of the right aspect
    scale = min(ih / height, iw / width) * frac
    ch, cw = max(2, int(height * scale)), max(2, int(width * scale))
    y0, x0 = rng.integers(0, ih - ch + 1), rng.integers(0, iw - cw + 1)
    crop = img[y0 : y0 + ch, x0 : x0 + cw]
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    gain = rng.uniform(0.7, 1.2, 3).astype(np.float32)  # per-channel brightness / tint
    return np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def random_texture(
    rng: np.random.Generator,
    height: int,
    width: int,
    kinds: Sequence[str] = TEXTURE_KINDS,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """One random texture of a kind drawn from ``kinds`` (see `TEXTURE_KINDS`).

    Patterns are coloured with a `random_palette` and modulated by low-frequency noise so
    that no two look flat alike.

    Shapes:
        -> (height, width, 3) uint8.
    """
    _check_size(height, width)
    unknown = set(kinds) - set(TEXTURE_KINDS)
    if unknown or not kinds:
        raise ValueError(f"kinds: expected a non-empty subset of {TEXTURE_KINDS}, got {kinds}")
    p = None
    if weights is not None:
        p = np.asarray(weights, np.float64)
        if p.shape != (len(kinds),) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"weights: expected {len(kinds)} weights >= 0, got {weights}")
        p = p / p.sum()
    kind = kinds[rng.choice(len(kinds), p=p)]
    if kind == "photo":
        return sample_photo(rng, height, width)
    if kind == "noise":
        field = value_noise(
            rng, height, width, base_cells=rng.uniform(1.5, 6), persistence=rng.uniform(0.35, 0.7)
        )
    elif kind == "marble":  # stripes bent by turbulence: wood, marble, fabric
        t = _rotated_coords(rng, height, width)
        warp = value_noise(rng, height, width, octaves=4, base_cells=rng.uniform(1, 3))
        freq = np.float32(rng.uniform(4, 25))
        field = 0.5 + 0.5 * np.sin((t * freq + warp * np.float32(rng.uniform(1, 5))) * 2 * np.pi)
    elif kind == "stripes":
        field = stripes(rng, height, width)
    elif kind == "checker":
        field = checker(rng, height, width)
    else:
        field = gradient(rng, height, width)
    img = colorize(field.astype(np.float32), random_palette(rng, int(rng.integers(2, 5))))
    shade = value_noise(rng, height, width, octaves=2, base_cells=1.5)  # uneven lighting
    gain = np.float32(1.0 - rng.uniform(0.0, 0.5)) + np.float32(rng.uniform(0.0, 0.5)) * shade
    return np.clip(img * gain[..., None], 0, 255).astype(np.uint8)


def random_background(
    rng: np.random.Generator, height: int, width: int, photo_probability: float = 0.25
) -> np.ndarray:
    """A background image: a bundled photo crop (``photo_probability``) or a procedural one.

    Procedural backgrounds split the image at a random horizon into a "wall" and a "floor"
    texture half of the time, so scenes are not all one pattern.

    Shapes:
        -> (height, width, 3) uint8.
    """
    _check_size(height, width)
    if rng.random() < photo_probability:
        return sample_photo(rng, height, width)
    kinds = TEXTURE_KINDS[:-1]
    img = random_texture(rng, height, width, kinds)
    if rng.random() < 0.5:
        floor = random_texture(rng, height, width, kinds)
        horizon = int(rng.uniform(0.4, 0.85) * height)
        img[horizon:] = floor[horizon:]
    return img


# Body colours ---------------------------------------------------------------------------------

# Realistic skin tones (sRGB, light to dark), after common photographic skin-tone scales;
# a tone is drawn on the polyline through them, then jittered slightly.
_SKIN_TONES = np.array(
    [
        [0.98, 0.87, 0.78],
        [0.94, 0.78, 0.66],
        [0.87, 0.68, 0.55],
        [0.76, 0.57, 0.42],
        [0.63, 0.44, 0.30],
        [0.47, 0.31, 0.20],
        [0.33, 0.21, 0.14],
    ],
    np.float32,
)
_NEUTRALS = np.array(
    [
        [0.08, 0.08, 0.09],  # black
        [0.92, 0.92, 0.90],  # white
        [0.45, 0.46, 0.48],  # grey
        [0.12, 0.16, 0.32],  # navy
        [0.25, 0.36, 0.55],  # denim
        [0.70, 0.62, 0.45],  # khaki
        [0.40, 0.27, 0.17],  # brown
        [0.33, 0.37, 0.22],  # olive
        [0.55, 0.10, 0.12],  # burgundy
    ],
    np.float32,
)

# Part-name keywords, checked in this order on the lower-cased name with non-letters removed
# (so "lower_arm.L" -> "lowerarml"). The first group whose keyword occurs decides the role.
_ROLE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hair", ("hair",)),
    ("skin", ("head", "face", "eye", "jaw", "neck", "hand", "finger", "thumb", "wrist", "palm")),
    ("skin", ("metacarpal", "nose", "lip", "mouth", "cheek", "chin", "brow", "tongue")),
    ("skin", ("oris", "oculi", "orbicularis", "levator", "risorius", "temporalis", "masseter")),
    ("shoe", ("foot", "feet", "toe", "ankle", "heel", "shoe")),
    ("forearm", ("lowerarm", "forearm", "elbow")),
    ("upperarm", ("upperarm", "shoulder", "clavicle", "arm")),
    ("bottom", ("pelvis", "hip", "root", "glute", "upperleg", "upleg", "thigh", "knee")),
    ("shin", ("lowerleg", "calf", "shin", "leg")),
    ("top", ("spine", "chest", "torso", "abdomen", "belly", "back", "trunk", "breast")),
)


def _part_role(name: str) -> str:
    key = re.sub(r"[^a-z]", "", name.lower())
    for role, words in _ROLE_KEYWORDS:
        if any(w in key for w in words):
            return role
    return "top"


def _clothing_color(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.55:
        c = _NEUTRALS[rng.integers(len(_NEUTRALS))]
    else:
        c = random_palette(rng, 1)[0]
    return np.clip(c * rng.uniform(0.85, 1.15), 0, 1).astype(np.float32)


def body_part_colors(part_ids: Mapping[str, int], rng: np.random.Generator) -> np.ndarray:
    """Albedo per body part for one person: skin, a top, a bottom and shoes.

    The role of each part is guessed from its name (case and punctuation ignored), first
    match wins: ``hair``; skin: head, face, eye, jaw, neck, hand, finger, thumb, wrist, palm,
    metacarpal, nose, lip, mouth, cheek, chin, brow, tongue and facial muscles (oris, oculi,
    orbicularis, levator, risorius, temporalis, masseter); shoes: foot, toe, ankle, heel;
    sleeves: lowerarm, forearm, elbow, then upperarm, shoulder, clavicle, arm; bottoms:
    pelvis, hip, root, glute, upperleg, upleg, thigh, knee, then lowerleg, calf, shin, leg;
    anything else (spine, chest, torso ...) wears the top. An outfit draws sleeve length
    (none, short, long) and leg length (shorts, long), so forearms, upper arms and shins show
    skin when uncovered.

    Args:
        part_ids: part name -> part id (ids >= 0; several names may share an id, the first
            name decides). The ids index the returned table, e.g. for
            ``MeshInstance(part_ids=..., part_colors=...)``.
        rng: the random generator.

    Shapes:
        -> (max id + 1, 3) float32 RGB in [0, 1]; ids not named get the top's colour.
    """
    if not part_ids:
        raise ValueError("part_ids: expected a non-empty mapping name -> id, got {}")
    if min(part_ids.values()) < 0:
        raise ValueError(f"part_ids: expected ids >= 0, got {dict(part_ids)}")
    t = rng.uniform(0, len(_SKIN_TONES) - 1)
    i = min(int(t), len(_SKIN_TONES) - 2)
    skin = (1 - (t - i)) * _SKIN_TONES[i] + (t - i) * _SKIN_TONES[i + 1]
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 1)
    top, bottom = _clothing_color(rng), _clothing_color(rng)
    shoe = _NEUTRALS[rng.choice([0, 0, 1, 2, 6])] * rng.uniform(0.8, 1.1)
    hair = np.array([0.10, 0.07, 0.05]) * rng.uniform(0.6, 3.5)
    sleeves = rng.choice(3, p=[0.15, 0.45, 0.40])  # 0 none, 1 short, 2 long
    long_legs = rng.random() < 0.75
    roles = {
        "hair": hair,
        "skin": skin,
        "shoe": shoe,
        "forearm": top if sleeves == 2 else skin,
        "upperarm": top if sleeves >= 1 else skin,
        "bottom": bottom,
        "shin": bottom if long_legs else skin,
        "top": top,
    }
    table = np.tile(top, (max(part_ids.values()) + 1, 1)).astype(np.float32)
    seen: set[int] = set()
    for name, pid in part_ids.items():
        if pid not in seen:
            table[pid] = np.clip(roles[_part_role(name)], 0, 1)
            seen.add(pid)
    return table
