"""Hand models' speed and memory on a CPU: frames/s of the whole frame (depth map → cube →
network → joints) in torch and ONNX Runtime, against the measured convolution peak.

For each hand model (``v2v``, ``depth_regression``, ``depth_heatmaps``) × preset (``tiny``,
``full``) × backend, at batch ``--batch`` (default 1: a live stream is one frame at a time):

- network: median and min latency of ``--runs`` calls after ``--warmup`` (default 30 calls
  for tiny, 5 for full, after 2) of the model in torch (float32, eval, ``inference_mode``,
  ``--threads`` threads) and of the same model exported by
  `posekit.engine.onnx_export.export_onnx` and run by ONNX Runtime (`OnnxRunner`, CPU,
  ``--threads`` intra-op threads), on the cube of a synthetic 240x320 depth map
  (`HandDepthGenerator`) repeated ``--batch`` times;
- the data side, per frame (median of >= 10 calls): ``prep`` = what ``posekit predict``
  does before the network (`hand_reference_point` in the sample's hand box, `depth_points`,
  `voxel_grid` or `cube_depth_image` of the 25 cm cube) and ``readout`` = `HandCodec.decode`
  of the outputs to camera-metre joints; ms/frame = prep + network / batch + readout;
- GFLOPs per frame (`posekit.models.count_flops`, a multiply-add counting 2), achieved
  GFLOP/s of the network, and its share of the conv peak and of the matmul peak;
- peak memory: each (model, preset, backend) runs in a fresh process, which resets its
  peak-RSS mark after its imports and the cube (``/proc/self/clear_refs``) and reports the
  peak RSS above the RSS of that moment (model or session build, runs and readout included);
  ONNX export happens in the parent, outside that.

Peaks, measured in this process before and after the models (the best counts: a busy machine
only lowers them), with the same thread count: the conv peak is the best FLOP/s of one float32
convolution with "same" padding in torch and in ONNX Runtime, whichever is higher: 32 → 32
channels, 3³ kernel on a 44³ volume (V2V's full preset's biggest layers) for ``v2v``, 64 → 64
channels, 3x3 on 56x56 (ResNet-18's first stage) for the depth-image models; the matmul peak
is `posekit.engine.perf`'s (n x n float32 products, n in 512, 1024, 2048; torch and ORT).

Targets (issue "3D hand pose from depth"): >= 30 % of the conv peak in ONNX Runtime for the
full v2v; >= 20 frames/s (whole frame) for tiny on 2 threads.

    .venv/bin/python benchmarks/hand_speed.py [--models v2v depth_regression depth_heatmaps]
        [--presets tiny full] [--backends torch ort] [--runs N] [--warmup 2] [--threads 2]
        [--batch 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from inference import cpu_name

MODELS = ("v2v", "depth_regression", "depth_heatmaps")
BACKENDS = {"torch": "torch", "ort": "ONNX Runtime"}
DEFAULT_RUNS = {"tiny": 30, "full": 5}
CUBE_SIZE_M = 0.25  # the configs' codec.cube_size_m
FRAME_SIZE = (240, 320)  # (H, W), the configs' synthetic depth maps


@dataclass(frozen=True)
class ConvShape:
    """One float32 convolution with "same" padding, batch 1: the peak's workload."""

    c_in: int
    c_out: int
    kernel: int
    spatial: tuple[int, ...]  # (D, H, W) or (H, W)

    @property
    def flops(self) -> float:
        """2 per multiply-add, as `posekit.models.count_flops` counts a convolution."""
        taps = self.kernel ** len(self.spatial)
        return 2.0 * self.c_in * self.c_out * taps * math.prod(self.spatial)

    def __str__(self) -> str:
        k = "x".join([str(self.kernel)] * len(self.spatial))
        return f"{self.c_in}→{self.c_out} ch, {k} on {'x'.join(map(str, self.spatial))}"


#: Conv peak per convolution dimension: 3 for voxels (v2v), 2 for depth images.
PEAK_CONVS = {3: ConvShape(32, 32, 3, (44, 44, 44)), 2: ConvShape(64, 64, 3, (56, 56))}


# --- peaks ----------------------------------------------------------------------------------


def torch_conv_flops(shape: ConvShape, threads: int, repeat: int = 5) -> float:
    """Best FLOP/s of ``shape`` as a torch ``nn.Conv{2,3}d`` (eval, ``inference_mode``)."""
    import torch

    from posekit.engine.perf import time_callable, torch_threads

    d = len(shape.spatial)
    conv_cls = torch.nn.Conv3d if d == 3 else torch.nn.Conv2d
    gen = torch.Generator().manual_seed(0)
    conv = conv_cls(shape.c_in, shape.c_out, shape.kernel, padding=shape.kernel // 2, bias=False)
    x = torch.randn(1, shape.c_in, *shape.spatial, generator=gen)
    with torch_threads(threads), torch.inference_mode():
        timing = time_callable(lambda: conv.eval()(x), warmup=1, repeat=repeat)
    return shape.flops / timing.best_s


def onnx_conv_flops(shape: ConvShape, threads: int, repeat: int = 5) -> float:
    """Best FLOP/s of ``shape`` as one ONNX ``Conv`` (weights an initializer) in ONNX Runtime."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from posekit.engine.perf import time_callable

    d, k = len(shape.spatial), shape.kernel
    rng = np.random.default_rng(0)
    weight = 0.05 * rng.standard_normal((shape.c_out, shape.c_in, *[k] * d), dtype=np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[k] * d, pads=[k // 2] * 2 * d)
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, shape.c_in, *shape.spatial])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, shape.c_out, *shape.spatial])],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
    feed = {"x": rng.standard_normal((1, shape.c_in, *shape.spatial), dtype=np.float32)}
    timing = time_callable(lambda: session.run(None, feed), warmup=1, repeat=repeat)
    return shape.flops / timing.best_s


def measure_peaks(threads: int, dims: set[int]) -> dict[str, float]:
    """FLOP/s: ``matmul torch``, ``matmul ORT``, ``conv{d}d torch``, ``conv{d}d ORT``."""
    import torch

    from posekit.engine.perf import measure_matmul_flops, measure_onnx_matmul_flops

    peaks = {
        "matmul torch": measure_matmul_flops(threads, torch.float32),
        "matmul ORT": measure_onnx_matmul_flops(threads),
    }
    for d in sorted(dims):
        peaks[f"conv{d}d torch"] = torch_conv_flops(PEAK_CONVS[d], threads)
        peaks[f"conv{d}d ORT"] = onnx_conv_flops(PEAK_CONVS[d], threads)
    return peaks


# --- one configuration, in a fresh process --------------------------------------------------


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> tuple[int, str]:
    """Reset the process's peak-RSS mark; (current RSS kB, method)."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS"), "VmHWM"
    except OSError:  # not Linux, or not allowed: the peak since the process started
        return _status_kb("VmRSS"), "ru_maxrss"


def _peak_rss_kb(method: str) -> int:
    if method == "VmHWM":
        return _status_kb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one (model, preset, backend) at ``spec["batch"]``; see the module docstring."""
    import torch

    from posekit.data.hand import cube_depth_image, depth_points, hand_reference_point, voxel_grid
    from posekit.engine.perf import time_callable
    from posekit.models import create_model
    from posekit.tasks.hand.codec import HandCodec
    from posekit.tasks.hand.config import HandCodecConfig

    torch.set_num_threads(spec["threads"])
    frame = np.load(spec["frame"])
    depth, K, box = frame["depth"], frame["K"], frame["box"]
    kind, size, batch = spec["input_kind"], spec["input_size"], spec["batch"]
    size = int(size) if kind == "voxels" else tuple(size)
    codec = HandCodec(HandCodecConfig(cube_size_m=CUBE_SIZE_M), spec["output_shapes"], size)

    def prep() -> tuple[np.ndarray, np.ndarray]:
        ref = hand_reference_point(depth, K, box)
        rel = depth_points(depth, K) - ref
        if kind == "voxels":
            return voxel_grid(rel, CUBE_SIZE_M, size), ref  # (G, G, G)
        return cube_depth_image(rel, CUBE_SIZE_M, size), ref  # (H, W)

    cube, ref = prep()
    prep_t = time_callable(prep, warmup=1, repeat=max(10, spec["runs"]))
    x = np.ascontiguousarray(np.repeat(cube[None, None], batch, axis=0))  # (B, 1, ...)
    ref_b = torch.from_numpy(np.repeat(ref[None], batch, axis=0)).float()  # (B, 3)

    base_kb, method = _reset_peak_rss()
    if spec["backend"] == "torch":
        model = create_model(spec["model"], spec["preset"]).eval()
        feed = {kind: torch.from_numpy(x)}

        def network() -> dict[str, torch.Tensor]:
            with torch.inference_mode():
                return model(**feed)

    else:
        from posekit.engine.onnx_runtime import OnnxRunner

        runner = OnnxRunner(spec["onnx"], threads=spec["threads"])

        def network() -> dict[str, torch.Tensor]:
            return runner({kind: x}, as_torch=True)

    net_t = time_callable(network, warmup=spec["warmup"], repeat=spec["runs"])
    out = network()
    readout_t = time_callable(lambda: codec.decode(out, ref_b), 1, max(10, spec["runs"]))
    peak_kb = _peak_rss_kb(method)
    return {
        "net_median_s": net_t.median_s,
        "net_min_s": net_t.best_s,
        "prep_s": prep_t.median_s,
        "readout_s": readout_t.median_s / batch,
        "peak_mb": (peak_kb - base_kb) / 1024,
        "process_peak_mb": peak_kb / 1024,
        "memory_method": method,
    }


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"])}
    cmd = [sys.executable, __file__, "--_child", json.dumps(spec)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1:] or ["?"]
        return {"error": f"child failed: {tail[0][:120]}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


# --- the table ------------------------------------------------------------------------------


def synthetic_frame(path: Path) -> None:
    """One synthetic right hand's 240x320 depth map, K and hand box, saved as ``.npz``."""
    from posekit.data.hand import hand_box
    from posekit.data.synthetic.hands import HandDepthGenerator

    s = HandDepthGenerator(FRAME_SIZE)(0, np.random.default_rng(0))
    np.savez(path, depth=s.depth, K=s.K, box=np.asarray(hand_box(s)))


def _ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def format_row(row: dict[str, Any], conv_peak: float, matmul_peak: float) -> str:
    cells = [row["model"], row["preset"], BACKENDS[row["backend"]], str(row["batch"])]
    gflops = row["flops"] / 1e9
    if "error" in row:
        cells += [row["error"], "-", "-", "-", "-", f"{gflops:.3g}", "-", "-", "-", "-"]
        return "| " + " | ".join(cells) + " |"
    batch = row["batch"]
    frame_s = row["prep_s"] + row["readout_s"] + row["net_median_s"] / batch
    achieved = row["flops"] * batch / row["net_median_s"]
    cells += [
        f"{_ms(row['net_median_s'])} ({_ms(row['net_min_s'])})",
        f"{1e3 * row['prep_s']:.2g}",
        f"{1e3 * row['readout_s']:.2g}",
        f"**{_ms(frame_s)}**",
        f"**{1 / frame_s:.3g}**",
        f"{gflops:.3g}",
        f"{achieved / 1e9:.3g}",
        f"{100 * achieved / conv_peak:.2g} %",
        f"{100 * achieved / matmul_peak:.2g} %",
        f"{row['peak_mb']:.0f} ({row['process_peak_mb']:.0f})",
    ]
    return "| " + " | ".join(cells) + " |"


def print_targets(rows: list[dict[str, Any]], conv_peak: dict[int, float], threads: int) -> None:
    """The issue's two targets, for the rows that have them."""
    lines = []
    for r in rows:
        if "error" in r:
            continue
        if r["preset"] == "tiny":
            fps = 1.0 / (r["prep_s"] + r["readout_s"] + r["net_median_s"] / r["batch"])
            ok = "met" if fps >= 20 else "not met"
            lines.append(
                f"- {r['model']} tiny, {BACKENDS[r['backend']]}: {fps:.1f} frames/s on "
                f"{threads} thread(s) (target >= 20 on 2): {ok}"
            )
        if r["preset"] == "full" and r["backend"] == "ort":
            d = 3 if r["model"] == "v2v" else 2
            share = r["flops"] * r["batch"] / r["net_median_s"] / conv_peak[d]
            ok = "met" if share >= 0.3 else "not met"
            lines.append(
                f"- {r['model']} full, ONNX Runtime: {100 * share:.0f} % of the conv{d}d peak "
                f"(target >= 30 %): {ok}"
            )
    if lines:
        print("\ntargets:\n" + "\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--presets", nargs="+", default=["tiny", "full"])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    p.add_argument("--runs", type=int, default=None, help="timed calls (30 tiny, 5 full)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch / ORT intra-op threads")
    p.add_argument("--batch", type=int, default=1, help="frames per network call")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._child:
        print(json.dumps(run_child(json.loads(a._child))))
        return

    import onnxruntime
    import torch

    from posekit.engine.onnx_export import export_onnx
    from posekit.models import count_flops, count_parameters, create_model
    from posekit.tasks.hand.module import model_input

    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    dims = {3 if m == "v2v" else 2 for m in a.models}
    before = measure_peaks(a.threads, dims)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_frame(tmp / "frame.npz")
        for name in a.models:
            for preset in a.presets:
                model = create_model(name, preset).eval()
                kind, size = model_input(model)
                base = {"model": name, "preset": preset, "batch": a.batch}
                base |= {"flops": count_flops(model), "params": count_parameters(model)}
                spec = {
                    **base,
                    "threads": a.threads,
                    "warmup": a.warmup,
                    "runs": a.runs or DEFAULT_RUNS.get(preset, 10),
                    "frame": str(tmp / "frame.npz"),
                    "input_kind": kind,
                    "input_size": size,
                    "output_shapes": {k: list(v) for k, v in model.output_shapes(1).items()},
                    "onnx": str(tmp / f"{name}_{preset}.onnx"),
                }
                export_error = None
                if "ort" in a.backends:
                    try:
                        export_onnx(model, model.example_input(2), spec["onnx"], metadata=base)
                    except Exception as err:  # report it and keep benchmarking torch
                        export_error = f"ONNX export failed: {type(err).__name__}"
                del model
                for backend in a.backends:
                    if backend == "ort" and export_error:
                        rows.append({**base, "backend": backend, "error": export_error})
                        continue
                    result = _spawn({**spec, "backend": backend})
                    rows.append({**base, "backend": backend, **result})
                    print(f"  done {name} {preset} {backend}", flush=True)
    after = measure_peaks(a.threads, dims)
    peaks = {k: max(before[k], after[k]) for k in before}
    matmul_peak = max(peaks["matmul torch"], peaks["matmul ORT"])
    conv_peak = {d: max(peaks[f"conv{d}d torch"], peaks[f"conv{d}d ORT"]) for d in dims}

    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M')}; CPU: {cpu_name()}, {os.cpu_count()} cores; "
        f"{platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}; {a.threads} thread(s) (torch and ORT "
        f"intra-op); batch {a.batch}; network: median (min) of "
        f"{a.runs or 'tiny 30 / full 5'} calls after {a.warmup} warm-up calls"
    )
    print("\npeaks, float32, best of before / after the models (GFLOP/s):\n")
    for d in sorted(dims):
        print(
            f"- conv{d}d ({PEAK_CONVS[d]}): **{conv_peak[d] / 1e9:.1f}**; "
            f"torch {before[f'conv{d}d torch'] / 1e9:.1f} / {after[f'conv{d}d torch'] / 1e9:.1f}, "
            f"ORT {before[f'conv{d}d ORT'] / 1e9:.1f} / {after[f'conv{d}d ORT'] / 1e9:.1f}"
        )
    print(
        f"- matmul (n x n, n in 512, 1024, 2048): **{matmul_peak / 1e9:.1f}**; "
        f"torch {before['matmul torch'] / 1e9:.1f} / {after['matmul torch'] / 1e9:.1f}, "
        f"ORT {before['matmul ORT'] / 1e9:.1f} / {after['matmul ORT'] / 1e9:.1f}\n"
    )
    print(
        "| model | preset | backend | batch | network ms median (min) | prep ms/frame "
        "| readout ms/frame | ms/frame | frames/s | GFLOPs/frame | GFLOP/s | % conv peak "
        "| % matmul peak | peak MB (process) |"
    )
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        d = 3 if row["model"] == "v2v" else 2
        print(format_row(row, conv_peak[d], matmul_peak))
    print_targets(rows, conv_peak, a.threads)
    methods = {r["memory_method"] for r in rows if "memory_method" in r}
    print(
        "\npeak MB: peak RSS above the RSS after imports and the cube, one fresh process per row "
        f"({', '.join(sorted(methods)) or '-'}); in parentheses the process's own peak RSS."
    )
    print(
        f"1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"{time.perf_counter() - t_start:.0f} s in all"
    )


if __name__ == "__main__":
    main()
