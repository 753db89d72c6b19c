"""MPII (.mat and json), LSP (joints.mat) and COCO / CrowdPose (json) readers.

Each test writes a file of the real format (the MPII ``RELEASE`` struct with ``savemat``, an
LSP ``joints.mat``, a COCO person_keypoints json) and reads it back; the shared real samples
(../shared/data, skipped when absent) check the readers on files written by others.

The MPII struct is as close to the official nesting as ``savemat`` allows: ``RELEASE`` with
``annolist`` (1 x N struct array) -> ``image`` (struct with ``name``), ``annorect`` (1 x R struct
array: ``x1 y1 x2 y2``, ``annopoints`` struct -> ``point`` 1 x K struct array with ``id x y
is_visible``, ``objpos`` struct with ``x y``, ``scale``), ``img_train`` (1 x N), ``single_person``
(N x 1 cell), ``act`` (N x 1 struct), ``version``. Differences: numbers are stored as double
(the official file has some uint8 / char fields, e.g. ``is_visible`` as '1'; one point here
uses a char flag and one an empty value to cover both), and ``video_list`` / ``frame_sec`` /
``vididx`` are left out (the reader does not use them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from posekit.data.datasets import COCODataset, LSPDataset, MPIIDataset
from posekit.data.datasets.coco import CROWDPOSE_SIGMAS_LSP14, read_coco_keypoints
from posekit.data.datasets.lsp import read_lsp_joints
from posekit.data.datasets.mpii import read_mpii_json, read_mpii_mat
from posekit.metrics.coco import coco_keypoint_ap
from posekit.skeletons import COCO17, LSP14, MPII16

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _real(sub: str) -> Path:
    path = REAL / sub
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    return path


def _write_image(path: Path, h: int = 40, w: int = 60) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = 200  # red in RGB
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


# ---------------------------------------------------------------- MPII


def _struct_array(rows: list[dict], fields: list[str]) -> np.ndarray:
    """A 1 x n MATLAB struct array (savemat writes numpy record arrays as structs)."""
    a = np.empty((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for f in fields:
            a[0, i][f] = row.get(f, np.zeros((0, 0)))
    return a


def _point(jid: int, x: float, y: float, vis: object) -> dict:
    return {"id": float(jid), "x": float(x), "y": float(y), "is_visible": vis}


def _rect(points: list[dict] | None, head: tuple | None, objpos: tuple, scale: float) -> dict:
    r: dict = {
        "objpos": _struct_array([{"x": objpos[0], "y": objpos[1]}], ["x", "y"]),
        "scale": float(scale),
    }
    if head is not None:
        r.update(dict(zip(("x1", "y1", "x2", "y2"), map(float, head))))
    if points is not None:
        pts = _struct_array(points, ["id", "x", "y", "is_visible"])
        r["annopoints"] = _struct_array([{"point": pts}], ["point"])
    return r


def _mpii_people() -> np.ndarray:
    """Two people's native-order (16, 2) MATLAB coordinates."""
    rng = np.random.default_rng(3)
    return rng.uniform(5, 50, size=(2, 16, 2)).round(1)


def _write_mpii_mat(folder: Path) -> tuple[Path, np.ndarray]:
    kp = _mpii_people()
    full = [_point(j, *kp[0, j], 1.0) for j in range(16)]
    full[3]["is_visible"] = "0"  # char flags as in the official file
    full[4]["is_visible"] = np.zeros((0, 0))  # and empty ones (counted visible)
    partial = [_point(j, *kp[1, j], 0.0 if j == 10 else 1.0) for j in range(16) if j != 7]
    rect_fields = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]
    img0 = [
        _rect(full, (10, 11, 20, 25), (30, 30), 0.2),
        _rect(None, None, (40, 10), 0.1),  # a person without keypoints: dropped
        _rect(partial, (12, 13, 18, 21), (25, 28), 0.15),
    ]
    img1 = [_rect(None, None, (20, 20), 0.3)]  # test image: objpos and scale only
    img2 = [_rect(full, (1, 2, 9, 10), (20, 22), 0.25)]
    annolist = _struct_array(
        [
            {
                "image": _struct_array([{"name": name}], ["name"]),
                "annorect": _struct_array(rects, rect_fields),
            }
            for name, rects in (("a.jpg", img0), ("b.jpg", img1), ("c.jpg", img2))
        ],
        ["image", "annorect"],
    )
    single = np.empty((3, 1), dtype=object)
    single[0, 0], single[1, 0], single[2, 0] = np.array([[1.0], [3.0]]), np.zeros((0, 0)), 1.0
    act = np.empty((3, 1), dtype=[("cat_name", object), ("act_name", object), ("act_id", object)])
    for i, (c, a, n) in enumerate(
        (("sports", "running", 5), ("", "", -1), ("dancing", "ballet", 9))
    ):
        act[i, 0]["cat_name"], act[i, 0]["act_name"], act[i, 0]["act_id"] = c, a, float(n)
    release = _struct_array(
        [
            {
                "annolist": annolist,
                "img_train": np.array([[1.0, 0.0, 1.0]]),
                "single_person": single,
                "act": act,
                "version": "12",
            }
        ],
        ["annolist", "img_train", "single_person", "act", "version"],
    )
    path = folder / "mpii_human_pose_v1_u12_1.mat"
    scipy.io.savemat(path, {"RELEASE": release})
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _write_image(folder / "images" / name)
    return path, kp


def test_mpii_mat_round_trip(tmp_path: Path) -> None:
    path, kp = _write_mpii_mat(tmp_path)
    recs = read_mpii_mat(path)
    assert [r.meta["image_name"] for r in recs] == ["a.jpg", "c.jpg"]
    a = recs[0]
    assert a.keypoints2d.shape == (2, 16, 2)
    np.testing.assert_array_equal(a.meta["rect_index"], [0, 2])
    # MATLAB 1-based -> 0-based, native ids -> mpii16 order
    np.testing.assert_allclose(a.keypoints2d[0], MPII16.from_native(kp[0] - 1), atol=1e-5)
    vis0 = MPII16.to_native(a.visibility[0], axis=-1)
    assert not vis0[3] and vis0[4] and vis0[[0, 1, 2, 5]].all()
    # person 2 lacks joint id 7 (thorax) and has joint 10 (r_wrist) occluded
    native1 = MPII16.to_native(a.keypoints2d[1])
    assert np.isnan(native1[7]).all() and np.isfinite(np.delete(native1, 7, 0)).all()
    vis1 = MPII16.to_native(a.visibility[1], axis=-1)
    assert not vis1[7] and not vis1[10] and vis1.sum() == 14
    np.testing.assert_allclose(a.meta["head_box"][0], [9, 10, 19, 24])
    np.testing.assert_allclose(a.meta["head_size_px"][0], 0.6 * np.hypot(10, 14), rtol=1e-6)
    # bbox: 200 * scale square about objpos (0-based)
    np.testing.assert_allclose(a.bbox[0], [29 - 20, 29 - 20, 29 + 20, 29 + 20])
    assert a.meta["single_person"] == [0, 2] and a.meta["is_train"]
    assert a.meta["activity"] == {"category": "sports", "name": "running", "id": 5}

    assert [r.meta["image_name"] for r in read_mpii_mat(path, split="test")] == []
    test = read_mpii_mat(path, split="test", require_keypoints=False)
    assert len(test) == 1 and test[0].keypoints2d.shape == (1, 16, 2)
    assert np.isnan(test[0].keypoints2d).all() and np.isnan(test[0].meta["head_size_px"]).all()

    ds = MPIIDataset(path, split="train")
    s = ds.sample(1)
    assert s.skeleton == "mpii16" and s.image.shape == (40, 60, 3) and s.image[0, 0, 0] > 150
    assert ds.num_people(0) == 2


def test_mpii_bad_input_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.mat: cannot read MPII"):
        read_mpii_mat(tmp_path / "missing.mat")
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match=r"bad\.mat"):
        read_mpii_mat(bad)
    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"annolist": np.zeros(3)})
    with pytest.raises(ValueError, match=r"other.mat: variables: expected a struct 'RELEASE'"):
        read_mpii_mat(other)
    pts = _struct_array([{"x": 1.0, "y": 2.0}], ["x", "y"])  # no joint id
    rect = _struct_array(
        [{"annopoints": _struct_array([{"point": pts}], ["point"])}], ["annopoints"]
    )
    annolist = _struct_array(
        [{"image": _struct_array([{"name": "a.jpg"}], ["name"]), "annorect": rect}],
        ["image", "annorect"],
    )
    noid = tmp_path / "noid.mat"
    release = _struct_array([{"annolist": annolist, "img_train": 1.0}], ["annolist", "img_train"])
    scipy.io.savemat(noid, {"RELEASE": release})
    with pytest.raises(
        ValueError, match=r"noid.mat: RELEASE.annolist\[0\].annorect\[0\].annopoints.point\[0\].id"
    ):
        read_mpii_mat(noid)
    js = tmp_path / "mpii.json"
    js.write_text(json.dumps([{"image": "a.jpg", "joints": [[0, 0]] * 15, "joints_vis": [1] * 16,
                               "center": [1, 2], "scale": 1.0}]))  # fmt: skip
    with pytest.raises(ValueError, match=r"mpii.json: entry 0.joints: expected \(16, 2\)"):
        read_mpii_json(js)
    js.write_text(json.dumps([{"image": "a.jpg"}]))
    with pytest.raises(ValueError, match=r"mpii\.json: entry 0: expected a field 'joints'"):
        read_mpii_json(js)
    with pytest.raises(ValueError, match=r"expected an MPII \.mat or \.json"):
        MPIIDataset(tmp_path / "x.txt")


def test_mpii_missing_image_raises_naming_it(tmp_path: Path) -> None:
    path, _ = _write_mpii_mat(tmp_path)
    (tmp_path / "images" / "c.jpg").unlink()
    ds = MPIIDataset(path)
    with pytest.raises(ValueError, match=r"c.jpg: cannot read image"):
        ds.sample(1)


def test_mpii_json_real_sample() -> None:
    folder = _real("mpii")
    entries = json.loads((folder / "test_mpii.json").read_text())
    ds = MPIIDataset(folder / "test_mpii.json")
    assert sum(ds.num_people(i) for i in range(len(ds))) == len(entries)
    s = ds.sample(0)
    e = entries[0]
    assert s.meta["image_name"] == e["image"] and s.image.ndim == 3
    native = MPII16.to_native(s.keypoints2d[0])
    vis = np.asarray(e["joints_vis"]) > 0
    np.testing.assert_allclose(native[vis], np.asarray(e["joints"])[vis] - 1, atol=1e-4)
    np.testing.assert_allclose(s.meta["objpos"][0], np.asarray(e["center"]) - 1)
    H, W = s.image.shape[:2]
    kp = s.keypoints2d[np.isfinite(s.keypoints2d).all(-1)]
    assert (kp >= -1).all() and (kp[:, 0] < W).all() and (kp[:, 1] < H).all()


# ---------------------------------------------------------------- LSP


def test_lsp_joints_round_trip_and_visibility_conventions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    N = 3
    xy = rng.uniform(1, 30, size=(N, 14, 2))  # native order, MATLAB coordinates
    occluded = rng.uniform(size=(N, 14)) < 0.3
    joints = np.concatenate([xy, occluded[..., None].astype(float)], -1)  # (N, 14, 3)
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints.transpose(2, 1, 0)})  # 3x14xN
    for i in range(N):
        _write_image(tmp_path / "images" / f"im{i + 1:04d}.jpg")
    j = read_lsp_joints(tmp_path / "joints.mat")
    assert not j.extended and len(j) == N
    np.testing.assert_allclose(j.keypoints2d, LSP14.from_native(xy - 1), atol=1e-5)
    np.testing.assert_array_equal(j.visibility, LSP14.from_native(~occluded, axis=-1))

    ds = LSPDataset(tmp_path)
    s = ds.sample(2)
    assert s.skeleton == "lsp14" and s.keypoints2d.shape == (1, 14, 2)
    assert s.meta["image_name"] == "im0003.jpg" and s.image.shape == (40, 60, 3)
    rs, lh = LSP_NATIVE_INDEX["r_shoulder"], LSP_NATIVE_INDEX["l_hip"]
    torso = np.hypot(*(xy[2, rs] - xy[2, lh]))
    np.testing.assert_allclose(s.meta["torso_size_px"], [torso], rtol=1e-5)
    assert s.bbox[0, 0] == pytest.approx(s.keypoints2d[0, :, 0].min() - 0.5)
    assert len(LSPDataset(tmp_path, split="train")) == N  # < 1000 images: all training
    assert len(LSPDataset(tmp_path, split="test")) == 0

    # LSP-extended: 14 x 3 x N, a true visibility flag, 5-digit names
    ext = tmp_path / "ext"
    ext.mkdir()
    scipy.io.savemat(ext / "joints.mat", {"joints": joints.transpose(1, 2, 0)})
    je = read_lsp_joints(ext / "joints.mat")
    assert je.extended
    np.testing.assert_array_equal(je.visibility, LSP14.from_native(occluded, axis=-1))
    dse = LSPDataset(ext, load_images=False)
    assert dse.sample(0).meta["image_name"] == "im00001.jpg" and dse.sample(0).image is None
    with pytest.raises(ValueError, match="no test split"):
        LSPDataset(ext, split="test")


LSP_NATIVE_INDEX = {n: i for i, n in enumerate(LSP14.native_joints or ())}


def test_lsp_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.mat: cannot read LSP"):
        read_lsp_joints(tmp_path / "nope.mat")
    scipy.io.savemat(tmp_path / "a.mat", {"joints": np.zeros((2, 14, 5))})
    with pytest.raises(ValueError, match=r"a.mat: joints: expected \(3, 14, N\).*got \(2, 14, 5\)"):
        read_lsp_joints(tmp_path / "a.mat")
    scipy.io.savemat(tmp_path / "b.mat", {"points": np.zeros((3, 14, 5))})
    with pytest.raises(ValueError, match=r"b.mat: variables: expected an array 'joints'"):
        read_lsp_joints(tmp_path / "b.mat")


# ---------------------------------------------------------------- COCO


def _coco_json(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)

    def kps(n_labelled: int) -> list[float]:
        out = []
        for j in range(17):
            v = 0 if j >= n_labelled else int(rng.integers(1, 3))
            xy = rng.uniform(0, 50, 2).round(1) if v else (0.0, 0.0)
            out += [float(xy[0]), float(xy[1]), v]
        return out

    data = {
        "images": [
            {"id": 7, "file_name": "x.jpg", "width": 60, "height": 40},
            {"id": 9, "file_name": "y.jpg", "width": 60, "height": 40},
            {"id": 11, "file_name": "empty.jpg", "width": 60, "height": 40},
        ],
        "annotations": [
            {"id": 100, "image_id": 7, "keypoints": kps(17), "bbox": [1, 2, 30, 35],
             "num_keypoints": 17, "iscrowd": 0, "area": 500.0, "category_id": 1},
            {"id": 101, "image_id": 7, "keypoints": kps(5), "bbox": [20, 3, 10, 20],
             "num_keypoints": 5, "iscrowd": 0, "area": 150.0, "category_id": 1},
            {"id": 102, "image_id": 9, "keypoints": kps(12), "bbox": [0, 0, 40, 30],
             "num_keypoints": 12, "iscrowd": 0, "area": 900.0, "category_id": 1},
            {"id": 103, "image_id": 9, "keypoints": [0] * 51, "bbox": [5, 5, 10, 10],
             "num_keypoints": 0, "iscrowd": 1, "area": 100.0, "category_id": 1},
            {"id": 104, "image_id": 9, "keypoints": [0] * 51, "bbox": [3, 3, 4, 4],
             "num_keypoints": 0, "iscrowd": 0, "area": 16.0, "category_id": 1},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO_NAMES), "skeleton": []}],
    }  # fmt: skip
    path = tmp_path / "person_keypoints_val.json"
    path.write_text(json.dumps(data))
    for name in ("x.jpg", "y.jpg", "empty.jpg"):
        _write_image(tmp_path / name)
    return path


COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


def test_coco_round_trip_and_ap_maps_back(tmp_path: Path) -> None:
    path = _coco_json(tmp_path)
    raw = json.loads(path.read_text())
    ds = COCODataset(path)
    assert ds.skeleton == "coco17" and len(ds) == 2
    np.testing.assert_array_equal(ds.image_ids(), [7, 9])
    s = ds.sample(0)
    assert s.num_people == 2 and s.image.shape == (40, 60, 3)
    np.testing.assert_array_equal(s.meta["annotation_ids"], [100, 101])
    k = np.asarray(raw["annotations"][1]["keypoints"], float).reshape(17, 3)
    lab = k[:, 2] > 0
    np.testing.assert_allclose(s.keypoints2d[1][lab], k[lab, :2], atol=1e-5)
    assert np.isnan(s.keypoints2d[1][~lab]).all()
    np.testing.assert_array_equal(s.visibility[1], k[:, 2] == 2)
    np.testing.assert_array_equal(s.meta["keypoint_flags"][1], k[:, 2])
    np.testing.assert_allclose(s.bbox[1], [20, 3, 30, 23])
    s9 = ds.sample(1)
    assert s9.num_people == 2  # the crowd region is not a person ...
    np.testing.assert_allclose(s9.meta["crowd_boxes"], [[5, 5, 15, 15]])  # ... but kept
    assert len(COCODataset(path, include_empty=True)) == 3

    # Ground truth read back as predictions scores AP 1 against the file's own annotations.
    samples = [ds.sample(i) for i in range(len(ds))]
    gt = np.concatenate([x.keypoints2d for x in samples])
    flags = np.concatenate([x.meta["keypoint_flags"] for x in samples])
    ids = np.concatenate([np.full(x.num_people, x.meta["image_id"]) for x in samples])
    areas = np.concatenate([x.meta["area"] for x in samples])
    used = flags.sum(1) > 0
    res = coco_keypoint_ap(gt, flags, np.nan_to_num(gt[used]), gt_image_ids=ids,
                           dt_image_ids=ids[used], gt_areas=areas)  # fmt: skip
    assert res["ap"] == pytest.approx(1.0)


def test_coco_bad_input(tmp_path: Path) -> None:
    path = _coco_json(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][2]["keypoints"] = [0] * 50
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"annotations\[2\].keypoints: expected 51 numbers"):
        read_coco_keypoints(path)
    del data["annotations"][1]["bbox"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"person_keypoints_val.json: annotations\[1\]: .*'bbox'"):
        read_coco_keypoints(path)
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="annotations: expected a list"):
        read_coco_keypoints(path)
    path.write_text("{ truncated")
    with pytest.raises(ValueError, match=r"person_keypoints_val\.json: cannot read COCO json"):
        read_coco_keypoints(path)


def test_coco_real_sample() -> None:
    folder = _real("coco")
    raw = json.loads((folder / "test_coco.json").read_text())
    ds = COCODataset(folder / "test_coco.json")
    n_people = sum(1 for a in raw["annotations"] if not a["iscrowd"])
    assert sum(ds.num_people(i) for i in range(len(ds))) == n_people
    by_id = {a["id"]: a for a in raw["annotations"]}
    for i in range(len(ds)):
        s = ds.sample(i)
        assert s.image.shape[:2] == (s.meta["height"], s.meta["width"])
        for p, aid in enumerate(s.meta["annotation_ids"]):
            k = np.asarray(by_id[int(aid)]["keypoints"], float).reshape(17, 3)
            assert int((k[:, 2] > 0).sum()) == by_id[int(aid)]["num_keypoints"]
            lab = k[:, 2] > 0
            np.testing.assert_allclose(s.keypoints2d[p][lab], k[lab, :2])
    assert COCO17.num_joints == 17


def test_crowdpose_real_sample_maps_to_lsp14() -> None:
    folder = _real("crowdpose")
    raw = json.loads((folder / "test_crowdpose.json").read_text())
    ds = COCODataset(folder / "test_crowdpose.json")
    assert ds.skeleton == "lsp14"
    s = ds.sample(0)
    ann = next(a for a in raw["annotations"] if a["id"] == s.meta["annotation_ids"][0])
    k = np.asarray(ann["keypoints"], float).reshape(14, 3)
    head, neck = LSP14.index("head_top"), LSP14.index("neck")
    for src, dst in ((12, head), (13, neck), (0, LSP14.index("l_shoulder"))):
        if k[src, 2] > 0:
            np.testing.assert_allclose(s.keypoints2d[0, dst], k[src, :2])
        else:
            assert np.isnan(s.keypoints2d[0, dst]).all()
    assert CROWDPOSE_SIGMAS_LSP14[head] == 0.079 and len(CROWDPOSE_SIGMAS_LSP14) == 14


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["images"][1].update(id=float("nan")), r"images\[1\]\.id: expected a whole"),
        (lambda d: d["images"][1].update(id=7), r"images\[1\]\.id: expected an id not used"),
        (lambda d: d["images"][0].update(width=1e300), r"images\[0\]\.width: expected a whole"),
        (lambda d: d["annotations"][0].update(id="100"), r"annotations\[0\]\.id: expected a who"),
        (lambda d: d["annotations"][0].update(num_keypoints=1e30), r"\[0\]\.num_keypoints: "),
        (lambda d: d["annotations"][1].update(area=None), r"annotations\[1\]\.area: expected a"),
        (lambda d: d["annotations"][1].update(iscrowd=2), r"annotations\[1\]\.iscrowd: expected"),
        (lambda d: d["annotations"][2].update(bbox=[0, 0, -1, 5]), r"\[2\]\.bbox: expected width"),
        (lambda d: d["annotations"][2].update(bbox=[0, 0, "5", 5]), r"\[2\]\.bbox: expected 4 num"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 3), r"flags v of 0, 1 or 2"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 1e7), r"\[0\]\.keypoints: exp"),
        (lambda d: d["annotations"][0].update(keypoints=[[1, 2, 2]] * 17), r"51 numbers, got sh"),
        (lambda d: d["categories"][0].update(keypoints="nose"), r"categories\[0\]\.keypoints"),
        (lambda d: d.update(categories={}), r"categories: expected a list"),
    ],
)
def test_coco_malformed_values_name_the_field(tmp_path: Path, edit, message: str) -> None:
    path = _coco_json(tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": .*" + message):
        read_coco_keypoints(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("joints", [[1.0, float("nan")]] * 16, r"entry 0\.joints: expected finite pixel"),
        ("joints_vis", [1] * 15 + [None], r"entry 0\.joints_vis: expected 16 numbers"),
        ("center", [1e300, 2.0], r"entry 0\.center: expected finite pixel"),
        ("scale", float("inf"), r"entry 0\.scale: expected a finite number"),
        ("image", 5, r"entry 0\.image: expected an image file name"),
    ],
)
def test_mpii_json_malformed_values_name_the_field(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    entry = {"image": "a.jpg", "joints": [[3.0, 4.0]] * 16, "joints_vis": [1] * 16,
             "center": [10.0, 12.0], "scale": 0.4}  # fmt: skip
    entry[field] = value
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + message):
        read_mpii_json(path)
