"""Every file of ../shared/data/real/mmpose_samples through the posekit reader of its format.

The expected numbers are literals copied from the files (people counts, one keypoint, a
camera's focal length), or the same numbers in a second file of another format, never values
the reader computed. Tests skip when ../shared/data is absent (a user's clone).

Files and readers (what other modules already check is not repeated here):

- coco/test_coco.json: `COCODataset` (coco17); people and every keypoint against the raw json
  and the 4 images in test_data_readers_2d.py::test_coco_real_sample; a literal here.
- coco/test_coco_wholebody.json: `COCODataset` reads its 17 body keypoints (coco17).
- coco/test_keypoint_partition_metric.json: 133 whole-body keypoints per person under 17
  names: refused (``annotations[0].keypoints: expected 51 numbers``).
- crowdpose/test_crowdpose.json: `COCODataset` (lsp14), also in test_data_readers_2d.py.
- mpii/test_mpii.json: `MPIIDataset` (MMPose json), also in test_data_readers_2d.py.
- mpii/test_mpii_trb.json (MPII-TRB, 40 keypoints): no layout; refused by name.
- h36m/h36m_coco.json: `COCODataset` (h36m17, by its names; see the quirk below).
- h36m/test_h36m_body3d.npz: `read_h36m_frames` (its images S*/...jpg opened with cv2).
- h36m/cameras.pkl: `load_h36m_cameras` (projection checked in test_data_h36m.py).
- freihand/test_freihand.json: MMPose's COCO-format FreiHAND (2D only): `COCODataset` (hand21).

No posekit reader (not read here beyond a clear refusal where a reader could be mistaken for
one): COCO / CrowdPose detection results (coco/test_coco_det_AP_H_56.json,
crowdpose/test_crowdpose_det_AP_40.json: a list of boxes with scores; `posekit predict` takes
its own boxes json), InterHand2.6M (interhand2.6m/*.json: its own data / camera / joint_3d
json), FreiHAND's 3D joints (not in this sample), h36m/test_h36m.npz (MMPose's mesh
annotations: SMPL pose and shape, 24 joints), h36m/test_h36m_2d_detection.npy (a bare
(N, 17, 3) array) and h36m/BF_IUV_gt/*.png (DensePose IUV maps).

Quirk of h36m/h36m_coco.json: its category names the legs mirrored (``left_hip``,
``left_knee``, ``left_foot`` at indices 1-3, ``right_*`` at 4-6; the arms are named right), but
its numbers are those of test_h36m_body3d.npz's ``part`` in Human3.6M's order (index 1 = right
hip, as MMPose's own h36m metainfo says, and as the image of S1 seen from behind shows: index 1
is on the person's right). The reader trusts the names, so that file reads with the legs
swapped.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.data.datasets import COCODataset, MPIIDataset
from posekit.data.datasets.coco import read_coco_keypoints
from posekit.data.datasets.h36m import load_h36m_cameras, read_h36m_frames
from posekit.data.datasets.mpii import read_mpii_json
from posekit.skeletons import COCO17, H36M17, HAND21, LSP14, MPII16

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _real(sub: str) -> Path:
    path = REAL / sub
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    return path


def test_coco_and_wholebody_body_keypoints() -> None:
    for name in ("test_coco.json", "test_coco_wholebody.json"):
        ds = COCODataset(_real("coco") / name)
        assert ds.skeleton == "coco17" and len(ds) == 4
        assert sum(ds.num_people(i) for i in range(4)) == 14
        s = ds.sample(0)  # image 785: one person, annotation 442619
        assert s.meta["image_id"] == 785 and s.image.shape == (425, 640, 3)
        assert list(s.meta["annotation_ids"]) == [442619]
        # file: keypoints [367, 81, 2, 374, 73, 2, ...], bbox [280.79, 44.73, 218.7, 346.68]
        np.testing.assert_array_equal(s.keypoints2d[0, COCO17.index("nose")], [367, 81])
        np.testing.assert_array_equal(s.keypoints2d[0, COCO17.index("l_eye")], [374, 73])
        np.testing.assert_allclose(s.bbox[0], [280.79, 44.73, 280.79 + 218.7, 44.73 + 346.68])
        assert s.meta["num_keypoints"][0] == 17 and s.visibility[0].all()


def test_wholebody_partition_file_is_refused() -> None:
    path = _real("coco") / "test_keypoint_partition_metric.json"
    with pytest.raises(
        ValueError, match=r"test_keypoint_partition_metric\.json: annotations\[0\]\.keypoints: "
        r"expected 51 numbers, got shape \(399,\)"
    ):  # fmt: skip
        read_coco_keypoints(path)


@pytest.mark.parametrize(
    "sub", ["coco/test_coco_det_AP_H_56.json", "crowdpose/test_crowdpose_det_AP_40.json"]
)
def test_detection_results_are_not_keypoint_files(sub: str) -> None:
    path = _real(sub)
    with pytest.raises(ValueError, match=rf"{path.name}: top level: expected an object, got list"):
        read_coco_keypoints(path)


def test_crowdpose_people_and_keypoints() -> None:
    ds = COCODataset(_real("crowdpose") / "test_crowdpose.json")
    assert ds.skeleton == "lsp14" and len(ds) == 2
    assert [ds.num_people(i) for i in range(2)] == [3, 2]
    s = ds.sample(0)  # image 106848, crowdIndex 0.33
    assert s.image.shape == (425, 640, 3) and s.meta["crowd_index"] == pytest.approx(0.33)
    # annotation 123803: head [256, 27, 1], neck [220, 89, 1]; left shoulder not labelled
    np.testing.assert_array_equal(s.keypoints2d[0, LSP14.index("head_top")], [256, 27])
    np.testing.assert_array_equal(s.keypoints2d[0, LSP14.index("neck")], [220, 89])
    assert not s.visibility[0, LSP14.index("neck")]  # v = 1: labelled, not visible
    assert np.isnan(s.keypoints2d[0, LSP14.index("l_shoulder")]).all()
    assert np.isnan(s.keypoints2d[1]).all()  # annotation 131039: a person with no keypoints
    assert ds.sample(1).meta["crowd_index"] == pytest.approx(0.39)


def test_mpii_json_people_and_a_joint() -> None:
    ds = MPIIDataset(_real("mpii") / "test_mpii.json")
    assert len(ds) == 5 and all(ds.num_people(i) == 1 for i in range(5))
    s = ds.sample(0)
    # entry 0: image 005808361.jpg, joints[9] (head top) [962.2409, 80.0306], centre
    # [966, 340], scale 4.718488; MATLAB's 1-based pixels become 0-based
    assert s.meta["image_name"] == "005808361.jpg" and s.image.ndim == 3
    np.testing.assert_allclose(s.keypoints2d[0, MPII16.index("head_top")], [961.2409, 79.0306])
    np.testing.assert_allclose(s.meta["objpos"][0], [965, 339])
    np.testing.assert_allclose(s.meta["scale"][0], 4.718488)


def test_mpii_trb_has_no_layout() -> None:
    path = _real("mpii") / "test_mpii_trb.json"
    expected = (
        r"test_mpii_trb\.json: categories\[0\] \('person'\)\.keypoints: the 40 keypoint names "
        r"fit no registered layout: the closest, lsp14 \(14 joints\), which has no joint for "
        r"'right_neck'"
    )
    with pytest.raises(ValueError, match=expected):
        read_coco_keypoints(path)
    with pytest.raises(ValueError, match=r"test_mpii_trb\.json: top level: expected a list"):
        read_mpii_json(path)


def test_h36m_frames_cameras_and_images() -> None:
    folder = _real("h36m")
    frames = read_h36m_frames(folder / "test_h36m_body3d.npz")
    assert len(frames) == 4
    name = "S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg"
    assert frames.image_names[0] == name
    # part[0, 10] (head) = [485.76895142, 297.57162476, 1]; S[0, 10] = [-0.1189, -0.9702, 5.0586]
    np.testing.assert_allclose(frames.keypoints2d[0, 10], [485.76895142, 297.57162476])
    np.testing.assert_allclose(frames.joints3d_cam_m[0, 10], [-0.11893483, -0.97022827, 5.05859905])
    assert frames.visibility2d.all() and frames.visibility3d.all()
    np.testing.assert_allclose(frames.center_px[0], [466.65632629, 465.67048645])
    np.testing.assert_allclose(frames.scale[0], 2.017186340332031)
    cam = load_h36m_cameras(folder / "cameras.pkl")[("S1", "54138969")]
    np.testing.assert_allclose(cam.focal_px, [1145.04940459, 1143.78109572])
    np.testing.assert_allclose(cam.center_px, [512.54150496, 515.45148698])
    assert cam.image_size == (1002, 1000)
    # the frames' images, where their names say (no posekit dataset loads these images)
    sizes = [cv2.imread(str(folder / str(n))).shape for n in frames.image_names]
    assert sizes == [(1002, 1000, 3)] * 3 + [(1000, 1000, 3)]
    # the mesh annotations (24 joints, SMPL parameters) are another format
    with pytest.raises(ValueError, match=r"test_h36m\.npz: part: expected \(4, 17, 3\) numbers"):
        read_h36m_frames(folder / "test_h36m.npz")


def test_h36m_coco_json_reads_by_its_names() -> None:
    folder = _real("h36m")
    ds = COCODataset(folder / "h36m_coco.json", load_images=False)
    assert ds.skeleton == "h36m17" and len(ds) == 4
    frames = read_h36m_frames(folder / "test_h36m_body3d.npz")
    raw = json.loads((folder / "h36m_coco.json").read_text())
    assert raw["categories"][0]["keypoints"][1] == "left_hip"
    for i in range(4):
        s = ds.sample(i)
        assert s.meta["file_name"] == Path(str(frames.image_names[i])).name
        kp = s.keypoints2d[0]
        # names the file gives its numbers: index 0 'root (pelvis)', 10 'head', 1 'left_hip'
        np.testing.assert_allclose(kp[H36M17.index("pelvis")], frames.keypoints2d[i, 0], atol=1e-4)
        np.testing.assert_allclose(kp[H36M17.index("head_top")], frames.keypoints2d[i, 10], 1e-6)
        np.testing.assert_allclose(kp[H36M17.index("r_wrist")], frames.keypoints2d[i, 16], 1e-6)
        # the quirk: leg numbers in Human3.6M's order under mirrored names
        np.testing.assert_allclose(kp[H36M17.index("l_hip")], frames.keypoints2d[i, 1], 1e-6)
        np.testing.assert_allclose(kp[H36M17.index("r_ankle")], frames.keypoints2d[i, 6], 1e-6)
    # annotation 1: keypoints[3:6] = [500.99609375, 448.0298767089844, 1.0]
    np.testing.assert_allclose(ds.sample(0).keypoints2d[0, H36M17.index("l_hip")],
                               [500.99609375, 448.0298767089844])  # fmt: skip


def test_freihand_json_reads_as_hand21() -> None:
    ds = COCODataset(_real("freihand") / "test_freihand.json")
    assert ds.skeleton == "hand21" and len(ds) == 8
    assert all(ds.num_people(i) == 1 for i in range(8))
    s = ds.sample(0)
    assert s.meta["file_name"] == "00017620.jpg" and s.image.shape == (224, 224, 3)
    # keypoints[0:3] = wrist [75.0900714, 114.7903538, 1]; [60:63] = pinky tip
    np.testing.assert_allclose(s.keypoints2d[0, HAND21.index("wrist")], [75.09007145, 114.79035385])
    np.testing.assert_allclose(
        s.keypoints2d[0, HAND21.index("pinky_tip")], [118.921477, 140.343191]
    )
    assert not s.visibility.any()  # every flag is v = 1: labelled, not marked visible


def test_files_without_a_reader_are_refused_clearly() -> None:
    data = _real("interhand2.6m") / "test_interhand2.6m_data.json"
    with pytest.raises(ValueError, match=r"test_interhand2\.6m_data\.json: categories: expected"):
        read_coco_keypoints(data)
    camera = _real("interhand2.6m") / "test_interhand2.6m_camera.json"
    with pytest.raises(ValueError, match=r"test_interhand2\.6m_camera\.json: images: expected"):
        read_coco_keypoints(camera)
