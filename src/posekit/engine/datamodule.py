"""The generic DataModule of the image tasks: step-indexed training batches of any indexable
set of dict items, and a fixed, evenly spaced validation subset.

The training batches of step s are a pure function of (seed, rank, s) (an epoch permutation
plus per-epoch augmentation draws, `StepBatchSampler` + `EpochKeyed`), so a resumed run sees
the batches the uninterrupted run would.

Data-loading workers run with ``trainer.worker_threads`` torch and OpenCV threads each
(`init_worker_threads`; default 1): a worker that starts a thread pool per library beside the
training process's own threads oversubscribes the cores, which costs most on a busy machine
(benchmarks/under_load.py).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from posekit.engine.base import TaskModule, shard_for_rank, val_source
from posekit.engine.config import ExperimentConfig
from posekit.engine.seeding import STREAM_TRAIN, make_generator

__all__ = [
    "EpochKeyed",
    "ImageDataModule",
    "ImageTaskModule",
    "StepBatchSampler",
    "collate_samples",
    "evenly_spaced_subset",
    "init_worker_threads",
    "val_loader",
    "worker_init",
]


def init_worker_threads(worker_id: int, threads: int = 1, rank: int = 0) -> None:
    """``worker_init_fn`` of posekit's data loaders: ``threads`` torch threads in this worker
    (and OpenCV threads when OpenCV is first imported in the worker), then Lightning's worker
    seeding when ``seed_everything(workers=True)`` asked for it (a loader with its own
    ``worker_init_fn`` does not get Lightning's).

    An OpenCV the parent already loaded keeps its pool: ``cv2.setNumThreads`` in a forked
    worker deadlocks once the parent has used OpenCV's pthreads pool (tested).
    """
    torch.set_num_threads(threads)
    if "cv2" not in sys.modules:
        os.environ["OPENCV_FOR_THREADS_NUM"] = str(threads)  # read by OpenCV when it loads
    if int(os.environ.get("PL_SEED_WORKERS", "0")):
        from lightning.fabric.utilities.seed import pl_worker_init_function

        pl_worker_init_function(worker_id, rank)


def worker_init(threads: int, rank: int = 0) -> Callable[[int], None] | None:
    """The ``worker_init_fn`` for ``threads`` threads per worker (0: None, the libraries'
    defaults)."""
    if threads <= 0:
        return None
    return functools.partial(init_worker_threads, threads=threads, rank=rank)


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """The (index, epoch) keys of the training batches of steps ``start_step, ...`` (endless).

    Step s of epoch e = s // steps_per_epoch takes its slice of a permutation drawn from
    (seed, e); ranks take disjoint slices. The epoch rides along with each index so that the
    dataset draws that epoch's augmentation. A set smaller than one global batch is sampled
    with replacement, one draw per step.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, start_step: int = 0
    ) -> None:
        if n < 1:
            raise ValueError("the training set is empty")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.rank, self.world, self.start_step = int(rank), int(world), int(start_step)
        self.steps_per_epoch = self.n // (self.batch_size * self.world)

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        if self.steps_per_epoch == 0:
            g = make_generator(self.seed, STREAM_TRAIN, self.rank, step)
            idx = torch.randint(self.n, (self.batch_size,), generator=g)
            return [(int(i), step) for i in idx]
        epoch, k = divmod(step, self.steps_per_epoch)
        perm = torch.randperm(self.n, generator=make_generator(self.seed, STREAM_TRAIN, epoch))
        start = (k * self.world + self.rank) * self.batch_size
        return [(int(i), epoch) for i in perm[start : start + self.batch_size]]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch_at(step)
            step += 1


class EpochKeyed(Dataset):
    """``crops[(index, epoch)]``: the item with that epoch's augmentation."""

    def __init__(self, crops: Any) -> None:
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, epoch = key
        self.crops.set_epoch(epoch)
        return self.crops[index]


def collate_samples(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch of dict items: tensors stacked, anything else as a list per key."""
    out: dict[str, Any] = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if isinstance(vals[0], Tensor) else vals
    return out


class ImageDataModule(L.LightningDataModule):
    """Training samples in step-indexed batches and a fixed validation subset, both made by
    ``build(config, split, source, params)``: the DataModule of the image tasks (e.g. top-down
    crops, bottom-up scenes). The validation source follows `val_source`; ``data.val_size``
    picks an evenly spaced subset; each rank validates its shard (`shard_for_rank`)."""

    def __init__(
        self, config: ExperimentConfig, build: Callable[..., Any], val_batch_size: int
    ) -> None:
        super().__init__()
        self.config = config
        self.build = build
        self.val_batch_size = val_batch_size
        self.train_set: Any = None
        self.val_set: Any = None

    def setup(self, stage: str) -> None:
        d = self.config.data
        if self.train_set is None and stage == "fit":
            self.train_set = self.build(self.config, "train", d.source, dict(d.params))
        if self.val_set is None:
            name, params = val_source(self.config)
            self.val_set = evenly_spaced_subset(
                self.build(self.config, "val", name, params), d.val_size
            )

    def train_dataloader(self) -> DataLoader:
        tr = self.trainer
        rank, world, step = (
            (0, 1, 0) if tr is None else (tr.global_rank, tr.world_size, tr.global_step)
        )
        t = self.config.trainer
        sampler = StepBatchSampler(
            len(self.train_set), t.batch_size, self.config.seed, rank, world, step
        )
        return DataLoader(
            EpochKeyed(self.train_set),
            batch_sampler=sampler,
            num_workers=t.num_workers,
            collate_fn=collate_samples,
            persistent_workers=t.num_workers > 0,
            worker_init_fn=worker_init(t.worker_threads, rank),
        )

    def val_dataloader(self) -> DataLoader:
        tr = self.trainer
        rank, world = (0, 1) if tr is None else (tr.global_rank, tr.world_size)
        data = self.val_set
        if world > 1:  # each rank validates its shard; the TaskModule loop gathers the results
            data = torch.utils.data.Subset(data, shard_for_rank(len(data), rank, world))
        t = self.config.trainer
        return val_loader(data, t.num_workers, self.val_batch_size, t.worker_threads, rank)


def evenly_spaced_subset(crops: Any, size: int) -> Any:
    if size <= 0 or size >= len(crops):
        return crops
    idx = np.linspace(0, len(crops) - 1, size).round().astype(int)
    return torch.utils.data.Subset(crops, idx.tolist())


def val_loader(
    data: Any, workers: int, batch_size: int, worker_threads: int = 1, rank: int = 0
) -> DataLoader:
    """A validation loader: fixed order, `collate_samples`, ``worker_threads`` threads per
    worker (`worker_init`)."""
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_samples,
        worker_init_fn=worker_init(worker_threads, rank) if workers > 0 else None,
    )


class ImageTaskModule(TaskModule):
    """A `TaskModule` whose training and validation items are made from images by
    ``build_items(config, split, source, params)`` (a function; e.g. one crop per person, or
    whole letterboxed images): the generic `ImageDataModule` and evaluation batches of every
    image task, written once. A subclass sets ``build_items`` (``staticmethod(fn)``) and
    ``val_batch_size``."""

    val_batch_size: ClassVar[int] = 16

    @staticmethod
    def build_items(config: ExperimentConfig, split: str, source: str, params: dict) -> Any:
        """The items of ``split`` of data source ``source``."""
        raise NotImplementedError

    @classmethod
    def build_datamodule(cls, config: ExperimentConfig) -> L.LightningDataModule:
        return ImageDataModule(config, cls.build_items, cls.val_batch_size)

    @classmethod
    def evaluation_batches(
        cls,
        config: ExperimentConfig,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Iterable[Any], int]:
        name, params = val_source(config, source, params)
        items = evenly_spaced_subset(
            cls.build_items(config, "val", name, params), config.data.val_size
        )
        t = config.trainer
        loader = val_loader(items, t.num_workers, cls.val_batch_size, t.worker_threads)
        return loader, len(loader)
