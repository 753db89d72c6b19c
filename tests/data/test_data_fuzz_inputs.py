"""Fuzz the user-file readers of ``posekit predict`` (keypoints JSON, boxes JSON, images,
depth maps) and the predict command itself: a malformed file gives a ValueError (an
`ImageError` for images) or FileNotFoundError naming the file, never another exception, and a
file that reads gives finite, bounded arrays. Deterministic (``derandomize``); the cases tried
are counted in `CASES` and checked at the end of each test."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from fuzz_strategies import mutated_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posekit.data.images import MAX_IMAGE_PIXELS, ImageError, read_depth, read_image
from posekit.data.keypoints_json import MAX_COORDINATE_PX, read_keypoints_json
from posekit.tasks.pose2d.predictor import boxes_for_inputs, check_boxes, read_boxes

#: Cases tried per input format (read by the RESULTS.md entry of the fuzz suite).
CASES: dict[str, int] = {}
N = 300
FUZZ = settings(
    max_examples=N,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

COCO = [[320.0 + 3 * j, 100.0 + 15 * j, 0.9] for j in range(17)]
VALID_FRAME = {
    "skeleton": "coco17",
    "image_size": [480, 640],
    "K": [[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]],
    "people": [{"keypoints": COCO}],
}


def _count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


@FUZZ
@given(data=mutated_json(VALID_FRAME))
def test_keypoints_json(tmp_path: Path, data: bytes) -> None:
    _count("keypoints JSON")
    path = tmp_path / "frame.json"
    path.write_bytes(data)
    try:
        frames = read_keypoints_json(path)
    except ValueError as err:
        assert str(path) in str(err)
        assert "\n" not in str(err).strip()
        return
    for f in frames:
        assert np.isfinite(f.keypoints).all() and np.isfinite(f.scores).all()
        assert (f.scores >= 0).all()
        visible = f.scores > 0
        assert (np.abs(f.keypoints[visible]) <= MAX_COORDINATE_PX).all()
        if f.K is not None:
            assert f.K[0, 0] > 0 and f.K[1, 1] > 0 and np.allclose(f.K[2], [0, 0, 1])


def test_keypoints_json_cases_counted() -> None:
    assert CASES.get("keypoints JSON", 0) >= N


VALID_BOXES = {"a.png": [[1.0, 2.0, 30.0, 40.0]], "b.png": []}


@FUZZ
@given(data=mutated_json(VALID_BOXES))
def test_boxes_json(tmp_path: Path, data: bytes) -> None:
    _count("boxes JSON")
    path = tmp_path / "boxes.json"
    path.write_bytes(data)
    inputs = [Path("a.png"), Path("b.png")]
    try:
        boxes = boxes_for_inputs(read_boxes(path), inputs, path)
        for b in boxes:
            if b is not None:
                check_boxes(b, (48, 64), str(path))
    except ValueError as err:
        assert str(path) in str(err)
        return
    for b in boxes:
        assert b is None or (b.ndim == 2 and b.shape[1] == 4 and np.isfinite(b).all())


def test_boxes_json_cases_counted() -> None:
    assert CASES.get("boxes JSON", 0) >= N


def _encoded(ext: str, seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (and whose data is one empty row)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@FUZZ
@given(
    ext=st.sampled_from([".png", ".jpg", ".bmp"]),
    seed=st.integers(0, 3),
    cut=st.integers(0, 2000),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=4),
)
def test_images(tmp_path: Path, ext: str, seed: int, cut: int, flips: list) -> None:
    _count("images")
    data = bytearray(_encoded(ext, seed))
    for at, x in flips:
        if at < len(data):
            data[at] ^= x
    data = bytes(data[: max(0, len(data) - cut)])
    path = tmp_path / f"img{ext}"
    path.write_bytes(data)
    try:
        img = read_image(path)
    except ImageError as err:
        assert str(path) in str(err)
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[0] * img.shape[1] <= MAX_IMAGE_PIXELS


def test_images_cases_counted() -> None:
    assert CASES.get("images", 0) >= N


def test_an_image_declaring_too_many_pixels_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(30000, 30000))
    with pytest.raises(ImageError, match=r"bomb\.png: .*expected at most 100,000,000 pixels"):
        read_image(path)
    with pytest.raises(ImageError, match=r"bomb\.png: .*expected at most"):
        read_depth(path)
    npy = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.float32))
    header["shape"] = (20000, 20000)
    with npy.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
    with pytest.raises(ImageError, match=r"huge\.npy: \(20000, 20000\); expected at most"):
        read_depth(npy)


@FUZZ
@given(
    kind=st.sampled_from(["png16", "npy", "png8"]),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 1200), st.integers(1, 255)), max_size=3),
)
def test_depth_maps(tmp_path: Path, kind: str, cut: int, flips: list) -> None:
    _count("depth maps")
    depth = (np.arange(20 * 24, dtype=np.uint16).reshape(20, 24) * 7) % 4000
    if kind == "npy":
        path = tmp_path / "d.npy"
        np.save(path, depth.astype(np.float32) / 1000.0)
    else:
        path = tmp_path / "d.png"
        _, buf = cv2.imencode(".png", depth if kind == "png16" else depth.astype(np.uint8))
        path.write_bytes(buf.tobytes())
    data = bytearray(path.read_bytes())
    for at, x in flips:
        if at < len(data):
            data[at] ^= x
    path.write_bytes(bytes(data[: max(0, len(data) - cut)]))
    try:
        d = read_depth(path)
    except (ImageError, FileNotFoundError) as err:
        assert str(path) in str(err)
        return
    assert d.dtype == np.float32 and d.ndim == 2 and np.isfinite(d).all() and (d >= 0).all()


def test_depth_maps_cases_counted() -> None:
    assert CASES.get("depth maps", 0) >= N
