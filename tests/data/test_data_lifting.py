"""Tests of posekit.data.lifting: pose pools (synthetic, real), virtual cameras, LiftingDataset.

The session-wide ``anny_body`` fixture comes from tests/data/conftest.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.data.lifting import (
    LIFTING_KEYS,
    LiftingDataset,
    PosePool,
    RealH36MPoses,
    VirtualCameraSampler,
    denormalize_keypoints,
    normalize_keypoints,
    sampler_fingerprint,
)
from posekit.skeletons import H36M17

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "real"
I = {n: i for i, n in enumerate(H36M17.joints)}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("posekit_cache")


@pytest.fixture(scope="module")
def pool(anny_body, cache_dir):
    from posekit.data.lifting import SyntheticPosePool

    return SyntheticPosePool(500, seed=3, body=anny_body, cache_dir=cache_dir)


def _random_pool(n: int = 300, seed: int = 0) -> PosePool:
    """A cheap pool of body-sized random poses (no anny), world Z up."""
    gen = torch.Generator().manual_seed(seed)
    return PosePool(0.3 * torch.randn(n, 17, 3, generator=gen), "h36m17")


# --- pools ---------------------------------------------------------------------------------


def test_synthetic_pool_is_valid_and_labelled(pool) -> None:
    from posekit.data.synthetic.penetration import penetration_depth

    j = pool.joints_rel_m
    assert j.shape == (500, 17, 3) and j.dtype == torch.float32
    assert torch.equal(j[:, 0], torch.zeros(500, 3))
    assert (penetration_depth(j.double()) <= 0).all()
    thigh = (j[:, I["l_knee"]] - j[:, I["l_hip"]]).norm(dim=-1)
    assert 0.25 < thigh.min() and thigh.max() < 0.6  # adult thighs, metres
    assert pool.labels["family"].shape == (500,) and pool.labels["shape"].shape == (500, 6)
    # world Z up: standing people hold their head above the pelvis
    standing = pool.labels["family"] == "stand"
    assert standing.sum() > 20 and (j[standing, I["head_top"], 2] > 0.4).all()
    assert len(np.unique(j.numpy().round(4), axis=0)) == 500


def test_synthetic_pool_cache_round_trip(pool, anny_body, cache_dir) -> None:
    from posekit.data.lifting import SyntheticPosePool

    assert pool.cache_file is not None and pool.cache_file.parent == cache_dir
    assert "n500_seed3" in pool.cache_file.name
    assert not list(cache_dir.glob("*.tmp"))  # written atomically, nothing left behind
    again = SyntheticPosePool(500, seed=3, body=anny_body, cache_dir=cache_dir)
    assert again.generation_s == 0.0  # read, not generated
    assert torch.equal(again.joints_rel_m, pool.joints_rel_m)
    assert (again.labels["family"] == pool.labels["family"]).all()


def test_synthetic_pool_is_seed_deterministic(anny_body) -> None:
    from posekit.data.lifting import SyntheticPosePool

    a = SyntheticPosePool(40, seed=5, body=anny_body, cache=False)
    b = SyntheticPosePool(40, seed=5, body=anny_body, cache=False)
    c = SyntheticPosePool(40, seed=6, body=anny_body, cache=False)
    assert a.cache_file is None and a.generation_s > 0
    assert torch.equal(a.joints_rel_m, b.joints_rel_m)
    assert not torch.allclose(a.joints_rel_m, c.joints_rel_m)


def test_fingerprint_follows_the_sampler_settings() -> None:
    pytest.importorskip("anny")
    from posekit.data.synthetic.body_shapes import ShapeSampler
    from posekit.data.synthetic.poses import PoseSampler

    base = sampler_fingerprint(PoseSampler(), ShapeSampler())
    assert base == sampler_fingerprint(PoseSampler(), ShapeSampler())
    assert base != sampler_fingerprint(PoseSampler(noise_scale=0.5), ShapeSampler())
    assert base != sampler_fingerprint(PoseSampler(), ShapeSampler(age_years=(20, 30)))


def test_pose_pool_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match=r"joints_rel_m: expected \(N, 17, 3\)"):
        PosePool(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="labels"):
        PosePool(np.zeros((4, 17, 3)), labels={"action": np.zeros(3)})
    p = PosePool(np.ones((4, 17, 3)) * np.arange(17)[:, None], labels={"a": np.arange(4)})
    assert torch.equal(p.joints_rel_m[:, 0], torch.zeros(4, 3))  # made root-relative
    assert len(p.subset([1, 3])) == 2 and list(p.subset([1, 3]).labels["a"]) == [1, 3]


def _nose_forward(j: np.ndarray) -> np.ndarray:
    """Right-handed body: the nose lies in front, along cross(left, up)."""
    left = j[:, I["l_hip"]] - j[:, I["r_hip"]]
    up = j[:, I["thorax"]] - j[:, I["pelvis"]]
    return ((j[:, I["neck_nose"]] - j[:, I["thorax"]]) * np.cross(left, up)).sum(-1) > 0


@pytest.mark.skipif(not (SHARED / "h36m_poses").is_dir(), reason="../shared/data is absent")
def test_real_h36m_poses_reader() -> None:
    real = RealH36MPoses(SHARED / "h36m_poses", subjects=("S1",), stride=4)
    raw = RealH36MPoses(SHARED / "h36m_poses", subjects=("S1",), stride=4, handedness="correct")
    j = real.joints_rel_m.numpy()
    assert j.shape[1:] == (17, 3) and len(real) == len(real.labels["action"]) > 2000
    assert set(real.labels["subject"]) == {"S1"} and "walking" in set(real.labels["action"])
    assert np.abs(j[:, 0]).max() == 0
    assert _nose_forward(j).mean() > 0.9 and _nose_forward(raw.joints_rel_m.numpy()).mean() < 0.1
    assert (j[:, I["head_top"], 2] > 0).mean() > 0.9  # Z up
    with pytest.raises(FileNotFoundError, match="h36m_poses"):
        RealH36MPoses(SHARED / "nowhere" / "h36m_poses")


@pytest.mark.skipif(not (SHARED / "h36m_poses").is_dir(), reason="../shared/data is absent")
def test_real_h36m_poses_handedness_is_detected(tmp_path: Path) -> None:
    """The shared files are mirrored and get flipped; a corrected copy is read as it is (it
    used to be flipped too, which silently gave ~257 mm); an explicit switch overrides."""
    from posekit.data.lifting.pools import detect_handedness, nose_forward_fraction

    with np.load(SHARED / "h36m_poses" / "S1.npz") as data:
        joints, action = data["joints3d"][::8].copy(), data["action"][::8]
    assert nose_forward_fraction(joints) < 0.05 and detect_handedness(joints) == "mirrored"
    shared = RealH36MPoses(SHARED / "h36m_poses", subjects=("S1",), stride=8)
    assert shared.handedness == {"S1": "mirrored"} and "y negated" in shared.source
    assert _nose_forward(shared.joints_rel_m.numpy()).mean() > 0.9

    fixed = joints.copy()
    fixed[..., 1] *= -1.0  # a correctly handed copy of the file
    np.savez(tmp_path / "S1.npz", joints3d=fixed, action=action)
    corrected = RealH36MPoses(tmp_path, subjects=("S1",))
    assert corrected.handedness == {"S1": "correct"}
    np.testing.assert_array_equal(corrected.joints_rel_m.numpy(), shared.joints_rel_m.numpy())
    forced = RealH36MPoses(tmp_path, subjects=("S1",), handedness="mirrored")
    assert _nose_forward(forced.joints_rel_m.numpy()).mean() < 0.1  # told wrong: flipped

    half = np.concatenate([joints[:200], fixed[:200]])  # as many of each: cannot tell
    np.savez(tmp_path / "S5.npz", joints3d=half, action=np.concatenate([action[:200]] * 2))
    with pytest.raises(ValueError, match=r"S5\.npz: cannot tell the handedness.*'mirrored'"):
        RealH36MPoses(tmp_path, subjects=("S5",))
    with pytest.raises(ValueError, match="handedness: expected one of"):
        RealH36MPoses(tmp_path, subjects=("S1",), handedness="left")


@pytest.mark.skipif(not (SHARED / "h36m_poses").is_dir(), reason="../shared/data is absent")
def test_duplicated_takes_are_found() -> None:
    from posekit.data.lifting.pools import duplicated_takes

    s8 = RealH36MPoses(SHARED / "h36m_poses", subjects=("S8",), stride=3)
    s5 = RealH36MPoses(SHARED / "h36m_poses", subjects=("S5",))
    dup = duplicated_takes(s8, s5)
    assert set(s8.labels["action"][dup]) == {"smoking"}
    assert dup.sum() == (s8.labels["action"] == "smoking").sum()
    s7 = RealH36MPoses(SHARED / "h36m_poses", subjects=("S7",), stride=3)
    assert not duplicated_takes(s7, s5).any()


@pytest.mark.skipif(
    not (SHARED / "mmpose_samples" / "h36m" / "cameras.pkl").exists()
    or not (SHARED / "h36m_poses").is_dir(),
    reason="../shared/data is absent",
)
def test_real_h36m_poses_frame_matches_the_cameras() -> None:
    """S1 Directions, camera 54138969, first frame (MMPose sample, camera-frame ground truth)
    rotated to the world with the released extrinsics matches the first poses of the
    h36m_poses file only once its handedness is fixed."""
    from posekit.data.datasets.h36m import load_h36m_cameras

    root = SHARED / "mmpose_samples" / "h36m"
    cam = load_h36m_cameras(root / "cameras.pkl")[("S1", "54138969")]
    S = np.load(root / "test_h36m_body3d.npz")["S"][0, :, :3]
    world = (S - S[:1]) @ cam.R  # R^T x per row: camera -> world rotation
    parents = np.array(H36M17.parents[1:])

    def bone_angle_deg(pool: PosePool) -> float:
        j = pool.joints_rel_m.numpy()[pool.labels["action"] == "directions"][:20]
        a, b = world[1:] - world[parents], j[:, 1:] - j[:, parents]
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(-1).min())

    fixed = bone_angle_deg(RealH36MPoses(SHARED / "h36m_poses", subjects=("S1",)))
    raw = bone_angle_deg(RealH36MPoses(SHARED / "h36m_poses", ("S1",), handedness="correct"))
    assert fixed < 10.0 < 15.0 < raw


# --- virtual cameras -----------------------------------------------------------------------


def test_virtual_cameras_geometry() -> None:
    cs = VirtualCameraSampler()
    cam = cs.sample(1024, torch.Generator().manual_seed(0), dtype=torch.float64)
    R, t, K = cam.R, cam.t, cam.K
    assert R.shape == (1024, 3, 3) and t.shape == (1024, 3) and K.shape == (1024, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand(1024, 3, 3)
    torch.testing.assert_close(R @ R.transpose(1, 2), eye)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(1024, dtype=torch.float64))
    f = K[:, 0, 0]
    assert torch.equal(f, K[:, 1, 1]) and 1035 <= f.min() and f.max() <= 1265
    assert (K[:, :2, 2] == 499.5).all()  # the centre of a 1000 x 1000 image
    C = cam.center_world()  # the root is at the origin
    dist = C.norm(dim=-1)
    assert 3.5 - 0.6 < dist.min() and dist.max() < 6.0 + 0.6
    elev = torch.rad2deg(torch.asin(C[:, 2] / dist))
    assert -5 - 6 < elev.min() and elev.max() < 25 + 6
    azimuth = torch.rad2deg(torch.atan2(C[:, 1], C[:, 0]))
    assert torch.histc(azimuth, 4, -180, 180).min() > 200  # all around the person
    # the root is seen near the principal point, world up points up in the image
    root_px = K[:, :2, 2] + f[:, None] * t[:, :2] / t[:, 2:]
    assert ((root_px - 499.5).abs() < 150).all()
    assert (R[:, 1, 2] < -0.5).all()  # camera y (down) against world z (up)
    roll = torch.rad2deg(torch.asin(R[:, 0, 2]))  # camera x's tilt out of the horizontal
    assert roll.abs().max() < 5.01


def test_virtual_cameras_aim_and_determinism() -> None:
    cs = VirtualCameraSampler(roll_deg=(0.0, 0.0), aim_jitter_m=0.0, elevation_deg=(10.0, 10.0))
    cam = cs.sample(64, torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(cam.t[:, :2], torch.zeros(64, 2, dtype=torch.float64))
    torch.testing.assert_close(cam.R[:, 0, 2], torch.zeros(64, dtype=torch.float64))  # level
    C = cam.center_world()
    torch.testing.assert_close(C[:, 2] / C.norm(dim=-1), torch.full((64,), math.sin(0.1745329))
                               .double(), atol=1e-6, rtol=0)  # fmt: skip
    a = VirtualCameraSampler().sample(8, torch.Generator().manual_seed(7))
    b = VirtualCameraSampler().sample(8, torch.Generator().manual_seed(7))
    c = VirtualCameraSampler().sample(8, torch.Generator().manual_seed(8))
    assert torch.equal(a.R, b.R) and torch.equal(a.K, b.K) and not torch.equal(a.t, c.t)
    with pytest.raises(ValueError, match="elevation_deg"):
        VirtualCameraSampler(elevation_deg=(0.0, 90.0))


# --- the dataset ---------------------------------------------------------------------------


def _solve_root(kp_cam: torch.Tensor, rel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Root translation T (B, 3) with kp = (rel + T)_xy / (rel + T)_z, by least squares, and
    the largest residual per sample (0 when 2D and 3D are one camera's view of one pose)."""
    B, J = rel.shape[:2]
    A = torch.zeros(B, J, 2, 3, dtype=torch.float64)
    A[:, :, 0, 0], A[:, :, 1, 1] = 1.0, 1.0
    A[:, :, :, 2] = -kp_cam
    b = kp_cam * rel[..., 2:] - rel[..., :2]  # (B, J, 2)
    A, b = A.reshape(B, 2 * J, 3), b.reshape(B, 2 * J, 1)
    T = torch.linalg.lstsq(A, b).solution  # (B, 3, 1)
    return T[..., 0], (A @ T - b).abs().amax(dim=(1, 2))


def test_batches_have_the_documented_structure() -> None:
    ds = LiftingDataset(_random_pool(), coords="pixel")
    batch = ds.sample_batch(32, torch.Generator().manual_seed(0))
    item = ds[5]
    assert tuple(batch) == LIFTING_KEYS and tuple(item) == LIFTING_KEYS
    shapes = {"keypoints2d": (17, 2), "visibility": (17,), "joints3d": (17, 3),
              "keypoints2d_px": (17, 2), "K": (3, 3)}  # fmt: skip
    for k, shape in shapes.items():
        assert batch[k].shape == (32, *shape) and item[k].shape == shape
        assert batch[k].dtype == (torch.bool if k == "visibility" else torch.float32)
    assert torch.equal(batch["joints3d"][:, 0], torch.zeros(32, 3))
    assert batch["visibility"].float().mean() > 0.95
    torch.testing.assert_close(
        denormalize_keypoints(batch["keypoints2d"], batch["K"], (1000, 1000), "pixel"),
        batch["keypoints2d_px"], rtol=0, atol=1e-3,
    )  # fmt: skip


@pytest.mark.parametrize("coords", ["pixel", "camera"])
def test_2d_is_the_projection_of_the_3d_target(coords) -> None:
    pool = _random_pool()
    ds = LiftingDataset(pool, coords=coords)
    b = ds.sample_batch(256, torch.Generator().manual_seed(2))
    K = b["K"].double()
    kp_cam = (b["keypoints2d_px"].double() - K[:, None, :2, 2]) / K[:, None, [0, 1], [0, 1]]
    rel = b["joints3d"].double()
    T, residual = _solve_root(kp_cam, rel)
    assert residual.max() < 1e-5
    assert 2.5 < T[:, 2].min() and T[:, 2].max() < 6.7  # the root's depth, metres
    # a rotation: bone lengths are those of the pool's poses
    lengths = H36M17.bone_lengths(rel)  # (B, 16)
    pool_lengths = H36M17.bone_lengths(pool.joints_rel_m.double())  # (N, 16)
    assert torch.cdist(lengths, pool_lengths).amin(dim=1).max() < 1e-5
    # the world's 3D would not fit the 2D: the target really is in the camera frame
    _, wrong = _solve_root(kp_cam, rel[:, :, [0, 2, 1]])
    assert wrong.median() > 1e-3
    if coords == "camera":
        torch.testing.assert_close(b["keypoints2d"].double(), kp_cam, rtol=0, atol=1e-6)


def test_normalization_by_hand() -> None:
    K = torch.tensor([[[1000.0, 0, 400.0], [0, 1100.0, 300.0], [0, 0, 1]]])
    kp = torch.tensor([[[0.0, 0.0], [800.0, 600.0], [400.0, 300.0]]])
    pixel = normalize_keypoints(kp, K, (600, 800), "pixel")
    torch.testing.assert_close(pixel, torch.tensor([[[-1.0, -0.75], [1.0, 0.75], [0.0, 0.0]]]))
    cam = normalize_keypoints(kp, K, (600, 800), "camera")
    torch.testing.assert_close(cam[0, 0], torch.tensor([-0.4, -300 / 1100]))
    torch.testing.assert_close(denormalize_keypoints(cam, K, (600, 800), "camera"), kp)
    with pytest.raises(ValueError, match="coords"):
        normalize_keypoints(kp, K, (600, 800), "metres")


def test_fixed_sets_and_seeds_are_deterministic() -> None:
    pool = _random_pool()
    a = LiftingDataset(pool, num=50, seed=4, fixed=True)
    b = LiftingDataset(pool, num=50, seed=4, fixed=True)
    a.set_epoch(3)
    for k in LIFTING_KEYS:
        assert torch.equal(a[7][k], b[7][k])
        assert torch.equal(next(a.iter_batches(20))[k], torch.stack([b[i][k] for i in range(20)]))
    train = LiftingDataset(pool, seed=4)
    x0 = train[11]["keypoints2d"]
    assert torch.equal(x0, train[11]["keypoints2d"])  # same item within an epoch
    train.set_epoch(1)
    assert not torch.equal(x0, train[11]["keypoints2d"])  # a new camera next epoch
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(train.sample_batch(64, g1)["K"], train.sample_batch(64, g2)["K"])
    assert len(a) == 50 and len(train) == len(pool)
    with pytest.raises(IndexError):
        a[50]
    # pose_index names the pool pose of each item: its root-relative bone lengths match
    idx = a.pose_index
    assert idx.shape == (50,) and len(set(idx.tolist())) == 50
    item, pose = a[7]["joints3d"], pool.joints_rel_m[idx[7]]
    torch.testing.assert_close(item.norm(dim=-1), pose.norm(dim=-1), atol=1e-5, rtol=0)


def test_noise_options() -> None:
    pool = _random_pool()
    clean = LiftingDataset(pool).sample_batch(4000, torch.Generator().manual_seed(0))
    noisy = LiftingDataset(pool, noise=4.0).sample_batch(4000, torch.Generator().manual_seed(0))
    # same cameras (the noise is drawn after them), Gaussian error of 4 px per axis
    assert torch.equal(clean["K"], noisy["K"]) and torch.equal(clean["joints3d"], noisy["joints3d"])
    err = noisy["keypoints2d_px"] - clean["keypoints2d_px"]
    assert abs(err.std().item() - 4.0) < 0.1 and abs(err.mean().item()) < 0.05
    drop = LiftingDataset(pool, noise={"drop_prob": 0.5}).sample_batch(4000)
    assert abs(drop["visibility"].float().mean().item() - 0.5) < 0.03
    with pytest.raises(ValueError, match="sigma"):
        LiftingDataset(pool, noise=-1.0).sample_batch(2)


def test_lifting_batches_for_a_dataloader() -> None:
    from posekit.data.lifting import LiftingBatches

    batches = LiftingBatches(LiftingDataset(_random_pool(), seed=1), batch_size=64)
    assert len(batches) == 5  # ceil(300 / 64)
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    first = [b["keypoints2d"] for b in loader]
    assert len(first) == 5 and first[0].shape == (64, 17, 2)
    assert all(torch.equal(a, b["keypoints2d"]) for a, b in zip(first, loader))  # repeatable
    batches.set_epoch(1)
    assert not torch.equal(first[0], next(iter(loader))["keypoints2d"])
