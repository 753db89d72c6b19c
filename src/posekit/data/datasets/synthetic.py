"""`SyntheticDataset`: the samples of a directory written by ``posekit data synth``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from posekit.data.sample import Sample
from posekit.data.synthetic.shards import (
    MANIFEST,
    Manifest,
    ShardReader,
    read_manifest,
    verify_shard,
)

__all__ = ["SyntheticDataset"]


class SyntheticDataset(Dataset):
    """Map-style dataset over synthetic shards; item ``i`` is sample ``i`` of the manifest.

    Shards are opened lazily, one reader per shard per process (so it works with DataLoader
    workers), and each item is read by random access into its shard.

    Args:
        root: a directory with ``manifest.json`` and ``shard-*.zip``.
        transform: applied to each `Sample` (e.g. crop + encode for a model); default none.
        allow_incomplete: read the shards present even if the manifest is not complete.
        verify: check every shard of the manifest on opening: ``"quick"`` (default: present,
            of the recorded size, zip directory readable with the listed number of samples),
            ``"full"`` (also sha256 against the manifest and every entry's CRC-32: reads all
            the data) or ``"none"``.

    Raises:
        FileNotFoundError: ``root`` has no manifest.
        ValueError: the manifest is malformed, the dataset is incomplete (and
            ``allow_incomplete`` is False) or a shard fails verification; the message names
            the file.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable[[Sample], Any] | None = None,
        allow_incomplete: bool = False,
        verify: str = "quick",
    ) -> None:
        if verify not in ("none", "quick", "full"):
            raise ValueError(f"verify: expected 'none', 'quick' or 'full', got {verify!r}")
        self.root = Path(root)
        self.manifest: Manifest = read_manifest(self.root)
        if not self.manifest.complete and not allow_incomplete:
            m = self.manifest
            raise ValueError(
                f"{self.root / MANIFEST}: incomplete dataset ({len(m.shards)} of "
                f"{m.num_shards} shards); run the same `posekit data synth` command again "
                "to finish it"
            )
        shards = sorted(self.manifest.shards, key=lambda s: s.index)
        if verify != "none":
            for info in shards:
                verify_shard(self.root, info, full=verify == "full")
        self._files = [self.root / s.file for s in shards]
        counts = np.array([s.count for s in shards], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self._readers: dict[int, ShardReader] = {}
        self._pid = os.getpid()
        self.transform = transform

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _reader(self, shard: int) -> ShardReader:
        if os.getpid() != self._pid:  # forked into a DataLoader worker: reopen files
            self._readers, self._pid = {}, os.getpid()
        if shard not in self._readers:
            self._readers[shard] = ShardReader(self._files[shard])
        return self._readers[shard]

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        reader, k = self._reader(shard), index - int(self._starts[shard])
        if k >= len(reader):  # only without verification: a shard shorter than listed
            raise ValueError(
                f"{reader.path}: {len(reader)} samples, {self.root / MANIFEST} lists "
                f"{self._starts[shard + 1] - self._starts[shard]}"
            )
        return reader[k]

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_readers"] = {}  # open zip handles do not pickle (spawned workers)
        return state
