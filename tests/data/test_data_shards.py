from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from posekit._io import atomic_write
from posekit.data.sample import Sample
from posekit.data.synthetic.shards import (
    Manifest,
    ShardInfo,
    read_manifest,
    read_shard,
    sample_rng,
    shard_bytes,
)


def _sample(rng: np.random.Generator, people: int) -> Sample:
    J = 17
    return Sample(
        image=rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8),
        keypoints2d=rng.uniform(0, 32, size=(people, J, 2)).astype(np.float32),
        visibility=rng.uniform(size=(people, J)) > 0.3,
        joints3d=rng.normal(size=(people, J, 3)).astype(np.float32),
        K=np.eye(3, dtype=np.float32),
        bbox=rng.uniform(0, 32, size=(people, 4)).astype(np.float32),
        skeleton="h36m17",
        masks={"instance": rng.integers(-1, people, size=(32, 40)).astype(np.int16)},
        meta={"index": int(rng.integers(1000))},
    )


def test_sample_validation_names_the_field() -> None:
    rng = np.random.default_rng(0)
    s = _sample(rng, 2)
    with pytest.raises(ValueError, match=r"visibility: expected \(P, J\) with P=2, J=17"):
        Sample(keypoints2d=s.keypoints2d, visibility=s.visibility[:, :16], skeleton="h36m17")
    with pytest.raises(ValueError, match="image: expected dtype uint8"):
        Sample(
            keypoints2d=s.keypoints2d,
            visibility=s.visibility,
            skeleton="h36m17",
            image=s.image.astype(np.float32),
        )
    with pytest.raises(ValueError, match=r"masks\['instance'\]: expected \(H, W\)"):
        Sample(
            keypoints2d=s.keypoints2d,
            visibility=s.visibility,
            skeleton="h36m17",
            image=s.image,
            masks={"instance": s.masks["instance"][:5]},
        )


def test_shard_round_trip_and_determinism(tmp_path: Path) -> None:
    samples = [_sample(sample_rng(7, i), people=1 + i % 3) for i in range(5)]
    data = shard_bytes(samples)
    assert data == shard_bytes([_sample(sample_rng(7, i), people=1 + i % 3) for i in range(5)])
    path = tmp_path / "shard-00000.zip"
    atomic_write(path, data)
    back = list(read_shard(path))
    assert len(back) == 5
    for a, b in zip(samples, back):
        assert a.skeleton == b.skeleton and a.meta == b.meta
        for name, arr in a.arrays().items():
            np.testing.assert_array_equal(arr, b.arrays()[name], err_msg=name)
    assert not list(tmp_path.glob("*.tmp"))


def test_depth_is_stored_losslessly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mm = rng.integers(0, 65536, size=(6, 7)).astype(np.float32)
    mm[0, :3] = 0.0
    q = np.float32(0.001)
    on_grid = np.round(mm * q / q) * q  # as the sensor quantizes: 1 mm steps, float32
    off_grid = on_grid + np.float32(1e-4)
    negative = on_grid.copy()
    negative[1, 1] = -q
    depths = [on_grid, off_grid, negative, np.full((3, 4), 70.0, np.float32)]
    samples = [
        Sample(
            keypoints2d=np.zeros((1, 21, 2), np.float32),
            visibility=np.ones((1, 21), bool),
            skeleton="hand21",
            depth=d,
        )
        for d in depths
    ]
    path = tmp_path / "shard.zip"
    atomic_write(path, shard_bytes(samples))
    names = zipfile.ZipFile(path).namelist()
    assert "0.depth.png" in names  # on the 1 mm grid: a 16-bit PNG in millimetres
    assert {"1.depth.npy", "2.depth.npy", "3.depth.npy"} <= set(names)
    for d, back in zip(depths, read_shard(path)):
        assert back.depth.dtype == np.float32
        assert back.depth.tobytes() == d.tobytes()


def test_corrupt_shard_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "shard-00001.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"shard-00001\.zip: not a readable posekit shard"):
        list(read_shard(bad))


def test_sample_rng_is_per_index() -> None:
    a = sample_rng(3, 10).integers(1 << 30, size=4)
    b = sample_rng(3, 10).integers(1 << 30, size=4)
    c = sample_rng(3, 11).integers(1 << 30, size=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError):
        sample_rng(-1, 0)


def test_manifest_round_trip_and_malformed(tmp_path: Path) -> None:
    m = Manifest(task="body", seed=1, num=10, size=(64, 64), shard_size=4)
    assert m.num_shards == 3 and not m.complete
    assert m.shard_range(2) == (8, 2)
    digest = "0123456789abcdef" * 4
    m.shards = [ShardInfo(k, f"shard-{k:05d}.zip", *m.shard_range(k), digest) for k in range(3)]
    m.shards[1].num_bytes = 1234
    assert m.complete
    m.write(tmp_path)
    back = read_manifest(tmp_path)
    assert back == m and back.same_recipe(m)
    assert back.shards[0].num_bytes is None and back.shards[1].num_bytes == 1234
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"manifest\.json: malformed manifest"):
        read_manifest(tmp_path)
    with pytest.raises(FileNotFoundError, match="no manifest"):
        read_manifest(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(num=True), r"num: expected an integer >= 1, got True"),
        (lambda d: d.update(size=[64]), r"size: expected \[H, W\] positive integers"),
        (lambda d: d.update(tasks="body"), r"keys: expected only"),
        (lambda d: d["shards"][1].update(count=7), r"shards\[1\]\.count: expected 4, got 7"),
        (lambda d: d["shards"][1].update(first=4.0), r"shards\[1\]\.first: expected 4, got 4\.0"),
        (lambda d: d["shards"][2].update(index=5), r"shards\[2\]\.index: expected 0\.\.2"),
        (lambda d: d["shards"][2].update(index=1), r"shards\[2\]\.index: expected listed once"),
        (
            lambda d: d["shards"][0].update(file="../x.zip"),
            r"shards\[0\]\.file: expected 'shard-00000\.zip', got '\.\./x\.zip'",
        ),
        (lambda d: d["shards"][0].update(sha256="x"), r"shards\[0\]\.sha256: expected 64 hex"),
        (lambda d: d["shards"][0].pop("sha256"), r"shards\[0\]: expected the keys"),
        (
            lambda d: d["shards"][0].update(num_bytes=-1),
            r"shards\[0\]\.num_bytes: expected an integer >= 0",
        ),
    ],
)
def test_manifest_fields_are_checked(tmp_path: Path, edit, message: str) -> None:
    """Every shard entry must agree with the recipe; the error names file and field."""
    m = Manifest(task="body", seed=1, num=10, size=(64, 64), shard_size=4)
    m.shards = [ShardInfo(k, f"shard-{k:05d}.zip", *m.shard_range(k), "ab" * 32) for k in range(3)]
    d = json.loads(m.to_json())
    edit(d)
    (tmp_path / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"manifest\.json: malformed manifest: " + message):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b'{"task": "\xff"}')
    with pytest.raises(ValueError, match=r"manifest\.json: malformed manifest \(not JSON"):
        read_manifest(tmp_path)
