"""Rerunning ``posekit data synth`` on a damaged directory: damaged shards are regenerated.

A shard listed in the manifest that fails its checksum is regenerated, never kept; a shard file
not in the manifest is kept only if it is exactly what the recipe gives. Either way the
directory ends byte-identical to an untouched run, and each replaced shard is named in one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from posekit.cli.main import main
from posekit.data.synthetic.shards import read_manifest

pytest.importorskip("anny", reason="the synthetic engine needs the 'anny' package")

SHARDS = ["shard-00000.zip", "shard-00001.zip", "shard-00002.zip"]


def _argv(out: Path, seed: int = 1, *extra: str) -> list[str]:
    """``posekit data synth`` of 5 samples in shards of 2, 2, 1."""
    argv = ["data", "synth", "--task", "body", "--num", "5", "--seed", str(seed)]
    return [*argv, "--out", str(out), "--size", "32", "32", "--shard-size", "2", "--quiet", *extra]


def _synth(out: Path, seed: int = 1, *extra: str) -> list[str]:
    """Run ``posekit data synth``; its stdout lines."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(_argv(out, seed, *extra)) == 0
    return buf.getvalue().splitlines()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untouched runs with seed 1 (the reference) and seed 2 (a foreign dataset)."""
    root = tmp_path_factory.mktemp("made")
    _synth(root / "seed1", 1)
    _synth(root / "seed2", 2)
    return {"seed1": root / "seed1", "seed2": root / "seed2"}


@pytest.fixture
def work(made: dict[str, Path], tmp_path: Path) -> Path:
    shutil.copytree(made["seed1"], tmp_path / "d")
    return tmp_path / "d"


def _assert_as_made(work: Path, made: Path) -> None:
    assert sorted(f.name for f in work.iterdir()) == sorted([*SHARDS, "manifest.json"])
    m, ref = read_manifest(work), read_manifest(made)
    assert m.complete and [s.sha256 for s in m.shards] == [s.sha256 for s in ref.shards]
    for name in SHARDS:
        assert (work / name).read_bytes() == (made / name).read_bytes(), name


def _unlist(work: Path, index: int) -> None:
    """Drop shard ``index`` from the manifest, as a kill between its rename and the manifest."""
    d = json.loads((work / "manifest.json").read_text())
    d["shards"] = [s for s in d["shards"] if s["index"] != index]
    (work / "manifest.json").write_text(json.dumps(d))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "flipped byte": lambda p: _flip(p, p.stat().st_size // 2),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-100]),
    "emptied": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_shard_failing_its_checksum_is_regenerated(made, work: Path, damage: str) -> None:
    DAMAGE[damage](work / "shard-00001.zip")
    lines = _synth(work)
    assert lines == [
        "shard-00001.zip: checksum mismatch, regenerated",
        f"{work}: 5 body samples in 3 shards (complete)",
    ]
    _assert_as_made(work, made["seed1"])
    assert _synth(work) == [f"{work}: 5 body samples in 3 shards (complete)"]


def test_damaged_shard_is_regenerated_outside_the_shard_range(made, work: Path) -> None:
    _flip(work / "shard-00002.zip", 200)
    (work / "shard-00001.zip").unlink()
    lines = _synth(work, 1, "--shards", "0:1")
    assert lines == [
        "shard-00001.zip: listed in the manifest but missing, left to a run with --shards "
        "covering it",
        "shard-00002.zip: checksum mismatch, regenerated",
        f"{work}: 3 body samples in 2 shards (2 of 3 shards present)",
    ]
    # no longer listed: made like any missing shard
    assert _synth(work) == [f"{work}: 5 body samples in 3 shards (complete)"]
    _assert_as_made(work, made["seed1"])


def test_listed_shard_that_went_missing_is_named(made, work: Path) -> None:
    (work / "shard-00000.zip").unlink()
    assert _synth(work) == [
        "shard-00000.zip: missing, regenerated",
        f"{work}: 5 body samples in 3 shards (complete)",
    ]
    _assert_as_made(work, made["seed1"])


def test_unlisted_shard_that_the_recipe_gives_is_adopted(made, work: Path) -> None:
    inode = (work / "shard-00002.zip").stat().st_ino
    _unlist(work, 2)
    assert _synth(work) == [f"{work}: 5 body samples in 3 shards (complete)"]
    assert (work / "shard-00002.zip").stat().st_ino == inode  # kept, not rewritten
    _assert_as_made(work, made["seed1"])


def _foreign(made: dict[str, Path], path: Path) -> None:
    shutil.copyfile(made["seed2"] / path.name, path)  # a valid shard of another seed


def _header_flip(made: dict[str, Path], path: Path) -> None:
    _flip(path, 10)  # the first entry's time in its local header: readable, not canonical


UNLISTED = {
    "another seed's shard": (_foreign, "its sample 4 is not the one seed 1 gives"),
    "a changed header byte": (_header_flip, "its bytes are not the encoding of its samples"),
    "the first half": (
        lambda made, p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "unreadable (",
    ),
    "a file of another shard": (
        lambda made, p: shutil.copyfile(p.with_name("shard-00000.zip"), p),
        "holds 2 samples, expected 1",
    ),
}


@pytest.mark.parametrize("case", sorted(UNLISTED))
def test_unlisted_shard_is_regenerated_unless_the_recipe_gives_it(
    made, work: Path, case: str
) -> None:
    change, reason = UNLISTED[case]
    change(made, work / "shard-00002.zip")
    _unlist(work, 2)
    lines = _synth(work)
    assert len(lines) == 2 and lines[1] == f"{work}: 5 body samples in 3 shards (complete)"
    assert lines[0].startswith("shard-00002.zip: not in the manifest and " + reason), lines[0]
    assert lines[0].endswith(", regenerated")
    _assert_as_made(work, made["seed1"])


def test_shards_without_a_manifest_are_checked_before_adoption(made, work: Path) -> None:
    """A directory holding another seed's shards but no manifest (the old code adopted them)."""
    (work / "manifest.json").unlink()
    for name in SHARDS:
        shutil.copyfile(made["seed2"] / name, work / name)
    (work / ".shard-00001.zip.x1.tmp").write_bytes(b"partial")
    lines = _synth(work)
    assert lines[:-1] == [
        f"{name}: not in the manifest and its sample {2 * k} is not the one seed 1 gives, "
        "regenerated"
        for k, name in enumerate(SHARDS)
    ]
    _assert_as_made(work, made["seed1"])


def test_removed_manifest_is_rebuilt_by_adopting_the_shards(made, work: Path) -> None:
    """The remedy a malformed manifest's error names: remove it and rerun."""
    (work / "manifest.json").write_text("{broken")
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        assert main(_argv(work)) == 2
    assert "manifest.json: malformed manifest (not JSON" in buf.getvalue()
    assert "remove it and rerun" in buf.getvalue()
    (work / "manifest.json").unlink()
    inodes = [(work / name).stat().st_ino for name in SHARDS]
    assert _synth(work) == [f"{work}: 5 body samples in 3 shards (complete)"]
    assert [(work / name).stat().st_ino for name in SHARDS] == inodes  # adopted, not rewritten
    _assert_as_made(work, made["seed1"])
