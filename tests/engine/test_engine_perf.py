"""Benchmark helpers: what they return, never how fast the machine is."""

from __future__ import annotations

import pytest
import torch

from posekit.engine.perf import (
    Timing,
    measure_matmul_flops,
    measure_onnx_matmul_flops,
    time_callable,
    torch_threads,
)


def test_time_callable_runs_warmup_then_repeat_calls() -> None:
    calls: list[int] = []
    timing = time_callable(lambda: calls.append(1), warmup=2, repeat=5)
    assert len(calls) == 7 and timing.repeat == 5
    assert 0 <= timing.best_s <= timing.median_s
    assert Timing((3.0, 1.0, 2.0)).median_s == 2.0 and Timing((3.0, 1.0)).best_s == 1.0
    with pytest.raises(ValueError, match="repeat >= 1"):
        time_callable(lambda: None, repeat=0)


def test_matmul_peak_is_positive_and_threads_are_restored() -> None:
    before = torch.get_num_threads()
    assert measure_matmul_flops(1, sizes=(64,), repeat=2) > 0
    assert measure_onnx_matmul_flops(1, sizes=(64,), repeat=2) > 0
    assert torch.get_num_threads() == before
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
