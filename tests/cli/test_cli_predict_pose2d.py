"""``posekit predict`` on a 2D pose checkpoint: photos in (real ones when ../shared is there),
skeletons drawn and keypoints JSON out, which the lifter then reads; odd and broken images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

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


class _ColourDotNetwork:
    """Stands in for an untrained network's output: the real network runs (its output sets the
    shapes), then joint j's heatmap becomes the input crop's colour channel ``j % 3`` pooled to
    the heatmap grid (min-max scaled to 0..1) and every tag is 0. A black image with one red,
    one green and one blue dot is then one person: joints 0, 3, 6, ... on the red dot, 1, 4, ...
    on the green one, 2, 5, ... on the blue one.
    """

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        out = self.runner(**inputs)
        hm, tags = np.asarray(out["heatmaps"]), np.asarray(out["tags"])  # (B, S, J(*D), h, w)
        crop = torch.as_tensor(np.asarray(inputs["image"]), dtype=torch.float32)  # (B, 3, H, W)
        pooled = F.adaptive_avg_pool2d(crop, hm.shape[-2:])
        pooled = pooled - pooled.amin((-2, -1), keepdim=True)
        pooled = pooled / pooled.amax((-2, -1), keepdim=True)
        per_joint = pooled[:, [j % 3 for j in range(hm.shape[2])]].numpy()  # (B, J, h, w)
        hm = np.broadcast_to(per_joint[:, None], hm.shape).astype(hm.dtype)
        return {**out, "heatmaps": hm, "tags": np.zeros_like(tags)}


def test_bottom_up_finds_people_without_boxes(tmp_path: Path, monkeypatch) -> None:
    """A ``bottomup`` (associative embedding) checkpoint predicts every person of an image;
    torch and ONNX Runtime agree. The checkpoint is trained for one step, so what its own
    network finds is noise (anything from nobody to ``MAX_PEOPLE``): the count and the
    placement of the people are checked with `_ColourDotNetwork` in place of its output,
    through the whole CLI path (image reading and colour order, letterbox crop, grouping,
    mapping back, JSON)."""
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
    people = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        assert main(["predict", str(ckpt), str(img), "--out", str(out), "--backend", backend]) == 0
        doc = json.loads((out / "scene.json").read_text())
        assert doc["task"] == "bottomup" and doc["image_size"] == [100, 140]
        people[backend] = np.array([p["keypoints"] for p in doc["people"]]).reshape(-1, 17, 3)
        assert np.isfinite(people[backend]).all()
    # On noise maps the grouping of near-equal candidates can differ between the backends'
    # float rounding; the number of people cannot.
    assert len(people["torch"]) == len(people["onnx"])

    # One person drawn as three coloured dots (x, y image pixels, off the image centre, off
    # the grid of heatmap cells) on a black 100 x 140 image.
    dots = {0: (18.3, 17.6), 1: (121.7, 30.2), 2: (57.4, 84.9)}  # channel (RGB) -> dot
    yy, xx = np.mgrid[0:100, 0:140]
    scene = np.zeros((100, 140, 3), np.uint8)
    for c, (x, y) in dots.items():
        scene[..., c] = np.round(255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2)))
    dot_png = _png(tmp_path / "dots.png", scene[..., ::-1])  # cv2 writes BGR
    import posekit.engine.predict as engine_predict

    real_load = engine_predict.load_predictor

    def load_with_stand_in(*args: Any, **kwargs: Any) -> Any:
        predictor = real_load(*args, **kwargs)
        predictor.runner = _ColourDotNetwork(predictor.runner)
        return predictor

    monkeypatch.setattr(engine_predict, "load_predictor", load_with_stand_in)
    out = tmp_path / "dots"
    assert main(["predict", str(ckpt), str(dot_png), "--out", str(out)]) == 0
    doc = json.loads((out / "dots.json").read_text())
    assert len(doc["people"]) == 1  # one person: every joint's single peak, one shared tag
    kp = np.array(doc["people"][0]["keypoints"])
    assert kp.shape == (17, 3) and np.isfinite(kp).all()
    expected = np.array([dots[j % 3] for j in range(17)])
    # a heatmap cell is 4 crop pixels = 140 / 128 * 4 = 4.4 image pixels; the decoder's
    # quarter-cell refinement keeps the error within half a cell
    err = np.linalg.norm(kp[:, :2] - expected, axis=1)
    assert err.max() < 2.2, err
    assert (kp[:, 2] > 0.5).all()  # scores: the heatmap peaks, ~1 at each dot
    x0, y0, x1, y1 = doc["people"][0]["bbox"]
    assert abs(x0 - 18.3) < 2.2 and abs(y0 - 17.6) < 2.2  # the box spans the three dots
    assert abs(x1 - 121.7) < 2.2 and abs(y1 - 84.9) < 2.2
