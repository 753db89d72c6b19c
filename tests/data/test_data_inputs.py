"""User input files: 2D keypoints JSON and images/depth, with errors naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.data.images import ImageError, read_depth, read_image
from posekit.data.keypoints_json import read_keypoints_json

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _kp(J: int, score: bool = True) -> list[list[float]]:
    return [[10.0 + j, 20.0 + j, 1.0] if score else [10.0 + j, 20.0 + j] for j in range(J)]


def write(tmp_path: Path, obj: object, name: str = "kp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def test_reads_the_three_keypoint_forms(tmp_path: Path) -> None:
    flat = [v for j in range(17) for v in (1.0 * j, 2.0 * j, 2 if j != 4 else 0)]
    doc = {
        "skeleton": "coco17",
        "image_size": [480, 640],
        "image": "x.jpg",
        "people": [{"keypoints": _kp(17)}, {"keypoints": _kp(17, False)}, {"keypoints": flat}],
    }
    (frame,) = read_keypoints_json(write(tmp_path, doc))
    assert frame.keypoints.shape == (3, 17, 2) and frame.scores.shape == (3, 17)
    assert frame.image_size == (480, 640) and frame.K is None
    assert frame.image == tmp_path / "x.jpg"
    assert frame.scores[2, 4] == 0 and frame.scores[2, 5] == 1
    np.testing.assert_allclose(frame.keypoints[2, 3], (3.0, 6.0))


def test_a_list_is_one_frame_per_entry(tmp_path: Path) -> None:
    doc = [{"skeleton": "h36m17", "K": np.eye(3).tolist(), "people": []}] * 2
    frames = read_keypoints_json(write(tmp_path, doc))
    assert len(frames) == 2 and frames[1].source.endswith("kp.json[1]")
    assert frames[0].keypoints.shape == (0, 17, 2)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"people": []}, r"skeleton: missing"),
        ({"skeleton": "coco18", "people": []}, r"skeleton: expected one of"),
        ({"skeleton": "coco17"}, r"people: expected a list"),
        ({"skeleton": "coco17", "people": [{"kp": []}]}, r"people\[0\]: expected an object"),
        (
            {"skeleton": "coco17", "people": [{"keypoints": _kp(16)}]},
            r"people\[0\]\.keypoints: expected 17 joints \(coco17\), got 16",
        ),
        (
            {"skeleton": "coco17", "people": [{"keypoints": [1.0] * 50}]},
            r"flat \[x, y, v\] list of 51 numbers, got 50",
        ),
        (
            {"skeleton": "coco17", "people": [{"keypoints": [*_kp(16), [1.0, "a"]]}]},
            r"people\[0\]\.keypoints\[16\]: expected a number",
        ),
        (
            {"skeleton": "coco17", "people": [{"keypoints": [*_kp(16), [1.0, None]]}]},
            r"keypoints\[16\]: expected a number, got null",
        ),
        ({"skeleton": "coco17", "image_size": [0, 5], "people": []}, r"image_size: expected"),
        ({"skeleton": "coco17", "K": [[1, 0]], "people": []}, r"K: expected a 3x3 matrix"),
    ],
)
def test_malformed_content_names_the_field(tmp_path: Path, doc: object, match: str) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(ValueError, match=match) as err:
        read_keypoints_json(path)
    assert str(path) in str(err.value)


def test_nan_coordinates_and_broken_json_are_errors(tmp_path: Path) -> None:
    rows = [*_kp(16), [float("nan"), 3.0]]
    path = tmp_path / "nan.json"
    path.write_text(json.dumps({"skeleton": "coco17", "people": [{"keypoints": rows}]}))
    with pytest.raises(ValueError, match=r"nan.json: NaN is not valid JSON"):
        read_keypoints_json(path)
    path.write_text('{"skeleton": "coco17", "people": [')
    with pytest.raises(ValueError, match=r"malformed JSON: .* line 1"):
        read_keypoints_json(path)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_keypoints_json(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        read_keypoints_json(tmp_path / "missing.json")


def _png(path: Path, arr: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def test_read_image_converts_gray_alpha_and_16_bit(tmp_path: Path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 200  # red in BGR
    rgb = read_image(_png(tmp_path / "c.png", bgr))
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8 and rgb[0, 0, 0] == 200
    gray = read_image(_png(tmp_path / "g.png", np.full((4, 5), 77, np.uint8)))
    assert gray.shape == (4, 5, 3) and (gray == 77).all()
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 3] = 0  # fully transparent: the grey background
    assert (read_image(_png(tmp_path / "a.png", bgra)) == 128).all()
    deep = read_image(_png(tmp_path / "d.png", np.full((4, 5, 3), 65535, np.uint16)))
    assert (deep == 255).all()


def test_read_image_rejects_empty_corrupt_and_missing(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty.jpg: empty file"):
        read_image(tmp_path / "empty.jpg")
    good = _png(tmp_path / "t.png", np.zeros((32, 32, 3), np.uint8)).read_bytes()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 3])
    with pytest.raises(ImageError, match=r"trunc.png: not a readable image"):
        read_image(tmp_path / "trunc.png")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(ImageError, match=r"text.jpg: not a readable image"):
        read_image(tmp_path / "text.jpg")
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg"):
        read_image(tmp_path / "nope.jpg")


def test_read_depth_png_mm_and_npy_m(tmp_path: Path) -> None:
    mm = np.array([[0, 1000], [2500, 65535]], np.uint16)
    d = read_depth(_png(tmp_path / "d.png", mm))
    np.testing.assert_allclose(d, mm.astype(np.float32) / 1000)
    np.save(tmp_path / "d.npy", np.array([[1.5, np.nan]], np.float64))
    np.testing.assert_allclose(read_depth(tmp_path / "d.npy"), [[1.5, 0.0]])
    photo = np.zeros((2, 2, 3), np.uint8)
    photo[0, 0] = (200, 120, 40)  # a colour pixel: red is not empty, so not NYU's encoding
    with pytest.raises(ImageError, match=r"not a depth map.*single-channel 16-bit"):
        read_depth(_png(tmp_path / "rgb.png", photo))
    with pytest.raises(ImageError, match="single-channel 16-bit"):
        read_depth(_png(tmp_path / "gray8.png", np.full((2, 2), 9, np.uint8)))


def test_real_photos_read_as_rgb() -> None:
    photos = sorted((SHARED / "coco").glob("*.jpg"))
    if not photos:
        pytest.skip(f"shared real samples not found at {SHARED}")
    img = read_image(photos[0])
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 and img.std() > 10
