"""Lifter speed: the training step's FLOP/s as a fraction of this machine's matmul FLOP/s,
and inference throughput (poses/s) of each lifter, torch and ONNX Runtime, float32 and int8.

Training step (what `posekit train` runs per step, without data loading): forward, MPJPE
loss, backward, Adam update and the max-norm constraint, batch 1024 by default. Its FLOPs are
counted by torch's FlopCounterMode on one step (forward + backward matmuls; the optimizer's
elementwise work is not counted, so the fraction is conservative). Peak: the best float32
``torch.matmul`` of square 512-2048 matrices at the same thread count (`engine.perf`).
Inference: eval mode, ``torch.inference_mode``, batch 4096 (``--infer-batch``); ONNX Runtime
on the model exported by `posekit.engine.export` (input normalization inside the graph).

Int8 (second table, full Martinez): the checkpoint given by ``--checkpoint`` (a trained full
Martinez; without it a randomly initialised one, speed only) exported as ``posekit export
--quantize int8`` does (`export_checkpoint`), with the ``dynamic`` method (the default) and
the ``static`` one (calibrated on validation poses 0-2047), against torch and ONNX Runtime
float32; and, as an ablation, ``dynamic`` with the first and last layers int8 too. Poses/s at
``--int8-batches`` and 1 and 2 threads: median of ``--repeat`` calls, timed in 4 rounds of a
block per model (`_interleaved`) so that load from other processes hits every row alike; the
load average is printed before and after. Accuracy on the checkpoint's validation poses
2048.. (held out from the static calibration): MPJPE against the ground truth and the mean
joint distance to the float32 torch model, mm.

    .venv/bin/python benchmarks/lift_speed.py [--threads 2] [--batch 1024] [--models martinez]
    .venv/bin/python benchmarks/lift_speed.py --int8-only --checkpoint CKPT

A full Martinez checkpoint, trained briefly (3000 steps of batch 256, ~13 min on one core of a
busy 2-core CPU; validation MPJPE 70.6 mm on the synthetic poses):

    posekit train configs/lift_martinez_full.yaml --out runs/quant/martinez_full --set \
        trainer.max_steps=3000 trainer.batch_size=256 optim.decay_steps=1000 \
        optim.decay_rate=0.9 trainer.val_every=1000 trainer.checkpoint_every=1000
    CKPT=runs/quant/martinez_full/checkpoints/best.ckpt
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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

    from posekit.engine.onnx_export import export_onnx
    from posekit.engine.onnx_runtime import OnnxRunner

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
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="a trained full Martinez for the int8 table"
    )
    p.add_argument("--int8-batches", nargs="*", type=int, default=[1024, 4096])
    p.add_argument("--int8-threads", nargs="*", type=int, default=[1, 2])
    p.add_argument("--int8-only", action="store_true", help="only the int8 table")
    a = p.parse_args()
    if not a.int8_only:
        _tables(a)
    _int8_table(a)


def _tables(a: argparse.Namespace) -> None:
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


# --- int8 ------------------------------------------------------------------------------------


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _full_martinez(checkpoint: Path | None) -> tuple[torch.nn.Module, Any, Any, str]:
    """(model, module, config, description); module and config are None without checkpoint."""
    if checkpoint is None:
        torch.manual_seed(0)
        model = create_model("martinez", "full").eval()
        return model, None, None, "randomly initialised full Martinez (no --checkpoint)"
    from posekit.engine.evaluate import module_from_checkpoint

    module, config, ckpt = module_from_checkpoint(checkpoint)
    if config.model.name != "martinez" or module.model.config.width != 1024:
        raise SystemExit(f"{checkpoint}: expected a full Martinez checkpoint")
    step = int(ckpt.get("global_step", 0))
    return module.model.eval(), module, config, f"{checkpoint} (full Martinez, step {step})"


def _int8_files(
    model: torch.nn.Module, module: Any, config: Any, checkpoint: Path | None, tmp: Path
) -> dict[str, tuple[Path, str]]:
    """name → (ONNX file, quantization) for float32, the two int8 methods and the ablation."""
    from posekit.engine.export import export_checkpoint
    from posekit.engine.onnx_export import export_onnx
    from posekit.engine.quantize import quantize_onnx

    files = {"ort_fp32": (tmp / "fp32.onnx", "-")}
    for method in ("dynamic", "static"):
        files[f"ort_int8_{method}"] = (tmp / f"int8_{method}.onnx", method)
    if checkpoint is not None:
        export_checkpoint(checkpoint, files["ort_fp32"][0])
        for method in ("dynamic", "static"):
            # A generous bound: this table reports the deviation, it does not enforce it.
            path = files[f"ort_int8_{method}"][0]
            export_checkpoint(
                checkpoint, path, quantize="int8", quantize_method=method, quantize_tolerance_mm=1e3
            )
    else:
        export_onnx(model, model.example_input(2), files["ort_fp32"][0])
        calibration = [{k: v.numpy() for k, v in model.example_input(2048).items()}]
        for method in ("dynamic", "static"):
            path = files[f"ort_int8_{method}"][0]
            quantize_onnx(files["ort_fp32"][0], path, method, calibration)
    # Ablation: the first and last layers int8 too (what posekit export does not do).
    files["ort_int8_dynamic_all"] = (tmp / "int8_dynamic_all.onnx", "dynamic, all layers")
    all_int8 = files["ort_int8_dynamic_all"][0]
    quantize_onnx(files["ort_fp32"][0], all_int8, "dynamic", float_ends=False)
    return files


def _evaluation_data(model: torch.nn.Module, module: Any, config: Any) -> dict[str, torch.Tensor]:
    """Validation poses 2048.. of the checkpoint (keypoints2d, visibility, joints3d), or random
    inputs (no joints3d) without one."""
    if module is None:
        return dict(model.example_input(8192))
    batches, _ = module.evaluation_batches(config)
    data = {
        k: torch.cat([b[k] for b in batches]) for k in ("keypoints2d", "visibility", "joints3d")
    }
    return {k: v[2048:] for k, v in data.items()}


def _interleaved(
    calls: dict[str, Callable[[], Any]], repeat: int, rounds: int = 4
) -> dict[str, float]:
    """Median seconds per call of each function: ``rounds`` rounds, in each a block of
    ``repeat / rounds`` timed calls of each function in turn, after a pause and one untimed
    call.

    Blocks after a pause, not single calls in turn: each backend's worker threads keep
    spinning a while after a call (OpenMP in torch, ONNX Runtime's pool) and would slow the
    next backend's call on a 2-core machine.
    """
    per = max(1, repeat // rounds)
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, fn in calls.items():
            time.sleep(0.25)
            fn()
            for _ in range(per):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def _int8_table(a: argparse.Namespace) -> None:
    from posekit.engine.onnx_files import read_onnx_metadata
    from posekit.engine.onnx_runtime import OnnxRunner
    from posekit.engine.quantize import joint_deviation_mm
    from posekit.metrics.pose3d import mpjpe

    model, module, config, what = _full_martinez(a.checkpoint)
    data = _evaluation_data(model, module, config)
    inputs = {k: data[k].float() for k in ("keypoints2d", "visibility")}
    feed = {k: v.numpy() for k, v in inputs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        files = _int8_files(model, module, config, a.checkpoint, Path(tmp))
        methods = {"torch_fp32": "-", **{k: m for k, (_, m) in files.items()}}
        # Accuracy: every row on the same poses.
        with torch.inference_mode():
            outputs = {"torch_fp32": model(**inputs)["joints3d"].numpy()}
        for k, (path, _) in files.items():
            outputs[k] = OnnxRunner(path, threads=a.threads)(feed)["joints3d"]
        checks = {}
        for k, (path, _) in files.items():
            checks[k] = read_onnx_metadata(path).get("quantization", {}).get("check")
        # Speed: per thread count, torch and one session per file.
        speed: dict[tuple[str, int, int], float] = {}
        load_before = _loadavg()
        for threads in a.int8_threads:
            runners = {k: OnnxRunner(p, threads=threads) for k, (p, _) in files.items()}
            for batch in a.int8_batches:
                sub = {k: v[:batch] for k, v in feed.items()}
                tsub = {k: v[:batch] for k, v in inputs.items()}

                def run_torch(tsub: dict = tsub) -> Any:
                    with torch.inference_mode():
                        return model(**tsub)

                calls: dict[str, Callable[[], Any]] = {"torch_fp32": run_torch}
                for k, r in runners.items():
                    calls[k] = lambda r=r, sub=sub: r.session.run(None, sub)
                with torch_threads(threads):
                    med = _interleaved(calls, a.repeat)
                for k, t in med.items():
                    speed[(k, batch, threads)] = batch / t
        load_after = _loadavg()
    print(f"\nint8: {what}; load average before {load_before}, after {load_after}")
    if "joints3d" in data:
        print(f"accuracy on {len(data['joints3d'])} validation poses (2048.. of the val set)")
    cols = [(b, t) for b in a.int8_batches for t in a.int8_threads]
    head = " | ".join(f"poses/s @{b}, {t} thr" for b, t in cols)
    print(f"\n| backend | precision | quantization | {head} | MPJPE mm | vs torch fp32, mm |")
    print("|---|---|---|" + "--:|" * (len(cols) + 2))
    names = {
        "torch_fp32": ("torch", "float32"),
        "ort_fp32": ("ONNX Runtime", "float32"),
        "ort_int8_dynamic": ("ONNX Runtime", "int8"),
        "ort_int8_static": ("ONNX Runtime", "int8"),
        "ort_int8_dynamic_all": ("ONNX Runtime", "int8"),
    }
    for k, (backend, precision) in names.items():
        rates = " | ".join(f"{speed[(k, b, t)]:,.0f}" for b, t in cols)
        err = "-"
        if "joints3d" in data:
            err = (
                f"{1000 * float(mpjpe(torch.from_numpy(outputs[k]), data['joints3d']).mean()):.2f}"
            )
        dev = joint_deviation_mm(outputs[k], outputs["torch_fp32"])
        dev_text = f"{dev[0]:.2f} (max {dev[1]:.1f})" if k != "torch_fp32" else "-"
        method = methods[k] if precision == "int8" else "-"
        print(f"| {backend} | {precision} | {method} | {rates} | {err} | {dev_text} |")
    for k, check in checks.items():
        if check:
            where = "2048-4095 (after calibrating on 0-2047)" if "static" in k else "0-4095"
            print(
                f"- {k}: the export's own check: {check['mean_joint_deviation_mm']:.2f} mm per "
                f"joint (max {check['max_joint_deviation_mm']:.1f}) on validation poses {where}"
            )


if __name__ == "__main__":
    main()
