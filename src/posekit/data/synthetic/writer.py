"""Write a synthetic dataset as shards, in parallel, resumably.

``synthesize(out, task, num, seed, ...)`` fills ``out`` with ``shard-NNNNN.zip`` files and a
``manifest.json``. Shard ``k`` holds samples ``[k * shard_size, (k + 1) * shard_size)``; each
sample draws only from ``sample_rng(seed, index)``, so shards are identical whichever worker,
process or machine writes them. Use ``shards=(a, b)`` to write only shards ``a..b-1`` (e.g.
one range per machine into a shared directory; the manifest then lists what is present).

A run killed at any point is finished by running the same command again: shards listed in the
manifest are checked against their checksum and kept, temporary files are removed, missing
shards are made. A listed shard that fails its checksum is regenerated, never kept. A shard
file not yet in the manifest (renamed into place just before a kill) is kept only if it is
exactly what the recipe gives: it decodes, re-encodes to its own bytes, holds the expected
number of samples, and its first sample is regenerated and compared; otherwise it is
regenerated. Shards found damaged are replaced whatever ``shards`` says; ``shards`` limits
which missing ones a run makes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from dataclasses import replace
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
    ShardReader,
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
    "synthetic_cache_dir",
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


def synthetic_cache_dir() -> Path:
    """``$POSEKIT_CACHE/synthetic`` (default ``~/.cache/posekit/synthetic``): where the data
    sources render their synthetic sets on first use."""
    root = os.environ.get("POSEKIT_CACHE") or os.path.join("~", ".cache", "posekit")
    return Path(root).expanduser() / "synthetic"


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


def _make_shard(args: tuple[str, int, int, int, int, bool]) -> tuple[int, str, int, str]:
    """Write shard k, or with ``adopt`` keep the file already there if the recipe gives it.

    Returns (k, file name, count, note): note is why a file found there was replaced, or "".
    """
    out, k, first, count, seed, adopt = args
    assert _worker_fn is not None
    path = Path(out) / f"shard-{k:05d}.zip"
    note = ""
    if adopt:
        note = _adoption_problem(path, first, count, seed)
        if not note:
            return k, path.name, count, ""
    samples = [_worker_fn(i, sample_rng(seed, i)) for i in range(first, first + count)]
    atomic_write(path, shard_bytes(samples))
    return k, path.name, count, note


def _adoption_problem(path: Path, first: int, count: int, seed: int) -> str:
    """Why the shard file at ``path`` is not samples ``first..first+count-1`` ("" if it is).

    The file must decode, re-encode to exactly its own bytes (so no byte of it is damaged or
    foreign), hold ``count`` samples, and its first sample must equal a fresh one from
    ``seed``: a check of the recipe at the cost of one sample instead of ``count``.
    """
    assert _worker_fn is not None
    try:
        data = path.read_bytes()
        with ShardReader(path) as reader:
            samples = [reader[i] for i in range(len(reader))]
    except (OSError, ValueError) as err:
        return f"unreadable ({str(err).removeprefix(f'{path}: ')})"
    if len(samples) != count:
        return f"holds {len(samples)} samples, expected {count}"
    if shard_bytes(samples) != data:
        return "its bytes are not the encoding of its samples"
    fresh = _worker_fn(first, sample_rng(seed, first))
    if shard_bytes([fresh]) != shard_bytes(samples[:1]):
        return f"its sample {first} is not the one seed {seed} gives"
    return ""


def _print_stderr(line: str) -> None:
    print(line, file=sys.stderr)


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
    say: Callable[[str], None] | None = None,
) -> Manifest:
    """Generate ``num`` samples of ``task`` into ``out``; returns the manifest written.

    ``say`` receives one line per shard found damaged or missing and regenerated (default:
    printed on stderr).

    Raises:
        ValueError: bad arguments, or ``out`` already holds a dataset made another way.
    """
    if num <= 0 or shard_size <= 0 or workers <= 0:
        raise ValueError(
            f"num, shard_size and workers must be positive, got {num}, {shard_size}, {workers}"
        )
    if task not in GENERATORS:
        raise ValueError(f"task: expected one of {sorted(GENERATORS)}, got {task!r}")
    say = say or _print_stderr
    out = Path(out)
    recipe = Manifest(
        task=task,
        seed=seed,
        num=num,
        size=(int(size[0]), int(size[1])),
        shard_size=shard_size,
        options=dict(options or {}),
        posekit_version=__version__,
    )
    a, b = (0, recipe.num_shards) if shards is None else shards
    if not 0 <= a < b <= recipe.num_shards:
        raise ValueError(f"shards: expected a range within 0..{recipe.num_shards}, got {a}:{b}")
    out.mkdir(parents=True, exist_ok=True)
    faults: dict[int, str] = {}  # listed shard → "checksum mismatch" or "missing"
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        if not old.same_recipe(recipe):
            raise ValueError(
                f"{out} already holds a different dataset (task={old.task}, seed={old.seed}, "
                f"num={old.num}, size={old.size}, shard_size={old.shard_size}); use another "
                "--out or remove it"
            )
        for s in old.shards:
            path = out / s.file
            if not path.is_file():
                faults[s.index] = "missing"
            elif sha256_file(path) != s.sha256:
                faults[s.index] = "checksum mismatch"
            else:
                recipe.shards.append(replace(s, num_bytes=path.stat().st_size))
        if not faults and old.complete:
            # Complete and intact: touch nothing, so that any number of processes (parallel
            # training runs reading the same cached data) can open it at once.
            return old
    for tmp in out.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    done = {s.index for s in recipe.shards}
    todo = []
    for k in range(recipe.num_shards):
        if k in done:
            continue
        # A file not in the manifest was renamed into place just before a kill (or by
        # another machine's run): adopt it if it is what the recipe gives. One that failed
        # its checksum is regenerated, never adopted.
        unlisted = k not in faults and (out / f"shard-{k:05d}.zip").is_file()
        if a <= k < b or unlisted or faults.get(k) == "checksum mismatch":
            todo.append((str(out), k, *recipe.shard_range(k), seed, unlisted))
        else:
            say(
                f"shard-{k:05d}.zip: listed in the manifest but missing, left to a run with "
                f"--shards covering it"
            )
    recipe.write(out)
    bar = tqdm(
        total=sum(t[3] for t in todo),
        desc=f"synth {task}",
        unit="sample",
        disable=not progress,
        dynamic_ncols=True,
    )
    opts = recipe.options
    pool = None
    restore: tuple[int, int] | None = None
    if not todo:
        results: Any = iter(())
    elif workers == 1 or len(todo) <= 1:
        # One torch / OpenCV thread here too, restored afterwards: the bytes of a sample must
        # not depend on --workers, and a multi-threaded reduction rounds differently (on an
        # Intel Xeon every shard differed between 1 and 2 workers with the caller's threads).
        import cv2
        import torch

        restore = (torch.get_num_threads(), cv2.getNumThreads())
        _init_worker(task, recipe.size, opts, one_thread=True)
        results = map(_make_shard, todo)
    else:
        pool = mp.get_context("spawn").Pool(
            min(workers, len(todo)), initializer=_init_worker, initargs=(task, recipe.size, opts)
        )
        results = pool.imap_unordered(_make_shard, todo)
    try:
        for k, name, count, note in results:
            first, _ = recipe.shard_range(k)
            path = out / name
            info = ShardInfo(k, name, first, count, sha256_file(path), path.stat().st_size)
            recipe.shards.append(info)
            recipe.write(out)  # after every shard, so a kill loses at most the shards in flight
            bar.update(count)
            if k in faults:
                say(f"{name}: {faults[k]}, regenerated")
            elif note:
                say(f"{name}: not in the manifest and {note}, regenerated")
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
        if restore is not None:
            torch.set_num_threads(restore[0])
            cv2.setNumThreads(restore[1])
    return recipe
