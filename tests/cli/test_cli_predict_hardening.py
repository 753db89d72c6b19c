"""``posekit predict`` never overwrites one output with another, matches boxes to the right
image, refuses what it cannot interpret (layouts that do not map, degenerate intrinsics,
coordinates or sizes out of bounds, boxes outside the image) before writing anything, and
writes only finite numbers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from engine_toy_data import toy_overrides

from posekit.cli.main import main
from posekit.engine.predict import output_names

ROOT = Path(__file__).resolve().parents[2]

# A standing person facing the camera, coco17, in a 480 x 640 image.
COCO = [
    [320, 100], [328, 92], [312, 92], [338, 96], [302, 96], [350, 140], [290, 140],
    [365, 190], [275, 190], [370, 235], [270, 235], [340, 240], [300, 240], [342, 310],
    [298, 310], [344, 380], [296, 380],
]  # fmt: skip


@pytest.fixture(scope="module")
def lifter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("harden_lift")
    args = ["train", str(ROOT / "configs" / "lift_martinez_tiny.yaml"), "--quiet", "--set"]
    assert main([*args, *toy_overrides(out, **{"trainer.max_steps": 4})]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def pose2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("harden_pose2d")
    data = {"root": str(out / "data"), "num": 4, "val_num": 2, "size": [128, 128], "progress": 0}
    args = ["train", str(ROOT / "configs" / "pose2d_hourglass_tiny.yaml"), "--quiet"]
    sets = ["trainer.max_steps=1", "trainer.batch_size=2", "trainer.num_workers=0"]
    sets += [f"data.params={json.dumps(data)}", "trainer.val_every=1"]
    assert main([*args, "--out", str(out / "run"), "--set", *sets]) == 0
    return out / "run" / "checkpoints" / "best.ckpt"


def _frame(**extra: object) -> dict:
    return {"skeleton": "coco17", "image_size": [480, 640], "people": [{"keypoints": COCO}]} | extra


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _png(path: Path, seed: int, hw: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (*hw, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def test_output_names_are_distinct_and_readable() -> None:
    names = output_names(
        [Path("d1/photo.jpg"), Path("d2/photo.jpg"), Path("x/a.jpg"), Path("x/a.png"), Path("b")]
    )
    assert names == ["d1__photo", "d2__photo", "a.jpg", "a.png", "b"]
    assert output_names([Path("p/q.json")]) == ["q"]
    with pytest.raises(ValueError, match="given twice"):
        output_names([Path("a.json"), Path("./a.json")])


def test_lift_inputs_sharing_a_stem_each_get_their_output(
    lifter: Path, tmp_path: Path, capsys
) -> None:
    a = _write(tmp_path / "d1" / "walk.json", _frame())
    moved = [[x + 40, y] for x, y in COCO]
    b = _write(tmp_path / "d2" / "walk.json", _frame(people=[{"keypoints": moved}]))
    out = tmp_path / "pred"
    assert main(["predict", str(lifter), str(a), str(b), "--out", str(out)]) == 0
    outputs = sorted(p.name for p in out.glob("*.json"))
    assert outputs == ["d1__walk.json", "d2__walk.json"]
    pa = json.loads((out / "d1__walk.json").read_text())["frames"][0]["people"][0]
    pb = json.loads((out / "d2__walk.json").read_text())["frames"][0]["people"][0]
    assert pa["keypoints2d_px"][0][0] + 40 == pytest.approx(pb["keypoints2d_px"][0][0])


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (_frame(people=[{"keypoints": [[x, y] for x, y in COCO[:-1]] + [[1e300, 5.0]]}]),
         r"people\[0\]\.keypoints\[16\]: expected pixel coordinates within 1e\+06"),
        (_frame(image_size=[30000, 1e300]), r"image_size: expected \[H, W\] whole numbers"),
        (_frame(image_size=[480.5, 640]), r"image_size: expected \[H, W\] whole numbers"),
        (_frame(K=[[600, 0, 320], [0, 600, 240], [0, 0, 0]]), r"K: expected \[\[fx, s, cx\]"),
        (_frame(people=[{"keypoints": [[x, y, -1.0] for x, y in COCO]}]),
         r"keypoints\[0\]: expected a score >= 0"),
        (_frame(people=[{"keypoints": [[x, y, 0.0] for x, y in COCO]}]),
         r"people\[0\]\.keypoints: no joint with a score > 0 maps to h36m17"),
        ({"skeleton": "hand21", "image_size": [480, 640],
          "people": [{"keypoints": [[100.0 + j, 100.0] for j in range(21)]}]},
         r"skeleton: hand21 keypoints give 0 of the 17 h36m17 joints"),
    ],
)  # fmt: skip
def test_lift_refuses_what_it_cannot_interpret(
    lifter: Path, tmp_path: Path, capsys, doc: dict, match: str
) -> None:
    import re

    good = _write(tmp_path / "good.json", _frame())
    bad = _write(tmp_path / "bad.json", doc)
    out = tmp_path / "pred"
    assert main(["predict", str(lifter), str(good), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and "bad.json" in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_huge_image_size_draws_a_bounded_picture(lifter: Path, tmp_path: Path) -> None:
    from posekit.data.images import read_image
    from posekit.tasks.lift.predictor import PICTURE_SIDE_PX

    big = [[x * 40, y * 40] for x, y in COCO]
    inp = _write(
        tmp_path / "big.json", _frame(image_size=[30000, 30000], people=[{"keypoints": big}])
    )
    out = tmp_path / "pred"
    assert main(["predict", str(lifter), str(inp), "--out", str(out)]) == 0
    pic = read_image(out / "big.png")
    assert pic.shape[0] <= 2 * PICTURE_SIDE_PX and pic.shape[1] <= 4 * PICTURE_SIDE_PX
    text = (out / "big.json").read_text()
    assert "NaN" not in text and "Infinity" not in text


def test_images_sharing_a_name_keep_their_own_boxes(pose2d: Path, tmp_path: Path) -> None:
    a = _png(tmp_path / "d1" / "photo.png", 0)
    b = _png(tmp_path / "d2" / "photo.png", 1)
    c = _png(tmp_path / "photo2.jpg", 2)
    d = _png(tmp_path / "photo2.png", 3)
    boxes = {str(a): [[2, 2, 30, 40], [10, 10, 40, 60]], str(b): [], "photo2.jpg": [[0, 0, 47, 63]]}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "pred"
    args = ["predict", str(pose2d), str(a), str(b), str(c), str(d), "--no-pictures"]
    assert main([*args, "--boxes", str(tmp_path / "boxes.json"), "--out", str(out)]) == 0
    docs = {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(docs) == [
        "d1__photo.json",
        "d2__photo.json",
        "photo2.jpg.json",
        "photo2.png.json",
    ]
    assert len(docs["d1__photo.json"]["people"]) == 2
    assert docs["d2__photo.json"]["people"] == []  # a detector that found nobody
    assert docs["photo2.jpg.json"]["people"][0]["bbox"] == [0, 0, 47, 63]
    assert len(docs["photo2.png.json"]["people"]) == 1  # no entry: the whole image


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        ({"nope.png": [[0, 0, 10, 10]]}, r"nope\.png: matches no input image"),
        ({"photo.png": [[0, 0, 10, 10]]}, r"photo\.png: names 2 inputs"),
        ({"IMG": [[1e30, 1e30, 2e30, 2e30]]}, r"reaches more than the image size"),
        ({"IMG": [[60, 70, 90, 100]]}, r"lies outside the image \(48x64\)"),
        ({"IMG": [["a", 0, 1, 1]]}, r"expected a list of \[x0, y0, x1, y1\] boxes"),
    ],
)
def test_bad_boxes_exit_2_and_write_nothing(
    pose2d: Path, tmp_path: Path, capsys, boxes: dict, match: str
) -> None:
    import re

    a = _png(tmp_path / "d1" / "photo.png", 0)
    b = _png(tmp_path / "d2" / "photo.png", 1)
    boxes = {str(a) if k == "IMG" else k: v for k, v in boxes.items()}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "pred"
    args = ["predict", str(pose2d), str(a), str(b), "--boxes", str(tmp_path / "boxes.json")]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and "Traceback" not in err, err
    assert not out.exists()


PREDICT_CASES = 60


def test_predict_fuzzed_keypoint_files_exit_0_or_2_and_never_half_write(
    lifter: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Mutated keypoints JSON through the whole command (reader, checks, network, writer)."""
    import contextlib
    import io

    from fuzz_strategies import mutated_json
    from hypothesis import HealthCheck, given, settings

    tried = {"n": 0, "refused": 0}

    @settings(
        max_examples=PREDICT_CASES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=mutated_json(_frame(K=[[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])))
    def run(data: bytes) -> None:
        tried["n"] += 1
        root = tmp_path_factory.mktemp("fuzz_predict")
        inp = root / "k.json"
        inp.write_bytes(data)
        out = root / "out"
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["predict", str(lifter), str(inp), "--out", str(out), "--no-pictures"])
        assert code in (0, 2), err.getvalue()
        if code == 2:
            tried["refused"] += 1
            msg = err.getvalue().strip()
            assert msg.count("\n") == 0 and "Traceback" not in msg and "k.json" in msg, msg
            assert not out.exists()
        else:
            doc = json.loads((out / "k.json").read_text())  # strict JSON: no NaN tokens
            for frame in doc["frames"]:
                for person in frame["people"]:
                    assert np.isfinite(np.array(person["joints3d_m"])).all()

    run()
    assert tried["n"] >= PREDICT_CASES and 0 < tried["refused"] < tried["n"]
