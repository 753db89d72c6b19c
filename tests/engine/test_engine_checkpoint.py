"""Atomic checkpoint writes and the errors of loading a wrong or broken checkpoint."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_toy_data import toy_overrides

from posekit import _io as posekit_io
from posekit.engine.checkpoint import (
    AtomicCheckpointIO,
    CheckpointError,
    check_compatible,
    load_checkpoint,
)
from posekit.engine.config import load_config
from posekit.engine.run import build_trainer


def _posekit_ckpt(value: float) -> dict:
    return {
        "state_dict": {"w": torch.full((4,), value)},
        "posekit": {"task": "lift", "model": {"name": "martinez"}, "experiment": {}},
    }


def test_save_goes_through_a_temporary_name_and_os_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(_posekit_ckpt(1.0), path)
    calls = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        # At the moment of the rename the final name still holds the old, complete file, and
        # the new one is complete under a temporary name in the same folder.
        assert Path(src).parent == Path(dst).parent and Path(src).name != Path(dst).name
        assert float(load_checkpoint(dst)["state_dict"]["w"][0]) == 1.0
        assert float(torch.load(src, weights_only=True)["state_dict"]["w"][0]) == 2.0
        calls.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(posekit_io.os, "replace", spy)
    io.save_checkpoint(_posekit_ckpt(2.0), path)
    assert len(calls) == 1 and Path(calls[0][1]) == path
    assert float(load_checkpoint(path)["state_dict"]["w"][0]) == 2.0
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_a_failed_save_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(_posekit_ckpt(1.0), path)

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(posekit_io.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint(_posekit_ckpt(2.0), path)
    assert float(load_checkpoint(path)["state_dict"]["w"][0]) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # temporary file removed


def test_the_trainer_saves_through_the_atomic_io(tmp_path: Path) -> None:
    cfg = load_config(None, toy_overrides(tmp_path))
    trainer, _ = build_trainer(cfg, tmp_path / "run", progress=False)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_loading_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*nope\.ckpt"):
        load_checkpoint(missing)
    good = tmp_path / "good.ckpt"
    torch.save(_posekit_ckpt(1.0), good)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"truncated\.ckpt: not a readable checkpoint"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_text("hello")
    with pytest.raises(CheckpointError, match=r"garbage\.ckpt: not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.ckpt: not a posekit checkpoint"):
        load_checkpoint(foreign)


def test_a_checkpoint_of_another_task_or_model_is_refused(tmp_path: Path) -> None:
    meta = _posekit_ckpt(0.0)["posekit"]
    check_compatible(meta, "lift", "martinez", "x.ckpt")
    with pytest.raises(CheckpointError, match=r"x\.ckpt: holds a 'lift' checkpoint of model"):
        check_compatible(meta, "lift", "lcn", "x.ckpt")
    with pytest.raises(CheckpointError, match="'pose2d' 'martinez' checkpoint is needed"):
        check_compatible(meta, "pose2d", "martinez", "x.ckpt")


@pytest.mark.parametrize("seed", range(4))
def test_an_unreadable_checkpoint_is_named_and_never_advised_to_be_unpickled(
    tmp_path: Path, seed: int
) -> None:
    # Random bytes, and a pickle that would run code if loaded with weights_only=False: torch
    # advises exactly that ("Re-running torch.load with weights_only set to False ..."), and
    # to allow-list the globals; posekit keeps the reason, names the file, drops the advice.
    path = tmp_path / f"random{seed}.ckpt"
    if seed < 3:
        path.write_bytes(np.random.default_rng(seed).bytes(4096))
    else:
        path.write_bytes(pickle.dumps({"posekit": os.system}, protocol=2))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: not a readable checkpoint (corrupt or truncated?): ")
    assert "\n" not in msg
    for advice in ("weights_only", "trusted", "arbitrary code", "safe_globals", "allowlist"):
        assert advice not in msg, msg
    reason = msg.split("): ", 1)[1]
    assert reason.startswith("UnpicklingError: ") and len(reason) > len("UnpicklingError: ")
    if seed == 3:
        assert "GLOBAL posix.system" in reason  # the first useful line: what the file wanted
