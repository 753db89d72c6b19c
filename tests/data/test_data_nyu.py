"""NYU hand dataset reader: joint_data.mat + NYU-encoded depth PNGs, in the release format.

Each test writes a tiny dataset in tmp_path: ``joint_data.mat`` with ``savemat`` (``joint_uvd``
and ``joint_xyz`` of shape (3 cameras, N frames, 36 points, 3) and ``joint_names``), depth
PNGs ``depth_<cam>_<frame:07d>.png`` (1-based) written by `write_nyu_depth` and, for one,
by Pillow from explicit green / blue bytes. The fake joints are consistent the way the NYU
loaders of DeepPrior++ and V2V-PoseNet relate them: u = fx x / z + cx, v = cy - fy y / z (NYU's
y points up). Expected values are computed here from those formulas and literal constants.
The real-data test reads ../shared/data/real/nyu when present and skips otherwise.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from PIL import Image

from posekit.data.datasets import NYUHandDataset
from posekit.data.datasets.nyu import (
    HAND21_NYU14_PAIRS,
    camera_to_nyu_xyz,
    nyu_intrinsics,
    nyu_xyz_to_camera,
    read_nyu_depth,
    read_nyu_joints,
    write_nyu_depth,
)
from posekit.data.images import ImageError
from posekit.skeletons import HAND21, NYU14, NYU14_FROM_36
from posekit.skeletons.nyu36 import NYU36

FX, FY, CX, CY = 588.036865, 587.075073, 320.0, 240.0  # NYU's Kinect (Tompson et al. 2014)
H, W = 480, 640
REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "nyu"

LABELS = [f"{f}_KNU{k}_{ab}" for f in ("F1", "F2", "F3", "F4", "TH") for k in (3, 2, 1)
          for ab in "AB"] + [f"PALM_{i}" for i in range(1, 7)]  # fmt: skip

# nyu14 joint -> row of joint_data.mat (V2V-PoseNet's 1-based eval_joint minus one)
NYU14_ROWS = {
    "pinky_tip": 0,
    "pinky_pip": 3,
    "ring_tip": 6,
    "ring_pip": 9,
    "middle_tip": 12,
    "middle_pip": 15,
    "index_tip": 18,
    "index_pip": 21,
    "thumb_tip": 24,
    "thumb_ip": 25,
    "thumb_mcp": 27,
    "wrist_thumb_side": 30,
    "wrist_pinky_side": 31,
    "palm": 32,
}


def _fake_joints(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Consistent (uvd, xyz), each (3, n, 36, 3): xyz in mm with y up, uvd its projection."""
    rng = np.random.default_rng(seed)
    xyz = np.empty((3, n, 36, 3))
    xyz[..., 0] = rng.uniform(-120, 120, (3, n, 36))
    xyz[..., 1] = rng.uniform(-120, 120, (3, n, 36))
    xyz[..., 2] = rng.uniform(550, 950, (3, n, 36))
    uvd = np.stack(
        [
            FX * xyz[..., 0] / xyz[..., 2] + CX,
            CY - FY * xyz[..., 1] / xyz[..., 2],
            xyz[..., 2],
        ],
        axis=-1,
    )
    return uvd, xyz


def _names() -> np.ndarray:
    cells = np.empty((1, 36), dtype=object)
    for i, name in enumerate(LABELS):
        cells[0, i] = name
    return cells


def _write_mat(path: Path, uvd: np.ndarray, xyz: np.ndarray, **extra: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"joint_uvd": uvd, "joint_xyz": xyz, "joint_names": _names(), **extra})


def _dataset(
    tmp_path: Path, n: int = 4, split: str = "test"
) -> tuple[Path, np.ndarray, np.ndarray]:
    """root/<split>/joint_data.mat and camera 1's depth PNGs: frame i (0-based) is a constant
    (600 + i) mm with 0 (no measurement) in the top-left 10 x 10 pixels."""
    uvd, xyz = _fake_joints(n)
    folder = tmp_path / "nyu" / split
    _write_mat(folder / "joint_data.mat", uvd, xyz)
    for i in range(n):
        depth = np.full((H, W), (600 + i) / 1000.0)
        depth[:10, :10] = 0.0
        write_nyu_depth(folder / f"depth_1_{i + 1:07d}.png", depth)
    return tmp_path / "nyu", uvd, xyz


# ---------------------------------------------------------------- depth PNG


def test_depth_round_trip_is_exact_to_the_mm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    mm = rng.integers(0, 65536, (48, 64))
    mm[0, :4] = (0, 1, 255, 65535)
    path = tmp_path / "d.png"
    write_nyu_depth(path, mm / 1000.0)
    got = read_nyu_depth(path)
    assert got.dtype == np.float32 and got.shape == (48, 64)
    assert np.array_equal(np.rint(got.astype(np.float64) * 1000), mm)
    assert np.abs(got - mm / 1000.0).max() < 1e-5 * 65.536
    # the bytes are NYU's packing, read back by Pillow: R = 0, G = mm >> 8, B = mm & 255
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (64, 48)
        rgb = np.asarray(im)
    assert not rgb[..., 0].any()
    assert np.array_equal(rgb[..., 1], mm // 256) and np.array_equal(rgb[..., 2], mm % 256)
    # sub-millimetre depths round to the nearest mm
    write_nyu_depth(path, np.array([[0.7234, 0.72351, 1.0004]]))
    assert np.rint(read_nyu_depth(path) * 1000).tolist() == [[723, 724, 1000]]


def test_depth_on_the_sensor_grid_reads_back_bit_exact(tmp_path: Path) -> None:
    depth = np.arange(0, 3000, 7, dtype=np.float32).reshape(1, -1) * np.float32(0.001)
    write_nyu_depth(tmp_path / "d.png", depth)
    assert np.array_equal(read_nyu_depth(tmp_path / "d.png"), depth)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_hand_written_png_decodes_green_high_blue_low(tmp_path: Path, mode: str) -> None:
    px = np.zeros((H, W, len(mode)), np.uint8)
    px[10, 20, 1:3] = (3, 232)  # G = 3, B = 232: 3 * 256 + 232 = 1000 mm
    px[0, 0, :3] = (255, 0, 1)  # red is not part of the depth: 1 mm
    px[479, 639, 1:3] = (255, 255)  # the largest depth, 65535 mm
    px[5, 5, 1:3] = (1, 0)  # 256 mm
    if mode == "RGBA":
        px[..., 3] = 255
    path = tmp_path / "depth_1_0000001.png"
    Image.fromarray(px, mode).save(path)
    depth = read_nyu_depth(path, (H, W))
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert abs(depth[10, 20] - 1.0) < 1e-6
    assert abs(depth[0, 0] - 0.001) < 1e-9
    assert abs(depth[5, 5] - 0.256) < 1e-6
    assert abs(depth[479, 639] - 65.535) < 1e-4
    assert np.count_nonzero(depth) == 4


def test_depth_png_errors_name_the_file(tmp_path: Path) -> None:
    gray16 = tmp_path / "gray16.png"
    cv2.imwrite(str(gray16), np.full((H, W), 800, np.uint16))
    with pytest.raises(ImageError, match=r"gray16\.png: expected an 8-bit RGB.*16-bit grey"):
        read_nyu_depth(gray16)
    gray8 = tmp_path / "gray8.png"
    cv2.imwrite(str(gray8), np.zeros((H, W), np.uint8))
    with pytest.raises(ImageError, match=r"gray8\.png: expected an 8-bit RGB.*8-bit grey"):
        read_nyu_depth(gray8)
    rgb16 = tmp_path / "rgb16.png"
    cv2.imwrite(str(rgb16), np.zeros((H, W, 3), np.uint16))
    with pytest.raises(ImageError, match=r"rgb16\.png: .*16-bit RGB"):
        read_nyu_depth(rgb16)
    small = tmp_path / "small.png"
    write_nyu_depth(small, np.ones((240, 320)))
    with pytest.raises(ImageError, match=r"small\.png: expected 480 x 640 pixels.*240 x 320"):
        read_nyu_depth(small, (H, W))
    assert read_nyu_depth(small).shape == (240, 320)  # any size without ``size``
    jpeg = tmp_path / "depth.jpg"
    cv2.imwrite(str(jpeg), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ImageError, match=r"depth\.jpg: expected an NYU depth PNG"):
        read_nyu_depth(jpeg)
    truncated = tmp_path / "truncated.png"
    write_nyu_depth(truncated, np.ones((H, W)))
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageError, match=r"truncated\.png: not a readable PNG"):
        read_nyu_depth(truncated)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.png: no such file"):
        read_nyu_depth(tmp_path / "nowhere.png")


@pytest.mark.parametrize(
    "depth",
    [np.full((2, 2), -0.001), np.full((2, 2), np.nan), np.full((2, 2), 65.536), np.ones((2, 2, 3))],
)
def test_write_depth_refuses_what_the_format_cannot_hold(tmp_path: Path, depth: np.ndarray) -> None:
    with pytest.raises(ValueError, match="depth_m: expected"):
        write_nyu_depth(tmp_path / "d.png", depth)
    assert not (tmp_path / "d.png").exists()


# ---------------------------------------------------------------- frames


def test_nyu_frame_to_opencv_metres() -> None:
    assert np.allclose(nyu_xyz_to_camera(np.array([10.0, 20.0, 800.0])), [0.01, -0.02, 0.8])
    pts = np.random.default_rng(2).normal(size=(5, 7, 3))
    assert np.allclose(camera_to_nyu_xyz(nyu_xyz_to_camera(pts)), pts)
    with pytest.raises(ValueError, match="xyz_mm: expected"):
        nyu_xyz_to_camera(np.zeros((4, 2)))
    K = nyu_intrinsics()
    assert K.dtype == np.float32
    assert np.allclose(K, [[FX, 0, CX], [0, FY, CY], [0, 0, 1]], atol=1e-4)


def test_nyu14_rows_are_the_standard_subset() -> None:
    # DeepPrior++'s restrictedJointsEval, V2V-PoseNet's eval_joint (1-based) minus one
    assert NYU14_FROM_36 == (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
    assert {n: NYU14_FROM_36[k] for k, n in enumerate(NYU14.native_joints)} == NYU14_ROWS


def test_hand21_nyu14_pairs_share_names() -> None:
    shared = {"thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "thumb_ip",
              "thumb_mcp", "index_pip", "middle_pip", "ring_pip", "pinky_pip"}  # fmt: skip
    assert {HAND21.joints[h] for h, _ in HAND21_NYU14_PAIRS} == shared
    assert all(HAND21.joints[h] == NYU14.joints[n] for h, n in HAND21_NYU14_PAIRS)
    # hand21: wrist, thumb CMC MCP IP tip, ...; nyu14: palm, 2 wrist points, thumb MCP IP tip
    assert (4, 5) in HAND21_NYU14_PAIRS and (3, 4) in HAND21_NYU14_PAIRS
    assert (2, 3) in HAND21_NYU14_PAIRS and (8, 7) in HAND21_NYU14_PAIRS
    assert not {NYU14.joints[n] for _, n in HAND21_NYU14_PAIRS} & {
        "palm",
        "wrist_thumb_side",
        "wrist_pinky_side",
    }
    assert [n for _, n in HAND21_NYU14_PAIRS] == sorted(n for _, n in HAND21_NYU14_PAIRS)


# ---------------------------------------------------------------- dataset


def test_reads_frames_in_the_release_format(tmp_path: Path) -> None:
    root, uvd, xyz = _dataset(tmp_path)
    ds = NYUHandDataset(root, split="test")
    assert len(ds) == 4
    s = ds[2]  # row 2 of joint_data.mat is depth_1_0000003.png
    s.validate()
    assert s.skeleton == "nyu14" and s.image is None
    assert s.meta["image_name"] == "depth_1_0000003.png" and s.meta["frame"] == 2
    assert s.meta["camera"] == 1 and s.meta["split"] == "test"
    assert s.depth.shape == (H, W) and s.depth.dtype == np.float32
    assert abs(s.depth[200, 300] - 0.602) < 1e-6 and not s.depth[:10, :10].any()
    assert s.keypoints2d.shape == (1, 14, 2) and s.joints3d.shape == (1, 14, 3)
    assert s.visibility.shape == (1, 14) and s.visibility.all()
    assert s.K.dtype == np.float32
    for name, row in NYU14_ROWS.items():
        j = NYU14.index(name)
        assert np.allclose(s.keypoints2d[0, j], uvd[0, 2, row, :2], atol=1e-4)
        x, y, z = xyz[0, 2, row]
        assert np.allclose(s.joints3d[0, j], [x / 1000, -y / 1000, z / 1000], atol=1e-6)


def test_projecting_joints3d_gives_keypoints2d(tmp_path: Path) -> None:
    root, uvd, xyz = _dataset(tmp_path)
    uvd[0, 1, 32] = (CX + FX * 10 / 800, CY - FY * 20 / 800, 800)  # palm 1 cm right, 2 cm up
    xyz[0, 1, 32] = (10, 20, 800)
    _write_mat(root / "test" / "joint_data.mat", uvd, xyz)
    for joints in ("nyu14", "nyu36"):
        ds = NYUHandDataset(root, joints=joints, load_depth=False)
        for s in ds:
            p = s.joints3d[0] @ s.K.T.astype(np.float64)
            assert np.allclose(p[:, :2] / p[:, 2:], s.keypoints2d[0], atol=1e-3)
        palm = ds.sample(1)
        j = (NYU14 if joints == "nyu14" else NYU36).index("palm")
        assert np.allclose(palm.joints3d[0, j], [0.010, -0.020, 0.800], atol=1e-6)
        assert palm.joints3d[0, j, 1] < 0  # above the optical axis: y < 0 in OpenCV
        assert palm.keypoints2d[0, j, 1] < CY


def test_nyu36_keeps_every_point(tmp_path: Path) -> None:
    root, uvd, _ = _dataset(tmp_path)
    s = NYUHandDataset(root, joints="nyu36", load_depth=False)[0]
    assert s.skeleton == "nyu36" and s.keypoints2d.shape == (1, 36, 2)
    assert NYU36.joints[0] == "palm" and np.allclose(s.keypoints2d[0, 0], uvd[0, 0, 32, :2])
    for row, name in enumerate(NYU36.native_joints):
        assert np.allclose(s.keypoints2d[0, NYU36.index(name)], uvd[0, 0, row, :2], atol=1e-4)
    for name, row in NYU14_ROWS.items():  # the 14 keep their nyu14 names
        assert NYU36.native_joints[row] == name
    assert NYU36.native_joints[1] == "pinky_knu3_b" and NYU36.native_joints[35] == "palm_6"


def test_cameras_and_frames_select_files(tmp_path: Path) -> None:
    root, uvd, _ = _dataset(tmp_path)
    write_nyu_depth(root / "test" / "depth_3_0000001.png", np.full((H, W), 0.9))
    write_nyu_depth(root / "test" / "depth_3_0000004.png", np.full((H, W), 0.4))
    ds = NYUHandDataset(root / "test", split="test", cameras=(1, 3), frames=[3, 0])
    assert len(ds) == 4
    assert [(s.meta["camera"], s.meta["frame"]) for s in ds] == [(1, 3), (1, 0), (3, 3), (3, 0)]
    last = ds[3]
    assert last.meta["image_name"] == "depth_3_0000001.png" and abs(last.depth[0, 0] - 0.9) < 1e-6
    assert np.allclose(last.keypoints2d[0, NYU14.index("palm")], uvd[2, 0, 32, :2], atol=1e-4)
    assert ds[-1].meta["index"] == 3
    assert len(NYUHandDataset(root, cameras=3, load_depth=False)) == 4  # one camera as an int
    sliced = NYUHandDataset(root, frames=slice(1, 3), load_depth=False)
    assert [s.meta["frame"] for s in sliced] == [1, 2] and sliced[0].depth is None
    with pytest.raises(IndexError):
        ds[4]


def test_bbox_pads_the_keypoints_box(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path)
    s = NYUHandDataset(root, load_depth=False, bbox_margin_m=0.03)[0]
    kp, z = s.keypoints2d[0], float(np.median(s.joints3d[0, :, 2]))
    pad = np.array([FX, FY]) * 0.03 / z
    want = np.concatenate([kp.min(0) - pad, kp.max(0) + pad])
    assert s.bbox.shape == (1, 4) and np.allclose(s.bbox[0], want, atol=1e-3)


def test_transform_applies_to_items(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path)
    ds = NYUHandDataset(root, load_depth=False, transform=lambda s: s.meta["image_name"])
    assert ds[1] == "depth_1_0000002.png"


def test_reads_the_train_split_and_the_file_names(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path, n=2, split="train")
    data = read_nyu_joints(root / "train" / "joint_data.mat")
    assert len(data) == 2 and data.names == tuple(LABELS)
    assert len(NYUHandDataset(root, split="train")) == 2
    with pytest.raises(FileNotFoundError, match=r"nyu/test: no such folder"):
        NYUHandDataset(root, split="test")


# ---------------------------------------------------------------- errors


def test_missing_files_are_named(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path)
    (root / "test" / "depth_1_0000002.png").unlink()
    ds = NYUHandDataset(root)
    with pytest.raises(FileNotFoundError, match=r"depth_1_0000002\.png: no such file"):
        ds[1]
    (root / "test" / "joint_data.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"test/joint_data\.mat: no such file"):
        NYUHandDataset(root)


def test_a_bad_depth_png_in_the_dataset_is_named(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path)
    cv2.imwrite(str(root / "test" / "depth_1_0000001.png"), np.zeros((H, W), np.uint16))
    write_nyu_depth(root / "test" / "depth_1_0000002.png", np.ones((H // 2, W // 2)))
    ds = NYUHandDataset(root)
    with pytest.raises(ImageError, match=r"depth_1_0000001\.png: expected an 8-bit RGB"):
        ds[0]
    with pytest.raises(ImageError, match=r"depth_1_0000002\.png: expected 480 x 640"):
        ds[1]


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"joint_uvd": np.zeros((3, 4, 14, 3))},
            r"joint_uvd: expected \(3 cameras.*\(3, 4, 14, 3\)",
        ),
        (
            {"joint_xyz": np.zeros((1, 4, 36, 3))},
            r"joint_xyz: expected \(3 cameras.*\(1, 4, 36, 3\)",
        ),
        ({"joint_xyz": np.ones((3, 5, 36, 3))}, r"joint_xyz: expected the shape of joint_uvd"),
        ({"joint_uvd": np.full((3, 4, 36, 3), np.nan)}, r"joint_uvd: expected finite values"),
        ({"joint_uvd": np.full((3, 4, 36, 3), "a")}, r"joint_uvd: expected real numbers"),
        ({"joint_names": np.array(LABELS[::-1], dtype=object)[None]}, r"joint_names: expected NYU"),
        (
            {"joint_names": np.array(LABELS[:14], dtype=object)[None]},
            r"joint_names: expected a cell",
        ),
    ],
)
def test_malformed_joint_data_names_file_and_field(
    tmp_path: Path, change: dict[str, np.ndarray], pattern: str
) -> None:
    uvd, xyz = _fake_joints(4)
    arrays = {"joint_uvd": uvd, "joint_xyz": xyz, "joint_names": _names(), **change}
    path = tmp_path / "nyu" / "test" / "joint_data.mat"
    path.parent.mkdir(parents=True)
    scipy.io.savemat(path, arrays)
    with pytest.raises(ValueError, match=r"joint_data\.mat: " + pattern):
        NYUHandDataset(tmp_path / "nyu")


def test_missing_variable_and_unreadable_mat(tmp_path: Path) -> None:
    uvd, _ = _fake_joints(2)
    path = tmp_path / "test" / "joint_data.mat"
    path.parent.mkdir(parents=True)
    scipy.io.savemat(path, {"joint_uvd": uvd})
    with pytest.raises(
        ValueError, match=r"joint_data\.mat: joint_xyz: expected .*no such variable"
    ):
        read_nyu_joints(path)
    path.write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"joint_data\.mat: cannot read NYU joint_data\.mat"):
        NYUHandDataset(tmp_path)
    scipy.io.savemat(path, {"joint_uvd": uvd, "joint_xyz": uvd})  # no joint_names: accepted
    assert read_nyu_joints(path).names is None


def test_bad_arguments(tmp_path: Path) -> None:
    root, _, _ = _dataset(tmp_path, n=2)
    with pytest.raises(ValueError, match="split: expected"):
        NYUHandDataset(root, split="val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cameras: expected"):
        NYUHandDataset(root, cameras=(4,))
    with pytest.raises(ValueError, match="cameras: expected"):
        NYUHandDataset(root, cameras=(1, 1))
    with pytest.raises(ValueError, match="joints: expected"):
        NYUHandDataset(root, joints="hand21")  # type: ignore[arg-type]
    with pytest.raises(IndexError, match=r"joint_data\.mat: frames: expected .*\[0, 2\), got 2"):
        NYUHandDataset(root, frames=[0, 2])


# ---------------------------------------------------------------- real data


def test_real_nyu_frames_when_present() -> None:
    """On the real release (../shared/data/real/nyu/test): joint_xyz, turned into OpenCV metres,
    projects onto joint_uvd — the check of the y-up convention on NYU's own files."""
    if not (REAL / "test" / "joint_data.mat").is_file():
        pytest.skip(f"NYU hand data not present at {REAL} (../shared/data has no NYU release)")
    ds = NYUHandDataset(REAL, split="test", frames=slice(0, 3), load_depth=False)
    for s in ds:
        p = s.joints3d[0].astype(np.float64) @ s.K.T.astype(np.float64)
        assert np.abs(p[:, :2] / p[:, 2:] - s.keypoints2d[0]).max() < 1.0
    first = NYUHandDataset(REAL, split="test", frames=[0])[0]
    palm = NYU14.index("palm")
    u, v = np.rint(first.keypoints2d[0, palm]).astype(int)
    near = first.depth[v - 5 : v + 6, u - 5 : u + 6]
    assert np.abs(near[near > 0] - first.joints3d[0, palm, 2]).min() < 0.05
