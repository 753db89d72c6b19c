"""Speed of the synthetic engine's renderer, backgrounds and occluders, per sample.

Renders a ~14k-vertex mannequin (capsules and spheres, like the 13,718-vertex anny body) at
256×256 with Mesa's llvmpipe through EGL, recomputing smooth normals every frame as a posed
body needs, and prints a table of milliseconds and samples per second.

Usage:
    python benchmarks/render.py [--size 256] [--iters 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from posekit.data.synthetic.occluders import OccluderConfig, paste_occluders
from posekit.data.synthetic.render import (
    MeshInstance,
    Renderer,
    get_gl_context,
    random_light_direction,
)
from posekit.data.synthetic.textures import body_part_colors, random_background

PARTS = {"head": 0, "torso": 1, "upperarm": 2, "forearm": 3, "hand": 4, "thigh": 5, "shin": 6}
PARTS |= {"foot": 7}


def mannequin() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A standing figure of capsules, ~14k vertices, 1.75 m, in a y-down body frame (metres).

    Returns:
        vertices (V, 3) float32, faces (F, 3) int64, part ids (V,) int64.
    """
    import trimesh

    pieces = []  # (mesh, part)

    def capsule(a, b, radius, part, count=(30, 30)):
        a, b = np.asarray(a, float), np.asarray(b, float)
        m = trimesh.creation.capsule(height=np.linalg.norm(b - a), radius=radius, count=count)
        axis = (b - a) / np.linalg.norm(b - a)
        m.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], axis))
        m.apply_translation((a + b) / 2)
        pieces.append((m, part))

    head = trimesh.creation.uv_sphere(radius=0.11, count=[40, 40])
    head.apply_translation([0, -1.62, 0])
    pieces.append((head, "head"))
    capsule([0, -1.45, 0], [0, -0.95, 0], 0.16, "torso", (48, 48))
    for s in (-1, 1):
        capsule([0.2 * s, -1.42, 0], [0.3 * s, -1.15, 0.05], 0.05, "upperarm")
        capsule([0.3 * s, -1.15, 0.05], [0.34 * s, -0.9, 0.12], 0.045, "forearm")
        capsule([0.34 * s, -0.9, 0.12], [0.35 * s, -0.8, 0.15], 0.04, "hand", (20, 20))
        capsule([0.1 * s, -0.92, 0], [0.12 * s, -0.5, 0.03], 0.075, "thigh")
        capsule([0.12 * s, -0.5, 0.03], [0.13 * s, -0.1, 0.0], 0.06, "shin")
        capsule([0.13 * s, -0.05, -0.02], [0.14 * s, -0.03, 0.16], 0.045, "foot", (20, 20))
    verts, faces, parts, offset = [], [], [], 0
    for m, part in pieces:
        verts.append(np.asarray(m.vertices, np.float32))
        faces.append(np.asarray(m.faces, np.int64) + offset)
        parts.append(np.full(len(m.vertices), PARTS[part]))
        offset += len(m.vertices)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(parts)


def per_call_ms(fn: Callable[[], object], iters: int, repeats: int = 5) -> tuple[float, float]:
    """(best, median) milliseconds per call over ``repeats`` runs of ``iters // repeats`` calls.

    The best run is the least disturbed by other processes (llvmpipe uses every core, so any
    concurrent load slows it), as with `timeit`; the median shows the typical cost.
    """
    for _ in range(max(3, iters // 20)):
        fn()
    n = max(1, iters // repeats)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e3)
    return min(runs), float(np.median(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image height and width")
    parser.add_argument("--iters", type=int, default=300, help="timed iterations per case")
    args = parser.parse_args()
    size, iters = args.size, args.iters

    ctx = get_gl_context()
    verts, faces, parts = mannequin()
    f = 1.2 * size  # ~45 degree field of view
    K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
    rng = np.random.default_rng(0)
    renderer = Renderer(size, size)
    bg = random_background(rng, size, size)

    def person(x: float, z: float) -> MeshInstance:
        v = verts + np.float32([x, 0.85, z])  # centred vertically in the camera frame
        return MeshInstance(v, faces, part_ids=parts, part_colors=body_part_colors(PARTS, rng))

    one = [person(0.0, 2.6)]
    three = [person(-0.55, 3.0), person(0.0, 2.6), person(0.6, 3.4)]
    box = np.array([[0.3 * size, 0.05 * size, 0.7 * size, 0.95 * size]])
    always = OccluderConfig(probability=1.0)
    light = random_light_direction(rng)

    def full_sample() -> None:
        b = random_background(rng, size, size)
        out = renderer.render(one, K, b, light_dir=random_light_direction(rng))
        paste_occluders(out.rgb, rng, box)

    cases = [
        ("render, 1 mesh", lambda: renderer.render(one, K, bg, light_dir=light)),
        ("render, 3 meshes", lambda: renderer.render(three, K, bg, light_dir=light)),
        ("random_background", lambda: random_background(rng, size, size)),
        ("paste_occluders (p=1, 1-8 objects)", lambda: paste_occluders(bg, rng, box, always)),
        ("paste_occluders (default p=0.5)", lambda: paste_occluders(bg, rng, box)),
        ("body_part_colors", lambda: body_part_colors(PARTS, rng)),
        ("sample: background+render 1+occluders", full_sample),
    ]
    print(f"# {platform.node()} | {os.cpu_count()} CPUs | {ctx.info['GL_RENDERER']}")
    print(f"# {size}x{size}, mesh: {len(verts)} vertices, {len(faces)} faces, {iters} iters\n")
    print(f"| {'case':<40} | {'best ms':>8} | {'median ms':>9} | {'best /s':>8} |")
    print(f"|{'-' * 42}|{'-' * 9}:|{'-' * 10}:|{'-' * 9}:|")
    for name, fn in cases:
        best, median = per_call_ms(fn, iters)
        print(f"| {name:<40} | {best:8.2f} | {median:9.2f} | {1e3 / best:8.0f} |")


if __name__ == "__main__":
    main()
