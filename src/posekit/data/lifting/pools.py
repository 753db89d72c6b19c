"""Pools of 3D poses for 2D → 3D lifting: synthetic (anny) or real (Human3.6M).

A pool holds N root-relative poses in a *world* frame (Z up, metres, global orientation kept);
`posekit.data.lifting.LiftingDataset` puts each one in front of a random virtual camera.

- `SyntheticPosePool`: poses of the synthetic engine (`PoseSampler.sample_valid`, i.e. free of
  self-penetration, on bodies drawn by `ShapeSampler`), read off `AnnyBody.forward_joints` in
  the h36m17 layout; cached on disk, keyed by (N, seed, posekit version, a fingerprint of the
  samplers' settings and of the code that makes the poses).
- `RealH36MPoses`: the real Human3.6M poses of ``shared/data/real/h36m_poses/S*.npz``
  (``joints3d`` (N, 17, 3), ``action`` (N,)), a data set that is not part of posekit: see
  `shared_data_dir`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._checks import check_finite, check_shape
from posekit._io import atomic_write_npz
from posekit.skeletons import get_skeleton

__all__ = [
    "HANDEDNESS",
    "PosePool",
    "RealH36MPoses",
    "SyntheticPosePool",
    "detect_handedness",
    "duplicated_takes",
    "nose_forward_fraction",
    "pose_cache_dir",
    "sampler_fingerprint",
    "shared_data_dir",
]

_LOG = logging.getLogger(__name__)

_POOL_FORMAT = 1  # bump when the way a synthetic pool is made changes, to invalidate caches
_SOURCE_MODULES = (
    "posekit.data.synthetic.poses",
    "posekit.data.synthetic.pose_families",
    "posekit.data.synthetic.pose_arms",
    "posekit.data.synthetic.pose_limits",
    "posekit.data.synthetic.penetration",
    "posekit.data.synthetic.body_shapes",
    "posekit.body.anny",
    "posekit.body.anny_rig",
)


def shared_data_dir() -> Path:
    """Where the project's non-redistributable real data lives (it may not exist).

    ``$POSEKIT_SHARED_DATA`` if set, else ``<repo>/../shared/data`` (next to a source checkout).
    """
    env = os.environ.get("POSEKIT_SHARED_DATA")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


def pose_cache_dir() -> Path:
    """``$POSEKIT_CACHE/lifting`` (default ``~/.cache/posekit/lifting``)."""
    root = os.environ.get("POSEKIT_CACHE") or os.path.join("~", ".cache", "posekit")
    return Path(root).expanduser() / "lifting"


class PosePool:
    """N root-relative 3D poses in a world frame, with optional per-pose labels.

    Args:
        joints_rel_m: the poses; made root-relative here (joint 0 is subtracted).
        skeleton: the joint layout (default h36m17).
        labels: per-pose arrays of length N (e.g. ``"action"``, ``"family"``).
        source: a short description of where the poses come from.

    Shapes:
        joints_rel_m: (N, J, 3) -> stored as a float32 CPU tensor ``joints_rel_m`` (N, J, 3).

    Convention:
        World frame Z up, metres; the root (joint 0, the pelvis for h36m17) at the origin;
        the global orientation of the body is kept (the pool is not canonicalized).
    """

    def __init__(
        self,
        joints_rel_m: torch.Tensor | np.ndarray,
        skeleton: str = "h36m17",
        labels: Mapping[str, np.ndarray] | None = None,
        source: str = "",
    ) -> None:
        self.skeleton = get_skeleton(skeleton).name
        J = get_skeleton(skeleton).num_joints
        dims = check_shape(joints_rel_m, "joints_rel_m", f"N {J} 3")
        joints = torch.as_tensor(np.asarray(joints_rel_m), dtype=torch.float32)
        check_finite(joints, "joints_rel_m")
        self.joints_rel_m = (joints - joints[:, :1]).contiguous()  # (N, J, 3)
        self.labels: dict[str, np.ndarray] = {}
        for name, value in (labels or {}).items():
            arr = np.asarray(value)
            if arr.shape[:1] != (dims["N"],):
                raise ValueError(f"labels[{name!r}]: expected ({dims['N']}, ...), got {arr.shape}")
            self.labels[name] = arr
        self.source = source

    def __len__(self) -> int:
        return int(self.joints_rel_m.shape[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(N={len(self)}, skeleton={self.skeleton!r}, {self.source})"

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> PosePool:
        """A plain `PosePool` of the poses at ``index`` (indices, a boolean mask or a slice)."""
        idx = index if isinstance(index, slice) else np.asarray(index)
        joints = self.joints_rel_m.numpy()[idx]
        labels = {k: v[idx] for k, v in self.labels.items()}
        return PosePool(joints, self.skeleton, labels, f"subset of {self.source}")


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (tuple, list)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return repr(x)


def sampler_fingerprint(pose_sampler: Any, shape_sampler: Any) -> str:
    """A hash of the samplers' settings, of the code that makes poses and of anny's version.

    Any change of a sampler argument, of the pose / shape / penetration / body modules' source
    (e.g. retuned family templates or joint limits) or of the installed anny gives another
    fingerprint, hence another cache file.
    """
    import importlib
    import importlib.metadata as md

    h = hashlib.sha256()
    meta = {
        "pose_sampler": [type(pose_sampler).__qualname__, _jsonable(vars(pose_sampler))],
        "shape_sampler": [type(shape_sampler).__qualname__, _jsonable(vars(shape_sampler))],
        "format": _POOL_FORMAT,
    }
    try:
        meta["anny"] = md.version("anny")
    except md.PackageNotFoundError:
        meta["anny"] = None
    h.update(json.dumps(meta, sort_keys=True).encode())
    for name in _SOURCE_MODULES:
        path = inspect.getsourcefile(importlib.import_module(name))
        h.update(Path(path).read_bytes() if path else name.encode())
    return h.hexdigest()[:16]


class SyntheticPosePool(PosePool):
    """N penetration-free synthetic poses of varied bodies, h36m17 joints (cached on disk).

    Poses come from ``pose_sampler.sample_valid`` with a validity test that poses each
    candidate on its own body (``shape_sampler``), reads its h36m17 joints with
    `AnnyBody.forward_joints` and rejects self-penetration
    (`posekit.data.synthetic.penetration.penetration_depth` > 0). 100k poses take ~30 s on a
    busy 2-core CPU with one torch thread, ~80% of it in the body model
    (benchmarks/lifting_data.py).

    Args:
        num: number of poses N.
        seed: seeds the pose and shape generators (numpy ``SeedSequence``).
        pose_sampler: default ``PoseSampler()``.
        shape_sampler: default ``ShapeSampler()`` (adults 18-80 years).
        body: the `AnnyBody` to use; default: one built on a cache miss.
        cache: read / write the cache file.
        cache_dir: default `pose_cache_dir` (``$POSEKIT_CACHE/lifting``).
        batch_size: poses per body call.
        num_threads: torch threads while generating (restored after); None: unchanged. On a
            machine whose cores are busy with other processes, 1 thread can be several times
            faster than 2 (oversubscribed OpenMP regions stall in the body model).

    Attributes:
        joints_rel_m: (N, 17, 3) float32, root-relative, world Z up, metres.
        labels: ``"family"`` (N,) str activity family, ``"shape"`` (N, 6) phenotypes.
        cache_file: the cache file (None with ``cache=False``).
        generation_s: seconds spent generating (0.0 when read from the cache).

    Convention:
        Deterministic: the same (num, seed, samplers, code) gives the same poses. The cache
        file is written atomically (a temporary file renamed into place), so concurrent
        processes never read a partial file.
    """

    def __init__(
        self,
        num: int,
        seed: int = 0,
        pose_sampler: Any = None,
        shape_sampler: Any = None,
        body: torch.nn.Module | None = None,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 2048,
        num_threads: int | None = None,
    ) -> None:
        from posekit import __version__
        from posekit.data.synthetic.body_shapes import ShapeSampler
        from posekit.data.synthetic.poses import PoseSampler

        if int(num) != num or num < 1:
            raise ValueError(f"num: expected a positive integer, got {num!r}")
        num, seed = int(num), int(seed)
        pose_sampler = PoseSampler() if pose_sampler is None else pose_sampler
        shape_sampler = ShapeSampler() if shape_sampler is None else shape_sampler
        key = sampler_fingerprint(pose_sampler, shape_sampler)
        name = f"pool_h36m17_n{num}_seed{seed}_v{__version__}_{key}.npz"
        self.cache_file = Path(cache_dir or pose_cache_dir()) / name if cache else None
        self.generation_s = 0.0
        if self.cache_file is not None and self.cache_file.exists():
            with np.load(self.cache_file) as data:
                arrays = {k: data[k] for k in data.files}
        else:
            threads = torch.get_num_threads()
            if num_threads is not None:
                torch.set_num_threads(int(num_threads))
            try:
                t0 = time.perf_counter()
                arrays = _generate(num, seed, pose_sampler, shape_sampler, body, batch_size)
                self.generation_s = time.perf_counter() - t0
            finally:
                if num_threads is not None:
                    torch.set_num_threads(threads)
            if self.cache_file is not None:
                atomic_write_npz(self.cache_file, arrays)
        families = arrays["families"].astype(str)
        labels = {"family": families[arrays["family"]], "shape": arrays["shape"]}
        super().__init__(arrays["joints"], "h36m17", labels, f"synthetic n={num} seed={seed}")
        self.seed = seed


def _generate(
    num: int, seed: int, pose_sampler: Any, shape_sampler: Any, body: Any, batch_size: int
) -> dict[str, np.ndarray]:
    """Draw the pool: joints (N, 17, 3) root-relative float32, shape, family index, names."""
    from posekit.data.synthetic.penetration import penetration_depth

    if body is None:
        from posekit.body import AnnyBody

        body = AnnyBody()
    pose_seq, shape_seq = np.random.SeedSequence([seed, 0x11F7]).spawn(2)
    pose_rng, shape_rng = np.random.default_rng(pose_seq), np.random.default_rng(shape_seq)
    # joints and shape of every accepted candidate, keyed by its pose's bytes: sample_valid
    # returns the kept poses, and this finds their joints without a second body pass.
    found: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def is_valid(batch: Any) -> np.ndarray:
        pose = np.ascontiguousarray(batch.pose, dtype=np.float32)  # (n, 24, 3)
        shape = shape_sampler.sample(len(pose), shape_rng).astype(np.float32)  # (n, 6)
        ok = np.zeros(len(pose), bool)
        with torch.no_grad():
            for i in range(0, len(pose), batch_size):
                p = torch.from_numpy(pose[i : i + batch_size])
                s = torch.from_numpy(shape[i : i + batch_size])
                joints = body.forward_joints(p, s, layouts=("h36m17",))["h36m17"]
                good = (penetration_depth(joints.double()) <= 0).numpy()
                ok[i : i + len(p)] = good
                rel = (joints - joints[:, :1]).numpy()
                for r in np.flatnonzero(good):
                    found[pose[i + r].tobytes()] = (rel[r], shape[i + r])
        return ok

    poses, _ = pose_sampler.sample_valid(num, pose_rng, is_valid)
    kept = [found[row.tobytes()] for row in np.ascontiguousarray(poses.pose, dtype=np.float32)]
    return {
        "joints": np.stack([k[0] for k in kept]).astype(np.float32),
        "shape": np.stack([k[1] for k in kept]).astype(np.float32),
        "family": poses.family.astype(np.int64),
        "families": np.asarray(poses.families, dtype=str),
    }


#: ``RealH36MPoses(handedness=...)``: ``auto`` (detect per file), ``mirrored`` (negate y),
#: ``correct`` (read as they are).
HANDEDNESS = ("auto", "mirrored", "correct")


def nose_forward_fraction(joints: np.ndarray | torch.Tensor, skeleton: str = "h36m17") -> float:
    """The fraction of poses whose nose is in front of the thorax in a right-handed frame.

    "In front" is along ``left x up``, with left from the right to the left hip and up from the
    pelvis to the thorax: about 1 for real (correctly handed) poses, about 0 for mirror images.

    Shapes:
        joints: (N, J, 3) in ``skeleton`` (which needs pelvis, hips, thorax and neck_nose).
    """
    sk = get_skeleton(skeleton)
    j = np.asarray(joints, np.float64)
    check_shape(j, "joints", f"N {sk.num_joints} 3")
    i = {name: sk.index(name) for name in ("pelvis", "l_hip", "r_hip", "thorax", "neck_nose")}
    left = j[:, i["l_hip"]] - j[:, i["r_hip"]]  # (N, 3)
    up = j[:, i["thorax"]] - j[:, i["pelvis"]]
    forward = np.cross(left, up)
    nose = j[:, i["neck_nose"]] - j[:, i["thorax"]]
    return float(((nose * forward).sum(-1) > 0).mean()) if len(j) else float("nan")


def detect_handedness(joints: np.ndarray | torch.Tensor, where: str = "poses") -> str:
    """``"correct"`` when the nose is in front of the thorax (`nose_forward_fraction`) in most
    poses, ``"mirrored"`` when behind.

    Raises:
        ValueError: neither holds for at least 75 % of the poses (the message names ``where``).
    """
    f = nose_forward_fraction(joints)
    if f >= 0.75:
        return "correct"
    if f <= 0.25:
        return "mirrored"
    raise ValueError(
        f"{where}: cannot tell the handedness: the nose is in front of the thorax in "
        f"{100 * f:.0f} % of the poses; pass handedness='mirrored' or 'correct'"
    )


def duplicated_takes(pool: PosePool, reference: PosePool) -> np.ndarray:
    """A mask of ``pool``'s poses whose take (subject, action) is a copy of one of
    ``reference``'s: every pose of the take is, bit for bit, a pose of another subject's take
    of the same action (so a take read with a stride is found in the full one). Both pools
    need ``subject`` and ``action`` labels. Human3.6M's S8 smoking and S6 posing repeat S5's.

    Shapes:
        return: (len(pool),) bool.
    """
    mask = np.zeros(len(pool), bool)
    js, jr = pool.joints_rel_m.numpy(), reference.joints_rel_m.numpy()
    subj, act = pool.labels["subject"], pool.labels["action"]
    rsubj, ract = reference.labels["subject"], reference.labels["action"]
    for s, a in sorted(set(zip(subj.tolist(), act.tolist(), strict=True))):
        take = (subj == s) & (act == a)
        for r in sorted(set(rsubj[ract == a].tolist()) - {s}):
            other = {row.tobytes() for row in jr[(rsubj == r) & (ract == a)]}
            if all(row.tobytes() in other for row in js[take]):
                mask |= take
    return mask


class RealH36MPoses(PosePool):
    """Real Human3.6M 3D poses from ``<root>/S*.npz`` (``joints3d`` (N, 17, 3), ``action``).

    Args:
        root: the folder of the npz files; default ``shared_data_dir() / "real/h36m_poses"``.
        subjects: which subjects' files to read (e.g. ``("S1", "S5")``).
        handedness: ``auto`` (default): per file, `detect_handedness` and negate y of a
            mirrored one; ``mirrored``: negate y of every file; ``correct``: read them as
            they are (see Convention).
        stride: keep every ``stride``-th pose of each file.

    Attributes:
        joints_rel_m: (N, 17, 3) float32, root-relative, world Z up, metres.
        labels: ``"action"`` (N,) str, ``"subject"`` (N,) str.
        handedness: subject -> ``"mirrored"`` (its file was mirrored, y negated here) or
            ``"correct"``: what was found (``auto``) or given; also logged.

    Convention:
        The files of ``shared/data/real/h36m_poses`` hold mirror images of the real poses: in
        a right-handed frame their nose is behind the thorax (98% of S1's poses). Negating y
        gives proper poses in Human3.6M's own world frame (Z up): rotated into a real camera
        with its released extrinsics, the files' S1 Directions and S8 WalkDog poses then match
        the camera-frame ground truth of those frames (mean bone-direction error 7° and 5°,
        against 24° and 18° without the fix); negating x instead gives the same poses turned
        180° about Z. A corrected file (nose in front) is read as it is under ``auto``.

    Raises:
        FileNotFoundError: when the folder or a subject's file is missing.
        ValueError: ``auto`` cannot tell a file's handedness; a bad argument.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        subjects: Sequence[str] = ("S1", "S5", "S6", "S7", "S8"),
        handedness: str = "auto",
        stride: int = 1,
    ) -> None:
        folder = Path(root) if root is not None else shared_data_dir() / "real" / "h36m_poses"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Human3.6M poses: folder {folder} not found (pass root=, or set "
                "POSEKIT_SHARED_DATA to the folder that holds real/h36m_poses)"
            )
        if stride < 1:
            raise ValueError(f"stride: expected >= 1, got {stride}")
        if handedness not in HANDEDNESS:
            raise ValueError(f"handedness: expected one of {HANDEDNESS}, got {handedness!r}")
        if isinstance(subjects, str):
            subjects = (subjects,)
        joints, actions, subj = [], [], []
        self.handedness: dict[str, str] = {}
        for s in subjects:
            path = folder / f"{s}.npz"
            if not path.exists():
                raise FileNotFoundError(f"Human3.6M poses: {path} not found")
            with np.load(path) as data:
                j = np.asarray(data["joints3d"], np.float32)[::stride]
                a = np.asarray(data["action"]).astype(str)[::stride]
            check_shape(j, f"{path.name}: joints3d", "N 17 3")
            found = detect_handedness(j, str(path)) if handedness == "auto" else handedness
            if found == "mirrored":
                j = j.copy()
                j[..., 1] *= -1.0
            self.handedness[s] = found
            joints.append(j)
            actions.append(a)
            subj.append(np.full(len(j), s))
        if not joints:
            raise ValueError("subjects: expected at least one subject")
        how = ", ".join(f"{s} {h}" for s, h in self.handedness.items())
        _LOG.info("Human3.6M poses in %s: handedness %s (%s)", folder, how, handedness)
        labels = {"action": np.concatenate(actions), "subject": np.concatenate(subj)}
        mirrored = [s for s, h in self.handedness.items() if h == "mirrored"]
        note = f"; y negated in mirrored {','.join(mirrored)}" if mirrored else ""
        super().__init__(
            np.concatenate(joints), "h36m17", labels, f"Human3.6M {','.join(subjects)}{note}"
        )
