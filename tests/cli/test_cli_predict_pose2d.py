"""``posekit predict`` on a 2D pose checkpoint: photos in (real ones when ../shared is there),
skeletons drawn and keypoints JSON out, which the lifter then reads; odd and broken images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
COCO = ROOT / ".." / "shared" / "data" / "real" / "mmpose_samples" / "coco"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pose2d_predict")
    data = {"root": str(out / "data"), "num": 4, "val_num": 2, "size": [128, 128], "progress": 0}
    args = ["train", str(ROOT / "configs" / "pose2d_hourglass_tiny.yaml"), "--quiet"]
    sets = ["trainer.max_steps=2", "trainer.batch_size=2", "trainer.num_workers=0"]
    sets += [f"data.params={json.dumps(data)}", "trainer.val_every=2"]
    assert main([*args, "--out", str(out / "run"), "--set", *sets]) == 0
    return out / "run" / "checkpoints" / "best.ckpt"


def _png(path: Path, arr: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def test_grayscale_and_alpha_images_are_converted(checkpoint: Path, tmp_path: Path) -> None:
    g = np.random.default_rng(0)
    gray = _png(tmp_path / "gray.png", g.integers(0, 255, (90, 60), dtype=np.uint8))
    rgba = _png(tmp_path / "rgba.png", g.integers(0, 255, (64, 80, 4), dtype=np.uint8))
    out = tmp_path / "pred"
    assert main(["predict", str(checkpoint), str(gray), str(rgba), "--out", str(out)]) == 0
    doc = json.loads((out / "gray.json").read_text())
    assert doc["skeleton"] == "coco17" and doc["image_size"] == [90, 60]
    kp = np.array(doc["people"][0]["keypoints"])
    assert kp.shape == (17, 3) and np.isfinite(kp).all()
    assert (out / "rgba.png").is_file() and (out / "gray.png").is_file()


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty file"), (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable image")],
)
def test_broken_images_exit_2_and_write_nothing(
    checkpoint: Path, tmp_path: Path, capsys, content: bytes, match: str
) -> None:
    good = _png(tmp_path / "good.png", np.zeros((32, 32, 3), np.uint8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    out = tmp_path / "pred"
    assert main(["predict", str(checkpoint), str(good), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.jpg" in err and match in err and "Traceback" not in err
    assert not out.exists()


def test_bad_boxes_file_is_refused(checkpoint: Path, tmp_path: Path, capsys) -> None:
    img = _png(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a.png": [[10, 10, 5, 20]]}))
    assert main(["predict", str(checkpoint), str(img), "--boxes", str(boxes), "--out",
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert "a.png: expected x1 > x0" in capsys.readouterr().err


def test_real_photos_with_boxes_then_lifted(checkpoint: Path, tmp_path: Path) -> None:
    """Top-down on real COCO photos over their annotated person boxes; the JSON written is
    the lifter's input format (the lifter here is an untrained-quality tiny one)."""
    ann = COCO / "test_coco.json"
    if not ann.is_file():
        pytest.skip(f"shared real samples not found at {COCO}")
    coco = json.loads(ann.read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    boxes: dict[str, list] = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        boxes.setdefault(names[a["image_id"]], []).append([x, y, x + w, y + h])
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    photos = [COCO / n for n in sorted(boxes)]
    out = tmp_path / "pred"
    args = ["predict", str(checkpoint), *map(str, photos), "--boxes", str(tmp_path / "boxes.json")]
    assert main([*args, "--out", str(out), "--backend", "onnx"]) == 0
    for photo in photos:
        doc = json.loads((out / f"{photo.stem}.json").read_text())
        assert len(doc["people"]) == len(boxes[photo.name]) and doc["backend"] == "onnx"
        assert (out / f"{photo.stem}.png").is_file()
    # The same photos with the torch backend agree.
    assert main([*args, "--out", str(tmp_path / "torch")]) == 0
    a = json.loads((out / f"{photos[0].stem}.json").read_text())["people"]
    b = json.loads((tmp_path / "torch" / f"{photos[0].stem}.json").read_text())["people"]
    np.testing.assert_allclose(
        np.array([p["keypoints"] for p in a]), np.array([p["keypoints"] for p in b]), atol=0.05
    )
    # 2D predictions feed the lifter directly.
    lift_cfg = ROOT / "configs" / "lift_martinez_tiny.yaml"
    from engine_toy_data import toy_overrides

    run = tmp_path / "lift"
    assert main(["train", str(lift_cfg), "--quiet", "--set",
                 *toy_overrides(run, **{"trainer.max_steps": 2})]) == 0  # fmt: skip
    lifter = run / "toy" / "checkpoints" / "best.ckpt"
    first = out / f"{photos[0].stem}.json"
    assert main(["predict", str(lifter), str(first), "--out", str(tmp_path / "3d")]) == 0
    lifted = json.loads((tmp_path / "3d" / first.name).read_text())
    assert len(lifted["frames"][0]["people"]) == len(boxes[photos[0].name])


def test_bottom_up_finds_people_without_boxes(tmp_path: Path) -> None:
    """A ``bottomup`` (associative embedding) checkpoint predicts every person of an image;
    torch and ONNX Runtime agree."""
    data = {"root": str(tmp_path / "data"), "num": 2, "val_num": 1, "size": [128, 128],
            "people": [2, 3], "progress": 0}  # fmt: skip
    cfg = ROOT / "configs" / "bottomup_hourglass_tiny.yaml"
    sets = ["trainer.max_steps=1", "trainer.batch_size=2", "trainer.num_workers=0",
            f"data.params={json.dumps(data)}", "trainer.val_every=1",
            "model.overrides.input_size=[128,128]"]  # fmt: skip
    assert main(["train", str(cfg), "--quiet", "--out", str(tmp_path / "run"), "--set", *sets]) == 0
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    g = np.random.default_rng(1)
    img = _png(tmp_path / "scene.png", g.integers(0, 255, (100, 140, 3), dtype=np.uint8))
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        assert main(["predict", str(ckpt), str(img), "--out", str(out), "--backend", backend]) == 0
        doc = json.loads((out / "scene.json").read_text())
        assert doc["task"] == "bottomup" and doc["image_size"] == [100, 140]
        for person in doc["people"]:
            assert np.isfinite(np.array(person["keypoints"])).all()
    a = json.loads((tmp_path / "torch" / "scene.json").read_text())["people"]
    b = json.loads((tmp_path / "onnx" / "scene.json").read_text())["people"]
    assert len(a) == len(b)
