"""Lifting data for the engine: step-indexed training batches, a fixed validation set, and the
input statistics, over any lifting data source.

A lifting source (what a ``lift`` data-source factory returns) is either

- a *sampler*: ``source.sample_batch(batch_size, generator) -> Mapping[str, Tensor]``, an
  unlimited stream of random samples drawn from ``generator`` (a ``torch.Generator``); or
- a *finite set*: ``len(source)`` and ``source[i] -> Mapping[str, array]`` (optionally a fast
  ``source.get_batch(indices)``); training then walks a per-epoch permutation.

Both yield the keys of `LIFT_KEYS` and optionally those of `CAMERA_KEYS` (others are
ignored); the validation set (`materialize`) keeps the camera keys, from which evaluation makes
the model's input as the predictor does (`posekit.tasks.lift.inputs.lifter_inputs`):

Shapes:
    keypoints2d: (B, J, 2) float, the model's input coordinates (NaN allowed where invisible).
    visibility: (B, J) bool.
    joints3d: (B, J, 3) float, root-relative camera metres (NaN: missing ground truth).
    keypoints2d_px: (B, J, 2) float, the same 2D joints in pixels (optional, with K).
    K: (B, 3, 3) float, the intrinsics of those pixels (optional, with keypoints2d_px).

Determinism: the batch of step s on rank r depends only on (seed, r, s) (see
`posekit.engine.seeding`), so resuming, the number of workers and DDP do not change the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from posekit._checks import check_shape
from posekit.engine.seeding import STREAM_STATS, STREAM_TRAIN, STREAM_VAL, make_generator

__all__ = [
    "CAMERA_KEYS",
    "LIFT_KEYS",
    "TensorBatches",
    "TrainStream",
    "draw_batch",
    "input_statistics",
    "is_sampler",
    "lift_batch",
    "materialize",
]

LIFT_KEYS = ("keypoints2d", "visibility", "joints3d")
#: Optional keys: the 2D input in pixels and its intrinsics (both or neither).
CAMERA_KEYS = ("keypoints2d_px", "K")

#: Samples drawn per call while building the validation set or statistics from a sampler.
_CHUNK = 4096


def is_sampler(source: Any) -> bool:
    """True for a source with ``sample_batch``; False for a finite set (``len`` + indexing)."""
    if hasattr(source, "sample_batch"):
        return True
    if hasattr(source, "__len__") and hasattr(source, "__getitem__"):
        return False
    raise ValueError(
        f"a lift data source must have sample_batch(batch_size, generator) or __len__ and "
        f"__getitem__; got {type(source).__name__}"
    )


def _tensor(x: Any) -> Tensor:
    return x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))


def lift_batch(
    batch: Mapping[str, Any], name: str = "batch", camera: bool = False
) -> dict[str, Tensor]:
    """The `LIFT_KEYS` of a batch as tensors (float32 coordinates, bool visibility), checked;
    with ``camera``, also its `CAMERA_KEYS` when it has both.

    Shapes:
        batch["keypoints2d"]: (B, J, 2); batch["visibility"]: (B, J); batch["joints3d"]:
        (B, J, 3); batch["keypoints2d_px"]: (B, J, 2); batch["K"]: (B, 3, 3) or (3, 3) →
        the same, as tensors (K always (B, 3, 3)).
    """
    missing = [k for k in LIFT_KEYS if k not in batch]
    if missing:
        raise ValueError(f"{name}: missing key(s) {', '.join(missing)}; got {', '.join(batch)}")
    out = {k: _tensor(batch[k]) for k in LIFT_KEYS}
    dims = check_shape(out["keypoints2d"], f"{name}: keypoints2d", "B J 2")
    check_shape(out["visibility"], f"{name}: visibility", "B J", dims)
    check_shape(out["joints3d"], f"{name}: joints3d", "B J 3", dims)
    out["keypoints2d"] = out["keypoints2d"].to(torch.float32)
    out["joints3d"] = out["joints3d"].to(torch.float32)
    out["visibility"] = out["visibility"] > 0
    if camera and all(k in batch for k in CAMERA_KEYS):
        px = _tensor(batch["keypoints2d_px"])
        check_shape(px, f"{name}: keypoints2d_px", "B J 2", dims)
        K = _tensor(batch["K"]).to(torch.float32)
        if K.shape == (3, 3):
            K = K.expand(dims["B"], 3, 3)
        check_shape(K, f"{name}: K", "B 3 3", dims)
        out["keypoints2d_px"], out["K"] = px.to(torch.float32), K
    return out


def _collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Tensor]:
    keys = [*LIFT_KEYS, *(k for k in CAMERA_KEYS if all(k in it for it in items))]
    return {k: torch.stack([_tensor(it[k]) for it in items]) for k in keys}


def _take(source: Any, indices: Tensor, camera: bool = False) -> dict[str, Tensor]:
    """Items ``indices`` of a finite source, batched."""
    get_batch = getattr(source, "get_batch", None)
    if get_batch is not None:
        return lift_batch(get_batch(indices), camera=camera)
    return lift_batch(_collate([source[int(i)] for i in indices]), camera=camera)


def draw_batch(
    source: Any, batch_size: int, generator: torch.Generator, camera: bool = False
) -> dict[str, Tensor]:
    """``batch_size`` random samples of a source (uniform with replacement for a finite set);
    with ``camera``, with their `CAMERA_KEYS` when the source gives them."""
    if is_sampler(source):
        return lift_batch(source.sample_batch(batch_size, generator), camera=camera)
    idx = torch.randint(len(source), (batch_size,), generator=generator)
    return _take(source, idx, camera)


class TrainStream(IterableDataset):
    """The training batches of steps ``start_step, start_step + 1, ...`` (without end).

    Use with ``DataLoader(stream, batch_size=None)``: it yields whole batches. With W
    workers, worker w makes steps ``start_step + w, + W, ...`` and the loader's in-order
    round-robin returns them in step order, so the stream is the same for any W.

    Args:
        source: a lifting source (sampler or finite set).
        batch_size: samples per batch (per rank).
        seed: the experiment seed.
        rank: this process's global rank (its batches differ from every other rank's).
        world_size: number of ranks (a finite set is split between them per epoch).
        start_step: the first step (the trainer's global step when resuming).
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
    ) -> None:
        super().__init__()
        self.source = source
        self.batch_size = int(batch_size)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.start_step = int(start_step)
        self.sampler = is_sampler(source)
        if not self.sampler:
            per_epoch = len(source) // (self.batch_size * self.world_size)
            if per_epoch < 1:
                raise ValueError(
                    f"the training set has {len(source)} samples, fewer than one global batch "
                    f"({self.batch_size} x {self.world_size} ranks)"
                )
            self.steps_per_epoch = per_epoch

    def batch_at(self, step: int) -> dict[str, Tensor]:
        """The batch of ``step`` on this rank (a pure function of seed, rank and step)."""
        if self.sampler:
            gen = make_generator(self.seed, STREAM_TRAIN, self.rank, step)
            return draw_batch(self.source, self.batch_size, gen)
        epoch, k = divmod(step, self.steps_per_epoch)
        # Same permutation on every rank; each rank takes its own slice of it.
        perm = torch.randperm(
            len(self.source), generator=make_generator(self.seed, STREAM_TRAIN, epoch)
        )
        start = (k * self.world_size + self.rank) * self.batch_size
        return _take(self.source, perm[start : start + self.batch_size])

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        info = get_worker_info()
        wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
        step = self.start_step + wid
        while True:
            yield self.batch_at(step)
            step += nw


class TensorBatches(Dataset):
    """An in-memory set of tensors served as consecutive batches (``DataLoader(batch_size=None)``).

    Attributes:
        num_samples: N.
        num_available: items of the source the N samples come from (None: unknown or an
            unlimited sampler); read by ``posekit eval`` to say how much it scored.
        drawn: True where the samples were drawn at random from a sampler.

    Shapes:
        tensors: ``{key: (N, ...)}``; item i: ``{key: (B_i, ...)}`` rows ``i*B .. (i+1)*B``.
    """

    def __init__(
        self,
        tensors: Mapping[str, Tensor],
        batch_size: int,
        num_available: int | None = None,
        drawn: bool = False,
    ) -> None:
        self.tensors = dict(tensors)
        self.num_samples = int(next(iter(self.tensors.values())).shape[0])
        self.batch_size = int(batch_size)
        self.num_available, self.drawn = num_available, drawn

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.batch_size)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return {k: v[sl] for k, v in self.tensors.items()}


def _cat(parts: Sequence[Mapping[str, Tensor]]) -> dict[str, Tensor]:
    keys = [k for k in parts[0] if all(k in p for p in parts)]
    return {k: torch.cat([p[k] for p in parts]) for k in keys}


def _draw_many(
    source: Any, num: int, generator: torch.Generator, camera: bool = False
) -> dict[str, Tensor]:
    parts = [
        draw_batch(source, min(_CHUNK, num - i), generator, camera) for i in range(0, num, _CHUNK)
    ]
    return _cat(parts)


def is_drawn(source: Any, size: int) -> bool:
    """True where `materialize` draws ``size`` samples at random (with replacement) from a
    sampler; False where it takes items of a finite set (``size=0``: all of them)."""
    finite = hasattr(source, "__len__") and hasattr(source, "__getitem__")
    return is_sampler(source) and not (size == 0 and finite)


def materialize(source: Any, size: int) -> dict[str, Tensor]:
    """A fixed validation set: ``size`` samples of a sampler drawn from a fixed stream (the
    same for every experiment seed, so runs with different seeds are validated on the same
    samples), or ``size`` items evenly spread over a finite set. ``size=0``: every item of a
    source that has a length (a sampler with ``len`` and indexing included).

    Shapes:
        return: ``{"keypoints2d": (N, J, 2), "visibility": (N, J), "joints3d": (N, J, 3)}``,
        plus ``"keypoints2d_px": (N, J, 2)``, ``"K": (N, 3, 3)`` when the source gives them.
    """
    if is_drawn(source, size):
        if size < 1:
            raise ValueError("data.val_size: a sampled validation source needs val_size >= 1")
        return _draw_many(source, size, make_generator(0, STREAM_VAL), camera=True)
    total = len(source)
    if total < 1:
        raise ValueError("the validation source is empty")
    n = total if size == 0 else min(size, total)
    index = torch.arange(n) * total // n  # evenly spread over the set (all of it when n == total)
    return _cat([_take(source, index[i : i + _CHUNK], camera=True) for i in range(0, n, _CHUNK)])


def input_statistics(source: Any, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Per-joint mean and std of the training inputs over their visible entries.

    Drawn from ``size`` random training samples (fixed stream of ``seed``); a joint never
    visible gets mean 0, std 1; std is floored at 1e-6 of the overall scale.

    Shapes:
        return: mean (J, 2), std (J, 2), float32.
    """
    batch = _draw_many(source, size, make_generator(seed, STREAM_STATS))
    kp = batch["keypoints2d"].double()  # (N, J, 2)
    vis = (batch["visibility"] & kp.isfinite().all(-1))[..., None]  # (N, J, 1)
    count = vis.sum(0)  # (J, 1)
    kp0 = torch.where(vis, kp, 0.0)
    mean = kp0.sum(0) / count.clamp(min=1)  # (J, 2)
    var = torch.where(vis, (kp - mean) ** 2, 0.0).sum(0) / count.clamp(min=1)
    std = var.sqrt()
    floor = max(float(std.max()) * 1e-6, 1e-12)
    std = torch.where(count > 0, std.clamp(min=floor), 1.0)
    mean = torch.where(count > 0, mean, 0.0)
    return mean.float(), std.float()
