"""The one sample structure every reader, generator and model uses.

Conventions: images (H, W, 3) uint8 RGB; depth (H, W) float32 metres along the camera z axis
(0 where there is no measurement); 2D keypoints in pixels with pixel centres at integer
coordinates; 3D joints in the OpenCV camera frame (x right, y down, z forward), metres;
P = people in the image, J = joints of ``skeleton``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from posekit._checks import check_shape

__all__ = ["Sample"]


@dataclass
class Sample:
    """One image (or depth map) with the annotations of the P people in it.

    Shapes:
        image: (H, W, 3) uint8, or None for depth samples.
        depth: (H, W) float32 metres, or None.
        keypoints2d: (P, J, 2) float32 pixels.
        visibility: (P, J) bool — in frame and not occluded.
        joints3d: (P, J, 3) float32 camera metres, or None (2D-only datasets).
        K: (3, 3) float32 intrinsics, or None when unknown.
        bbox: (P, 4) float32 boxes (x0, y0, x1, y1) in pixels.
        body_pose: (P, Jb, 3) axis-angle radians of the body model, or None.
        body_shape: (P, S) body-model shape parameters, or None.
        body_transl: (P, 3) metres, or None.
        vertices: (P, V, 3) float32 camera metres of the body meshes, or None.
        masks: optional named (H, W) arrays: "instance" (int16, -1 background, else person
            index), "part" (int16 body-part ids, -1 background), "occluder" (bool).
        meta: free-form provenance (source file, seed, index ...).
    """

    keypoints2d: np.ndarray
    visibility: np.ndarray
    skeleton: str
    image: np.ndarray | None = None
    depth: np.ndarray | None = None
    joints3d: np.ndarray | None = None
    K: np.ndarray | None = None
    bbox: np.ndarray | None = None
    body_pose: np.ndarray | None = None
    body_shape: np.ndarray | None = None
    body_transl: np.ndarray | None = None
    vertices: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_people(self) -> int:
        return int(self.keypoints2d.shape[0])

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(H, W) of the image or depth map."""
        arr = self.image if self.image is not None else self.depth
        return None if arr is None else (int(arr.shape[0]), int(arr.shape[1]))

    def validate(self) -> None:
        """Check every field's shape and dtype against the others; ValueError naming the field."""
        dims: dict[str, int] = {}
        check_shape(self.keypoints2d, "keypoints2d", "P J 2", dims)
        check_shape(self.visibility, "visibility", "P J", dims)
        if self.visibility.dtype != np.bool_:
            raise ValueError(f"visibility: expected dtype bool, got {self.visibility.dtype}")
        if self.image is not None:
            check_shape(self.image, "image", "H W 3", dims)
            if self.image.dtype != np.uint8:
                raise ValueError(f"image: expected dtype uint8, got {self.image.dtype}")
        if self.depth is not None:
            check_shape(self.depth, "depth", "H W", dims)
            if self.depth.dtype != np.float32:
                raise ValueError(f"depth: expected dtype float32 metres, got {self.depth.dtype}")
        if self.joints3d is not None:
            check_shape(self.joints3d, "joints3d", "P J 3", dims)
        if self.K is not None:
            check_shape(self.K, "K", "3 3")
        if self.bbox is not None:
            check_shape(self.bbox, "bbox", "P 4", dims)
        if self.body_pose is not None:
            check_shape(self.body_pose, "body_pose", "P * 3", dims)
        if self.body_shape is not None:
            check_shape(self.body_shape, "body_shape", "P *", dims)
        if self.body_transl is not None:
            check_shape(self.body_transl, "body_transl", "P 3", dims)
        if self.vertices is not None:
            check_shape(self.vertices, "vertices", "P V 3", dims)
        for name, m in self.masks.items():
            check_shape(m, f"masks[{name!r}]", "H W", dims)

    def arrays(self) -> dict[str, np.ndarray]:
        """The non-empty array fields by name (masks as ``mask_<name>``)."""
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        out.update({f"mask_{k}": v for k, v in self.masks.items()})
        return out
