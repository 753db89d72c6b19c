"""Tests of the MPI-INF-3DHP test-set reader, its skeleton and its metrics.

A small test set is written here in the release layout (``TS*/annot_data.mat`` with the
fields' MATLAB dims, ``TS*/imageSequence/img_%06d.jpg``): as MATLAB v5 files (scipy) and, when
h5py is installed, as MATLAB v7.3 / HDF5 like the release. Expected metric values are counted
by hand in the comments.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from posekit.data.datasets import MPIInf3DHPTest
from posekit.data.datasets.mpi_inf_3dhp import (
    MPI_INF_3DHP_ACTIVITIES,
    MPI_INF_3DHP_TEST_CAMERAS,
    read_mpi_inf_3dhp_annotations,
)
from posekit.metrics.mpi_inf_3dhp import evaluate_mpi_inf_3dhp, mpi_inf_3dhp_scores
from posekit.skeletons import H36M17, MPI_INF_3DHP17, get_skeleton, joint_map
from posekit.skeletons.convert import convert_keypoints
from posekit.skeletons.mpi_inf_3dhp17 import MPI_INF_3DHP17_LABELS

# Two sequences: (frames, valid_frame, activity_annotation); TS1 studio, TS5 outdoor.
_SEQS = {"TS1": (4, [1, 0, 1, 1], [1, 2, 5, 7]), "TS5": (3, [1, 1, 0], [3, 3, 6])}


def _fields(seq: str) -> dict[str, np.ndarray]:
    """The arrays of one annot_data.mat, (N, 17, D) in file joint order, millimetres."""
    n, valid, activity = _SEQS[seq]
    rng = np.random.default_rng(len(seq) + n)
    annot3 = rng.normal(0, 300, (n, 17, 3)) + np.array([0, 0, 4000])
    pelvis = annot3[:, 14:15]
    univ = pelvis + 0.9 * (annot3 - pelvis)  # rescaled about the pelvis, as univ_annot3
    annot2 = rng.uniform(50, 1000, (n, 17, 2))
    annot2[0, 3] = (-4.0, 10.0)  # a joint left of the image
    flags = {
        "valid_frame": np.array(valid, float),
        "activity_annotation": np.array(activity, float),
    }
    return {"annot2": annot2, "annot3": annot3, "univ_annot3": univ, **flags}


def _matlab(arr: np.ndarray) -> np.ndarray:
    """(N, 17, D) -> MATLAB's D x 17 x 1 x N."""
    return np.transpose(arr, (2, 1, 0))[:, :, None, :]


def _write_mat5(path: Path, fields: dict[str, np.ndarray]) -> None:
    out = {k: _matlab(v) if v.ndim == 3 else v[None] for k, v in fields.items()}  # flags: 1 x N
    scipy.io.savemat(path, out)


def _write_images(folder: Path, seq: str, n: int) -> None:
    h, w = MPI_INF_3DHP_TEST_CAMERAS[seq].image_size
    (folder / "imageSequence").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / "imageSequence" / f"img_{i + 1:06d}.jpg"),
                    np.full((h, w, 3), 30 * (i + 1), np.uint8))  # fmt: skip


@pytest.fixture(scope="module")
def test_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mpi_inf_3dhp_test_set")
    for seq, (n, _, _) in _SEQS.items():
        (root / seq).mkdir()
        _write_mat5(root / seq / "annot_data.mat", _fields(seq))
        _write_images(root / seq, seq, n)
    return root


def test_values_round_trip_and_invalid_frames_are_dropped(test_set: Path) -> None:
    ds = MPIInf3DHPTest(test_set, sequences=("TS1", "TS5"))
    assert ds.skeleton == "mpi_inf_3dhp17" and len(ds) == 5
    assert list(ds.sequence) == ["TS1"] * 3 + ["TS5"] * 2 and list(ds.frame) == [0, 2, 3, 0, 1]
    assert list(ds.activity) == [1, 5, 7, 3, 3]
    for i, (seq, frame) in enumerate(zip(ds.sequence, ds.frame, strict=True)):
        f = _fields(str(seq))
        s = ds[i]
        native_kp = MPI_INF_3DHP17.to_native(s.keypoints2d[0])
        np.testing.assert_array_equal(native_kp, f["annot2"][frame].astype(np.float32))
        np.testing.assert_array_equal(
            MPI_INF_3DHP17.to_native(s.joints3d[0]), (f["annot3"][frame] / 1000).astype(np.float32)
        )
        np.testing.assert_array_equal(
            MPI_INF_3DHP17.to_native(s.meta["joints3d_universal"][0]),
            (f["univ_annot3"][frame] / 1000).astype(np.float32),
        )
        # file joint 16 ('head') is neck_nose, joint 1 ('neck') thorax, joint 0 head_top
        for label, name in (("head", "neck_nose"), ("neck", "thorax"), ("head_top", "head_top")):
            np.testing.assert_array_equal(
                s.keypoints2d[0, MPI_INF_3DHP17.index(name)],
                f["annot2"][frame, MPI_INF_3DHP17_LABELS.index(label)].astype(np.float32),
            )
        assert s.meta["sequence"] == seq and s.meta["frame"] == frame and s.meta["valid"]
        assert s.meta["image_name"] == f"img_{frame + 1:06d}.jpg"
        assert s.image.shape[:2] == MPI_INF_3DHP_TEST_CAMERAS[str(seq)].image_size
        assert abs(int(s.image[5, 5, 0]) - 30 * (frame + 1)) <= 2  # this frame's jpg
        assert s.meta["activity_name"] == MPI_INF_3DHP_ACTIVITIES[s.meta["activity"]]
    s = ds[0]  # TS1 frame 0: its r_elbow (file joint 3) is left of the image
    assert not s.visibility[0, MPI_INF_3DHP17.index("r_elbow")] and s.visibility[0].sum() == 16
    kp = s.keypoints2d[0]
    centre, half = (kp.min(0) + kp.max(0)) / 2, (kp.max(0) - kp.min(0) + 1) / 2 * 1.2
    np.testing.assert_allclose(s.bbox[0], [*(centre - half), *(centre + half)], rtol=1e-6)

    everything = MPIInf3DHPTest(test_set, sequences=["TS1", "TS5"], valid_only=False)
    assert list(everything.frame) == [0, 1, 2, 3, 0, 1, 2] and not everything[1].meta["valid"]
    strided = MPIInf3DHPTest(test_set, ["TS1", "TS5"], stride=2, load_images=False)
    assert list(strided.frame) == [0, 3, 0] and strided[0].image is None
    plain = MPIInf3DHPTest(test_set, "TS5", universal=False, load_images=False)
    assert plain.joints3d_universal_m is None and "joints3d_universal" not in plain[0].meta


def test_intrinsics_per_sequence(test_set: Path) -> None:
    ds = MPIInf3DHPTest(test_set, sequences=("TS1", "TS5"), load_images=False)
    # The numbers of public 3DHP camera tables (VideoPose3D-style, e.g. PoseFormerV2's):
    # TS1-4: fx 1500.172288, c (1017.38733568, 1043.03198208), fy = fx * 1.00044;
    # TS5-6: f (1683.98345952, 1672.59370772), c (939.85754016, 560.140743168).
    studio = [[1500.172288, 0, 1017.38733568], [0, 1500.83236380672, 1043.03198208], [0, 0, 1]]
    outdoor = [[1683.98345952, 0, 939.85754016], [0, 1672.59370772, 560.140743168], [0, 0, 1]]
    np.testing.assert_allclose(MPI_INF_3DHP_TEST_CAMERAS["TS1"].K, studio, atol=1e-6)
    np.testing.assert_allclose(MPI_INF_3DHP_TEST_CAMERAS["TS6"].K, outdoor, atol=1e-6)
    assert MPI_INF_3DHP_TEST_CAMERAS["TS4"].image_size == (2048, 2048)
    assert MPI_INF_3DHP_TEST_CAMERAS["TS5"].image_size == (1080, 1920)
    assert MPI_INF_3DHP_TEST_CAMERAS["TS5"].distortion[0] == -0.276859611
    np.testing.assert_allclose(ds[0].K, np.float32(studio))
    np.testing.assert_allclose(ds[len(ds) - 1].K, np.float32(outdoor))
    assert ds[0].K.dtype == np.float32


def test_skeleton_converts_to_h36m17_by_name(test_set: Path) -> None:
    assert get_skeleton("mpi_inf_3dhp17") is MPI_INF_3DHP17
    src, dst = joint_map("mpi_inf_3dhp17", "h36m17")
    assert len(src) == 17 and sorted(dst) == list(range(17))
    s = MPIInf3DHPTest(test_set, "TS1", load_images=False)[0]
    h36m, vis = convert_keypoints(torch.from_numpy(s.joints3d), None, "mpi_inf_3dhp17", "h36m17")
    native = MPI_INF_3DHP17.to_native(s.joints3d[0])  # file order
    # 3DHP label -> H3.6M joint (the public reorder [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, ...])
    for label, h36m_name in (("pelvis", "pelvis"), ("right_hip", "r_hip"), ("spine", "spine"),
                             ("neck", "thorax"), ("head", "neck_nose"), ("head_top", "head_top"),
                             ("left_wrist", "l_wrist"), ("right_ankle", "r_ankle")):  # fmt: skip
        np.testing.assert_array_equal(
            h36m[0, H36M17.index(h36m_name)].numpy(), native[MPI_INF_3DHP17_LABELS.index(label)]
        )
    assert bool(vis.all())
    assert MPI_INF_3DHP17.parents[0] == -1 and MPI_INF_3DHP17.native_joints is not None


def _errors_pose(errors_mm: list[float], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A (17, 3) ground truth (file order) and a prediction off by ``errors_mm`` per joint,
    in random directions, shifted as a whole by a random translation (removed by the root
    alignment)."""
    gt = rng.normal(0, 0.3, (17, 3))
    u = rng.normal(size=(17, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    pred = gt + u * np.asarray(errors_mm)[:, None] / 1000 + rng.normal(0, 1, 3)
    return MPI_INF_3DHP17.from_native(gt), MPI_INF_3DHP17.from_native(pred)


def test_3dpck_and_auc_against_hand_counts() -> None:
    rng = np.random.default_rng(3)
    # Frame A, file joints 0-13 (the 14 evaluated): PCK@150 = 12/14 (151 and 200 miss).
    # AUC: an error e (no multiple of 5) is within 31 - ceil(e / 5) of the thresholds
    # 0, 5, ..., 150: 30+28+26+24+22+19+17+15+13+12+10+1+0+0 = 217 of 14 x 31 = 434 -> 0.5.
    eval14 = [1, 12, 23, 34, 41, 56, 67, 78, 89, 93, 104, 149, 151, 200]
    gt_a, pred_a = _errors_pose([*eval14, 0, 12, 300], rng)  # pelvis, spine, head
    # Frame B: every joint 160 mm off but the pelvis: PCK14 = AUC14 = 0.
    gt_b, pred_b = _errors_pose([160] * 14 + [0, 160, 160], rng)
    # Frame C: no ground-truth pelvis: empty.
    gt_c, pred_c = _errors_pose([20] * 14 + [0, 20, 20], rng)
    gt_c[MPI_INF_3DHP17.index("pelvis")] = np.nan
    pred, gt = np.stack([pred_a, pred_b, pred_c]), np.stack([gt_a, gt_b, gt_c])

    scores = mpi_inf_3dhp_scores(pred, gt)
    np.testing.assert_allclose(scores["pck3d"][:2].numpy(), [12 / 14, 0.0])
    np.testing.assert_allclose(scores["auc3d"][:2].numpy(), [0.5, 0.0])
    # MPJPE over all 17: (1098 + 0 + 12 + 300) / 17 and 16 x 160 / 17 mm
    np.testing.assert_allclose(scores["mpjpe_m"][:2].numpy() * 1000, [1410 / 17, 2560 / 17])
    assert torch.isnan(scores["pck3d"][2]) and torch.isnan(scores["mpjpe_m"][2])

    table = evaluate_mpi_inf_3dhp(
        pred, gt, activity=[1, 5, 5], sequence=["TS1", "TS1", "TS6"],
        activity_names=MPI_INF_3DHP_ACTIVITIES,
    )  # fmt: skip
    assert table["joints"] == 14 and table["num_samples"] == 3 and table["num_empty"] == 1
    assert table["pck3d_150mm"] == pytest.approx(6 / 14)
    assert table["auc3d"] == pytest.approx(0.25)
    assert table["mpjpe_mm"] == pytest.approx(3970 / 34)
    walking = table["per_activity"]["Standing/Walking"]
    assert walking["pck3d_150mm"] == pytest.approx(12 / 14) and walking["num_samples"] == 1
    floor = table["per_activity"]["On The Floor"]
    assert floor["auc3d"] == 0.0 and floor["num_empty"] == 1
    assert floor["mpjpe_mm"] == pytest.approx(2560 / 17)
    assert table["per_sequence"]["TS1"]["auc3d"] == pytest.approx(0.25)
    assert np.isnan(table["per_sequence"]["TS6"]["auc3d"])

    # The 17-joint set adds pelvis (0 mm: 31 thresholds), spine (12 mm: 28) and head
    # (300 mm: 0) to frame A: PCK 14/17, AUC (217 + 31 + 28) / (17 x 31) = 276/527.
    a17 = evaluate_mpi_inf_3dhp(pred[:1], gt[:1], joints=17)
    assert a17["pck3d_150mm"] == pytest.approx(14 / 17)
    assert a17["auc3d"] == pytest.approx(276 / 527)
    at_100mm = evaluate_mpi_inf_3dhp(pred[:1], gt[:1], threshold_m=0.1)
    assert at_100mm["pck3d_100mm"] == pytest.approx(10 / 14)  # 1 ... 93 mm
    with pytest.raises(ValueError, match="joints: expected 14 or 17, got 16"):
        evaluate_mpi_inf_3dhp(pred, gt, joints=16)
    with pytest.raises(ValueError, match=r"activity: expected \(3,\) labels"):
        evaluate_mpi_inf_3dhp(pred, gt, activity=[1, 2])
    with pytest.raises(ValueError, match=r"pred: expected \(N, 17, 3\)"):
        evaluate_mpi_inf_3dhp(pred[:, :16], gt[:, :16])


def test_errors_name_file_and_field(test_set: Path, tmp_path: Path) -> None:
    def sequence(name: str, fields: dict[str, np.ndarray], images: int = 0) -> Path:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        _write_mat5(tmp_path / name / "annot_data.mat", fields)
        if images:
            _write_images(tmp_path / name, name, images)
        return tmp_path / name / "annot_data.mat"

    good = _fields("TS1")
    sequence("TS1", {k: v for k, v in good.items() if k != "annot3"})
    with pytest.raises(
        ValueError, match=r"TS1/annot_data.mat: annot3: expected a 3x17x1xN .*no such"
    ):
        MPIInf3DHPTest(tmp_path, "TS1")
    sequence("TS1", dict(good, annot2=good["annot2"][:, :16]))
    with pytest.raises(
        ValueError, match=r"annot_data.mat: annot2: expected .*got float64 2x16x1x4"
    ):
        MPIInf3DHPTest(tmp_path, "TS1")
    sequence("TS1", dict(good, valid_frame=good["valid_frame"][:3]))
    with pytest.raises(ValueError, match=r"annot_data.mat: valid_frame: expected 4 numbers"):
        MPIInf3DHPTest(tmp_path, "TS1")
    bad = good["annot3"].copy()
    bad[2, 5, 0] = np.nan  # frame 2 is valid
    sequence("TS1", dict(good, annot3=bad))
    with pytest.raises(ValueError, match=r"annot3: expected finite numbers .* at frame 2"):
        MPIInf3DHPTest(tmp_path, "TS1")
    bad[2, 5, 0], bad[1, 5, 0] = 0, np.nan  # frame 1 is not valid: allowed
    sequence("TS1", dict(good, annot3=bad))
    assert len(MPIInf3DHPTest(tmp_path, "TS1", load_images=False)) == 3

    # a missing image: raised when its sample is read, naming the .mat, the frame and the file
    sequence("TS1", good, images=2)  # frames 0 and 1 only
    ds = MPIInf3DHPTest(tmp_path, "TS1")
    ds[0]
    with pytest.raises(
        ValueError, match=r"TS1/annot_data.mat: frame 2: no image file .*img_000003"
    ):
        ds[1]
    cv2.imwrite(str(tmp_path / "TS1" / "imageSequence" / "img_000003.jpg"),
                np.zeros((100, 120, 3), np.uint8))  # fmt: skip
    with pytest.raises(
        ValueError, match=r"frame 2: .*img_000003.jpg: expected 2048 x 2048 .* 100 x"
    ):
        ds[1]

    with pytest.raises(ValueError, match=r"sequences: .*\(unknown: \['TS7'\]\)"):
        MPIInf3DHPTest(test_set, ["TS1", "TS7"])
    with pytest.raises(FileNotFoundError, match=r"TS2: no such folder"):
        MPIInf3DHPTest(test_set, ["TS1", "TS2"])
    with pytest.raises(ValueError, match="stride: expected a whole number >= 1"):
        MPIInf3DHPTest(test_set, "TS1", stride=0)


def _write_hdf5(path: Path, fields: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: a 512-byte MATLAB header, then HDF5 with MATLAB's dims reversed."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, v in fields.items():
            f[name] = v[:, None]  # (N, 1, 17, D) or (N, 1): MATLAB's D x 17 x 1 x N, 1 x N
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def test_hdf5_annotations_read_like_the_mat5_ones(test_set: Path, tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    fields = _fields("TS5")
    _write_hdf5(tmp_path / "annot_data.mat", fields)
    h5 = read_mpi_inf_3dhp_annotations(tmp_path / "annot_data.mat")
    v5 = read_mpi_inf_3dhp_annotations(test_set / "TS5" / "annot_data.mat")
    for name in ("keypoints2d", "joints3d_m", "universal_m", "valid", "activity"):
        np.testing.assert_array_equal(getattr(h5, name), getattr(v5, name))
    np.testing.assert_array_equal(MPI_INF_3DHP17.to_native(h5.keypoints2d), fields["annot2"])


def test_hdf5_without_h5py_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "annot_data.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(512) + b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py raises ImportError
    with pytest.raises(ImportError, match=r"annot_data.mat: a MATLAB v7.3 .*pip install h5py"):
        read_mpi_inf_3dhp_annotations(path)
