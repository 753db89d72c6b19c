"""Two CPU processes with Lightning's DDP (gloo): different data per rank, one checkpoint writer.

`posekit train --devices 2 --set trainer.strategy=ddp` on the tiny config; Lightning launches
the second process by re-running the command (no torchrun needed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from engine_toy_data import HERE, toy_overrides

from posekit.engine.checkpoint import load_checkpoint

CONFIG = HERE.parents[1] / "configs" / "lift_martinez_tiny.yaml"


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    record, writes = tmp_path / "seen", tmp_path / "writes.log"
    record.mkdir()
    overrides = toy_overrides(
        tmp_path,
        **{
            "trainer.max_steps": 8,
            "trainer.strategy": "ddp",
            "data.params": f"{{record_dir: {record}}}",
        },
    )
    cmd = [
        sys.executable,
        str(HERE / "engine_ddp_script.py"),
        str(writes),
        "train",
        str(CONFIG),
        "--devices",
        "2",
        "--accelerator",
        "cpu",
        "--quiet",
        "--set",
        *overrides,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in res.stdout + res.stderr
    assert res.stdout.count("best checkpoint:") == 1  # only rank 0 reports

    # Each rank drew its own training batches (batch size 32; stats / validation draws are
    # shared on purpose and have other sizes).
    seen = {}
    for rank in (0, 1):
        lines = (record / f"rank{rank}.txt").read_text().split()
        rows = [lines[i : i + 4] for i in range(0, len(lines), 4)]
        seen[rank] = [r[2] for r in rows if r[1] == "32"]
        assert {r[0] for r in rows} == {str(rank)}
    assert len(seen[0]) >= 8 and len(seen[1]) >= 8
    assert not set(seen[0]) & set(seen[1])

    # Checkpoints: written by rank 0 only, each save once.
    logged = [line.split() for line in writes.read_text().splitlines()]
    assert logged and all(rank == "0" for rank, _, _ in logged)
    assert len(logged) == len({(step, p) for _, step, p in logged})  # no file saved twice
    last = [step for _, step, p in logged if Path(p).name == "last.ckpt"]
    assert last == ["4", "8"] and any(Path(p).name == "best.ckpt" for _, _, p in logged)
    ckpt = load_checkpoint(tmp_path / "toy" / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 8
    assert ckpt["posekit"]["experiment"]["trainer"]["devices"] == 2
    assert all(
        torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point()
    )
