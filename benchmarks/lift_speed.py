"""Lifter speed: the training step's FLOP/s as a fraction of this machine's matmul FLOP/s,
and inference throughput (poses/s) of each lifter, torch and ONNX Runtime.

Training step (what `posekit train` runs per step, without data loading): forward, MPJPE
loss, backward, Adam update and the max-norm constraint, batch 1024 by default. Its FLOPs are
counted by torch's FlopCounterMode on one step (forward + backward matmuls; the optimizer's
elementwise work is not counted, so the fraction is conservative). Peak: the best float32
``torch.matmul`` of square 512-2048 matrices at the same thread count (`engine.perf`).
Inference: eval mode, ``torch.inference_mode``, batch 4096 (``--infer-batch``); ONNX Runtime
on the model exported by `posekit.engine.export` (input normalization inside the graph).

    .venv/bin/python benchmarks/lift_speed.py [--threads 2] [--batch 1024] [--models martinez]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from posekit.engine.perf import measure_matmul_flops, time_callable, torch_threads
from posekit.losses import mpjpe_loss
from posekit.models import create_model


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, kp, vis, gt) -> None:
    opt.zero_grad(set_to_none=True)
    pred = model(kp, vis)["joints3d"]
    loss = mpjpe_loss(pred, gt)
    loss.backward()
    opt.step()
    if hasattr(model, "apply_max_norm") and getattr(model.config, "max_norm", False):
        model.apply_max_norm()


def _inputs(model: torch.nn.Module, batch: int) -> tuple[torch.Tensor, ...]:
    ex = model.example_input(batch)
    kp = torch.randn_like(ex["keypoints2d"])
    vis = torch.ones_like(ex["visibility"])
    gt = torch.randn(batch, kp.shape[1], 3) * 0.3
    return kp, vis, gt


def _onnx_throughput(model: torch.nn.Module, batch: int, threads: int, repeat: int) -> float:
    import onnxruntime as ort  # noqa: F401  (fail early when missing)

    from posekit.engine.export import OnnxRunner, export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        export_onnx(model.eval(), model.example_input(2), path)
        runner = OnnxRunner(path, threads=threads)
        kp, vis, _ = _inputs(model, batch)
        feed = {"keypoints2d": kp.numpy(), "visibility": vis.numpy()}
        t = time_callable(lambda: runner(feed), warmup=2, repeat=repeat)
    return batch / t.median_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--infer-batch", type=int, default=4096)
    p.add_argument("--models", nargs="*", default=["martinez", "lcn", "smplr_dae"])
    p.add_argument("--presets", nargs="*", default=["tiny", "full"])
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    peak = measure_matmul_flops(a.threads)
    print(f"threads {a.threads}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s\n")
    print(
        f"| model | preset | params | train step @{a.batch} ms | train GFLOP/s | % of peak | "
        f"inference poses/s torch | ONNX Runtime |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    torch.manual_seed(0)
    for name in a.models:
        for preset in a.presets:
            print(_row(name, preset, a, peak), flush=True)


def _row(name: str, preset: str, a: argparse.Namespace, peak: float) -> str:
    with torch_threads(a.threads):
        model = create_model(name, preset).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        kp, vis, gt = _inputs(model, a.batch)
        with FlopCounterMode(display=False) as fc:
            pred = model(kp, vis)["joints3d"]
            mpjpe_loss(pred, gt).backward()
        flops = fc.get_total_flops()
        t = time_callable(lambda: _train_step(model, opt, kp, vis, gt), 3, a.repeat)
        model.eval()
        ikp, ivis, _ = _inputs(model, a.infer_batch)
        with torch.inference_mode():
            ti = time_callable(lambda: model(ikp, ivis), 2, a.repeat)
    ort_ps = _onnx_throughput(model, a.infer_batch, a.threads, a.repeat)
    n = sum(p.numel() for p in model.parameters())
    gfs = flops / t.median_s / 1e9
    return (
        f"| {name} | {preset} | {n:,} | {1000 * t.median_s:.1f} | {gfs:.1f} | "
        f"{100 * gfs * 1e9 / peak:.0f} % | {a.infer_batch / ti.median_s:,.0f} | {ort_ps:,.0f} |"
    )


if __name__ == "__main__":
    main()
