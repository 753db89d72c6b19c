"""Speed and memory of the pose3d models on a CPU, against the measured conv peak.

Inference in torch and ONNX Runtime, the torch training step, the size of the volumes and the
peak RSS of a short training.

For each pose3d model (``volumetric``, ``integral``, ``direct``) × preset (``tiny``, ``full``):

- inference at batch 1 (one crop of the preset's input size, `example_input`): median and min
  of ``--repeats`` calls after one warm-up call (default 20 for tiny, 5 for full) in torch
  (float32, eval, ``inference_mode``) and in ONNX Runtime (`OnnxRunner`, CPU) of the model
  exported by `posekit.engine.onnx_export.export_onnx` into a temporary folder; frames/s,
  GFLOPs per frame (`posekit.models.count_flops`: convolutions and matmuls, a multiply-add
  counting 2), achieved GFLOP/s and its share of the conv and matmul peaks;
- the training step in torch at batch ``--train-batch`` (default 2): forward,
  `Pose3DCodec.loss` with the codec and loss sections of ``configs/pose3d_<model>_cpu.yaml``
  (random crops, joints and depths), backward and an Adam step; median and min of
  ``--repeats`` steps after one (default 5 for tiny, 3 for full). GFLOP/s count forward +
  backward as 3 × the forward FLOPs (the backward of a convolution or matmul is two products
  of the forward's size); the targets, the elementwise work and Adam are timed, not counted.

Memory: the float32 size of the full presets' output volumes and of the loss's Gaussian
targets (each stack the recipe's loss supervises), from `output_shapes`, per sample and for a
batch of 32; and the peak RSS of a short training of ``configs/pose3d_volumetric_cpu.yaml``
(``posekit train``, ``--rss-steps`` steps, validation on 64 people, data from the cache):
the largest process's (``getrusage(RUSAGE_CHILDREN)`` in a wrapper process) and the sum over
``posekit`` and its data workers (sampled from ``/proc`` every 0.2 s; pages shared between
processes count once per process, so an upper bound).

Peaks (`hand_speed.measure_peaks`), measured before and after the models with the same thread
count, the best counting (a busy machine only lowers them): the conv peak is the best FLOP/s
of one float32 64 → 64-channel 3x3 convolution on 56x56 ("same" padding, batch 1) in torch or
ONNX Runtime; the matmul peak is `posekit.engine.perf`'s (n x n, n in 512, 1024, 2048).

Targets (the pose3d issue): the full presets at >= 30 % of the conv peak in ONNX Runtime
(inference) and in torch (training step); the tiny recipe's training under 4 GB of RSS.

    .venv/bin/python benchmarks/pose3d_speed.py [--models volumetric integral direct]
        [--presets tiny full] [--threads 2] [--repeats N] [--train-batch 2]
        [--rss-steps 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hand_speed import PEAK_CONVS, measure_peaks
from inference import cpu_name
from run_helpers import ROOT, run_posekit

MODELS = ("volumetric", "integral", "direct")
DEFAULT_REPEATS = {"inference": {"tiny": 20, "full": 5}, "train": {"tiny": 5, "full": 3}}
RSS_RECIPE = "configs/pose3d_volumetric_cpu.yaml"
RSS_TARGET_BYTES = 4e9
REFERENCE_BATCH = 32
MIB = 2**20


def recipe(name: str) -> Path:
    """The model's CPU recipe, whose ``codec`` and ``loss`` sections the training step uses."""
    return ROOT / "configs" / f"pose3d_{name}_cpu.yaml"


# --- inference and the training step --------------------------------------------------------


def bench_inference(
    name: str, preset: str, threads: int, repeats: int, tmp: Path
) -> list[dict[str, Any]]:
    """Batch-1 timings of one (model, preset) in torch and ONNX Runtime (module docstring)."""
    import torch

    from posekit.engine.onnx_export import export_onnx
    from posekit.engine.onnx_runtime import OnnxRunner
    from posekit.engine.perf import time_callable, torch_threads
    from posekit.models import count_flops, count_parameters, create_model

    model = create_model(name, preset).eval()
    base = {"model": name, "preset": preset}
    base |= {"flops": count_flops(model), "params": count_parameters(model)}
    base["input"] = "x".join(map(str, model.input_size))
    x = model.example_input(1)  # {"image": (1, 3, H, W)}
    with torch_threads(threads), torch.inference_mode():
        t_torch = time_callable(lambda: model(**x), warmup=1, repeat=repeats)
    rows = [{**base, "backend": "torch", "median_s": t_torch.median_s, "min_s": t_torch.best_s}]
    path = tmp / f"{name}_{preset}.onnx"
    try:
        export_onnx(model, model.example_input(2), path, metadata=base)
    except Exception as err:  # report it and keep the torch row
        return [*rows, {**base, "backend": "ORT", "error": f"export: {type(err).__name__}"}]
    runner = OnnxRunner(path, threads=threads)
    feed = {k: v.numpy() for k, v in x.items()}
    t_ort = time_callable(lambda: runner(feed), warmup=1, repeat=repeats)
    path.unlink()
    return [*rows, {**base, "backend": "ORT", "median_s": t_ort.median_s, "min_s": t_ort.best_s}]


def bench_train_step(
    name: str, preset: str, batch: int, threads: int, repeats: int
) -> dict[str, Any]:
    """Timings of forward + codec loss + backward + Adam step (module docstring)."""
    import torch

    from posekit.engine.config import load_config
    from posekit.engine.perf import time_callable, torch_threads
    from posekit.models import count_flops, create_model
    from posekit.skeletons import get_skeleton
    from posekit.tasks.pose3d.codec import Pose3DCodec

    cfg = load_config(recipe(name))
    model = create_model(name, preset).train()
    flops = count_flops(model)  # restores train mode
    H, W = model.input_size
    J = model.num_joints
    skeleton = get_skeleton(model.config.skeleton).name
    codec = Pose3DCodec(cfg.codec, model.output_shapes(1), (H, W), skeleton, name)
    gen = torch.Generator().manual_seed(0)
    image = model.example_input(batch)["image"]  # (B, 3, H, W)
    keypoints_px = (0.1 + 0.8 * torch.rand(batch, J, 2, generator=gen)) * torch.tensor([W, H])
    depth_rel_m = 0.4 * codec.cube_size_m * (torch.rand(batch, J, generator=gen) - 0.5)
    depth_rel_m[:, 0] = 0.0  # the root
    weights = torch.ones(batch, J)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    terms: dict[str, torch.Tensor] = {}

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(image)
        terms.update(codec.loss(out, keypoints_px, depth_rel_m, weights, cfg.loss))
        terms["loss"].backward()
        optimizer.step()

    with torch_threads(threads):
        timing = time_callable(step, warmup=1, repeat=repeats)
    return {
        "model": name,
        "preset": preset,
        "batch": batch,
        "flops": flops,
        "median_s": timing.median_s,
        "min_s": timing.best_s,
        "terms": "+".join(sorted(k for k in terms if k != "loss")),
    }


# --- memory ---------------------------------------------------------------------------------


def volume_rows(name: str) -> list[dict[str, Any]]:
    """Output and Gaussian-target float32 sizes per sample of the ``full`` preset, the targets
    of each stack the recipe's loss supervises (`Pose3DCodec.loss`)."""
    from posekit.engine.config import load_config
    from posekit.models import create_model
    from posekit.skeletons import get_skeleton
    from posekit.tasks.pose3d.codec import Pose3DCodec

    cfg = load_config(recipe(name))
    model = create_model(name, "full")
    shapes = model.output_shapes(1)
    skeleton = get_skeleton(model.config.skeleton).name
    codec = Pose3DCodec(cfg.codec, shapes, tuple(model.input_size), skeleton, name)
    out_floats = sum(math.prod(s) for s in shapes.values())
    out_shapes = " + ".join(str(tuple(s[1:])) for s in shapes.values())
    rows = [{"model": name, "tensor": f"output ({len(shapes)})", "shapes": out_shapes}]
    rows[0]["floats"] = out_floats
    if codec.kind != "volumes":
        return rows
    lc = cfg.loss
    heat_w = lc.heatmap_weight if codec.readout == "heatmap" else lc.integral_heatmap_weight
    keys = codec.stack_keys if lc.intermediate_supervision else codec.stack_keys[-1:]
    if heat_w <= 0:
        why = f"none: {codec.readout} readout, no volume loss"
        return [*rows, {"model": name, "tensor": "Gaussian targets", "shapes": why, "floats": 0}]
    tgt = " + ".join(str(tuple(shapes[k][1:])) for k in keys)
    tgt_floats = sum(math.prod(shapes[k]) for k in keys)
    row = {"model": name, "tensor": f"Gaussian targets ({len(keys)})", "shapes": tgt}
    return [*rows, {**row, "floats": tgt_floats}]


def _descendants_rss_kb(root: int) -> int:
    """Sum of VmRSS (kB) of the processes below ``root`` (0 where /proc is missing)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def rss_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the short training (in this wrapper process); its peak RSS and wall time."""
    peak_kb, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak_kb[0] = max(peak_kb[0], _descendants_rss_kb(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    run_posekit(spec["args"], spec["threads"])
    wall_s = time.perf_counter() - start
    stop.set()
    sampler.join()
    max_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kB
    return {"wall_s": wall_s, "max_rss_bytes": 1024 * max_kb, "tree_bytes": 1024 * peak_kb[0]}


def measure_training_rss(steps: int, threads: int) -> dict[str, Any]:
    """`rss_child` of ``posekit train RSS_RECIPE`` for ``steps`` steps, in a fresh process."""
    sets = [f"trainer.max_steps={steps}", f"trainer.val_every={steps}", "data.val_size=64"]
    command = f"posekit train {RSS_RECIPE} --quiet --out <tmp> --set {' '.join(sets)}"
    with tempfile.TemporaryDirectory() as out:
        args = ["train", RSS_RECIPE, "--quiet", "--out", out, "--set", *sets]
        spec = {"args": args, "threads": threads}
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        cmd = [sys.executable, __file__, "--_rss_child", json.dumps(spec)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1:] or ["?"]
        return {"command": command, "error": tail[0][:160]}
    return {"command": command, **json.loads(res.stdout.strip().splitlines()[-1])}


# --- tables ---------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def _human(n: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g} {suffix}"
    return f"{n:.0f}"


def inference_table(rows: list[dict[str, Any]], conv: float, matmul: float) -> str:
    lines = [
        "| model | preset | input | params | GFLOPs/frame | backend | ms median (min) | frames/s "
        "| GFLOP/s | % conv peak | % matmul peak |",
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        cells = [r["model"], r["preset"], r["input"], _human(r["params"])]
        cells += [f"{r['flops'] / 1e9:.3g}", r["backend"]]
        if "error" in r:
            cells += [r["error"], "-", "-", "-", "-"]
        else:
            achieved = r["flops"] / r["median_s"]
            cells += [
                f"{_ms(r['median_s'])} ({_ms(r['min_s'])})",
                f"**{1 / r['median_s']:.3g}**",
                f"{achieved / 1e9:.3g}",
                f"**{100 * achieved / conv:.2g} %**",
                f"{100 * achieved / matmul:.2g} %",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def train_table(rows: list[dict[str, Any]], conv: float, matmul: float) -> str:
    lines = [
        "| model | preset | batch | loss terms | step ms median (min) | samples/s "
        "| GFLOPs/step (3 × forward) | GFLOP/s | % conv peak | % matmul peak |",
        "|---|---|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        step_flops = 3 * r["flops"] * r["batch"]
        achieved = step_flops / r["median_s"]
        cells = [r["model"], r["preset"], str(r["batch"]), r["terms"]]
        cells += [
            f"{_ms(r['median_s'])} ({_ms(r['min_s'])})",
            f"{r['batch'] / r['median_s']:.3g}",
            f"{step_flops / 1e9:.3g}",
            f"{achieved / 1e9:.3g}",
            f"**{100 * achieved / conv:.2g} %**",
            f"{100 * achieved / matmul:.2g} %",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def volume_table(rows: list[dict[str, Any]], joints: int) -> str:
    ref = joints * 64**3
    lines = [
        "| model (full) | tensor | shapes per sample | bytes/sample | MiB/sample "
        f"| MiB at batch {REFERENCE_BATCH} |",
        "|---|---|---|--:|--:|--:|",
        f"| reference | J × 64³ | ({joints}, 64, 64, 64) | {4 * ref:,} | {4 * ref / MIB:.3g} "
        f"| {4 * ref * REFERENCE_BATCH / MIB:.3g} |",
    ]
    for r in rows:
        b = 4 * r["floats"]
        cells = [r["model"], r["tensor"], r["shapes"], f"{b:,}", f"{b / MIB:.3g}"]
        cells.append(f"{b * REFERENCE_BATCH / MIB:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rss_table(r: dict[str, Any]) -> str:
    lines = [
        "| run | wall s | max RSS, largest process (getrusage) | process tree peak (sampled) "
        "| target < 4 GB |",
        "|---|--:|--:|--:|---|",
    ]
    run = f"`{r['command']}`"
    if "error" in r:
        return "\n".join([*lines, f"| {run} | - | {r['error']} | - | - |"])
    tree = f"{r['tree_bytes'] / 1e9:.2f} GB" if r["tree_bytes"] else "-"
    ok = "met" if r["max_rss_bytes"] < RSS_TARGET_BYTES else "not met"
    cells = [run, f"{r['wall_s']:.0f}", f"**{r['max_rss_bytes'] / 1e9:.2f} GB**", tree, ok]
    return "\n".join([*lines, "| " + " | ".join(cells) + " |"])


def print_targets(
    inference: list[dict[str, Any]], train: list[dict[str, Any]], conv: float
) -> None:
    lines = []
    for r in inference:
        if r["preset"] == "full" and r["backend"] == "ORT" and "error" not in r:
            share = r["flops"] / r["median_s"] / conv
            ok = "met" if share >= 0.3 else "not met"
            lines.append(
                f"- {r['model']} full, ONNX Runtime inference: {100 * share:.0f} % of the conv "
                f"peak (target >= 30 %): {ok}"
            )
    for r in train:
        if r["preset"] == "full":
            share = 3 * r["flops"] * r["batch"] / r["median_s"] / conv
            ok = "met" if share >= 0.3 else "not met"
            lines.append(
                f"- {r['model']} full, torch training step (batch {r['batch']}): "
                f"{100 * share:.0f} % of the conv peak (target >= 30 %): {ok}"
            )
    if lines:
        print("\ntargets:\n" + "\n".join(lines))


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--presets", nargs="+", default=["tiny", "full"], choices=["tiny", "full"])
    p.add_argument("--threads", type=int, default=2, help="torch / ORT intra-op threads")
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed calls per measurement (inference 20 tiny / 5 full, training 5 / 3)",
    )
    p.add_argument("--train-batch", type=int, default=2, help="batch of the training step")
    p.add_argument(
        "--rss-steps", type=int, default=20, help="steps of the RSS training (0: skip it)"
    )
    p.add_argument("--quick", action="store_true", help="the smoke test: tiny only, 1 repeat")
    p.add_argument("--_rss_child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._rss_child:
        print(json.dumps(rss_child(json.loads(a._rss_child))))
        return
    if a.quick:
        a.presets, a.repeats = ["tiny"], 1

    import onnxruntime
    import torch

    from posekit.skeletons import get_skeleton

    torch.set_num_threads(a.threads)  # also for the FLOP counts and the exports
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    before = measure_peaks(a.threads, {2})

    def repeats(kind: str, preset: str) -> int:
        return a.repeats or DEFAULT_REPEATS[kind][preset]

    inference: list[dict[str, Any]] = []
    train: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models:
            for preset in a.presets:
                inference += bench_inference(
                    name, preset, a.threads, repeats("inference", preset), Path(tmp)
                )
                train.append(
                    bench_train_step(
                        name, preset, a.train_batch, a.threads, repeats("train", preset)
                    )
                )
                print(f"  done {name} {preset}", flush=True)
    volumes = [row for name in a.models for row in volume_rows(name)]
    rss = measure_training_rss(a.rss_steps, a.threads) if a.rss_steps > 0 else None
    after = measure_peaks(a.threads, {2})
    peaks = {k: max(before[k], after[k]) for k in before}
    conv = max(peaks["conv2d torch"], peaks["conv2d ORT"])
    matmul = max(peaks["matmul torch"], peaks["matmul ORT"])

    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M')}; CPU: {cpu_name()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}; {a.threads} thread(s) (torch and ORT intra-op); "
        f"timed calls: {a.repeats or 'inference tiny 20 / full 5, training tiny 5 / full 3'}, "
        "after 1 warm-up call"
    )
    print("\npeaks, float32, best of before / after the models (GFLOP/s):\n")
    print(
        f"- conv2d ({PEAK_CONVS[2]}): **{conv / 1e9:.1f}**; torch "
        f"{before['conv2d torch'] / 1e9:.1f} / {after['conv2d torch'] / 1e9:.1f}, ORT "
        f"{before['conv2d ORT'] / 1e9:.1f} / {after['conv2d ORT'] / 1e9:.1f}"
    )
    print(
        f"- matmul (n x n, n in 512, 1024, 2048): **{matmul / 1e9:.1f}**; torch "
        f"{before['matmul torch'] / 1e9:.1f} / {after['matmul torch'] / 1e9:.1f}, ORT "
        f"{before['matmul ORT'] / 1e9:.1f} / {after['matmul ORT'] / 1e9:.1f}"
    )
    print("\ninference, batch 1 (random weights):\n")
    print(inference_table(inference, conv, matmul))
    print(
        f"\ntraining step in torch (forward + codec loss + backward + Adam), batch "
        f"{a.train_batch}; FLOPs = 3 × forward (backward ≈ 2 × forward, not measured):\n"
    )
    print(train_table(train, conv, matmul))
    joints = get_skeleton("h36m17").num_joints
    print(f"\nvolumes of the full presets, float32 (J = {joints}):\n")
    print(volume_table(volumes, joints))
    if rss is not None:
        print(f"\npeak RSS of a short training of {RSS_RECIPE} (tiny preset, 64x64 crops):\n")
        print(rss_table(rss))
    print_targets(inference, train, conv)
    print(
        f"\n1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"{time.perf_counter() - t_start:.0f} s in all"
    )


if __name__ == "__main__":
    main()
