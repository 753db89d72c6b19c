"""The built-in ``lift`` data sources: thin factories over `posekit.data.lifting` and
`posekit.data.datasets.h36m` (imported when the source is first used).

Every factory is ``factory(split, seed, **params)`` (see `posekit.engine.sources`); ``params``
come from the experiment's ``data.params`` / ``data.val_params``. The pose pools and fixed
subsets do not depend on the experiment seed, so runs with different seeds train on the same
poses and are validated on the same samples; the seed only drives the order, cameras and
noise of the training stream (`posekit.engine.seeding`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["h36m_npz", "real_h36m_poses", "synthetic_lift"]


def _cameras(cameras: Mapping[str, Any] | None) -> Any:
    from posekit.data.lifting import VirtualCameraSampler

    if not cameras:
        return None
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in cameras.items()}
    return VirtualCameraSampler(**fields)


def _retargeted(pool: Any, mode: str | None) -> Any:
    if mode is None:
        return pool
    from posekit.data.lifting import PosePool
    from posekit.data.lifting.retarget import retarget

    joints = retarget(pool.joints_rel_m, pool.skeleton, mode)
    return PosePool(joints, pool.skeleton, pool.labels, f"{pool.source}, retargeted {mode}")


def _pairs(pool: Any, split: str, coords: str, noise: Any, val_noise: Any, cameras: Any) -> Any:
    from posekit.data.lifting import LiftingDataset

    return LiftingDataset(
        pool,
        seed=0 if split == "train" else 1,
        coords=coords,
        noise=noise if split == "train" else val_noise,
        cameras=_cameras(cameras),
    )


def synthetic_lift(
    split: str,
    seed: int,
    *,
    num_poses: int = 50_000,
    val_poses: int = 5_000,
    pool_seed: int = 0,
    coords: str = "pixel",
    noise: Any = None,
    val_noise: Any = None,
    cameras: Mapping[str, Any] | None = None,
    retarget: str | None = None,
    family_weights: Mapping[str, float] | None = None,
) -> Any:
    """Synthetic poses (`SyntheticPosePool`, cached on disk) seen by random virtual cameras.

    Args:
        split: ``train`` or ``val`` (a disjoint pool: another pool seed).
        seed: the experiment seed (unused: the pools are fixed by ``pool_seed``).
        num_poses: training pool size; val_poses: validation pool size.
        pool_seed: seed of the training pool (the validation pool uses ``pool_seed + 1``).
        coords: input coordinates (``pixel`` or ``camera``), as the model's ``input_coords``.
        noise: 2D noise of the training pairs (None, a sigma in px, a `NoiseConfig` dict);
            val_noise: of the validation pairs.
        cameras: `VirtualCameraSampler` fields (default: Human3.6M-like cameras).
        retarget: the poses in Human3.6M's skeleton convention (`posekit.data.lifting.retarget`):
            ``"h36m_proportions"`` (its bone proportions, each body keeps its size),
            ``"h36m_lengths"`` (its bone lengths) or ``"h36m"`` (its bone lengths and trunk-bone
            directions); None: anny's own joints.
        family_weights: activity family -> weight for the pose sampler (`PoseSampler`;
            families left out get 0); None: its `DEFAULT_WEIGHTS`.

    Returns:
        A `LiftingDataset` (``sample_batch``: the fast training path).
    """
    from posekit.data.lifting import SyntheticPosePool
    from posekit.data.synthetic.poses import PoseSampler

    num = num_poses if split == "train" else val_poses
    sampler = PoseSampler(weights=dict(family_weights)) if family_weights else None
    pool = SyntheticPosePool(num, seed=pool_seed + (0 if split == "train" else 1),
                             pose_sampler=sampler)  # fmt: skip
    return _pairs(_retargeted(pool, retarget), split, coords, noise, val_noise, cameras)


def real_h36m_poses(
    split: str,
    seed: int,
    *,
    root: str | None = None,
    train_subjects: Sequence[str] = ("S1", "S5", "S6", "S7"),
    val_subjects: Sequence[str] = ("S8",),
    stride: int = 1,
    coords: str = "pixel",
    noise: Any = None,
    val_noise: Any = None,
    cameras: Mapping[str, Any] | None = None,
) -> Any:
    """Real Human3.6M 3D poses (`RealH36MPoses`, per-subject npz) seen by virtual cameras.

    Args:
        split: ``train`` (``train_subjects``) or ``val`` (``val_subjects``).
        seed: the experiment seed (unused).
        root: folder of ``S*.npz``; default ``$POSEKIT_SHARED_DATA/real/h36m_poses``.
        stride: keep every ``stride``-th pose.
        coords, noise, val_noise, cameras: as `synthetic_lift`.
    """
    from posekit.data.lifting import RealH36MPoses

    subjects = tuple(train_subjects if split == "train" else val_subjects)
    pool = RealH36MPoses(root=root, subjects=subjects, stride=stride)
    return _pairs(pool, split, coords, noise, val_noise, cameras)


def h36m_npz(
    split: str,
    seed: int,
    *,
    data_3d: str,
    cameras: str,
    data_2d: str | None = None,
    train_subjects: Sequence[str] | None = None,
    val_subjects: Sequence[str] | None = None,
    coords: str = "pixel",
    camera_ids: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    stride: int = 1,
    val_stride: int | None = None,
    distortion: bool = True,
) -> Any:
    """Human3.6M from the common preprocessed npz files (`H36MLifting`): real cameras, 2D from
    a detections file or projected ground truth.

    Args:
        split: ``train`` (default subjects S1, S5, S6, S7, S8) or ``val`` (S9, S11: protocols
            1 and 2; use ``data.val_size: 0`` to evaluate every frame).
        seed: the experiment seed (unused).
        data_3d: ``data_3d_h36m.npz``; cameras: ``cameras.pkl``; data_2d: an optional
            ``data_2d_h36m_<name>.npz`` of 2D detections.
        coords: input coordinates; camera_ids, actions: subsets; stride / val_stride: frame
            steps of the training / validation split; distortion: distort projected 2D.
    """
    from posekit.data.datasets.h36m import (
        H36M_CAMERA_IDS,
        TEST_SUBJECTS,
        TRAIN_SUBJECTS,
        H36MLifting,
    )

    train = split == "train"
    subjects = (train_subjects or TRAIN_SUBJECTS) if train else (val_subjects or TEST_SUBJECTS)
    return H36MLifting(
        data_3d,
        cameras,
        subjects=tuple(subjects),
        data_2d=data_2d,
        coords=coords,
        camera_ids=tuple(camera_ids or H36M_CAMERA_IDS),
        actions=actions,
        stride=stride if train or val_stride is None else val_stride,
        distortion=distortion,
    )
