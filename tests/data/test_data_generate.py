"""End-to-end tests of the synthetic body engine: generator, shards, restart, dataset, CLI."""

from __future__ import annotations

import os
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


def _synth(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "posekit.cli.main", "data", "synth", "--task", "body"]
    # 30 shards: long enough (seconds) that the kill below lands mid-run
    cmd += ["--num", "90", "--seed", "3", "--out", str(out), "--size", "64", "64"]
    cmd += ["--shard-size", "3", "--quiet", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_run_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    proc = _synth(a)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(a.glob("shard-*.zip"))) < 1:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = read_manifest(a)
    assert not partial.complete
    done = _synth(a)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert "90 body samples in 30 shards (complete)" in out
    m = read_manifest(a)
    assert m.complete and [s.index for s in m.shards] == list(range(30))
    assert not list(a.glob(".*.tmp"))
    # running it again on the complete set touches nothing (parallel readers can open it)
    before = {f.name: f.stat().st_mtime_ns for f in a.iterdir()}
    again = _synth(a)
    assert again.wait(timeout=300) == 0
    assert {f.name: f.stat().st_mtime_ns for f in a.iterdir()} == before
    # two workers write the same bytes as the killed-and-resumed single worker
    two = _synth(b, "--workers", "2")
    _, err = two.communicate(timeout=300)
    assert two.returncode == 0, err
    for s in m.shards:
        assert sha256_file(b / s.file) == sha256_file(a / s.file) == s.sha256
    # a different recipe into the same directory is refused
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "posekit.cli.main",
            "data",
            "synth",
            "--task",
            "body",
            "--num",
            "13",
            "--out",
            str(a),
            "--size",
            "96",
            "96",
            "--shard-size",
            "3",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "already holds a different dataset" in res.stderr


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
