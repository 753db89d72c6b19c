"""``posekit predict`` on a lifter: keypoints JSON in, 3D JSON and pictures out; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"

from engine_toy_data import toy_overrides  # noqa: E402

# A standing person facing the camera, coco17, in a 480 x 640 image.
COCO = [
    [320, 100], [328, 92], [312, 92], [338, 96], [302, 96], [350, 140], [290, 140],
    [365, 190], [275, 190], [370, 235], [270, 235], [340, 240], [300, 240], [342, 310],
    [298, 310], [344, 380], [296, 380],
]  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predict_train")
    args = ["train", str(CONFIG), "--quiet", "--set"]
    assert main([*args, *toy_overrides(out, **{"trainer.max_steps": 8})]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_lifts_coco_keypoints_and_draws_them(checkpoint: Path, tmp_path: Path, capsys) -> None:
    people = [{"keypoints": [[x, y, 0.9] for x, y in COCO]}, {"keypoints": COCO}]
    inp = _write(tmp_path / "walk.json", {"skeleton": "coco17", "image_size": [480, 640],
                                           "people": people})  # fmt: skip
    out = tmp_path / "pred"
    assert main(["predict", str(checkpoint), str(inp), "--out", str(out)]) == 0
    assert "1 frame(s), 2 person(s) lifted" in capsys.readouterr().out
    doc = json.loads((out / "walk.json").read_text())
    assert doc["task"] == "lift" and doc["backend"] == "torch"
    frame = doc["frames"][0]
    assert frame["skeleton"] == "h36m17" and len(frame["joints"]) == 17
    j3d = np.array(frame["people"][0]["joints3d_m"])
    assert j3d.shape == (17, 3) and np.isfinite(j3d).all()
    np.testing.assert_allclose(j3d[0], 0.0, atol=1e-6)  # root-relative
    # The same keypoints with and without scores lift to the same pose.
    np.testing.assert_allclose(
        j3d, np.array(frame["people"][1]["joints3d_m"]), rtol=1e-4, atol=1e-4
    )
    from posekit.data.images import read_image

    pic = read_image(out / "walk.png")
    assert pic.shape[0] >= 400 and pic.std() > 5


def test_known_intrinsics_equal_the_assumed_ones(checkpoint: Path, tmp_path: Path) -> None:
    """Without K a training-like camera is assumed; giving that K explicitly changes nothing."""
    from posekit.data.keypoints_json import read_keypoints_json
    from posekit.engine.predict import load_predictor

    pred = load_predictor(checkpoint)
    doc = {"skeleton": "coco17", "image_size": [480, 640], "people": [{"keypoints": COCO}]}
    (frame,) = read_keypoints_json(_write(tmp_path / "a.json", doc))
    K = pred.frame_intrinsics(frame)
    assert K[0, 0] == pytest.approx(1150.0 * 640 / 1000) and K[0, 2] == pytest.approx(319.5)
    (frame_k,) = read_keypoints_json(_write(tmp_path / "b.json", {**doc, "K": K.tolist()}))
    np.testing.assert_allclose(pred.predict(frame).joints3d, pred.predict(frame_k).joints3d)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"skeleton": "coco17", "image_size": [480, 640], "people": [{"keypoints": COCO[:16]}]},
         r"people\[0\]\.keypoints: expected 17 joints \(coco17\), got 16"),
        ({"skeleton": "coco17", "people": [{"keypoints": COCO}]}, r"image_size: missing"),
        ({"skeleton": "coco17", "image_size": [480, 640], "image": "nope.jpg", "people": []},
         r"image: no such file"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(
    checkpoint: Path, tmp_path: Path, capsys, doc: object, match: str
) -> None:
    good = _write(tmp_path / "good.json", {"skeleton": "coco17", "image_size": [480, 640],
                                            "people": [{"keypoints": COCO}]})  # fmt: skip
    bad = _write(tmp_path / "bad.json", doc)
    out = tmp_path / "pred"
    assert main(["predict", str(checkpoint), str(good), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "posekit predict: error:" in err and "bad.json" in err
    import re

    assert re.search(match, err), err
    assert not out.exists() or not any(out.iterdir())


def test_nan_in_json_is_refused(checkpoint: Path, tmp_path: Path, capsys) -> None:
    rows = [[float(x), float(y)] for x, y in COCO]
    rows[3][0] = float("nan")
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps({"skeleton": "coco17", "image_size": [480, 640],
                               "people": [{"keypoints": rows}]}))  # fmt: skip
    assert main(["predict", str(checkpoint), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "NaN is not valid JSON" in capsys.readouterr().err


def test_not_a_checkpoint_is_refused(tmp_path: Path, capsys) -> None:
    fake = tmp_path / "model.ckpt"
    fake.write_bytes(b"not a checkpoint")
    inp = _write(tmp_path / "k.json", {"skeleton": "coco17", "people": []})
    assert main(["predict", str(fake), str(inp), "--out", str(tmp_path / "o")]) == 2
    assert "model.ckpt: not a readable checkpoint" in capsys.readouterr().err


def test_onnx_backend_matches_torch(checkpoint: Path, tmp_path: Path) -> None:
    """--backend onnx exports <stem>.onnx beside the checkpoint once, then reuses it; an .onnx
    file given directly runs too; all three give the torch result."""
    import shutil

    ckpt = tmp_path / "m.ckpt"
    shutil.copy(checkpoint, ckpt)
    doc = {"skeleton": "coco17", "image_size": [480, 640], "people": [{"keypoints": COCO}]}
    inp = _write(tmp_path / "k.json", doc)
    runs = {
        "torch": [str(ckpt)],
        "onnx": [str(ckpt), "--backend", "onnx"],
        "file": [str(tmp_path / "m.onnx")],
    }
    got = {}
    for name, args in runs.items():
        out = tmp_path / name
        assert main(["predict", *args, str(inp), "--out", str(out), "--no-pictures"]) == 0
        doc_out = json.loads((out / "k.json").read_text())
        got[name] = np.array(doc_out["frames"][0]["people"][0]["joints3d_m"])
        assert doc_out["backend"] == ("torch" if name == "torch" else "onnx")
        assert not (out / "k.png").exists()
    assert (tmp_path / "m.onnx").is_file()
    np.testing.assert_allclose(got["onnx"], got["torch"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["file"], got["torch"], rtol=1e-4, atol=1e-4)
