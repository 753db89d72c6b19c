"""The COCO-format reader on CrowdPose files: the crowd index per image and CrowdPose's OKS
scale (0.53 x box width x height) for people without an ``area``, as crowdposetools computes
it. Expected numbers are the files' own, multiplied by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.data.datasets.coco import (
    COCO_KEYPOINT_NAMES,
    CROWDPOSE_KEYPOINT_NAMES,
    read_coco_keypoints,
)

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _write(tmp_path: Path, names: tuple[str, ...], areas: list[float | None]) -> Path:
    K = len(names)
    anns = []
    for n, area in enumerate(areas):
        ann = {"id": n + 1, "image_id": 3, "category_id": 1, "iscrowd": 0, "num_keypoints": K,
               "keypoints": [v for k in range(K) for v in (10.0 + k, 20.0 + k, 2)],
               "bbox": [5.0, 6.0, 40.0, 50.0 + 10 * n]}  # fmt: skip
        if area is not None:
            ann["area"] = area
        anns.append(ann)
    data = {
        "images": [{"id": 3, "file_name": "a.jpg", "width": 80, "height": 90, "crowdIndex": 0.84},
                   {"id": 4, "file_name": "b.jpg", "width": 80, "height": 90}],
        "annotations": [*anns, {**anns[0], "id": 99, "image_id": 4}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(names)}],
    }  # fmt: skip
    path = tmp_path / "people.json"
    path.write_text(json.dumps(data))
    return path


def test_crowdpose_people_without_area_get_crowdposes_scale(tmp_path: Path) -> None:
    records, layout = read_coco_keypoints(
        _write(tmp_path, CROWDPOSE_KEYPOINT_NAMES, [None, 1234.0])
    )
    assert layout == "lsp14"
    # person 1: no area, box 40 x 50 -> 0.53 * 2000; person 2: its own area
    np.testing.assert_allclose(records[0].meta["area"], [0.53 * 40 * 50, 1234.0], rtol=1e-6)
    assert records[0].meta["crowd_index"] == pytest.approx(0.84)
    assert "crowd_index" not in records[1].meta  # image 4 has no crowdIndex


def test_coco_people_without_area_keep_the_box_area(tmp_path: Path) -> None:
    records, layout = read_coco_keypoints(_write(tmp_path, COCO_KEYPOINT_NAMES, [None, None]))
    assert layout == "coco17"
    np.testing.assert_allclose(records[0].meta["area"], [40 * 50, 40 * 60])


def test_real_crowdpose_sample_areas_and_crowd_index() -> None:
    path = REAL / "crowdpose" / "test_crowdpose.json"
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    records, layout = read_coco_keypoints(path)
    assert layout == "lsp14"
    # image 106848 (crowdIndex 0.33): annotations 123803, 131039, 147481 and their bboxes
    r = records[0]
    assert r.meta["image_id"] == 106848 and r.meta["crowd_index"] == pytest.approx(0.33)
    expected = [0.53 * 273.15 * 352.42, 0.53 * 35.46 * 30.23, 0.53 * 244.5 * 349.72]
    np.testing.assert_allclose(r.meta["area"], expected, rtol=1e-6)
    assert records[1].meta["crowd_index"] == pytest.approx(0.39)
