"""COCO-format json with other keypoint sets: read into the registered layout their names fit.

Each test writes a COCO person-keypoints json whose category names another layout's joints
(MMPose's Human3.6M and MPII names, Human3.6M's own CamelCase names, FreiHAND's hand names, a
shuffled order, PoseTrack's 17) and checks where each file keypoint lands, by name, or that
the file is refused with the file, the category, the unknown joint name and the registered
layouts in the message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.data.datasets import COCODataset
from posekit.data.datasets.coco import keypoint_layout, normalize_joint_name, read_coco_keypoints
from posekit.skeletons import (
    build_skeleton,
    get_skeleton,
    list_skeletons,
    register_skeleton,
    unregister_skeleton,
)

# MMPose's metainfo names (configs/_base_/datasets/{h36m,mpii}.py), file order
MMPOSE_H36M = (
    "root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
    "spine", "thorax", "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
H36M_CAMEL = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose",
    "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)  # fmt: skip
MMPOSE_MPII = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
FREIHAND = ("wrist", *(f"{f}{k}" for f in _FINGERS for k in range(1, 5)))
POSETRACK = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


def _write(tmp_path: Path, names: tuple[str, ...], people: int = 2, seed: int = 0) -> tuple:
    """A COCO json with ``people`` annotations of len(names) keypoints; returns (path, kp)."""
    rng = np.random.default_rng(seed)
    K = len(names)
    kp = np.concatenate(
        [rng.uniform(0, 200, (people, K, 2)).round(2), rng.integers(0, 3, (people, K, 1))], -1
    )
    kp[0, :, 2] = 2  # the first person fully visible
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
        "annotations": [
            {"id": 10 + p, "image_id": 1, "keypoints": kp[p].ravel().tolist(),
             "bbox": [0, 0, 200, 200], "iscrowd": 0, "category_id": 1}
            for p in range(people)
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": list(names)}],
    }  # fmt: skip
    path = tmp_path / "keypoints.json"
    path.write_text(json.dumps(data))
    return path, kp


def _assert_by_name(
    path: Path, names: tuple[str, ...], kp: np.ndarray, skeleton: str, pairs: dict[str, str]
) -> None:
    """Read ``path``; each file name in ``pairs`` lands on its layout joint, flags included."""
    ds = COCODataset(path, load_images=False)
    assert ds.skeleton == skeleton
    s = ds.sample(0)
    sk = get_skeleton(skeleton)
    assert s.keypoints2d.shape == (2, sk.num_joints, 2)
    for file_name, joint in pairs.items():
        i, j = names.index(file_name), sk.index(joint)
        np.testing.assert_array_equal(s.meta["keypoint_flags"][:, j], kp[:, i, 2])
        for p in range(2):
            if kp[p, i, 2] > 0:
                np.testing.assert_allclose(s.keypoints2d[p, j], kp[p, i, :2], atol=1e-4)
            else:
                assert np.isnan(s.keypoints2d[p, j]).all()


def test_mmpose_h36m_names_read_as_h36m17(tmp_path: Path) -> None:
    path, kp = _write(tmp_path, MMPOSE_H36M)
    pairs = {"root": "pelvis", "right_hip": "r_hip", "left_foot": "l_ankle",
             "neck_base": "neck_nose", "head": "head_top", "right_wrist": "r_wrist"}  # fmt: skip
    _assert_by_name(path, MMPOSE_H36M, kp, "h36m17", pairs)


def test_h36m_camel_case_names_read_as_h36m17(tmp_path: Path) -> None:
    path, kp = _write(tmp_path, H36M_CAMEL)
    pairs = {"Hip": "pelvis", "RFoot": "r_ankle", "Neck/Nose": "neck_nose",
             "Head": "head_top", "LShoulder": "l_shoulder"}  # fmt: skip
    _assert_by_name(path, H36M_CAMEL, kp, "h36m17", pairs)


def test_mpii_names_in_any_order_read_as_mpii16(tmp_path: Path) -> None:
    names = tuple(np.random.default_rng(5).permutation(MMPOSE_MPII))
    path, kp = _write(tmp_path, names)
    pairs = {"upper_neck": "neck", "head_top": "head_top", "pelvis": "pelvis",
             "right_ankle": "r_ankle", "left_wrist": "l_wrist"}  # fmt: skip
    _assert_by_name(path, names, kp, "mpii16", pairs)


def test_freihand_names_read_as_hand21(tmp_path: Path) -> None:
    path, kp = _write(tmp_path, FREIHAND)
    pairs = {"wrist": "wrist", "thumb1": "thumb_cmc", "thumb4": "thumb_tip",
             "forefinger1": "index_mcp", "middle_finger3": "middle_dip",
             "pinky_finger4": "pinky_tip"}  # fmt: skip
    _assert_by_name(path, FREIHAND, kp, "hand21", pairs)


def test_name_normalization() -> None:
    assert normalize_joint_name("Left Shoulder") == "l_shoulder"
    assert normalize_joint_name("LShoulder") == "l_shoulder"
    assert normalize_joint_name("right_hip") == "r_hip"
    assert normalize_joint_name("Neck/Nose") == "neck_nose"
    assert normalize_joint_name("root (pelvis)") == "root_pelvis"


def test_posetrack_names_are_refused_naming_what_is_unknown(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, POSETRACK)
    with pytest.raises(ValueError) as info:
        read_coco_keypoints(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: categories[0] ('person').keypoints: ")
    # no layout has a nose, ears and a head top: the closest (coco17) lacks these two
    assert "closest, coco17" in msg and "'head_bottom', 'head_top'" in msg
    assert f"registered layouts: {', '.join(list_skeletons())}" in msg


def test_a_typo_is_named_and_a_partial_layout_is_refused(tmp_path: Path) -> None:
    names = list(MMPOSE_MPII)
    names[13] = "left_shouldr"
    path, _ = _write(tmp_path, tuple(names))
    with pytest.raises(ValueError, match=r"closest, mpii16 \(16 joints\), which has no joint for "
                       r"'left_shouldr'; registered layouts: "):  # fmt: skip
        read_coco_keypoints(path)
    path, _ = _write(tmp_path, MMPOSE_MPII[:15])  # no left_wrist
    with pytest.raises(ValueError, match=r"closest, mpii16 .*also has l_wrist, which the file"):
        read_coco_keypoints(path)


def test_a_registered_user_layout_reads_its_files(tmp_path: Path) -> None:
    path, kp = _write(tmp_path, POSETRACK)
    with pytest.raises(ValueError, match="fit no registered layout"):
        read_coco_keypoints(path)
    tree = [("neck", None), ("nose", "neck"), ("head_top", "neck"), ("l_ear", "nose"),
            ("r_ear", "nose")]  # fmt: skip
    for side in ("l", "r"):
        tree += [(f"{side}_shoulder", "neck"), (f"{side}_elbow", f"{side}_shoulder"),
                 (f"{side}_wrist", f"{side}_elbow"), (f"{side}_hip", f"{side}_shoulder"),
                 (f"{side}_knee", f"{side}_hip"), (f"{side}_ankle", f"{side}_knee")]  # fmt: skip
    register_skeleton(build_skeleton("posetrack17_user", tree))
    try:
        pairs = {"head_bottom": "neck", "head_top": "head_top", "nose": "nose",
                 "left_ankle": "l_ankle", "right_ear": "r_ear"}  # fmt: skip
        _assert_by_name(path, POSETRACK, kp, "posetrack17_user", pairs)
    finally:  # other tests see the built-in layouts only
        unregister_skeleton("posetrack17_user")


def test_several_fitting_layouts_and_an_explicit_choice(tmp_path: Path) -> None:
    smpl = get_skeleton("smpl24").joints  # anny24 has the same names
    path, kp = _write(tmp_path, smpl)
    assert read_coco_keypoints(path)[1] == "smpl24"  # PREFERRED_LAYOUTS order
    records, name = read_coco_keypoints(path, skeleton="anny24")
    assert name == "anny24"
    np.testing.assert_allclose(records[0].keypoints2d[0], kp[0, :, :2], atol=1e-4)
    with pytest.raises(ValueError, match=r"names do not fit coco17 \(17 joints\)"):
        read_coco_keypoints(path, skeleton="coco17")
    with pytest.raises(ValueError, match="skeleton 'coco18' is not registered"):
        keypoint_layout(smpl, "coco18")
