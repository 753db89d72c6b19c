"""Data sources of the ``pose2d`` task: sequences of `Sample` (images with 2D keypoints).

Every factory is ``factory(split, seed, **params)`` and returns an indexable sequence of
`posekit.data.sample.Sample` (a `SyntheticDataset` or a reader); the task wraps it in
`posekit.data.pose2d.TopDownCrops`.

- ``synthetic_body``: rendered anny bodies from the synthetic engine, generated into shards on
  first use (deterministic: same parameters, same bytes; an interrupted generation resumes)
  and read from there afterwards. The validation split is generated from another seed.
- ``coco``, ``mpii``, ``lsp``: the real datasets' native files (`posekit.data.datasets`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["coco", "lsp", "mpii", "synthetic_body", "synthetic_cache_dir"]


def synthetic_cache_dir() -> Path:
    """``$POSEKIT_CACHE/synthetic`` (default ``~/.cache/posekit/synthetic``)."""
    from posekit.data.synthetic.writer import synthetic_cache_dir as cache_dir

    return cache_dir()


def synthetic_body(
    split: str,
    seed: int,
    *,
    root: str | None = None,
    num: int = 4096,
    val_num: int = 512,
    data_seed: int = 0,
    val_seed: int = 1_000_003,
    size: Sequence[int] = (256, 256),
    skeleton: str = "coco17",
    people: Sequence[int] = (1, 1),
    occluder_probability: float = 0.5,
    val_occluder_probability: float | None = None,
    occluder_shapes: Sequence[str] | None = None,
    val_occluder_shapes: Sequence[str] | None = None,
    photo_probability: float = 0.25,
    hair_probability: float = 0.0,
    workers: int = 1,
    progress: bool = True,
) -> Any:
    """Rendered synthetic bodies (`BodySceneGenerator`), generated once into shards.

    Args:
        split: ``train`` (``num`` images from ``data_seed``) or ``val`` (``val_num`` images
            from ``val_seed``, unseen bodies, poses, cameras and backgrounds).
        seed: the experiment seed (unused: the data is fixed by its own seeds).
        root: folder of the shards; default a folder under `synthetic_cache_dir` named by a
            hash of the recipe (so different recipes never mix).
        size: image (H, W). skeleton: keypoint layout stored. people: (min, max) per image.
        occluder_probability: chance of occluders per image (training split);
            val_occluder_probability: of the validation split (None: the same; 1.0 gives
            the occluded benchmark split).
        occluder_shapes, val_occluder_shapes: the occluder shapes of the training and the
            validation split (`posekit.data.synthetic.occluders.OCCLUDER_SHAPES`; None: all;
            validation None: the training split's), e.g. shapes unseen in training.
        photo_probability: chance of a bundled-photo background.
        hair_probability: chance of hair per person; > 0 also draws eyebrows and eyes (the
            cues of which way a person faces, `posekit.data.synthetic.head_cues`); 0: the
            bald, featureless heads of earlier versions (and their cache folders).
        workers: generation processes.
        progress: show the generation's progress bar.

    Returns:
        A `SyntheticDataset` of the split.
    """
    from posekit.data.datasets import SyntheticDataset
    from posekit.data.synthetic.writer import synthesize

    if split not in ("train", "val"):
        raise ValueError(f"split: expected 'train' or 'val', got {split!r}")
    occ = occluder_probability
    if split == "val" and val_occluder_probability is not None:
        occ = val_occluder_probability
    n, s = (num, data_seed) if split == "train" else (val_num, val_seed)
    options = {
        "skeleton": skeleton,
        "people": [int(people[0]), int(people[1])],
        "occluder_probability": float(occ),
        "photo_probability": float(photo_probability),
    }
    shapes = occluder_shapes
    if split == "val" and val_occluder_shapes is not None:
        shapes = val_occluder_shapes
    if shapes is not None:  # absent when all: earlier recipes keep their cache folders
        options["occluder_shapes"] = sorted(str(x) for x in shapes)
    if hair_probability > 0:  # absent when off: earlier recipes keep their cache folders
        options["hair_probability"] = float(hair_probability)
    size_hw = (int(size[0]), int(size[1]))
    if root is None:
        recipe = json.dumps({"n": n, "seed": s, "size": size_hw, **options}, sort_keys=True)
        key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
        out = synthetic_cache_dir() / f"body_{split}_{n}_{key}"
    else:
        out = Path(root) / split
    synthesize(out, "body", n, s, size_hw, workers=workers, options=options, progress=progress)
    return SyntheticDataset(out)


def _require(source: str, split: str, name: str, value: Any, what: str) -> Any:
    """``value``, or a ValueError naming the missing parameter and the ``--set`` that gives it
    (``data.params`` for the training split, ``data.val_params`` for validation / eval)."""
    if value is not None:
        return value
    key = "data.params" if split == "train" else "data.val_params"
    raise ValueError(
        f"data source {source!r}: parameter {name!r} missing ({what}); give --set {key}.{name}=PATH"
    )


def coco(
    split: str,
    seed: int,
    *,
    annotations: str | None = None,
    image_dir: str | None = None,
    **kw: Any,
) -> Any:
    """COCO person keypoints (``person_keypoints_*.json`` + images); one file per split:
    use ``data.params`` for training and ``data.val_params`` for validation (and ``posekit
    eval --data coco``).

    Raises:
        ValueError: ``annotations`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets import COCODataset

    what = "the COCO person_keypoints_*.json file; images from image_dir"
    annotations = _require("coco", split, "annotations", annotations, what)
    return COCODataset(annotations, image_dir=image_dir, **kw)


def mpii(
    split: str,
    seed: int,
    *,
    annotations: str | None = None,
    image_dir: str | None = None,
    **kw: Any,
) -> Any:
    """MPII (official ``.mat`` or MMPose json); ``split`` selects the .mat's train/test flag.

    Raises:
        ValueError: ``annotations`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets import MPIIDataset

    what = "the MPII annotation .mat or MMPose-style .json file; images from image_dir"
    annotations = _require("mpii", split, "annotations", annotations, what)
    kw.setdefault("split", "train" if split == "train" else "all")
    return MPIIDataset(annotations, image_dir=image_dir, **kw)


def lsp(split: str, seed: int, *, root: str | None = None, **kw: Any) -> Any:
    """LSP / LSP-extended (``joints.mat`` + images): 1-1000 train, 1001-2000 test.

    Raises:
        ValueError: ``root`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets import LSPDataset

    root = _require("lsp", split, "root", root, "the LSP folder with joints.mat and images/")
    kw.setdefault("split", "train" if split == "train" else "test")
    return LSPDataset(root, **kw)
