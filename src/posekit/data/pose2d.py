"""2D pose training data: top-down person crops and bottom-up whole images, as tensors.

Both datasets wrap any sequence of `Sample`s (`SyntheticDataset`, `MPIIDataset`, `LSPDataset`,
`COCODataset`, a list): a source with ``sample(i)`` is read through it (skipping its own
transform), anything else by ``source[i]``.

Item contract (``TopDownCrops``; H, W = ``input_size_hw``; J joints of ``skeleton``):

=================  ==========  ==============================================================
key                shape       meaning
=================  ==========  ==============================================================
image              (3, H, W)   float32 RGB, ``(pixel / 255 - IMAGENET_MEAN) / IMAGENET_STD``
keypoints          (J, 2)      float32 crop pixels (pixel centres at integers); NaN where the
                               position is unknown (not labelled, or a joint the source
                               skeleton lacks)
visibility         (J,)        bool: the source's visibility (labelled, not occluded) and
                               inside the crop
target_weight      (J,)        float32 1/0: what to supervise: position known and inside the
                               crop (occluded joints included, as COCO's v = 1; with
                               ``supervise_occluded=False`` it equals ``visibility``)
keypoints_image    (J, 2)      float32 source-image pixels, NaN unknown (for evaluation: map
                               predictions back with ``affine_inv``; unknown = not labelled)
affine             (2, 3)      float32 image -> crop (augmentation included)
affine_inv         (2, 3)      float32 crop -> image
bbox               (4,)        float32 the person's box (x0, y0, x1, y1), image pixels
norm_length_px     ()          float32 PCK normalization length, image pixels (see ``norm``)
norm_kind          str         "head", "torso" or "bbox": what ``norm_length_px`` is
sample_index       ()          int64 index into the source
person_index       ()          int64 person within that sample
=================  ==========  ==============================================================

``BottomUpImages`` items: ``image`` (3, H, W); ``keypoints`` (Pmax, J, 2) crop pixels, NaN for
unknown joints and for the padding rows; ``visibility`` (Pmax, J) bool; ``target_weight``
(Pmax, J) float32; ``keypoints_image`` (Pmax, J, 2); ``num_people`` () int64; ``affine``,
``affine_inv`` (2, 3); ``image_size_hw`` (2,) int64 of the source image; ``sample_index``.

Skeletons: when ``skeleton`` differs from a sample's, joints are copied by name
(`posekit.skeletons.joint_map`); joints the source lacks get NaN positions and are invisible
(e.g. synthetic ``h36m17`` -> ``mpii16`` has no MPII "neck": H3.6M's joint is "neck_nose").

Randomness: in training, item ``i`` of epoch ``e`` draws its augmentation from
``numpy.random.default_rng([seed, e, i])``, deterministic whatever the worker or order; call
``set_epoch(e)`` each epoch for new draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.data.sample import Sample
from posekit.data.transforms import (
    AugmentConfig,
    AugmentParams,
    crop_and_augment,
    inside_crop,
    sample_augment,
)
from posekit.geometry.crops import bbox_to_center_scale, invert_affine
from posekit.skeletons import get_skeleton, joint_map

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BottomUpImages",
    "TopDownCrops",
    "convert_skeleton",
    "normalize_image",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel RGB mean of ImageNet (images in [0, 1]), the usual backbone normalization."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel RGB standard deviation of ImageNet (images in [0, 1])."""

NormKind = Literal["auto", "head", "torso", "bbox"]


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W), ``(x / 255 - IMAGENET_MEAN) / IMAGENET_STD``."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (t - mean) / std


def convert_skeleton(
    keypoints: np.ndarray, visibility: np.ndarray, src: str, dst: str
) -> tuple[np.ndarray, np.ndarray]:
    """Re-express keypoints of layout ``src`` in layout ``dst``, joints matched by name.

    Shapes:
        keypoints: (..., J_src, 2); visibility: (..., J_src);
        returns: (..., J_dst, 2) float32 with NaN for joints ``src`` lacks, (..., J_dst) bool.
    """
    if src == dst:
        return keypoints, visibility
    s_idx, d_idx = joint_map(src, dst)
    J = get_skeleton(dst).num_joints
    kp = np.full((*keypoints.shape[:-2], J, 2), np.nan, np.float32)
    vis = np.zeros((*visibility.shape[:-1], J), bool)
    kp[..., d_idx, :] = keypoints[..., s_idx, :]
    vis[..., d_idx] = visibility[..., s_idx]
    return kp, vis


def _get_sample(source: Any, index: int) -> Sample:
    s = source.sample(index) if hasattr(source, "sample") else source[index]
    if not isinstance(s, Sample):
        raise ValueError(f"source[{index}]: expected a Sample, got {type(s).__name__}")
    return s


def _synthetic_people_counts(source: Any) -> list[int] | None:
    """People per sample of a `SyntheticDataset` from its keypoint arrays alone (no images).

    Reads the ``keypoints2d`` npy entry of each sample in its shard; None if the source is not
    a shard dataset of that form (then every sample is loaded instead).
    """
    from posekit.data.datasets.synthetic import SyntheticDataset

    if not isinstance(source, SyntheticDataset):
        return None
    import io

    counts = []
    try:
        for shard in range(len(source._files)):
            reader = source._reader(shard)
            for group in reader._groups:
                header = reader._zf.read(group["keypoints2d"])
                counts.append(int(np.load(io.BytesIO(header)).shape[0]))
    except (AttributeError, KeyError, ValueError, OSError):
        return None
    return counts if len(counts) == len(source) else None


def _people_counts(source: Any) -> list[int]:
    if hasattr(source, "num_people"):
        return [int(source.num_people(i)) for i in range(len(source))]
    counts = _synthetic_people_counts(source)
    if counts is not None:
        return counts
    return [_get_sample(source, i).num_people for i in range(len(source))]


def _check_size(size_hw: Sequence[int]) -> tuple[int, int]:
    if len(size_hw) != 2 or any(int(s) != s or s <= 0 for s in size_hw):
        raise ValueError(f"input_size_hw: expected (H, W) positive ints, got {size_hw!r}")
    return int(size_hw[0]), int(size_hw[1])


def _person_box(sample: Sample, p: int) -> np.ndarray | None:
    if sample.bbox is not None and np.isfinite(sample.bbox[p]).all():
        box = sample.bbox[p].astype(np.float64)
        if box[2] > box[0] and box[3] > box[1]:
            return box
    kp = sample.keypoints2d[p]
    ok = np.isfinite(kp).all(-1)
    if not ok.any():
        return None
    lo, hi = kp[ok].min(0) - 0.5, kp[ok].max(0) + 0.5
    return np.array([lo[0], lo[1], hi[0], hi[1]], np.float64)


class _PoseDataBase(Dataset):
    def __init__(
        self,
        samples: Any,
        input_size_hw: Sequence[int],
        skeleton: str | None,
        train: bool,
        augment: AugmentConfig | None,
        seed: int,
        supervise_occluded: bool,
    ) -> None:
        self.source = samples
        self.input_size_hw = _check_size(input_size_hw)
        self._skeleton = skeleton
        self.train = train
        self.augment = augment if augment is not None else AugmentConfig()
        self.seed = int(seed)
        self.epoch = 0
        self.supervise_occluded = supervise_occluded

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of epoch ``epoch``."""
        self.epoch = int(epoch)

    def _params(self, index: int) -> AugmentParams:
        if not self.train:
            return AugmentParams()
        return sample_augment(np.random.default_rng([self.seed, self.epoch, index]), self.augment)

    def _sample(self, index: int) -> tuple[Sample, np.ndarray, np.ndarray]:
        s = _get_sample(self.source, index)
        if s.image is None:
            raise ValueError(f"source[{index}]: the sample has no image (load_images=False?)")
        kp, vis = convert_skeleton(s.keypoints2d, s.visibility, s.skeleton, self.skeleton)
        return s, kp, vis

    @property
    def skeleton(self) -> str:
        """The keypoint layout of the items (the model's)."""
        if self._skeleton is None:
            own = getattr(self.source, "skeleton", None)  # the readers know theirs
            self._skeleton = own if isinstance(own, str) else _get_sample(self.source, 0).skeleton
        return self._skeleton

    def _weights(self, kp_crop: np.ndarray, vis: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        known = inside_crop(kp_crop, size)
        return (known if self.supervise_occluded else vis).astype(np.float32)


class TopDownCrops(_PoseDataBase):
    """One item per person: an (augmented) crop around the person's box (module docstring).

    Args:
        samples: the source of `Sample`s.
        input_size_hw: crop size (H, W), e.g. (256, 192).
        skeleton: the layout of the items (the model's); default the samples' own.
        train: draw an augmentation per item (rotation, scale, flip, colour jitter).
        augment: the ranges (default `AugmentConfig()`).
        padding: factor on the aspect-fixed person box (1.25, as SimpleBaseline and HRNet).
        seed: base seed of the augmentation.
        min_labelled: skip people with fewer labelled joints (known positions, in the items'
            skeleton) than this; applied where the annotations are in memory (the readers'
            ``records``), other sources keep every person (synthetic joints are all known).
        norm: PCK normalization: ``"head"`` (``meta["head_size_px"]``, MPII's PCKh),
            ``"torso"`` (``meta["torso_size_px"]``, else the right-shoulder to left-hip
            distance of the source keypoints, LSP's PCK@0.2), ``"bbox"`` (the larger side of
            the unpadded person box) or ``"auto"``: head if the source has it, else a torso
            from ``meta``, else bbox. NaN when the chosen length is not available.
        supervise_occluded: ``target_weight`` includes labelled occluded joints (default).

    People whose box cannot be made (no box and no labelled joint) are skipped. Building the
    person index reads the number of people of every sample once (cheaply for the readers and
    synthetic shards, which do not decode images for it).
    """

    def __init__(
        self,
        samples: Any,
        input_size_hw: Sequence[int] = (256, 192),
        skeleton: str | None = None,
        train: bool = False,
        augment: AugmentConfig | None = None,
        padding: float = 1.25,
        seed: int = 0,
        min_labelled: int = 1,
        norm: NormKind = "auto",
        supervise_occluded: bool = True,
    ) -> None:
        super().__init__(samples, input_size_hw, skeleton, train, augment, seed, supervise_occluded)
        if norm not in ("auto", "head", "torso", "bbox"):
            raise ValueError(f"norm: expected auto, head, torso or bbox, got {norm!r}")
        if padding <= 0:
            raise ValueError(f"padding: expected > 0, got {padding}")
        self.padding = float(padding)
        self.norm = norm
        self.min_labelled = int(min_labelled)
        self.index: list[tuple[int, int]] = []
        counts = _people_counts(samples)
        needs_check = self.min_labelled > 0 or skeleton is not None
        for i, n in enumerate(counts):
            if n == 0:
                continue
            keep = list(range(n))
            if needs_check and hasattr(samples, "records"):  # readers: annotations in memory
                keep = [p for p in keep if self._enough(samples, i, p)]
            self.index.extend((i, p) for p in keep)

    def _enough(self, samples: Any, i: int, p: int) -> bool:
        r = samples.records[i]
        vis = np.zeros(r.keypoints2d.shape[1], bool)
        kp, _ = convert_skeleton(r.keypoints2d[p], vis, samples.skeleton, self.skeleton)
        return int(np.isfinite(kp).all(-1).sum()) >= self.min_labelled

    def __len__(self) -> int:
        return len(self.index)

    def _norm_length(self, s: Sample, p: int, box: np.ndarray) -> tuple[float, str]:
        head = s.meta.get("head_size_px")
        torso = s.meta.get("torso_size_px")
        kind = self.norm
        if kind == "auto":
            if head is not None and np.isfinite(head[p]):
                kind = "head"
            elif torso is not None and np.isfinite(torso[p]):
                kind = "torso"
            else:
                kind = "bbox"
        if kind == "head":
            return (float(head[p]) if head is not None else float("nan")), kind
        if kind == "torso":
            if torso is not None:
                return float(torso[p]), kind
            sk = get_skeleton(s.skeleton)
            if "r_shoulder" in sk.joints and "l_hip" in sk.joints:
                d = s.keypoints2d[p, sk.index("r_shoulder")] - s.keypoints2d[p, sk.index("l_hip")]
                return float(np.hypot(d[0], d[1])), kind
            return float("nan"), kind
        return float(max(box[2] - box[0], box[3] - box[1])), kind

    def person_crop(self, index: int) -> tuple[np.ndarray, dict[str, Any], Sample, AugmentParams]:
        """Item ``index`` before the image is normalized: the (H, W, 3) uint8 crop, the item's
        other fields (as `__getitem__`), its `Sample` and its augmentation."""
        i, p = self.index[index]
        s, kp_all, vis_all = self._sample(i)
        kp_img, vis_img = kp_all[p], vis_all[p]
        box = _person_box(s, p)
        if box is None:
            raise ValueError(f"source[{i}] person {p}: no box and no labelled joint to crop")
        size = self.input_size_hw
        center, height = bbox_to_center_scale(torch.from_numpy(box), size)
        params = self._params(index)
        crop, kp, vis, M = crop_and_augment(
            s.image,
            kp_img,
            vis_img,
            center,
            float(height) * self.padding,
            size,
            params,
            self.skeleton,
        )
        norm_px, kind = self._norm_length(s, p, box)
        item = {
            "keypoints": torch.from_numpy(kp),
            "visibility": torch.from_numpy(vis),
            "target_weight": torch.from_numpy(self._weights(kp, vis, size)),
            "keypoints_image": torch.from_numpy(np.asarray(kp_img, np.float32)),
            "affine": M.float(),
            "affine_inv": invert_affine(M).float(),
            "bbox": torch.from_numpy(box.astype(np.float32)),
            "norm_length_px": torch.tensor(norm_px, dtype=torch.float32),
            "norm_kind": kind,
            "sample_index": torch.tensor(i, dtype=torch.int64),
            "person_index": torch.tensor(p, dtype=torch.int64),
        }
        return crop, item, s, params

    def __getitem__(self, index: int) -> dict[str, Any]:
        crop, item, _, _ = self.person_crop(index)
        return {"image": normalize_image(crop), **item}


class BottomUpImages(_PoseDataBase):
    """One item per image: the whole image letterboxed to (H, W) with all its people.

    The image's box is padded to the aspect ratio of (H, W) about its centre (letterbox, black
    borders) and scaled to fit; in training the same rotation / scale / flip / colour draw as
    `TopDownCrops` applies about the image centre.

    Args:
        samples: the source of `Sample`s.
        input_size_hw: output size (H, W), e.g. (512, 512).
        skeleton: the layout of the items; default the samples' own.
        max_people: Pmax, the padded people dimension; extra people are dropped (in order).
        train, augment, seed, supervise_occluded: as `TopDownCrops`.
    """

    def __init__(
        self,
        samples: Any,
        input_size_hw: Sequence[int] = (512, 512),
        skeleton: str | None = None,
        max_people: int = 30,
        train: bool = False,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        supervise_occluded: bool = True,
    ) -> None:
        super().__init__(samples, input_size_hw, skeleton, train, augment, seed, supervise_occluded)
        if max_people <= 0:
            raise ValueError(f"max_people: expected > 0, got {max_people}")
        self.max_people = int(max_people)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s, kp_img, vis_img = self._sample(index)
        P = min(s.num_people, self.max_people)
        kp_img, vis_img = kp_img[:P], vis_img[:P]
        H_in, W_in = s.image.shape[:2]
        whole = torch.tensor([-0.5, -0.5, W_in - 0.5, H_in - 0.5], dtype=torch.float64)
        size = self.input_size_hw
        center, height = bbox_to_center_scale(whole, size)
        crop, kp, vis, M = crop_and_augment(
            s.image,
            kp_img,
            vis_img,
            center,
            float(height),
            size,
            self._params(index),
            self.skeleton,
        )
        J = kp.shape[-2]
        kp_pad = np.full((self.max_people, J, 2), np.nan, np.float32)
        vis_pad = np.zeros((self.max_people, J), bool)
        w_pad = np.zeros((self.max_people, J), np.float32)
        img_pad = np.full((self.max_people, J, 2), np.nan, np.float32)
        kp_pad[:P], vis_pad[:P], img_pad[:P] = kp, vis, kp_img
        w_pad[:P] = self._weights(kp, vis, size)
        return {
            "image": normalize_image(crop),
            "keypoints": torch.from_numpy(kp_pad),
            "visibility": torch.from_numpy(vis_pad),
            "target_weight": torch.from_numpy(w_pad),
            "keypoints_image": torch.from_numpy(img_pad),
            "num_people": torch.tensor(P, dtype=torch.int64),
            "affine": M.float(),
            "affine_inv": invert_affine(M).float(),
            "image_size_hw": torch.tensor([H_in, W_in], dtype=torch.int64),
            "sample_index": torch.tensor(index, dtype=torch.int64),
        }
