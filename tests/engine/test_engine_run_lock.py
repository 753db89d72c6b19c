"""The run-directory lock (`RunLock`) and the data-loading workers' thread pools."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.engine.checkpoint import LOCK_NAME, RunDirectoryBusy, RunLock
from posekit.engine.config import load_config
from posekit.engine.datamodule import ImageDataModule, init_worker_threads


def test_one_holder_at_a_time_and_the_message_names_it(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "x"
    with RunLock(run):
        assert (run / LOCK_NAME).read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        with pytest.raises(RunDirectoryBusy) as err:
            RunLock(run).acquire()  # another open file: refused even in the same process
        assert str(err.value) == (
            f"{run} is in use by another posekit train (pid {os.getpid()} on host "
            f"{socket.gethostname()}); wait for it or choose another --out, --set name= or "
            "--set output_dir="
        )
    assert not (run / LOCK_NAME).exists()  # released and removed
    with RunLock(run):
        pass


def test_a_dead_holders_lock_file_does_not_block(tmp_path: Path) -> None:
    # What a SIGKILL leaves: the file with the dead process's pid, no lock on it.
    (tmp_path / LOCK_NAME).write_text("999999 elsewhere\n")
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"{os.getpid()} ")


def test_the_lock_dies_with_its_process_not_with_its_forked_children(tmp_path: Path) -> None:
    # The holder forks a long-lived child (a data-loading worker) and dies without releasing:
    # the child's copy of the descriptor must not keep the run directory locked.
    ready = tmp_path / "child-started"
    holder = os.fork()
    if holder == 0:  # pragma: no cover - runs in the forked holder
        try:
            RunLock(tmp_path).acquire()
            if os.fork() == 0:
                ready.with_suffix(".tmp").write_text(str(os.getpid()))
                os.replace(ready.with_suffix(".tmp"), ready)
                time.sleep(10)
            while not ready.exists():
                time.sleep(0.01)
        finally:
            os._exit(0)
    os.waitpid(holder, 0)
    child = int(ready.read_text())
    os.kill(child, 0)  # the child lives on, and so does the lock file
    assert (tmp_path / LOCK_NAME).exists()
    with RunLock(tmp_path):
        pass
    os.kill(child, 9)


class _Items:
    """A training set whose items report the thread pools of the process that makes them."""

    def __len__(self) -> int:
        return 4

    def set_epoch(self, epoch: int) -> None:
        pass

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"threads": torch.tensor([torch.get_num_threads(), cv2.getNumThreads()])}


@pytest.mark.parametrize("worker_threads", [1, 2])
def test_data_loading_workers_run_few_threads(worker_threads: int) -> None:
    sets = [
        "task=pose2d",
        "model.name=hourglass",
        "trainer.num_workers=1",
        "trainer.batch_size=2",
        f"trainer.worker_threads={worker_threads}",
    ]
    # The parent has used OpenCV's thread pool (as a training process has): a forked worker
    # that reconfigured it would hang here (cv2.setNumThreads after fork deadlocks).
    image = np.random.default_rng(0).random((600, 600)).astype(np.float32)
    cv2.GaussianBlur(image, (31, 31), 5)
    dm = ImageDataModule(load_config(None, sets), lambda *args: _Items(), 2)
    dm.setup("fit")
    loader = dm.train_dataloader()
    loader.timeout = 60  # a hung worker fails the test instead of freezing the suite
    batch = next(iter(loader))
    # torch in the worker: trainer.worker_threads threads; OpenCV keeps the parent's pool.
    assert batch["threads"][:, 0].tolist() == [worker_threads] * 2
    assert batch["threads"][:, 1].tolist() == [cv2.getNumThreads()] * 2


def test_worker_init_keeps_lightnings_worker_seeding(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads(), cv2.getNumThreads()
    # seed_everything(workers=True) asks Lightning to seed every worker from the process seed
    # (a worker starts with torch's seed base + worker id); posekit's worker_init_fn does it.
    monkeypatch.setenv("PL_SEED_WORKERS", "1")
    draws = []
    try:
        for _ in range(2):
            torch.manual_seed(1234)
            random.seed(0)
            init_worker_threads(0)
            draws.append(random.random())
        random.seed(0)
        assert draws[0] == draws[1] != random.random()
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
        monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
