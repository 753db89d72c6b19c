"""Timing helpers for benchmarks: a callable's latency, and the machine's matmul FLOP/s.

`time_callable` runs a function ``warmup`` times, then ``repeat`` times with a monotonic
clock around each call, and reports the median (the benchmark number: robust to the other
jobs of a shared machine) and the best. `measure_matmul_flops` is the practical peak a model
can be compared with: the best FLOP/s of large square ``torch.matmul`` at a given thread count
(2 n³ FLOPs each, the convention of `posekit.models.count_flops`).
`measure_onnx_matmul_flops` measures the same with ONNX Runtime's own kernels (MLAS): on CPUs
where torch's BLAS does not use the widest vector units (e.g. AVX-512 on AMD), it is higher.

Tests never assert wall-clock times; these are for scripts under ``benchmarks/``.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "Timing",
    "measure_matmul_flops",
    "measure_onnx_matmul_flops",
    "time_callable",
    "torch_threads",
]


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls.

    Attributes:
        times_s: each timed call, seconds, in order.
    """

    times_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def best_s(self) -> float:
        return min(self.times_s)

    @property
    def repeat(self) -> int:
        return len(self.times_s)


def time_callable(fn: Callable[[], Any], warmup: int = 3, repeat: int = 20) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeat`` timed ones.

    Raises:
        ValueError: ``repeat < 1`` or ``warmup < 0``.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"expected repeat >= 1 and warmup >= 0, got {repeat} and {warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch with ``threads`` intra-op threads inside the block (None: unchanged)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_matmul_flops(
    threads: int | None = None,
    dtype: torch.dtype = torch.float32,
    sizes: Sequence[int] = (512, 1024, 2048),
    repeat: int = 5,
) -> float:
    """The best FLOP/s of ``torch.matmul`` of two n × n matrices over ``sizes`` (CPU).

    Args:
        threads: torch threads during the measurement (None: the current setting).
        dtype: matrix dtype.
        sizes: the n tried; the best result counts.
        repeat: timed products per size (after one warm-up product); the fastest counts.

    Returns:
        FLOP/s, counting ``2 n³`` per product.
    """
    best = 0.0
    gen = torch.Generator().manual_seed(0)
    with torch_threads(threads), torch.inference_mode():
        for n in sizes:
            a = torch.randn(n, n, generator=gen).to(dtype)
            b = torch.randn(n, n, generator=gen).to(dtype)
            out = torch.empty(n, n, dtype=dtype)
            timing = time_callable(
                lambda a=a, b=b, out=out: torch.matmul(a, b, out=out), warmup=1, repeat=repeat
            )
            best = max(best, 2.0 * n**3 / timing.best_s)
    return best


def measure_onnx_matmul_flops(
    threads: int | None = None,
    sizes: Sequence[int] = (512, 1024, 2048),
    repeat: int = 5,
) -> float:
    """The best FLOP/s of a float32 ONNX ``MatMul`` of two n × n matrices in ONNX Runtime (CPU).

    Args and result as in `measure_matmul_flops` (``threads``: ORT intra-op threads).
    """
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "matmul",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", "n"]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", "n"]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["n", "n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        onnx.shape_inference.infer_shapes(model).SerializeToString(),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    rng = np.random.default_rng(0)
    best = 0.0
    for n in sizes:
        feed = {
            "a": rng.standard_normal((n, n), dtype=np.float32),
            "b": rng.standard_normal((n, n), dtype=np.float32),
        }
        timing = time_callable(lambda feed=feed: session.run(None, feed), warmup=1, repeat=repeat)
        best = max(best, 2.0 * n**3 / timing.best_s)
    return best
