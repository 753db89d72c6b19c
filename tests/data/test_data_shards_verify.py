"""Opening a shard dataset checks it against its manifest; damage gives one line naming the file.

The fuzz test truncates or flips bytes of one file of a small dataset and checks that
`SyntheticDataset` (quick and full verification), ``posekit data preview`` and ``posekit data
verify`` either read the original samples or fail with a ValueError / exit 2 and one line that
names the damaged file: never another exception, never a hang.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posekit._io import atomic_write
from posekit.cli.main import main
from posekit.data.datasets import SyntheticDataset
from posekit.data.sample import Sample
from posekit.data.synthetic.shards import (
    Manifest,
    ShardInfo,
    read_manifest,
    sha256_file,
    shard_bytes,
)

NUM, SHARD_SIZE = 5, 2  # three shards: 2 + 2 + 1 samples
FILES = ["manifest.json", "shard-00000.zip", "shard-00001.zip", "shard-00002.zip"]


def _sample(i: int) -> Sample:
    rng = np.random.default_rng(i)
    J, H, W = 17, 24, 32
    depth_mm = rng.integers(500, 5000, size=(H, W)).astype(np.float32)
    return Sample(
        image=rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8),
        depth=depth_mm * np.float32(0.001),  # on the sensor's 1 mm grid: stored as a PNG
        keypoints2d=rng.uniform(0, 24, size=(1, J, 2)).astype(np.float32),
        visibility=rng.uniform(size=(1, J)) > 0.3,
        joints3d=rng.normal(size=(1, J, 3)).astype(np.float32),
        K=np.eye(3, dtype=np.float32),
        bbox=np.array([[2.0, 3.0, 20.0, 22.0]], np.float32),
        skeleton="coco17",
        masks={"instance": rng.integers(-1, 1, size=(H, W)).astype(np.int16)},
        meta={"index": i},
    )


SAMPLES = [_sample(i) for i in range(NUM)]


def _write_dataset(root: Path, sizes: bool = True) -> Manifest:
    """A complete dataset of `SAMPLES` as ``posekit data synth`` writes one."""
    m = Manifest(task="body", seed=0, num=NUM, size=(24, 32), shard_size=SHARD_SIZE)
    for k in range(m.num_shards):
        first, count = m.shard_range(k)
        data = shard_bytes(SAMPLES[first : first + count])
        atomic_write(root / f"shard-{k:05d}.zip", data)
        digest = hashlib.sha256(data).hexdigest()
        num_bytes = len(data) if sizes else None
        m.shards.append(ShardInfo(k, f"shard-{k:05d}.zip", first, count, digest, num_bytes))
    m.write(root)
    return m


def _same(a: Sample, b: Sample) -> bool:
    return shard_bytes([a]) == shard_bytes([b])


def _flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, err.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _write_dataset(tmp_path)
    return tmp_path


def test_intact_dataset_opens_in_every_mode(root: Path) -> None:
    for verify in ("none", "quick", "full"):
        ds = SyntheticDataset(root, verify=verify)
        assert len(ds) == NUM and all(_same(ds.sample(i), SAMPLES[i]) for i in range(NUM))
    with pytest.raises(ValueError, match="verify: expected 'none', 'quick' or 'full', got 'yes'"):
        SyntheticDataset(root, verify="yes")
    rc, err = _cli("data", "verify", str(root))
    assert (rc, err) == (0, "")


def test_missing_shard_is_named(root: Path) -> None:
    (root / "shard-00001.zip").unlink()
    with pytest.raises(ValueError, match=r"shard-00001\.zip: missing \(listed in .*manifest"):
        SyntheticDataset(root)
    SyntheticDataset(root, verify="none")  # opening without checks still works


def test_truncated_shard_fails_the_quick_check(root: Path) -> None:
    path = root / "shard-00002.zip"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-10])
    msg = rf"shard-00002\.zip: {size - 10} bytes, .*manifest\.json says {size}"
    with pytest.raises(ValueError, match=msg):
        SyntheticDataset(root)


def test_shard_with_fewer_samples_than_listed(tmp_path: Path) -> None:
    _write_dataset(tmp_path, sizes=False)
    atomic_write(tmp_path / "shard-00000.zip", shard_bytes(SAMPLES[:1]))
    with pytest.raises(ValueError, match=r"shard-00000\.zip: 1 samples, .*manifest\.json says 2"):
        SyntheticDataset(tmp_path)
    ds = SyntheticDataset(tmp_path, verify="none")
    assert _same(ds.sample(0), SAMPLES[0])
    with pytest.raises(ValueError, match=r"shard-00000\.zip: 1 samples, .*manifest\.json lists 2"):
        ds.sample(1)


def test_manifest_without_sizes_still_checks_the_zip_directory(tmp_path: Path) -> None:
    _write_dataset(tmp_path, sizes=False)  # a manifest from before sizes were recorded
    SyntheticDataset(tmp_path)
    path = tmp_path / "shard-00000.zip"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"shard-00000\.zip: not a readable posekit shard"):
        SyntheticDataset(tmp_path)


def test_flipped_byte_passes_quick_and_fails_full(root: Path) -> None:
    path = root / "shard-00001.zip"
    _flip(path, 100)  # inside the first entry's data: the zip directory is intact
    SyntheticDataset(root)  # quick: sizes and directories only
    with pytest.raises(ValueError, match=r"shard-00001\.zip: checksum mismatch \(sha256 "):
        SyntheticDataset(root, verify="full")
    rc, err = _cli("data", "verify", str(root))
    assert rc == 2 and err.count("\n") == 1 and "shard-00001.zip: checksum mismatch" in err
    rc, err = _cli("data", "verify", "--quick", str(root))
    assert rc == 0


def test_full_check_reads_the_data_when_the_manifest_checksum_is_of_a_damaged_file(
    root: Path,
) -> None:
    """What the old `data synth` rerun left: the manifest holds a damaged shard's checksum."""
    path = root / "shard-00001.zip"
    _flip(path, 100)
    text = (root / "manifest.json").read_text()
    old_digest = hashlib.sha256(shard_bytes(SAMPLES[2:4])).hexdigest()
    assert old_digest in text
    (root / "manifest.json").write_text(text.replace(old_digest, sha256_file(path)))
    with pytest.raises(ValueError, match=r"shard-00001\.zip: entry 0\.\w+\.npy fails its CRC-32"):
        SyntheticDataset(root, verify="full")


def test_incomplete_dataset_names_the_manifest(root: Path) -> None:
    m = read_manifest(root)
    m.shards = m.shards[:2]
    m.write(root)
    with pytest.raises(ValueError, match=r"manifest\.json: incomplete dataset \(2 of 3 shards\)"):
        SyntheticDataset(root)
    assert len(SyntheticDataset(root, allow_incomplete=True)) == 4


# --- fuzz: random damage to one file -------------------------------------------------------

_SEEN: collections.Counter[str] = collections.Counter()


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang("no answer within 20 s")


def _check_damaged(root: Path, target: str) -> None:
    """The properties of one damaged dataset (see the module docstring)."""

    def names_target(err: BaseException | str) -> bool:
        text = str(err)
        return "\n" not in text.strip() and target in text

    # quick verification (the default), then reading every sample
    try:
        ds = SyntheticDataset(root, allow_incomplete=True)
    except ValueError as err:
        assert names_target(err), err
        _SEEN[f"{target[:5]}: rejected on opening"] += 1
    else:
        assert len(ds) == NUM
        for i in range(NUM):
            try:
                assert _same(ds.sample(i), SAMPLES[i]), f"sample {i} differs"
            except ValueError as err:
                assert target != "manifest.json" and names_target(err), err
                _SEEN[f"{target[:5]}: rejected on reading"] += 1
                break
        else:
            _SEEN[f"{target[:5]}: read back intact"] += 1
    # full verification: any change to a shard is caught on opening
    try:
        SyntheticDataset(root, verify="full", allow_incomplete=True)
        assert target == "manifest.json", "a damaged shard passed full verification"
    except ValueError as err:
        assert names_target(err), err
    # the command line: exit 0 or 2, and 2 comes with one line naming the file
    rc, err = _cli("data", "preview", str(root), "--out", str(root / "sheet.png"))
    assert rc == 0 or (rc == 2 and err.count("\n") == 1 and target in err), (rc, err)
    rc, err = _cli("data", "verify", str(root))
    assert rc == 2 or target == "manifest.json", "posekit data verify passed a damaged shard"
    assert rc == 0 or (rc == 2 and err.count("\n") == 1 and target in err), (rc, err)


def test_damaged_files_give_one_line_naming_the_file(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    _write_dataset(pristine)
    sizes = {f: (pristine / f).stat().st_size for f in FILES}

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        target=st.sampled_from(FILES),
        truncate=st.booleans(),
        where=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=3),
        mask=st.integers(1, 255),
    )
    def damage(target: str, truncate: bool, where: list[float], mask: int) -> None:
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            root = Path(tmp) / "d"
            shutil.copytree(pristine, root)
            path = root / target
            offsets = [int(w * sizes[target]) for w in where]
            if truncate:
                path.write_bytes(path.read_bytes()[: offsets[0]])
            else:
                for offset in offsets:
                    _flip(path, offset, mask)
            if path.read_bytes() == (pristine / target).read_bytes():
                return  # flips that cancel out: nothing damaged
            _SEEN["cases"] += 1
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(20)
            try:
                _check_damaged(root, target)
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)

    _SEEN.clear()
    damage()
    print(f"\nfuzz cases: {dict(sorted(_SEEN.items()))}")
    # the fuzzer reached each way damage can show (the test saw something): caught by the
    # quick check on opening, or only when the damaged sample is read
    assert _SEEN["cases"] >= 200
    assert _SEEN["manif: rejected on opening"] > 0
    assert _SEEN["shard: rejected on opening"] > 0
    assert _SEEN["shard: rejected on reading"] > 0
