"""``posekit predict`` and ``posekit export`` SIGKILLed at several moments: what is on disk is
always whole (every JSON parses, every PNG decodes, the ONNX file is absent or verified), and
running the same command again finishes with the outputs of an uninterrupted run and no
temporary file left. The kill points are spread over the uninterrupted run's duration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from engine_toy_data import HERE, toy_overrides

from posekit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
FRACTIONS = (0.55, 0.7, 0.85, 0.95)  # kill points, as fractions of an uninterrupted run

COCO = [[320.0 + 3 * j, 100.0 + 15 * j, 0.9] for j in range(17)]


@pytest.fixture(scope="module")
def lifter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kill_lift")
    args = ["train", str(ROOT / "configs" / "lift_martinez_tiny.yaml"), "--quiet", "--set"]
    assert main([*args, *toy_overrides(out, **{"trainer.max_steps": 4})]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


def _posekit(*args: str) -> list[str]:
    return [sys.executable, "-m", "posekit.cli.main", *args]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=_env(), check=True, capture_output=True)
    return time.perf_counter() - t0


def _kill_at(cmd: list[str], seconds: float) -> bool:
    """Start ``cmd``, SIGKILL it after ``seconds``; True when it was still running."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


def _whole(out: Path) -> None:
    from posekit.data.images import read_image

    for f in out.glob("*.json"):
        json.loads(f.read_text())
    for f in out.glob("*.png"):
        read_image(f)


def test_predict_killed_then_rerun(lifter: Path, tmp_path: Path) -> None:
    inputs = []
    for i in range(6):
        people = [{"keypoints": [[x + 7 * i, y, s] for x, y, s in COCO]}]
        doc = {"skeleton": "coco17", "image_size": [480, 640], "people": people}
        inputs.append(tmp_path / f"frame{i}.json")
        inputs[-1].write_text(json.dumps(doc))
    ref = tmp_path / "ref"
    full = _run(_posekit("predict", str(lifter), *map(str, inputs), "--out", str(ref)))
    out = tmp_path / "out"
    cmd = _posekit("predict", str(lifter), *map(str, inputs), "--out", str(out))
    killed = [_kill_at(cmd, f * full) for f in FRACTIONS]
    _whole(out)
    assert any(killed), "every kill came after the run had ended: nothing was tested"
    _run(cmd)
    assert _temporaries(out) == []
    names = sorted(p.name for p in ref.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        if name.endswith(".json"):
            a, b = json.loads((ref / name).read_text()), json.loads((out / name).read_text())
            assert a["frames"] == b["frames"]
        else:
            assert (ref / name).read_bytes() == (out / name).read_bytes()


def test_export_killed_then_rerun(lifter: Path, tmp_path: Path) -> None:
    from posekit.engine.export import OnnxRunner

    ref = tmp_path / "ref.onnx"
    full = _run(_posekit("export", str(lifter), "--out", str(ref)))
    target = tmp_path / "out" / "model.onnx"
    target.parent.mkdir()
    cmd = _posekit("export", str(lifter), "--out", str(target))
    x = np.zeros((3, 17, 2), np.float32)
    vis = np.ones((3, 17), np.float32)
    killed = []
    for f in FRACTIONS:
        killed.append(_kill_at(cmd, f * full))
        if target.exists():  # a file that exists is a whole, working model
            out = OnnxRunner(target)({"keypoints2d": x, "visibility": vis})
            assert np.isfinite(out["joints3d"]).all()
        target.unlink(missing_ok=True)
    assert any(killed), "every kill came after the export had ended: nothing was tested"
    _run(cmd)
    assert _temporaries(target.parent) == []
    a = OnnxRunner(ref)({"keypoints2d": x, "visibility": vis})["joints3d"]
    b = OnnxRunner(target)({"keypoints2d": x, "visibility": vis})["joints3d"]
    np.testing.assert_array_equal(a, b)
