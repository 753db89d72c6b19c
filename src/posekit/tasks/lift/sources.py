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

__all__ = ["h36m_npz", "keypoints_file", "real_h36m_poses", "synthetic_lift"]


def _refuse_unknown(source: str, unknown: Mapping[str, Any], factory: Any) -> None:
    """A ValueError that names the parameters ``source`` does not take and the ``--set`` that
    replaces them (parameters of another source left in ``data.params`` are the usual cause)."""
    if not unknown:
        return
    import inspect

    known = [
        n for n, p in inspect.signature(factory).parameters.items() if p.kind is p.KEYWORD_ONLY
    ]
    raise ValueError(
        f"data source {source!r}: unknown parameter(s) {', '.join(sorted(unknown))} (left from "
        f"another source's data.params / data.val_params?); its parameters: {', '.join(known)}. "
        f"Replace them: --set data.source={source} data.params={{}} (then data.params.KEY=VALUE "
        "for its own), or data.val_params={} for a validation source"
    )


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
    **unknown: Any,
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

    Raises:
        ValueError: a parameter it does not take (the message says which ``--set`` to give).
    """
    _refuse_unknown("synthetic_lift", unknown, synthetic_lift)
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
    handedness: str = "auto",
    drop_duplicates: bool = True,
    coords: str = "pixel",
    noise: Any = None,
    val_noise: Any = None,
    cameras: Mapping[str, Any] | None = None,
    **unknown: Any,
) -> Any:
    """Real Human3.6M 3D poses (`RealH36MPoses`, per-subject npz) seen by virtual cameras.

    Choosing subjects: ``train_subjects`` and ``val_subjects`` name the files ``S*.npz`` of
    ``root`` (shared data: S1, S5, S6, S7, S8), e.g. ``--set 'data.params={train_subjects:
    [S1, S5, S6], val_subjects: [S7, S8]}'`` in training, or ``--set
    'data.val_params={val_subjects: [S7]}'`` with ``posekit eval --data real_h36m_poses``.

    Args:
        split: ``train`` (``train_subjects``) or ``val`` (``val_subjects``).
        seed: the experiment seed (unused).
        root: folder of ``S*.npz``; default ``$POSEKIT_SHARED_DATA/real/h36m_poses``.
        train_subjects: the subjects of the training split (default S1, S5, S6, S7).
        val_subjects: the subjects of the validation split (default S8).
        stride: keep every ``stride``-th pose.
        handedness: ``auto`` (detect mirrored files and fix them), ``mirrored`` or
            ``correct`` (`RealH36MPoses`).
        drop_duplicates: leave out of the validation split the takes that repeat a training
            subject's take pose for pose (`duplicated_takes`: S8 smoking and S6 posing repeat
            S5's), so that validation poses are never training poses.
        coords, noise, val_noise, cameras: as `synthetic_lift`.

    Raises:
        ValueError: a parameter it does not take (the message says which ``--set`` to give).
    """
    _refuse_unknown("real_h36m_poses", unknown, real_h36m_poses)
    from posekit.data.lifting import RealH36MPoses
    from posekit.data.lifting.pools import duplicated_takes

    train = split == "train"
    subjects = tuple(train_subjects if train else val_subjects)
    pool = RealH36MPoses(root=root, subjects=subjects, stride=stride, handedness=handedness)
    if not train and drop_duplicates:
        reference = RealH36MPoses(root=root, subjects=tuple(train_subjects),
                                  handedness=handedness)  # fmt: skip
        dup = duplicated_takes(pool, reference)
        if dup.all():
            raise ValueError(
                f"real_h36m_poses: every validation pose ({', '.join(subjects)}) repeats a "
                "training pose; choose other val_subjects (or drop_duplicates: false)"
            )
        if dup.any():
            pool = pool.subset(~dup)
    return _pairs(pool, split, coords, noise, val_noise, cameras)


def h36m_npz(
    split: str,
    seed: int,
    *,
    data_3d: str | None = None,
    cameras: str | None = None,
    data_2d: str | None = None,
    train_subjects: Sequence[str] | None = None,
    val_subjects: Sequence[str] | None = None,
    coords: str = "pixel",
    camera_ids: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    stride: int = 1,
    val_stride: int | None = None,
    distortion: bool = True,
    **unknown: Any,
) -> Any:
    """Human3.6M from the common preprocessed npz files (`H36MLifting`): real cameras, 2D from
    a detections file or projected ground truth.

    Args:
        split: ``train`` (default subjects S1, S5, S6, S7, S8) or ``val`` (S9, S11: protocols
            1 and 2; use ``data.val_size: 0`` to evaluate every frame).
        seed: the experiment seed (unused).
        data_3d: ``data_3d_h36m.npz`` (required); cameras: ``cameras.pkl`` (required);
            data_2d: an optional ``data_2d_h36m_<name>.npz`` of 2D detections.
        coords: input coordinates; camera_ids, actions: subsets; stride / val_stride: frame
            steps of the training / validation split; distortion: distort projected 2D.

    Raises:
        ValueError: a missing or unknown parameter (the message says which ``--set`` to give).
    """
    _refuse_unknown("h36m_npz", unknown, h36m_npz)
    missing = [k for k, v in (("data_3d", data_3d), ("cameras", cameras)) if v is None]
    if missing:
        key = "data.params" if split == "train" else "data.val_params"
        raise ValueError(
            f"data source 'h36m_npz': parameter(s) {', '.join(missing)} missing; give "
            + " ".join(f"--set {key}.{k}={k.upper()}" for k in missing)
            + " (data_3d: data_3d_h36m.npz, cameras: cameras.pkl)"
        )
    from posekit.data.datasets.h36m import (
        H36M_CAMERA_IDS,
        TEST_SUBJECTS,
        TRAIN_SUBJECTS,
        H36MLifting,
    )

    train = split == "train"
    subjects = (train_subjects or TRAIN_SUBJECTS) if train else (val_subjects or TEST_SUBJECTS)
    return H36MLifting(
        str(data_3d),
        str(cameras),
        subjects=tuple(subjects),
        data_2d=data_2d,
        coords=coords,
        camera_ids=tuple(camera_ids or H36M_CAMERA_IDS),
        actions=actions,
        stride=stride if train or val_stride is None else val_stride,
        distortion=distortion,
    )


def keypoints_file(
    split: str,
    seed: int,
    *,
    path: str | None = None,
    coords: str = "pixel",
    skeleton: str | None = None,
    skeleton3d: str | None = None,
    **unknown: Any,
) -> Any:
    """A user's file of 2D keypoints, intrinsics and 3D ground truth (`KeypointsFileSet`; the
    formats, ``.json`` and ``.npz``, are in `posekit.tasks.lift.keypoints_file`): what
    ``posekit eval LIFTER.ckpt --data FILE`` scores. Both splits are the whole file.

    Args:
        split: ``train`` or ``val`` (the same samples).
        seed: the experiment seed (unused).
        path: the file (required).
        coords: coordinates of the source's ``keypoints2d`` (evaluation makes the model's
            input from pixels and K, as ``posekit predict`` does).
        skeleton: the 2D layout where the file names none; skeleton3d: the layout of
            ``joints3d`` where the file names none (default ``h36m17``).

    Raises:
        FileNotFoundError, ValueError: a missing or malformed file (the message names the file
            and the field), a missing or unknown parameter.
    """
    _refuse_unknown("keypoints_file", unknown, keypoints_file)
    if path is None:
        key = "data.params" if split == "train" else "data.val_params"
        raise ValueError(
            f"data source 'keypoints_file': parameter path missing; give --set {key}.path=FILE "
            "(or posekit eval CKPT --data FILE)"
        )
    from posekit.tasks.lift.keypoints_file import KeypointsFileSet

    return KeypointsFileSet(path, coords=coords, skeleton=skeleton, skeleton3d=skeleton3d)
