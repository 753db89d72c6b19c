"""Tests of posekit.data.datasets.h36m_images: Human3.6M frames with 3D joints and intrinsics.

On MMPose's real sample (../shared/data/real/mmpose_samples/h36m, skipped when absent) and on
small files written here in the same format (the annotation npz, cameras.pkl, jpg frames).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.data.datasets import H36MImageDataset
from posekit.data.datasets.h36m import H36M_CAMERA_IDS
from posekit.data.datasets.h36m_images import H36M_IMAGE_PROTOCOLS, parse_h36m_image_name
from posekit.skeletons import H36M17

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _real() -> Path:
    path = REAL / "h36m"
    if not (path / "test_h36m_body3d.npz").is_file():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    return path


def _project(joints3d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(J, 3) camera metres -> (J, 2) pixels, pinhole, float64."""
    x = joints3d.astype(np.float64) @ K.astype(np.float64).T
    return x[:, :2] / x[:, 2:]


# --------------------------------------------------------------------- the real sample


def test_real_sample_reprojects_with_K_within_the_distortion() -> None:
    root = _real()
    ds = H36MImageDataset(root / "test_h36m_body3d.npz", cameras=root / "cameras.pkl")
    assert len(ds) == 4 and ds.skeleton == "h36m17" and ds.metric is None
    with open(root / "cameras.pkl", "rb") as fh:
        raw = pickle.load(fh)  # the file's own f and c, not the reader's
    residuals = []
    for i in range(len(ds)):
        s = ds[i]
        key = (s.meta["subject"], s.meta["camera_id"])
        f, c = np.ravel(raw[key]["f"]), np.ravel(raw[key]["c"])
        np.testing.assert_allclose(s.K, [[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1]], rtol=1e-6)
        assert s.K.dtype == np.float32 and s.joints3d.dtype == np.float32
        assert s.image.dtype == np.uint8 and s.image.shape[2] == 3
        assert s.joints3d.shape == (1, 17, 3) and s.keypoints2d.shape == (1, 17, 2)
        assert s.visibility.all() and (s.joints3d[0, :, 2] > 3).all()  # 4-7 m from the camera
        err = np.linalg.norm(_project(s.joints3d[0], s.K) - s.keypoints2d[0], axis=-1)
        residuals.append(err)
        # With H3.6M's distortion the projection is the file's 2D (the pinhole one is not).
        distorted = ds.camera(i).project(s.joints3d[0].astype(np.float64))
        np.testing.assert_allclose(distorted, s.keypoints2d[0], atol=1e-3)
        assert err.max() > 0.1
        # The image is the camera's width; heights match but for S7's camera 55011271.
        h, w = int(raw[key]["h"]), int(raw[key]["w"])
        expected_h = 1002 if key == ("S7", "55011271") else h
        assert s.image.shape[:2] == (expected_h, w)
    residuals = np.stack(residuals)
    # Measured: mean 0.82 px, max 3.38 px (S8, WalkDog_1): the lens distortion K leaves out.
    assert 0.5 < residuals.mean() < 1.2 and residuals.max() < 4.0


def test_real_sample_meta_and_box() -> None:
    root = _real()
    ds = H36MImageDataset(root / "test_h36m_body3d.npz")
    s = ds[0]
    assert s.K is None and ds.camera(0) is None
    assert s.meta["subject"] == "S1" and s.meta["action"] == "Directions_1"
    assert s.meta["camera_id"] == "54138969" and s.meta["frame"] == 0
    assert ds[1].meta["frame"] == 2060 and ds[1].meta["action"] == "SittingDown"
    assert Path(s.meta["source"]).is_file()
    with np.load(root / "test_h36m_body3d.npz") as d:
        center, scale, S = d["center"][0], d["scale"][0], d["S"][0]
    half = 100 * scale
    np.testing.assert_allclose(s.bbox[0], [*(center - half), *(center + half)], rtol=1e-6)
    np.testing.assert_allclose(s.joints3d[0], S[:, :3], rtol=1e-6)
    assert s.num_people == ds.num_people(0) == 1


def test_real_sample_bare_names_are_found_in_mmpose_folders(tmp_path: Path) -> None:
    root = _real()
    with np.load(root / "test_h36m_body3d.npz") as d:
        arrays = {k: d[k] for k in d.files}
    arrays["imgname"] = np.array([n.rsplit("/", 1)[-1] for n in arrays["imgname"]])
    np.savez(tmp_path / "bare.npz", **arrays)
    ds = H36MImageDataset(tmp_path / "bare.npz", image_dir=root)
    s = ds[2]
    assert s.meta["image_name"] == "S7_Greeting.55011271_000396.jpg"
    assert Path(s.meta["source"]) == root / "S7" / "S7_Greeting.55011271" / s.meta["image_name"]
    assert s.image.shape == (1002, 1000, 3)


def test_real_sample_has_no_protocol_frames() -> None:
    root = _real()
    with pytest.raises(ValueError, match=r"no frames of subjects \['S9', 'S11'\].*'S1', 'S5'"):
        H36MImageDataset(root / "test_h36m_body3d.npz", protocol=2)


# --------------------------------------------------------------------- files written here

_SUBJECTS = ("S1", "S9", "S11")
_F, _C, _SIZE = (600.0, 610.0), (31.5, 23.0), (48, 64)  # (H, W)


def _write(root: Path, *, bare: bool = False, drop: tuple[str, str] | None = None) -> Path:
    """An annotation npz (3 subjects x 4 cameras x 2 frames), cameras.pkl and the jpgs."""
    rng = np.random.default_rng(0)
    names, parts, S, centers, scales = [], [], [], [], []
    cams = {}
    for s in _SUBJECTS:
        for k, cam in enumerate(H36M_CAMERA_IDS):
            f = np.array([[_F[0] + k], [_F[1] + k]])
            c = np.array([[_C[0]], [_C[1]]])
            cams[(s, cam)] = {"R": np.eye(3), "T": np.zeros((3, 1)), "f": f, "c": c,
                              "k": np.zeros((3, 1)), "p": np.zeros((2, 1)),
                              "w": _SIZE[1], "h": _SIZE[0], "name": cam}  # fmt: skip
            for frame in (0, 5):
                folder = f"{s}/{s}_Walking_1.{cam}"
                file = f"{s}_Walking_1.{cam}_{frame + 1:06d}.jpg"
                X = rng.normal(0, 0.3, (17, 3)) + np.array([0, 0, 5.0])
                uv = X[:, :2] / X[:, 2:] * f[:, 0] + c[:, 0]
                image = np.full((*_SIZE, 3), 40 * k, np.uint8)
                image[:, : 10 * (frame + 1)] = 200  # tells the frames apart
                (root / folder).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / (file if bare else f"{folder}/{file}")), image)
                names.append(file if bare else f"{folder}/{file}")
                parts.append(np.concatenate([uv, np.ones((17, 1))], 1))
                S.append(np.concatenate([X, np.ones((17, 1))], 1))
                centers.append(uv.mean(0))
                scales.append(0.2)
    np.savez(root / "ann.npz", imgname=np.array(names), center=np.array(centers),
             scale=np.array(scales), part=np.array(parts), S=np.array(S))  # fmt: skip
    if drop is not None:
        del cams[drop]
    with open(root / "cameras.pkl", "wb") as fh:
        pickle.dump(cams, fh)
    return root / "ann.npz"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("h36m_images"))


def _keys(ds: H36MImageDataset) -> list[tuple[str, str, int]]:
    return [(s, c, f) for s, c, f in zip(ds.subjects, ds.camera_ids, ds.frames, strict=True)]


def test_protocols_select_subjects_and_cameras(written: Path) -> None:
    everything = H36MImageDataset(written, load_images=False)
    assert len(everything) == 3 * 4 * 2
    p1 = H36MImageDataset(written, protocol=1, load_images=False)
    assert p1.metric == "mpjpe" and p1.protocol is H36M_IMAGE_PROTOCOLS[1]
    assert sorted(set(p1.subjects)) == ["S11", "S9"] and len(p1) == 2 * 4 * 2
    assert set(p1.camera_ids) == set(H36M_CAMERA_IDS)
    p2 = H36MImageDataset(written, protocol=2, load_images=False)
    assert p2.metric == "pa_mpjpe"
    assert _keys(p2) == [("S9", "60457274", 0), ("S9", "60457274", 5),
                         ("S11", "60457274", 0), ("S11", "60457274", 5)]  # fmt: skip
    own = H36MImageDataset(written, subjects="S11", cameras_ids=["55011271"], load_images=False)
    assert _keys(own) == [("S11", "55011271", 0), ("S11", "55011271", 5)]
    strided = H36MImageDataset(written, subjects=["S9"], stride=3, load_images=False)
    assert list(strided.rows) == [8, 11, 14]  # rows 8..15 are S9's, every third kept


def test_samples_match_the_file_and_project_exactly(written: Path) -> None:
    ds = H36MImageDataset(written, cameras=written.parent / "cameras.pkl", protocol=1)
    with np.load(written) as d:
        part, S = d["part"], d["S"]
    for i in (0, 5, len(ds) - 1):
        s, row = ds[i], ds.rows[i]
        np.testing.assert_array_equal(s.keypoints2d[0], part[row, :, :2].astype(np.float32))
        np.testing.assert_array_equal(s.joints3d[0], S[row, :, :3].astype(np.float32))
        np.testing.assert_allclose(_project(s.joints3d[0], s.K), s.keypoints2d[0], atol=1e-3)
        assert s.image.shape == (*_SIZE, 3)
        assert s.image[0, 10 * (s.meta["frame"] + 1) - 1, 0] > 150  # this frame's jpg
        assert s.image[0, 10 * (s.meta["frame"] + 1) + 1, 0] < 150


def test_bare_names_and_a_flat_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, bare=True)  # jpgs in the npz's folder itself
    ds = H36MImageDataset(path, subjects=["S9"])
    assert Path(ds[0].meta["source"]).parent == tmp_path
    assert ds[0].image.shape == (*_SIZE, 3)


def test_errors_name_file_and_field(written: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"subjects: unknown \['S12'\]"):
        H36MImageDataset(written, subjects=["S9", "S12"])
    with pytest.raises(ValueError, match=r"cameras_ids: unknown \['1234'\]"):
        H36MImageDataset(written, cameras_ids=["1234"])
    with pytest.raises(ValueError, match="protocol: expected 1, 2 or None, got 3"):
        H36MImageDataset(written, protocol=3)
    with pytest.raises(ValueError, match="protocol 1 fixes the subjects"):
        H36MImageDataset(written, protocol=1, subjects=["S9"])
    with pytest.raises(ValueError, match="stride: expected a whole number >= 1, got 0"):
        H36MImageDataset(written, stride=0)
    with pytest.raises(ValueError, match=r"no frames of subjects \['S5'\]"):
        H36MImageDataset(written, subjects=["S5"])

    # a camera missing from cameras.pkl
    path = _write(tmp_path / "nocam", drop=("S11", "58860488"))
    with pytest.raises(ValueError, match=r"cameras.pkl: no camera \('S11', '58860488'\).*ann.npz"):
        H36MImageDataset(path, cameras=path.parent / "cameras.pkl")
    H36MImageDataset(path, cameras=path.parent / "cameras.pkl", subjects=["S9"])  # not needed

    # a missing image: raised when the sample is read, naming the npz row and the paths tried
    ds = H36MImageDataset(written, subjects=["S9"], image_dir=tmp_path)
    with pytest.raises(ValueError, match=r"ann.npz: imgname\[8\]: no image file; tried .*S9"):
        ds[0]
    assert H36MImageDataset(written, image_dir=tmp_path, load_images=False)[0].image is None

    with np.load(written) as d:
        arrays = {k: d[k] for k in d.files}
    bad = dict(arrays, part=arrays["part"][:, :16])
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match=r"shape.npz: part: expected \(24, 17, 3\) numbers"):
        H36MImageDataset(tmp_path / "shape.npz")
    np.savez(tmp_path / "no_s.npz", **{k: v for k, v in arrays.items() if k != "S"})
    with pytest.raises(ValueError, match=r"no_s.npz: variables: expected an array 'S'"):
        H36MImageDataset(tmp_path / "no_s.npz")
    names = arrays["imgname"].copy()
    names[3] = "S9/walking.jpg"
    np.savez(tmp_path / "name.npz", **dict(arrays, imgname=names))
    with pytest.raises(ValueError, match=r"name.npz: imgname\[3\]: expected a Human3.6M frame"):
        H36MImageDataset(tmp_path / "name.npz")


def test_parse_image_name_and_layout() -> None:
    name = "S11/S11_Sitting_2.60457274/S11_Sitting_2.60457274_000129.jpg"
    assert parse_h36m_image_name(name) == ("S11", "Sitting_2", "60457274", 128)
    with pytest.raises(ValueError, match=r"expected a Human3\.6M frame name"):
        parse_h36m_image_name("frame_000001.jpg")
    assert H36M17.name == H36MImageDataset.skeleton
