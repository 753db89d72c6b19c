"""Atomic file writing: every file posekit writes appears whole or not at all.

`atomic_write` writes to a temporary file in the destination's folder (so the rename never
crosses file systems), fsyncs it, ``os.replace``-s it onto the final name and fsyncs the folder;
a reader sees the old file or the new one, never a part, and a failure removes the temporary
file. Temporary names start with ``.<name>.`` and end with ``.tmp``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "atomic_write_npz", "fsync_dir", "remove_stale_temporaries"]

_UMASK = os.umask(0)  # read once at import (the umask can only be read by setting it)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)  # mkstemp makes 0600; honour the umask
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez`` the arrays to ``path`` atomically."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getbuffer())


def remove_stale_temporaries(path: str | os.PathLike[str]) -> int:
    """Remove the temporary files or folders (``.<name>.*.tmp`` beside ``path``) that an
    atomic write of ``path`` killed before its rename left behind; returns how many. Call it
    only where no other process writes ``path`` at the same time."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    n = 0
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        n += 1
    return n


def fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems cannot fsync a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
