"""Tests of posekit.data.datasets.h36m: the VideoPose3D npz files, MMPose cameras, splits."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.data.datasets.h36m import (
    H36M32_TO_17,
    H36M_CAMERA_IDS,
    PROTOCOL_1,
    PROTOCOL_2,
    H36MLifting,
    h36m_pose_pool,
    load_h36m_cameras,
    read_h36m_2d,
    read_h36m_3d,
    read_h36m_frames,
)
from posekit.data.lifting import LIFTING_KEYS, normalize_keypoints
from posekit.skeletons import H36M17

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "data" / "real" / "mmpose_samples" / "h36m"

# Human3.6M's 32 joints as named by public code (Martinez et al.'s data_utils), with the
# parents of VideoPose3D's h36m skeleton; unnamed entries are end sites and duplicates.
NAMES_32 = {0: "Hip", 1: "RHip", 2: "RKnee", 3: "RFoot", 6: "LHip", 7: "LKnee", 8: "LFoot",
            12: "Spine", 13: "Thorax", 14: "Neck/Nose", 15: "Head", 17: "LShoulder",
            18: "LElbow", 19: "LWrist", 25: "RShoulder", 26: "RElbow", 27: "RWrist"}  # fmt: skip
PARENTS_32 = [-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19,
              22, 12, 24, 25, 26, 27, 28, 27, 30]  # fmt: skip
OURS = {"Hip": "pelvis", "RHip": "r_hip", "RKnee": "r_knee", "RFoot": "r_ankle", "LHip": "l_hip",
        "LKnee": "l_knee", "LFoot": "l_ankle", "Spine": "spine", "Thorax": "thorax",
        "Neck/Nose": "neck_nose", "Head": "head_top", "LShoulder": "l_shoulder",
        "LElbow": "l_elbow", "LWrist": "l_wrist", "RShoulder": "r_shoulder",
        "RElbow": "r_elbow", "RWrist": "r_wrist"}  # fmt: skip


def _look_at(center: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation (columns: camera x, y, z in the world) looking at the origin."""
    z = -center / np.linalg.norm(center)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Small files in exactly the public formats: data_3d, data_2d, cameras.pkl."""
    root = tmp_path_factory.mktemp("h36m")
    rng = np.random.default_rng(0)
    takes = {"S1": {"Walking 1": 9, "Eating": 6}, "S9": {"Walking": 7, "Sitting 2": 5}}
    offset = np.array([0.2, -0.1, 0.9])
    pos3d = {s: {a: (rng.normal(0, 0.4, (T, 32, 3)) + offset).astype(np.float32)
                 for a, T in acts.items()} for s, acts in takes.items()}  # fmt: skip
    pos2d = {s: {a: [rng.uniform(0, 1000, (len(x) + 2, 32, 2)).astype(np.float32)
                     for _ in H36M_CAMERA_IDS] for a, x in acts.items()}
             for s, acts in pos3d.items()}  # fmt: skip
    pos2d["S9"]["Sitting 2"][2] = np.zeros((0, 32, 2), np.float32)  # a missing camera
    meta = {"num_joints": 32, "keypoints_symmetry": [[4, 5, 6], [1, 2, 3]]}
    cams = {}
    for s in takes:
        for k, cid in enumerate(H36M_CAMERA_IDS):
            a = np.pi / 4 + k * np.pi / 2 + rng.uniform(-0.2, 0.2)
            center = np.array([5 * np.cos(a), 5 * np.sin(a), 1.5 + rng.uniform(-0.2, 0.2)])
            cams[(s, cid)] = {
                "R": _look_at(center), "T": center[:, None], "c": rng.uniform(490, 520, (2, 1)),
                "f": rng.uniform(1140, 1150, (2, 1)), "k": rng.normal(0, 0.1, (3, 1)),
                "p": rng.normal(0, 0.002, (2, 1)), "w": np.array(1000),
                "h": np.array(1002 if k in (0, 3) else 1000), "name": f"camera{k + 1}",
            }  # fmt: skip
    np.savez(root / "data_3d_h36m.npz", positions_3d=pos3d)
    np.savez(root / "data_2d_h36m_gt.npz", positions_2d=pos2d, metadata=meta)
    with open(root / "cameras.pkl", "wb") as fh:
        pickle.dump(cams, fh)
    return {"root": root, "pos3d": pos3d, "pos2d": pos2d, "cams": cams, "meta": meta}


def test_joint_map_names_and_tree() -> None:
    assert [OURS[NAMES_32[i]] for i in H36M32_TO_17] == list(H36M17.joints)
    # parents after dropping the other joints (climb to the nearest kept ancestor)
    pos = {j: k for k, j in enumerate(H36M32_TO_17)}
    parents = []
    for j in H36M32_TO_17:
        p = PARENTS_32[j]
        while p >= 0 and p not in pos:
            p = PARENTS_32[p]
        parents.append(pos.get(p, -1))
    # the 32-joint tree hangs the shoulders off the spine's end sites; like VideoPose3D, the
    # 17-joint tree attaches them to the thorax
    assert parents[11] == parents[14] == H36M17.index("spine")
    parents[11] = parents[14] = H36M17.index("thorax")
    assert parents == list(H36M17.parents)


def test_protocols() -> None:
    import posekit.metrics

    assert PROTOCOL_1.train_subjects == ("S1", "S5", "S6", "S7", "S8")
    assert PROTOCOL_1.test_subjects == ("S9", "S11")
    assert PROTOCOL_2.train_subjects == PROTOCOL_1.train_subjects
    assert PROTOCOL_2.test_subjects == PROTOCOL_1.test_subjects
    assert (PROTOCOL_1.metric, PROTOCOL_2.metric) == ("mpjpe", "pa_mpjpe")
    assert hasattr(posekit.metrics, PROTOCOL_1.metric) and hasattr(posekit.metrics, "pa_mpjpe")


def test_read_round_trips(files) -> None:
    d3 = read_h36m_3d(files["root"] / "data_3d_h36m.npz")
    d2, meta = read_h36m_2d(files["root"] / "data_2d_h36m_gt.npz")
    assert sorted(d3) == ["S1", "S9"] and sorted(d3["S1"]) == ["Eating", "Walking 1"]
    x = files["pos3d"]["S9"]["Walking"]
    assert d3["S9"]["Walking"].shape == (7, 17, 3)
    np.testing.assert_array_equal(d3["S9"]["Walking"], x[:, list(H36M32_TO_17)])
    np.testing.assert_array_equal(d3["S9"]["Walking"][:, 10], x[:, 15])  # Head -> head_top
    assert len(d2["S1"]["Eating"]) == 4 and d2["S1"]["Eating"][1].shape == (8, 17, 2)
    np.testing.assert_array_equal(
        d2["S1"]["Eating"][3], files["pos2d"]["S1"]["Eating"][3][:, list(H36M32_TO_17)]
    )
    assert meta == files["meta"]
    pool = h36m_pose_pool(d3, subjects=("S1",), stride=2)
    assert len(pool) == 5 + 3 and torch.equal(pool.joints_rel_m[:, 0], torch.zeros(8, 3))
    assert list(pool.labels["action"]) == ["Eating"] * 3 + ["Walking 1"] * 5


def test_camera_transform_by_hand(files) -> None:
    cams = load_h36m_cameras(files["root"] / "cameras.pkl")
    assert len(cams) == 8
    raw = files["cams"][("S9", "58860488")]
    cam = cams[("S9", "58860488")]
    X = np.array([0.3, -0.2, 1.1])
    # x_cam = R^T (X - T), written out component by component
    expected = [sum(raw["R"][r, c] * (X[r] - raw["T"][r, 0]) for r in range(3)) for c in range(3)]
    np.testing.assert_allclose(cam.world_to_camera(X), expected, atol=1e-12)
    np.testing.assert_allclose(cam.center_world_m, raw["T"][:, 0], atol=1e-12)
    assert cam.image_size == (1000, 1000) and cams[("S9", "54138969")].image_size == (1002, 1000)
    # projection with Human3.6M's distortion, by hand
    Xc = np.asarray(expected)
    x, y = Xc[0] / Xc[2], Xc[1] / Xc[2]
    (k1, k2, k3), (p1, p2) = raw["k"][:, 0], raw["p"][:, 0]
    r2 = x * x + y * y
    a = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3 + p1 * y + p2 * x
    xd, yd = a * x + p2 * r2, a * y + p1 * r2
    uv = [raw["f"][0, 0] * xd + raw["c"][0, 0], raw["f"][1, 0] * yd + raw["c"][1, 0]]
    np.testing.assert_allclose(cam.project(Xc[None]), [uv], atol=1e-9)
    plain = [raw["f"][0, 0] * x + raw["c"][0, 0], raw["f"][1, 0] * y + raw["c"][1, 0]]
    np.testing.assert_allclose(cam.project(Xc[None], distortion=False), [plain], atol=1e-9)


def test_lifting_items_from_projection(files) -> None:
    root = files["root"]
    ds = H36MLifting(root / "data_3d_h36m.npz", root / "cameras.pkl", subjects=("S9",))
    assert len(ds) == 4 * (7 + 5)
    cams = load_h36m_cameras(root / "cameras.pkl")
    for i in (0, 13, len(ds) - 1):
        m = ds.meta(i)
        item = ds[i]
        assert tuple(item) == LIFTING_KEYS and item["visibility"].all()
        cam = cams[(m["subject"], m["camera_id"])]
        world = files["pos3d"][m["subject"]][m["action"]][m["frame"], list(H36M32_TO_17)]
        Xc = cam.world_to_camera(world.astype(np.float64))
        np.testing.assert_allclose(item["joints3d"].numpy(), Xc - Xc[:1], atol=2e-5)
        np.testing.assert_allclose(item["keypoints2d_px"].numpy(), cam.project(Xc), atol=2e-3)
        np.testing.assert_allclose(item["K"].numpy(), cam.K, rtol=1e-6)
        H, W = cam.image_size
        expect = cam.project(Xc) / W * 2 - [1, H / W]  # VideoPose3D's normalization
        np.testing.assert_allclose(item["keypoints2d"].numpy(), expect, atol=1e-5)
    batch = ds.get_batch([0, 13, 20])
    assert batch["keypoints2d"].shape == (3, 17, 2) and batch["K"].shape == (3, 3, 3)
    torch.testing.assert_close(batch["joints3d"][1], ds[13]["joints3d"])


def test_lifting_items_from_2d_file(files) -> None:
    root = files["root"]
    ds = H36MLifting(
        root / "data_3d_h36m.npz", root / "cameras.pkl", subjects=("S9",), coords="camera",
        data_2d=root / "data_2d_h36m_gt.npz", stride=2,
    )  # fmt: skip
    # Sitting 2 has no camera 3; the 2D (2 frames longer) is cut to the 3D length
    assert len(ds) == 4 * 4 + 3 * 3
    cams_used = {ds.meta(i)["camera_id"] for i in range(len(ds))
                 if ds.meta(i)["action"] == "Sitting 2"}  # fmt: skip
    assert cams_used == set(H36M_CAMERA_IDS) - {"58860488"}
    for i in range(len(ds)):
        m, item = ds.meta(i), ds[i]
        ci = H36M_CAMERA_IDS.index(m["camera_id"])
        kp = files["pos2d"]["S9"][m["action"]][ci][m["frame"], list(H36M32_TO_17)]
        assert m["frame"] % 2 == 0
        np.testing.assert_array_equal(item["keypoints2d_px"].numpy(), kp)
        expect = normalize_keypoints(torch.as_tensor(kp)[None], item["K"][None], (1, 1), "camera")
        torch.testing.assert_close(item["keypoints2d"], expect[0])


def test_lifting_filters_and_errors(files) -> None:
    root = files["root"]
    ds = H36MLifting(
        root / "data_3d_h36m.npz", root / "cameras.pkl", subjects=("S1", "S9"),
        actions=("Walking",), camera_ids=("55011271",),
    )  # fmt: skip
    assert len(ds) == 9 + 7
    assert {ds.meta(i)["action"] for i in range(len(ds))} == {"Walking 1", "Walking"}
    with pytest.raises(KeyError, match="S11"):
        H36MLifting(root / "data_3d_h36m.npz", root / "cameras.pkl", subjects=("S11",))
    with pytest.raises(ValueError, match="coords"):
        H36MLifting(root / "data_3d_h36m.npz", root / "cameras.pkl", coords="px")


@pytest.mark.skipif(not (SAMPLES / "cameras.pkl").exists(), reason="../shared/data is absent")
def test_real_sample_camera_convention() -> None:
    """MMPose's H3.6M frames: their camera-frame 3D projected with the released cameras lands
    on their 2D ground truth (Human3.6M's distortion model reproduces it), and the cameras'
    extrinsics make the world Z up."""
    cams = load_h36m_cameras(SAMPLES / "cameras.pkl")
    assert len(cams) == 44  # 11 subjects x 4 cameras
    data = np.load(SAMPLES / "test_h36m_body3d.npz")
    for i, name in enumerate(data["imgname"]):
        subject, cam_id = re.match(r"(S\d+)/.*\.(\d+)/", str(name)).groups()
        cam = cams[(subject, cam_id)]
        S, part = data["S"][i, :, :3], data["part"][i, :, :2]
        err = np.linalg.norm(cam.project(S) - part, axis=-1)
        plain = np.linalg.norm(cam.project(S, distortion=False) - part, axis=-1)
        assert err.max() < 1e-3 and plain.mean() > 0.3  # distortion matters, ours is exact
        assert 1.3 < cam.center_world_m[2] < 1.8 and 5 < np.linalg.norm(cam.center_world_m) < 6
        up = cam.R.T @ (S[8] - S[0])  # pelvis -> thorax, camera -> world
        assert up[2] > 0.5 * np.linalg.norm(up)  # upright trunks: the world is Z up


def test_read_frames_round_trip(tmp_path: Path) -> None:
    """MMPose's annotation npz (imgname, center, scale, part, S) read back unchanged."""
    rng = np.random.default_rng(1)
    part = np.concatenate([rng.uniform(0, 1000, (3, 17, 2)), np.ones((3, 17, 1))], -1)
    part[1, 5, 2] = 0
    S = np.concatenate([rng.normal(0, 1, (3, 17, 3)), np.ones((3, 17, 1))], -1)
    names = np.array([f"S9/S9_Eating.54138969/S9_Eating.54138969_{i:06d}.jpg" for i in range(3)])
    path = tmp_path / "h36m_test.npz"
    np.savez(path, imgname=names, center=part[:, 0, :2], scale=np.ones(3), part=part, S=S)
    frames = read_h36m_frames(path)
    assert len(frames) == 3 and list(frames.image_names) == list(names)
    np.testing.assert_allclose(frames.keypoints2d, part[..., :2], rtol=1e-6)
    np.testing.assert_allclose(frames.joints3d_cam_m, S[..., :3], rtol=1e-6)
    assert not frames.visibility2d[1, 5] and frames.visibility2d.sum() == 3 * 17 - 1
    np.savez(path, imgname=names, center=part[:, 0, :2], scale=np.ones(3), part=part)
    assert read_h36m_frames(path).joints3d_cam_m is None  # S is optional
    np.savez(path, imgname=names, center=part[:, 0, :2], scale=np.ones(3), part=part[:, :16])
    with pytest.raises(ValueError, match=r"h36m_test\.npz: part: expected \(3, 17, 3\) numbers"):
        read_h36m_frames(path)


def test_read_errors_name_the_file_and_the_take(files, tmp_path: Path) -> None:
    pos3d = {"S1": {"Walking 1": files["pos3d"]["S1"]["Walking 1"].copy()}}
    pos3d["S1"]["Walking 1"][2, 6, 1] = np.nan  # LHip (joint 5 is not one of the 17)
    path = tmp_path / "data_3d_h36m.npz"
    np.savez(path, positions_3d=pos3d)
    with pytest.raises(
        ValueError, match=r"data_3d_h36m\.npz: positions_3d\['S1'\]\['Walking 1'\]: expected finite"
    ):
        read_h36m_3d(path)
    np.savez(path, poses=pos3d)
    with pytest.raises(ValueError, match=r"data_3d_h36m\.npz: variables: expected an array "):
        read_h36m_3d(path)
    cams = {k: dict(v) for k, v in files["cams"].items()}
    cams[("S1", "54138969")]["R"] = 2 * cams[("S1", "54138969")]["R"]
    pkl = tmp_path / "cameras.pkl"
    pkl.write_bytes(pickle.dumps(cams))
    with pytest.raises(
        ValueError, match=r"cameras\.pkl: \[\('S1', '54138969'\)\]\.R: expected a rot"
    ):
        load_h36m_cameras(pkl)
