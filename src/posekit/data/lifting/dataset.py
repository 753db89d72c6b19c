"""`LiftingDataset`: (2D keypoints, 3D joints) pairs from a pose pool and virtual cameras.

Every pair is made on the fly: a pool pose (root-relative, world Z up) is seen by a random
`VirtualCameraSampler` camera, projected to pixels, optionally corrupted by 2D noise, and the
2D input is normalized. The items (and the batches of `LiftingDataset.sample_batch`) are dicts
with exactly the keys of `LIFTING_KEYS`; the Human3.6M reader
(`posekit.data.datasets.h36m.H36MLifting`) yields the same, so a lifter trains on either:

================  ==========  =======  ======================================================
key               shape       dtype    meaning
================  ==========  =======  ======================================================
keypoints2d       (J, 2)      float32  the model input, normalized (see `normalize_keypoints`)
visibility        (J,)        bool     inside the image (and not dropped by the noise)
joints3d          (J, 3)      float32  target: root-relative joints, camera frame, metres
keypoints2d_px    (J, 2)      float32  the same input in pixels (noise included)
K                 (3, 3)      float32  the camera's intrinsics, pixels
================  ==========  =======  ======================================================

Batches carry a leading B. The root is joint 0 (the pelvis in h36m17), so ``joints3d[0] = 0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from posekit._checks import check_shape
from posekit.data.lifting.cameras import VirtualCameraSampler
from posekit.data.lifting.pools import PosePool
from posekit.geometry.camera import project, world_to_camera

__all__ = [
    "COORDS",
    "LIFTING_KEYS",
    "LiftingBatches",
    "LiftingDataset",
    "apply_2d_noise",
    "denormalize_keypoints",
    "lifting_batch",
    "normalize_keypoints",
]

COORDS: tuple[str, ...] = ("pixel", "camera")
"""Input coordinate systems: ``"pixel"``: pixels scaled by the image width, ``x / W * 2 -
(1, H / W)`` (Martinez et al.'s and VideoPose3D's ``normalize_screen_coordinates``: x in
[-1, 1], y in [-H/W, H/W]); ``"camera"``: normalized image-plane coordinates
``((u - cx) / fx, (v - cy) / fy)``, i.e. x/z and y/z of the camera-frame point."""

LIFTING_KEYS: tuple[str, ...] = ("keypoints2d", "visibility", "joints3d", "keypoints2d_px", "K")

Noise = Any  # None, a Gaussian sigma in pixels (float), or a NoiseConfig or its dict


def _image_hw(image_size: Any, B: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) as (B, 1) tensors from an (H, W) pair or a (B, 2) array of (H, W)."""
    hw = torch.as_tensor(image_size, dtype=like.dtype, device=like.device)
    if hw.shape == (2,):
        hw = hw.expand(B, 2)
    check_shape(hw, "image_size", f"{B} 2")
    return hw[:, 0:1], hw[:, 1:2]


def normalize_keypoints(
    keypoints_px: torch.Tensor, K: torch.Tensor, image_size: Any, coords: str
) -> torch.Tensor:
    """Pixels to a lifter's input coordinates (see `COORDS`).

    Args:
        keypoints_px: pixel coordinates, pixel centres at integer coordinates.
        K: intrinsics (``"camera"``; skew is ignored).
        image_size: (H, W) shared by the batch, or one (H, W) per sample (``"pixel"``).
        coords: ``"pixel"`` or ``"camera"``.

    Shapes:
        keypoints_px: (B, J, 2); K: (B, 3, 3); image_size: (2,) or (B, 2); return: (B, J, 2).
    """
    dims = check_shape(keypoints_px, "keypoints_px", "B J 2")
    check_shape(K, "K", "B 3 3", dims)
    if coords == "pixel":
        H, W = _image_hw(image_size, dims["B"], keypoints_px)  # (B, 1) each
        offset = torch.cat((torch.ones_like(H), H / W), dim=-1)[:, None]  # (B, 1, 2)
        return keypoints_px / W[:, :, None] * 2.0 - offset
    if coords == "camera":
        focal = torch.stack((K[:, 0, 0], K[:, 1, 1]), dim=-1)[:, None]  # (B, 1, 2)
        return (keypoints_px - K[:, None, :2, 2]) / focal
    raise ValueError(f"coords: expected one of {COORDS}, got {coords!r}")


def denormalize_keypoints(
    keypoints: torch.Tensor, K: torch.Tensor, image_size: Any, coords: str
) -> torch.Tensor:
    """Inverse of `normalize_keypoints`: input coordinates back to pixels (same shapes)."""
    dims = check_shape(keypoints, "keypoints", "B J 2")
    check_shape(K, "K", "B 3 3", dims)
    if coords == "pixel":
        H, W = _image_hw(image_size, dims["B"], keypoints)
        offset = torch.cat((torch.ones_like(H), H / W), dim=-1)[:, None]
        return (keypoints + offset) * W[:, :, None] / 2.0
    if coords == "camera":
        focal = torch.stack((K[:, 0, 0], K[:, 1, 1]), dim=-1)[:, None]
        return keypoints * focal + K[:, None, :2, 2]
    raise ValueError(f"coords: expected one of {COORDS}, got {coords!r}")


def apply_2d_noise(
    keypoints_px: torch.Tensor,
    visibility: torch.Tensor,
    noise: Noise,
    generator: torch.Generator | None = None,
    skeleton: str = "h36m17",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt pixel keypoints: None (no noise), a float (Gaussian std in pixels, every joint)
    or a `posekit.data.lifting.noise.NoiseConfig` / its dict (structured detector noise; its
    ``"absolute"`` units are pixels here).

    Shapes:
        keypoints_px: (B, J, 2); visibility: (B, J) bool; returns (B, J, 2), (B, J) bool.
    """
    if noise is None:
        return keypoints_px, visibility
    if isinstance(noise, (int, float)):
        if noise < 0:
            raise ValueError(f"noise: expected a sigma >= 0 px, got {noise}")
        if noise == 0:
            return keypoints_px, visibility
        eps = torch.randn(
            keypoints_px.shape, generator=generator, dtype=keypoints_px.dtype,
            device=generator.device if generator is not None else keypoints_px.device,
        )  # fmt: skip
        return keypoints_px + float(noise) * eps.to(keypoints_px.device), visibility
    from posekit.data.lifting.noise import NoiseConfig, structured_noise

    config = NoiseConfig.coerce(noise)
    noisy, vis = structured_noise(keypoints_px, visibility, skeleton, config, generator)
    return noisy, vis > 0


def lifting_batch(
    joints_cam_m: torch.Tensor,
    keypoints_px: torch.Tensor,
    visibility: torch.Tensor,
    K: torch.Tensor,
    image_size: Any,
    coords: str,
) -> dict[str, torch.Tensor]:
    """Assemble a batch dict (`LIFTING_KEYS`) from camera-frame joints and their 2D input.

    Args:
        joints_cam_m: 3D joints in the camera frame (OpenCV), metres; made root-relative.
        keypoints_px: the 2D input in pixels (noisy or not).
        visibility: visible joints.
        K: intrinsics.
        image_size: (H, W) or (B, 2), see `normalize_keypoints`.
        coords: the input coordinates, see `COORDS`.

    Shapes:
        joints_cam_m: (B, J, 3); keypoints_px: (B, J, 2); visibility: (B, J); K: (B, 3, 3).
    """
    dims = check_shape(joints_cam_m, "joints_cam_m", "B J 3")
    check_shape(keypoints_px, "keypoints_px", "B J 2", dims)
    check_shape(visibility, "visibility", "B J", dims)
    kp = keypoints_px.float()
    K = K.float()
    return {
        "keypoints2d": normalize_keypoints(kp, K, image_size, coords),
        "visibility": visibility.bool(),
        "joints3d": (joints_cam_m - joints_cam_m[:, :1]).float(),
        "keypoints2d_px": kp,
        "K": K,
    }


def _item_seed(seed: int, epoch: int, index: int, stream: int = 0) -> int:
    """A well-mixed 64-bit seed for one item of one epoch (stream 1: `iter_batches`)."""
    state = np.random.SeedSequence([seed, epoch, index, stream]).generate_state(1, np.uint64)
    return int(state[0])


class LiftingDataset(torch.utils.data.Dataset):
    """(2D, 3D) pairs: pool poses seen by random virtual cameras, made on the fly.

    Two ways to read it:

    - the fast path, `sample_batch`: B random pool poses (with replacement), B cameras and
      the noise drawn from one ``torch.Generator`` and computed in a few batched torch ops
      (0.6-1M pairs/s at B = 1024 on a busy 2-core CPU); no collate needed (`LiftingBatches`
      wraps it for a ``DataLoader``);
    - map-style ``dataset[i]`` (len = ``num``) for a ``DataLoader``: item i is pool pose
      ``order[i % N]`` (``order``: a permutation of the pool fixed by ``seed``) with a camera
      and noise drawn from a generator seeded by (seed, epoch, i): the same item every time
      within an epoch, a new camera after `set_epoch`.

    With ``fixed=True`` (validation / test sets) all ``num`` items are computed once at
    construction from ``seed``; ``dataset[i]`` and `iter_batches` then return exactly the same
    data every time, whatever the epoch.

    Args:
        pool: the 3D poses (`SyntheticPosePool`, `RealH36MPoses` or any `PosePool`).
        num: number of items; default N = len(pool).
        seed: fixes the pose order, the fixed set and the per-item draws.
        fixed: precompute the items (an evaluation set).
        coords: input coordinates, ``"pixel"`` or ``"camera"`` (see `COORDS`).
        noise: 2D noise, see `apply_2d_noise` (None, sigma px, or a `NoiseConfig` / dict).
        cameras: the camera sampler; default ``VirtualCameraSampler()`` (1000 x 1000 images).

    Shapes:
        item: see `LIFTING_KEYS` in the module docstring; batches add a leading B.

    Convention:
        Inputs in ``coords``; targets root-relative in the camera frame (OpenCV), metres.
    """

    def __init__(
        self,
        pool: PosePool,
        num: int | None = None,
        seed: int = 0,
        fixed: bool = False,
        coords: str = "pixel",
        noise: Noise = None,
        cameras: VirtualCameraSampler | None = None,
    ) -> None:
        if coords not in COORDS:
            raise ValueError(f"coords: expected one of {COORDS}, got {coords!r}")
        if len(pool) == 0:
            raise ValueError("pool: expected at least one pose")
        self.pool = pool
        self.num = len(pool) if num is None else int(num)
        if self.num < 1:
            raise ValueError(f"num: expected >= 1, got {num}")
        self.seed, self.fixed, self.coords, self.noise = int(seed), fixed, coords, noise
        self.cameras = cameras if cameras is not None else VirtualCameraSampler()
        self.skeleton = pool.skeleton
        self.epoch = 0
        self._joints = pool.joints_rel_m  # (N, J, 3) float32
        gen = torch.Generator().manual_seed(self.seed)
        self._order = torch.randperm(len(pool), generator=gen)  # (N,)
        self._fixed: dict[str, torch.Tensor] | None = None
        if fixed:
            index = self._order[torch.arange(self.num) % len(pool)]
            self._fixed = self.make_batch(index, gen)

    def __len__(self) -> int:
        return self.num

    @property
    def pose_index(self) -> torch.Tensor:
        """(num,) the pool pose of each item (``dataset[i]`` is pool pose ``pose_index[i]``)."""
        return self._order[torch.arange(self.num) % len(self.pool)]

    def set_epoch(self, epoch: int) -> None:
        """Draw new cameras and noise for the on-the-fly items (no effect when fixed)."""
        self.epoch = int(epoch)

    def to(self, device: torch.device | str) -> LiftingDataset:
        """Keep the pool's poses (and a fixed set) on ``device``; batches are made there (pass
        a generator on that device to `sample_batch`). Returns self."""
        self._joints = self._joints.to(device)
        if self._fixed is not None:
            self._fixed = {k: v.to(device) for k, v in self._fixed.items()}
        return self

    def make_batch(
        self, pose_index: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The pairs of the given pool poses with cameras and noise drawn from ``generator``.

        Shapes:
            pose_index: (B,) long; return: the `LIFTING_KEYS` dict with a leading B.
        """
        check_shape(pose_index, "pose_index", "B")
        joints_w = self._joints[pose_index.to(self._joints.device)]  # (B, J, 3)
        B = joints_w.shape[0]
        cam = self.cameras.sample(B, generator, dtype=joints_w.dtype, device=joints_w.device)
        joints_cam = world_to_camera(joints_w, cam.R, cam.t)  # (B, J, 3)
        kp = project(joints_cam, cam.K)  # (B, J, 2)
        H, W = self.cameras.image_size
        u, v = kp.unbind(-1)
        visible = (joints_cam[..., 2] > 0) & (u >= -0.5) & (u <= W - 0.5)
        visible &= (v >= -0.5) & (v <= H - 0.5)
        kp, visible = apply_2d_noise(kp, visible, self.noise, generator, self.skeleton)
        return lifting_batch(joints_cam, kp, visible, cam.K, (H, W), self.coords)

    def sample_batch(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """B random pairs (poses drawn with replacement): the fast training path.

        Deterministic given the generator's state. Ignores ``fixed`` (always fresh draws).
        """
        gen_device = generator.device if generator is not None else torch.device("cpu")
        index = torch.randint(len(self.pool), (int(batch_size),), generator=generator,
                              device=gen_device)  # fmt: skip
        return self.make_batch(index, generator)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -self.num <= i < self.num:
            raise IndexError(f"index {i} out of range for a dataset of {self.num} items")
        i = i % self.num
        if self._fixed is not None:
            return {k: v[i] for k, v in self._fixed.items()}
        gen = torch.Generator().manual_seed(_item_seed(self.seed, self.epoch, i))
        batch = self.make_batch(self._order[i % len(self.pool)].reshape(1), gen)
        return {k: v[0] for k, v in batch.items()}

    def iter_batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches of the whole set: the fixed items in order (the last batch may be short),
        or ``ceil(num / B)`` `sample_batch` draws seeded by (seed, epoch) when not fixed."""
        if self._fixed is not None:
            for start in range(0, self.num, batch_size):
                yield {k: v[start : start + batch_size] for k, v in self._fixed.items()}
            return
        gen = torch.Generator().manual_seed(_item_seed(self.seed, self.epoch, 0, stream=1))
        for start in range(0, self.num, batch_size):
            yield self.sample_batch(min(batch_size, self.num - start), gen)


class LiftingBatches(torch.utils.data.IterableDataset):
    """An epoch of `LiftingDataset.sample_batch` batches, for ``DataLoader(batches,
    batch_size=None, num_workers=...)`` (the batches are already collated).

    Worker w of n yields batches w, w + n, ... from a generator seeded by (seed, epoch, w):
    deterministic for a given number of workers; `set_epoch` draws new batches.

    Args:
        dataset: the pair source (its ``fixed`` flag is ignored: always fresh draws).
        batch_size: pairs per batch.
        num_batches: batches per epoch; default ``ceil(len(dataset) / batch_size)``.
        seed: default the dataset's seed.
    """

    def __init__(
        self,
        dataset: LiftingDataset,
        batch_size: int,
        num_batches: int | None = None,
        seed: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.num_batches = (
            -(-len(dataset) // self.batch_size) if num_batches is None else num_batches
        )
        self.seed = dataset.seed if seed is None else int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        """Use another epoch's generator from the next iteration on."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        gen = torch.Generator().manual_seed(_item_seed(self.seed, self.epoch, worker, stream=2))
        for _ in range(worker, self.num_batches, workers):
            yield self.dataset.sample_batch(self.batch_size, gen)
