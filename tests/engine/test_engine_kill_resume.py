"""``posekit train`` processes killed with SIGKILL at several points and resumed end like an
uninterrupted run (weights and metrics.csv); a second run into a directory in use is refused
while the first lives, and not after it was killed (no stale lock).

The killed process runs the toy source wrapped by `killing_toy` (imported by the child as
``test_engine_kill_resume:killing_toy``): on its K-th training batch it kills its own process
with SIGKILL (no handler, no cleanup: what the OOM killer or ``kill -9`` does), or with
``hang_at`` it announces itself in a file and sleeps, holding the run directory.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from engine_toy_data import HERE, TOY_SOURCE, toy_lift, toy_overrides

from posekit.cli.main import main
from posekit.engine.checkpoint import LOCK_NAME, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"
KILLING = "test_engine_kill_resume:killing_toy"
BATCH = 32  # toy_overrides' trainer.batch_size: the training batches (not the statistics)


class _Killing:
    """A toy source that kills (or freezes) its process at its ``at``-th training batch."""

    def __init__(self, src: Any, at: int, hang: str | None) -> None:
        self.src, self.at, self.hang, self.count = src, at, hang, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.src, name)

    def sample_batch(self, batch_size: int, generator: torch.Generator) -> Any:
        if batch_size == BATCH:
            self.count += 1
            if self.count == self.at:
                if self.hang:
                    Path(self.hang).write_text(str(os.getpid()))
                    time.sleep(120)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.src.sample_batch(batch_size, generator)


def killing_toy(split: str, seed: int, *, kill_at: int = 0, hang: str | None = None) -> Any:
    """``toy_lift`` whose training split dies (``kill_at``) or freezes (with ``hang``)."""
    src = toy_lift(split, seed)
    return _Killing(src, kill_at, hang) if split == "train" and kill_at else src


def _sets(out: Path, source: str = TOY_SOURCE, params: str = "{}") -> list[str]:
    sets = toy_overrides(out, **{"data.source": source, "data.params": params})
    return [*sets, "model.overrides.dropout=0.2", "optim.warmup_steps=3"]


def _start(out: Path, params: str) -> subprocess.Popen:
    """``posekit train`` on the killing source in a child process (one torch thread)."""
    path = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "posekit.cli.main", "train", str(CONFIG), "--quiet", "--set"]
    return subprocess.Popen(
        [*cmd, *_sets(out, KILLING, params)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_killed_train_process_resumes_to_the_uninterrupted_weights_and_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(CONFIG), "--quiet", "--set", *_sets(tmp_path / "whole")]) == 0
    whole = tmp_path / "whole" / "toy"
    want = load_checkpoint(whole / "checkpoints" / "last.ckpt")
    # Kill points (training batches drawn; checkpoints at steps 4 and 8 of 12): before the
    # first checkpoint, between two, and after the second one.
    kill_points = (3, 7, 10)
    procs = {at: _start(tmp_path / f"killed{at}", f"{{kill_at: {at}}}") for at in kill_points}
    restored = []
    for at, proc in procs.items():
        out = tmp_path / f"killed{at}"
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == -signal.SIGKILL, err
        run = out / "toy"
        last = run / "checkpoints" / "last.ckpt"
        restored.append(load_checkpoint(last)["global_step"] if last.is_file() else 0)
        assert (run / LOCK_NAME).is_file()  # left by the killed process, but not held
        # The same command with --resume (the source without the kill) finishes the run.
        assert main(["train", str(CONFIG), "--quiet", "--resume", "--set", *_sets(out)]) == 0
        got = load_checkpoint(last)
        assert got["global_step"] == want["global_step"] == 12
        for key, value in want["state_dict"].items():
            assert torch.equal(value, got["state_dict"][key]), (at, key)
        # Every row of the uninterrupted run, once, in order, with the same values.
        assert _rows(run) == _rows(whole), at
        assert not (run / LOCK_NAME).exists()
    capsys.readouterr()
    assert restored == [0, 4, 8]  # the three points hit three different checkpoints


def test_a_second_run_into_a_directory_in_use_is_refused_until_the_first_dies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "hanging"
    proc = _start(tmp_path, f"{{kill_at: 6, hang: '{flag}'}}")
    try:
        deadline = time.monotonic() + 90
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the first run never reached step 6"
            time.sleep(0.2)
        run = tmp_path / "toy"
        files = sorted(p.relative_to(run) for p in run.rglob("*"))
        events = list((run / "tb").glob("events.*"))
        csv_text = (run / "csv" / "metrics.csv").read_text()
        # The second run stops at once, naming the holder, and touches nothing.
        args = ["train", str(CONFIG), "--quiet", "--set", *_sets(tmp_path)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"posekit train: error: {run} is in use by another posekit train (pid {proc.pid} "
            f"on host {socket.gethostname()}); wait for it or choose another --out, "
            "--set name= or --set output_dir="
        )
        assert main([*args, "--resume"]) == 2
        assert "is in use by another posekit train" in capsys.readouterr().err
        assert sorted(p.relative_to(run) for p in run.rglob("*")) == files
        assert list((run / "tb").glob("events.*")) == events  # no second event file
        assert (run / "csv" / "metrics.csv").read_text() == csv_text
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    # Killed: its lock died with it, so --resume continues its run.
    assert main([*args, "--resume"]) == 0
    assert f"resuming {run / 'checkpoints' / 'last.ckpt'} at step 4" in capsys.readouterr().out
    assert [int(r["step"]) for r in _rows(run) if r["train/loss"]] == list(range(12))
