"""Person crops with 3D targets for the ``pose3d`` task: `TopDownCrops` plus each joint's depth
relative to the root, the camera-frame joints and the intrinsics, and the occlusion
augmentation of Sárándi et al. 2018.

Shapes:
    J joints of the items' skeleton, (H, W) the crop size.

Conventions:
    ``depth_rel_m`` (J,) is the camera z of a joint minus that of the root joint (metres,
    positive away from the camera); in-plane rotation, scale and the horizontal flip of the
    crop leave it unchanged, so it follows the 2D keypoints through the flip's left/right swap
    and nothing else. ``joints3d`` (J, 3) are the unaugmented camera-frame joints (OpenCV:
    x right, y down, z forward), the ground truth the predictions are scored against after
    mapping back through ``affine_inv``; NaN where the source lacks a joint.

Occlusion augmentation (`OcclusionAugment`): with ``probability``, ``min_count``–``max_count``
objects of the engine's occluder shapes (`posekit.data.synthetic.occluders`: textured
polygons, ellipses, boxes, blobs, a picture cut-out) are pasted over the crop, each sized
``min_size``–``max_size`` of the crop side. The targets are unchanged: a hidden joint keeps
its 3D position, which is what the augmentation teaches (Sárándi et al. 2018: training with
pasted objects made the model far more robust to occluded test images). Draws are fixed by
(seed, epoch, index) like the geometric augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit.data.pose2d import TopDownCrops, normalize_image
from posekit.data.synthetic.occluders import OCCLUDER_SHAPES, OccluderConfig, paste_occluders
from posekit.data.transforms import flip_permutation
from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import joint_map

__all__ = ["OcclusionAugment", "Pose3DCrops"]


@dataclass(frozen=True)
class OcclusionAugment:
    """Occluders pasted over training crops (Sárándi et al. 2018).

    Attributes:
        probability: chance that a crop gets objects (0 turns the augmentation off).
        min_count, max_count: objects per occluded crop, uniform in the range.
        min_size, max_size: object size (longest side) as a fraction of the crop side.
        shapes: the shapes drawn (a subset of `OCCLUDER_SHAPES`); hold some out of training to
            test on occluders the model never saw.
    """

    probability: float = 0.0
    min_count: int = 1
    max_count: int = 3
    min_size: float = 0.2
    max_size: float = 0.5
    shapes: tuple[str, ...] = ("polygon", "ellipse", "box")

    def __post_init__(self) -> None:
        object.__setattr__(self, "shapes", tuple(self.shapes))
        self.occluder_config()  # validates the ranges and shapes

    def occluder_config(self) -> OccluderConfig:
        """The `OccluderConfig` of `paste_occluders` (objects over the whole crop, sized by
        the crop's side; the crop is the person box)."""
        if set(self.shapes) - set(OCCLUDER_SHAPES):
            raise ValueError(
                f"occlusion.shapes: expected a subset of {OCCLUDER_SHAPES}, got {self.shapes}"
            )
        return OccluderConfig(
            probability=float(self.probability),
            min_count=int(self.min_count),
            max_count=int(self.max_count),
            min_size=float(self.min_size),
            max_size=float(self.max_size),
            overlap_bias=0.0,
            shapes=self.shapes,
        )


class Pose3DCrops(TopDownCrops):
    """One item per person: `TopDownCrops`' fields plus ``depth_rel_m`` (J,), ``joints3d``
    (J, 3) camera metres, ``K`` (3, 3) and ``root_index`` (see the module docstring).

    Args:
        samples: the source of `Sample`s with ``joints3d`` (and ``K`` for absolute 3D).
        input_size_hw, skeleton, train, augment, padding, seed: as `TopDownCrops`.
        occlusion: the occlusion augmentation of training crops (None or probability 0: off).
        root: the root joint's name (default the skeleton's root, the pelvis of h36m17).

    Raises:
        ValueError: a sample without 3D joints (in ``__getitem__``, naming the sample), or a
            root the skeleton lacks.
    """

    def __init__(
        self,
        samples: Any,
        input_size_hw: Sequence[int] = (128, 128),
        skeleton: str | None = None,
        train: bool = False,
        augment: Any = None,
        padding: float = 1.25,
        seed: int = 0,
        occlusion: OcclusionAugment | None = None,
        root: str | None = None,
    ) -> None:
        super().__init__(
            samples,
            input_size_hw=input_size_hw,
            skeleton=skeleton,
            train=train,
            augment=augment,
            padding=padding,
            seed=seed,
            min_labelled=1,
        )
        self.occlusion = occlusion if train else None
        sk = get_skeleton(self.skeleton)
        root_name = root if root is not None else sk.joints[0]
        if root_name not in sk.joints:
            raise ValueError(f"root: skeleton {sk.name!r} has no joint {root_name!r}")
        self.root_index = sk.index(root_name)

    def _joints3d(self, s: Any, p: int, i: int) -> np.ndarray:
        if s.joints3d is None:
            raise ValueError(f"source[{i}]: the sample has no joints3d (a 2D-only dataset?)")
        j3 = np.asarray(s.joints3d[p], np.float32)
        if s.skeleton == self.skeleton:
            return j3
        s_idx, d_idx = joint_map(s.skeleton, self.skeleton)
        out = np.full((get_skeleton(self.skeleton).num_joints, 3), np.nan, np.float32)
        out[d_idx] = j3[s_idx]
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        crop, item, s, params = self.person_crop(index)
        i, p = self.index[index]
        if self.occlusion is not None and self.occlusion.probability > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index, 7])
            crop, _ = paste_occluders(crop, rng, None, self.occlusion.occluder_config())
        j3 = self._joints3d(s, p, i)
        depth_rel = j3[:, 2] - j3[self.root_index, 2]
        if params.flip:
            depth_rel = depth_rel[flip_permutation(self.skeleton)]
        K = s.K if s.K is not None else np.full((3, 3), np.nan, np.float32)
        weight = item["target_weight"] * torch.from_numpy(np.isfinite(depth_rel).astype(np.float32))
        return {
            "image": normalize_image(crop),
            **item,
            "target_weight": weight,
            "depth_rel_m": torch.from_numpy(np.nan_to_num(depth_rel).astype(np.float32)),
            "joints3d": torch.from_numpy(j3),
            "K": torch.from_numpy(np.asarray(K, np.float32)),
        }
