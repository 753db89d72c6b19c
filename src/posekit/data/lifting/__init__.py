"""Data for 2D → 3D lifting: 3D pose pools, virtual cameras and the (2D, 3D) pair dataset.

- `SyntheticPosePool` / `RealH36MPoses` / `PosePool`: root-relative 3D poses, world Z up;
- `VirtualCameraSampler`: random Human3.6M-like cameras around the person, batched;
- `LiftingDataset`: pairs made on the fly (``sample_batch`` is the fast path, `LiftingBatches`
  its DataLoader wrapper), dict items with the keys of `LIFTING_KEYS` (also yielded by
  `posekit.data.datasets.h36m.H36MLifting`).
"""

from __future__ import annotations

from posekit.data.lifting.cameras import VirtualCameraSampler
from posekit.data.lifting.dataset import (
    COORDS,
    LIFTING_KEYS,
    LiftingBatches,
    LiftingDataset,
    apply_2d_noise,
    denormalize_keypoints,
    lifting_batch,
    normalize_keypoints,
)
from posekit.data.lifting.pools import (
    PosePool,
    RealH36MPoses,
    SyntheticPosePool,
    pose_cache_dir,
    sampler_fingerprint,
    shared_data_dir,
)

__all__ = [
    "COORDS",
    "LIFTING_KEYS",
    "LiftingBatches",
    "LiftingDataset",
    "PosePool",
    "RealH36MPoses",
    "SyntheticPosePool",
    "VirtualCameraSampler",
    "apply_2d_noise",
    "denormalize_keypoints",
    "lifting_batch",
    "normalize_keypoints",
    "pose_cache_dir",
    "sampler_fingerprint",
    "shared_data_dir",
]
