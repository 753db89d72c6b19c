"""End-to-end tests of the synthetic body engine: generator, shards, restart, dataset, CLI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.data.synthetic.shards import read_manifest, sample_rng, sha256_file

pytest.importorskip("anny", reason="the synthetic engine needs the 'anny' package")


@pytest.fixture(scope="module")
def generator():
    from posekit.data.synthetic.generate import BodySceneGenerator

    return BodySceneGenerator(size=(128, 128), people=(1, 2), occluder_probability=0.5)


@pytest.fixture(scope="module")
def samples(generator):
    return [generator(i, sample_rng(11, i)) for i in range(12)]


def test_same_seed_same_bytes(generator, samples) -> None:
    from posekit.data.synthetic.shards import shard_bytes

    again = [generator(i, sample_rng(11, i)) for i in range(3)]
    assert shard_bytes(again) == shard_bytes(samples[:3])
    other = generator(0, sample_rng(12, 0))
    assert not np.array_equal(other.image, samples[0].image)


def test_projected_joints_equal_keypoints(samples) -> None:
    for s in samples:
        uv = s.joints3d.astype(np.float64) @ s.K.astype(np.float64).T
        uv = uv[..., :2] / uv[..., 2:]
        np.testing.assert_allclose(uv, s.keypoints2d, atol=1e-3)
        assert (s.joints3d[..., 2] > 0).all()


def test_person_pixels_lie_in_their_boxes(samples) -> None:
    for s in samples:
        inst = s.masks["instance"]
        for p in range(s.num_people):
            ys, xs = np.nonzero(inst == p)
            if len(xs) == 0:
                continue
            x0, y0, x1, y1 = s.bbox[p]
            assert xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1
            # and the box is tight: its edges touch person pixels
            assert xs.min() - 0.5 == x0 and ys.max() + 0.5 == y1


def test_occluded_joints_are_invisible_and_some_are_visible(samples) -> None:
    seen_occluded = False
    for s in samples:
        occ = s.masks["occluder"]
        H, W = occ.shape
        px = np.round(s.keypoints2d).astype(int)
        inside = (px[..., 0] >= 0) & (px[..., 0] < W) & (px[..., 1] >= 0) & (px[..., 1] < H)
        under = np.zeros_like(inside)
        under[inside] = occ[px[..., 1][inside], px[..., 0][inside]]
        assert not s.visibility[under].any()
        seen_occluded |= bool(under.any())
    assert seen_occluded, "no sample had a joint under an occluder: the test saw nothing"
    assert np.mean([s.visibility.mean() for s in samples]) > 0.5


def test_camera_frame_body_params_reproduce_the_scene(generator, samples) -> None:
    s = samples[0]
    body = generator.body
    out = body(
        torch.from_numpy(s.body_pose),
        torch.from_numpy(s.body_shape),
        torch.from_numpy(s.body_transl),
    )
    joints = out.joints[s.skeleton].numpy()
    np.testing.assert_allclose(joints, s.joints3d, atol=2e-4)


def test_samples_are_varied(samples) -> None:
    poses = np.stack([s.body_pose[0, 1:] for s in samples])
    assert np.std(poses, axis=0).mean() > 0.05
    assert len({s.num_people for s in samples}) == 2


def _synth_args(out: Path, *extra: str) -> list[str]:
    # 30 shards: long enough (seconds) that the kills below land mid-run
    args = ["--task", "body", "--num", "90", "--seed", "3", "--out", str(out)]
    return [*args, "--size", "64", "64", "--shard-size", "3", "--quiet", *extra]


def _synth(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "posekit.cli.main", "data", "synth", *_synth_args(out, *extra)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # what a killed run printed is kept
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


KILL_POINTS = 6


def test_killed_run_resumes_to_the_same_bytes(tmp_path: Path, capsys) -> None:
    """Kill `data synth` at random moments, rerunning it each time: it ends as an untouched run.

    The first kill lands at a random time during start-up, the others a random 0-200 ms after
    a random number (1-3) of new shards appeared: inside a shard's generation, its rename, the
    manifest's update. After each kill every listed shard passes full verification.
    """
    from posekit.cli.main import main
    from posekit.data.datasets import SyntheticDataset

    a, b = tmp_path / "a", tmp_path / "b"
    # the uninterrupted reference, with two workers, runs meanwhile
    two = _synth(b, "--workers", "2")
    seed = time.time_ns() % 10**6
    rng = random.Random(seed)
    log = []  # (shards when killed, unlisted shard files, temporary files) per kill point
    for point in range(KILL_POINTS):
        proc = _synth(a)
        start = len(list(a.glob("shard-*.zip")))
        target = start if point == 0 else start + rng.randint(1, 3)
        deadline = time.time() + (rng.uniform(0.2, 3.0) if point == 0 else 120)
        while proc.poll() is None and time.time() < deadline:
            if point > 0 and len(list(a.glob("shard-*.zip"))) >= target:
                time.sleep(rng.uniform(0, 0.2))
                break
            time.sleep(0.005)
        assert proc.poll() is None, f"the run ended before kill point {point} (seed {seed})"
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        assert "regenerated" not in out, (out, seed)  # a kill never damages a shard
        files = {f.name for f in a.iterdir()} if a.exists() else set()
        if "manifest.json" in files:
            listed = {
                s.file
                for s in SyntheticDataset(a, allow_incomplete=True, verify="full").manifest.shards
            }
        else:
            listed = set()
        shards = {f for f in files if f.startswith("shard-")}
        log.append((len(shards), len(shards - listed), sum(f.endswith(".tmp") for f in files)))
    print(f"\nkill points (seed {seed}): (shards, unlisted, temporary files) {log}")
    assert not read_manifest(a).complete
    done = _synth(a)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert out == f"{a}: 90 body samples in 30 shards (complete)\n", (out, seed)
    m = read_manifest(a)
    assert m.complete and [s.index for s in m.shards] == list(range(30))
    assert sorted(f.name for f in a.iterdir()) == sorted(
        ["manifest.json", *(s.file for s in m.shards)]
    )
    # running it again on the complete set touches nothing (parallel readers can open it)
    before = {f.name: f.stat().st_mtime_ns for f in a.iterdir()}
    assert main(["data", "synth", *_synth_args(a)]) == 0
    assert {f.name: f.stat().st_mtime_ns for f in a.iterdir()} == before
    # the uninterrupted run wrote the same bytes, manifest included
    _, err = two.communicate(timeout=300)
    assert two.returncode == 0, err
    for s in m.shards:
        assert sha256_file(b / s.file) == sha256_file(a / s.file) == s.sha256
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    # a different recipe into the same directory is refused
    args = _synth_args(a)
    args[args.index("--num") + 1] = "13"
    assert main(["data", "synth", *args]) == 2
    assert "already holds a different dataset" in capsys.readouterr().err


def test_dataset_and_preview(tmp_path: Path) -> None:
    from posekit.cli.main import main
    from posekit.data.datasets import SyntheticDataset

    assert (
        main(
            [
                "data",
                "synth",
                "--task",
                "body",
                "--num",
                "4",
                "--out",
                str(tmp_path / "d"),
                "--size",
                "64",
                "64",
                "--shard-size",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    ds = SyntheticDataset(tmp_path / "d")
    assert len(ds) == 4 and ds[3].meta["index"] == 3
    sheet = tmp_path / "sheet.png"
    assert main(["data", "preview", str(tmp_path / "d"), "--out", str(sheet)]) == 0
    import cv2

    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[0] > 64 and img.shape[1] > 64
    assert main(["data", "preview", str(tmp_path / "nothing"), "--out", str(sheet)]) == 2
