"""Write a synthetic dataset as shards, in parallel, resumably.

``synthesize(out, task, num, seed, ...)`` fills ``out`` with ``shard-NNNNN.zip`` files and a
``manifest.json``. Shard ``k`` holds samples ``[k * shard_size, (k + 1) * shard_size)``; each
sample draws only from ``sample_rng(seed, index)``, so shards are identical whichever worker,
process or machine writes them. Use ``shards=(a, b)`` to write only shards ``a..b-1`` (e.g.
one range per machine into a shared directory; the manifest then lists what is present).

A run killed at any point is finished by running the same command again: complete shards are
checked against their checksum and kept, temporary files are removed, missing shards are made.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from posekit import __version__
from posekit._io import atomic_write
from posekit.data.sample import Sample
from posekit.data.synthetic.shards import (
    MANIFEST,
    Manifest,
    ShardInfo,
    read_manifest,
    sample_rng,
    sha256_file,
    shard_bytes,
)

__all__ = [
    "DEFAULT_SIZES",
    "GENERATORS",
    "make_generator",
    "single_thread_worker",
    "synthesize",
]

# task name → "module:factory"; factory(size=(H, W), **options) returns a callable
# (index, rng) -> Sample. Imported lazily so workers only load what their task needs.
GENERATORS: dict[str, str] = {
    "body": "posekit.data.synthetic.generate:BodySceneGenerator",
    "hand": "posekit.data.synthetic.hands:HandDepthGenerator",
}
# Default (H, W) per task: RGB person images; depth maps of a hand sensor.
DEFAULT_SIZES: dict[str, tuple[int, int]] = {"body": (256, 256), "hand": (240, 320)}

SampleFn = Callable[[int, Any], Sample]


def make_generator(task: str, size: tuple[int, int], options: dict[str, Any]) -> SampleFn:
    """The sample function of a task (``body`` or ``hand``)."""
    if task not in GENERATORS:
        raise ValueError(f"task: expected one of {sorted(GENERATORS)}, got {task!r}")
    module_name, attr = GENERATORS[task].split(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)(size=size, **options)


_worker_fn: SampleFn | None = None


def single_thread_worker() -> None:
    """Make this process compute on one thread: torch, OpenCV and Mesa's llvmpipe rasterizer.

    llvmpipe starts one rasterizer thread per core by default: with K workers on K cores, K²
    threads. ``LP_NUM_THREADS=0`` rasterizes in the calling thread, as fast for our small
    frames (measured on 2 cores: ~4.5 ms a body frame either way) and without
    oversubscription. It must be set before the process's OpenGL context is created; a value
    the user set is kept, and GPU drivers ignore it. Images are identical (checked: same shard
    bytes with 0 or 2 rasterizer threads, 1 or 2 workers).
    """
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # OpenCV's own pool (resize, colour conversions): no oversubscription
    os.environ.setdefault("LP_NUM_THREADS", "0")
    _keep_freed_memory()


def _keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of returning it to the OS.

    A sample allocates and frees many arrays of 0.1–1 MB (images, depth maps, masks). By
    default glibc serves blocks that large with mmap and unmaps them on free, so every new
    array page-faults its memory in again. Raising the mmap and trim thresholds to 64 MB
    (glibc's ``mallopt``; no effect elsewhere) keeps them in the heap: the working set of a
    sample is reused, and the peak resident memory is about the same.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 64 << 20)
    mallopt(M_TRIM_THRESHOLD, 128 << 20)


def _init_worker(
    task: str, size: tuple[int, int], options: dict[str, Any], one_thread: bool = True
) -> None:
    global _worker_fn
    if one_thread:  # K worker processes share the cores: one thread each
        single_thread_worker()
    _worker_fn = make_generator(task, size, options)


def _make_shard(args: tuple[str, int, int, int, int]) -> tuple[int, str, int]:
    out, k, first, count, seed = args
    assert _worker_fn is not None
    samples = [_worker_fn(i, sample_rng(seed, i)) for i in range(first, first + count)]
    path = Path(out) / f"shard-{k:05d}.zip"
    atomic_write(path, shard_bytes(samples))
    return k, path.name, count


def synthesize(
    out: str | os.PathLike[str],
    task: str,
    num: int,
    seed: int,
    size: tuple[int, int] = (256, 256),
    shard_size: int = 256,
    workers: int = 1,
    shards: tuple[int, int] | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = True,
) -> Manifest:
    """Generate ``num`` samples of ``task`` into ``out``; returns the manifest written.

    Raises:
        ValueError: bad arguments, or ``out`` already holds a dataset made another way.
    """
    if num <= 0 or shard_size <= 0 or workers <= 0:
        raise ValueError(
            f"num, shard_size and workers must be positive, got {num}, {shard_size}, {workers}"
        )
    if task not in GENERATORS:
        raise ValueError(f"task: expected one of {sorted(GENERATORS)}, got {task!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = Manifest(
        task=task,
        seed=seed,
        num=num,
        size=(int(size[0]), int(size[1])),
        shard_size=shard_size,
        options=dict(options or {}),
        posekit_version=__version__,
    )
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        if not old.same_recipe(recipe):
            raise ValueError(
                f"{out} already holds a different dataset (task={old.task}, seed={old.seed}, "
                f"num={old.num}, size={old.size}, shard_size={old.shard_size}); use another "
                "--out or remove it"
            )
        recipe.shards = [
            s
            for s in old.shards
            if (out / s.file).is_file() and sha256_file(out / s.file) == s.sha256
        ]
        if len(recipe.shards) == recipe.num_shards and len(old.shards) == recipe.num_shards:
            # Complete and intact: touch nothing, so that any number of processes (parallel
            # training runs reading the same cached data) can open it at once.
            return old
    for tmp in out.glob(".*.tmp"):
        tmp.unlink()
    done = {s.index for s in recipe.shards}
    # A shard renamed into place just before a kill, but not yet in the manifest: its bytes
    # are complete (rename is atomic); record it.
    for k in range(recipe.num_shards):
        path = out / f"shard-{k:05d}.zip"
        if k not in done and path.is_file():
            first, count = recipe.shard_range(k)
            recipe.shards.append(ShardInfo(k, path.name, first, count, sha256_file(path)))
            done.add(k)
    a, b = (0, recipe.num_shards) if shards is None else shards
    if not 0 <= a < b <= recipe.num_shards:
        raise ValueError(f"shards: expected a range within 0..{recipe.num_shards}, got {a}:{b}")
    todo = [(str(out), k, *recipe.shard_range(k), seed) for k in range(a, b) if k not in done]
    recipe.write(out)
    bar = tqdm(
        total=sum(t[3] for t in todo),
        desc=f"synth {task}",
        unit="sample",
        disable=not progress,
        dynamic_ncols=True,
    )
    opts = recipe.options
    if workers == 1 or len(todo) <= 1:
        _init_worker(task, recipe.size, opts, one_thread=False)
        results = map(_make_shard, todo)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(
            min(workers, len(todo)), initializer=_init_worker, initargs=(task, recipe.size, opts)
        )
        results = pool.imap_unordered(_make_shard, todo)
    try:
        for k, name, count in results:
            first, _ = recipe.shard_range(k)
            recipe.shards.append(ShardInfo(k, name, first, count, sha256_file(out / name)))
            recipe.write(out)  # after every shard, so a kill loses at most the shards in flight
            bar.update(count)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    return recipe
