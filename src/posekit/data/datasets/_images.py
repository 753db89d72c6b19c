"""Shared machinery of the real-image readers (MPII, LSP, COCO): records -> `Sample`s.

A reader parses its annotation file once into `ImageRecord`s (annotations only, small) and
loads each image when its sample is asked for. `AnnotatedImages` is the map-style dataset over
those records, with the same interface as `SyntheticDataset`: ``sample(i)`` (raw `Sample`),
``__getitem__`` (after the optional transform), plus ``num_people(i)`` without loading the image
(the pose2d crop datasets use it to index people).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from posekit.data.sample import Sample

__all__ = ["AnnotatedImages", "ImageRecord", "keypoint_boxes", "read_image_rgb"]


def read_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); ValueError naming the file if it cannot be read."""
    path = Path(path)
    data = None
    try:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size:
            data = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    except OSError as err:
        raise ValueError(f"{path}: cannot read image ({err})") from None
    if data is None:
        raise ValueError(f"{path}: cannot read image (empty or not an image file)")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def keypoint_boxes(keypoints: np.ndarray) -> np.ndarray:
    """Tight boxes (x0, y0, x1, y1) of each person's finite keypoints; NaN for none.

    The box's edges are half a pixel outside the extreme keypoints (pixel extents).

    Shapes:
        keypoints: (P, J, 2); return: (P, 4) float32.
    """
    out = np.full((keypoints.shape[0], 4), np.nan, dtype=np.float32)
    for p, kp in enumerate(keypoints):
        ok = np.isfinite(kp).all(-1)
        if ok.any():
            lo, hi = kp[ok].min(0), kp[ok].max(0)
            out[p] = (lo[0] - 0.5, lo[1] - 0.5, hi[0] + 0.5, hi[1] + 0.5)
    return out


@dataclass
class ImageRecord:
    """The annotations of one image (P people, J joints), before its pixels are loaded.

    Shapes:
        keypoints2d: (P, J, 2) float32 pixels, NaN where a joint is not labelled.
        visibility: (P, J) bool, labelled and not marked occluded.
        bbox: (P, 4) float32 (x0, y0, x1, y1) pixels.
        meta: free-form; per-person arrays have P rows.
    """

    image_path: Path
    keypoints2d: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


class AnnotatedImages(Dataset):
    """Map-style dataset over `ImageRecord`s; item ``i`` is the `Sample` of record ``i``.

    Args:
        records: the parsed annotations.
        skeleton: the layout of the keypoints (e.g. ``"mpii16"``).
        transform: applied to each `Sample` by ``__getitem__``; default none.
        load_images: read the image files (False: samples without images, e.g. for metrics).
    """

    def __init__(
        self,
        records: list[ImageRecord],
        skeleton: str,
        transform: Callable[[Sample], Any] | None = None,
        load_images: bool = True,
    ) -> None:
        self.records = records
        self.skeleton = skeleton
        self.transform = transform
        self.load_images = load_images

    def __len__(self) -> int:
        return len(self.records)

    def num_people(self, index: int) -> int:
        """People in sample ``index``, without loading its image."""
        return int(self.records[index].keypoints2d.shape[0])

    def sample(self, index: int) -> Sample:
        """The raw `Sample` at ``index`` (no transform)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        r = self.records[index]
        image = read_image_rgb(r.image_path) if self.load_images else None
        meta = {"source": str(r.image_path), "index": int(index % len(self)), **r.meta}
        return Sample(
            keypoints2d=r.keypoints2d,
            visibility=r.visibility,
            skeleton=self.skeleton,
            image=image,
            bbox=r.bbox,
            meta=meta,
        )

    def __getitem__(self, index: int) -> Any:
        s = self.sample(index)
        return s if self.transform is None else self.transform(s)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
