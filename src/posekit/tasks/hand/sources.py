"""Data sources of the ``hand`` task: sequences of depth `Sample` with 3D hand joints.

Every factory is ``factory(split, seed, **params)`` and returns an indexable sequence of
`posekit.data.sample.Sample`; the task wraps it in `posekit.data.hand.HandCubes`.

- ``synthetic_hand``: the synthetic engine's hand depth maps (`HandDepthGenerator`: anny's
  hand with a forearm, Kinect-like sensor noise, hand21 joints), generated into shards on first
  use and read from there afterwards; the validation split comes from another seed.
- ``nyu``: the NYU Hand Pose dataset in its release format (`posekit.data.datasets.nyu`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["nyu", "synthetic_hand"]


def synthetic_hand(
    split: str,
    seed: int,
    *,
    root: str | None = None,
    num: int = 8192,
    val_num: int = 512,
    data_seed: int = 0,
    val_seed: int = 1_000_003,
    size: Sequence[int] = (240, 320),
    workers: int = 1,
    progress: bool = True,
    **options: Any,
) -> Any:
    """Synthetic hand depth maps (`HandDepthGenerator`), generated once into shards.

    Args:
        split: ``train`` (``num`` maps from ``data_seed``) or ``val`` (``val_num`` maps from
            ``val_seed``: unseen articulations, shapes, orientations and noise).
        seed: the experiment seed (unused: the data is fixed by its own seeds).
        root: folder of the shards; default a folder under the synthetic cache named by a hash
            of the recipe (so different recipes never mix).
        size: depth map (H, W) (NYU's Kinect intrinsics scaled to it).
        workers: generation processes. progress: show the generation's progress bar.
        **options: `HandDepthGenerator` arguments (``side``, ``distance_m``, ``noise``,
            ``sensor``, ``background``, ``families``, ...), checked by the generator.

    Returns:
        A `SyntheticDataset` of the split.
    """
    from posekit.data.datasets import SyntheticDataset
    from posekit.data.synthetic.writer import synthesize, synthetic_cache_dir

    if split not in ("train", "val"):
        raise ValueError(f"split: expected 'train' or 'val', got {split!r}")
    n, s = (num, data_seed) if split == "train" else (val_num, val_seed)
    opts = {k: _plain(v) for k, v in options.items()}
    size_hw = (int(size[0]), int(size[1]))
    if root is None:
        recipe = json.dumps({"n": n, "seed": s, "size": size_hw, **opts}, sort_keys=True)
        key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
        out = synthetic_cache_dir() / f"hand_{split}_{n}_{key}"
    else:
        out = Path(root) / split
    synthesize(out, "hand", n, s, size_hw, workers=workers, options=opts, progress=progress)
    return SyntheticDataset(out)


def _plain(value: Any) -> Any:
    """A config value as plain JSON data (tuples as lists, mappings as dicts)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def nyu(split: str, seed: int, *, root: str | None = None, **kw: Any) -> Any:
    """The NYU Hand Pose dataset (``train/`` and ``test/`` folders with ``joint_data.mat`` and
    ``depth_<camera>_<index>.png``): the ``train`` split reads ``train/``, validation and
    evaluation read ``test/``.

    Raises:
        ValueError: ``root`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets.nyu import NYUHandDataset

    if root is None:
        key = "data.params" if split == "train" else "data.val_params"
        raise ValueError(
            "data source 'nyu': parameter 'root' missing (the folder holding train/ and "
            f"test/); give --set {key}.root=PATH"
        )
    return NYUHandDataset(root, split="train" if split == "train" else "test", **kw)
