"""Pixels of any camera → a lifter's input coordinates: the one function behind ``posekit
predict`` (`LiftPredictor.model_input`), ``posekit eval`` and the training validation of a
lifter (`posekit.tasks.lift.datamodule.build_lift_val_set`) wherever the intrinsics are known.

A lifter learns 2D → 3D for the cameras it was trained with. Pixels are therefore first turned
into normalized image-plane coordinates with their own camera's intrinsics ``K``, then into the
model's input coordinates: ``camera`` models take them as they are; ``pixel`` models get them
as pixels of the mean training camera (`TrainingCamera`: its focal length, principal point and
image size), normalized as in training (`posekit.data.lifting.normalize_keypoints`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posekit._checks import check_shape

__all__ = ["TrainingCamera", "lifter_inputs"]


@dataclass(frozen=True)
class TrainingCamera:
    """The mean camera of a lifter's training data.

    Attributes:
        image_size: (H, W) pixels.
        focal_px: mean focal length, pixels.
        principal_px: (cx, cy) pixels.
    """

    image_size: tuple[int, int]
    focal_px: float
    principal_px: tuple[float, float]

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> TrainingCamera:
        """The camera of an experiment's training ``data.params``: its ``cameras`` section
        (`VirtualCameraSampler` fields) when it is one, else the default sampler's
        (Human3.6M-like: 1000 x 1000 px, focal 1150 px; also for ``h36m_npz``, whose
        ``cameras`` is a file of Human3.6M's own cameras)."""
        from posekit.data.lifting.cameras import VirtualCameraSampler

        cams = (params or {}).get("cameras")
        cams = cams if isinstance(cams, Mapping) else {}
        fields = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in cams.items()
            if k in ("image_size", "focal_px")
        }
        sampler = VirtualCameraSampler(**fields)
        H, W = sampler.image_size
        return cls((int(H), int(W)), float(sampler.focal_px), sampler.principal_point_px)

    def intrinsics(self, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """K (3, 3) of this camera, or (``image_size`` given) of a camera like it for another
        image size: the focal length scaled by ``max(H, W)``, principal point at the centre."""
        if image_size is None:
            cx, cy = self.principal_px
            f = self.focal_px
        else:
            H, W = image_size
            f = self.focal_px * max(H, W) / max(self.image_size)
            cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
        return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def lifter_inputs(
    keypoints_px: Tensor,
    K: Tensor,
    visibility: Tensor,
    input_coords: str,
    camera: TrainingCamera,
) -> Tensor:
    """A lifter's input from pixels and their camera's intrinsics (see the module docstring).

    Computed in float64; invisible joints (and non-finite pixels) become 0.

    Args:
        keypoints_px: 2D joints, pixels of the camera ``K`` (pixel centres at integers).
        K: intrinsics, one per sample or one for all (skew ignored).
        visibility: > 0 where the joint is present.
        input_coords: the model's ``input_coords``, ``"pixel"`` or ``"camera"``.
        camera: the model's training camera.

    Shapes:
        keypoints_px: (B, J, 2); K: (B, 3, 3) or (3, 3); visibility: (B, J);
        return: (B, J, 2) float32.
    """
    from posekit.data.lifting.dataset import COORDS, normalize_keypoints

    if input_coords not in COORDS:
        raise ValueError(f"input_coords: expected one of {COORDS}, got {input_coords!r}")
    dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
    check_shape(visibility, "visibility", "B J", dims)
    kp = torch.nan_to_num(torch.as_tensor(keypoints_px).double())  # (B, J, 2)
    K = torch.as_tensor(K, device=kp.device).double()
    if K.shape == (3, 3):
        K = K.expand(dims["B"], 3, 3)
    check_shape(K, "K", "B 3 3", dims)
    xn = (kp[..., 0] - K[:, None, 0, 2]) / K[:, None, 0, 0]  # (B, J) normalized image plane
    yn = (kp[..., 1] - K[:, None, 1, 2]) / K[:, None, 1, 1]
    if input_coords == "camera":
        x = torch.stack((xn, yn), -1)  # (B, J, 2)
    else:
        cx, cy = camera.principal_px
        f = camera.focal_px
        px = torch.stack((xn * f + cx, yn * f + cy), -1)  # (B, J, 2) training-camera pixels
        Kt = torch.tensor([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]], dtype=px.dtype)
        Kt = Kt.to(px.device).expand(dims["B"], 3, 3)
        x = normalize_keypoints(px, Kt, camera.image_size, "pixel") if dims["B"] else px
    visible = torch.as_tensor(visibility, device=kp.device) > 0
    x = torch.where(visible[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
    return x.float()
