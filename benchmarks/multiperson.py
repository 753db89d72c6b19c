"""Multi-person 2D pose: COCO OKS AP of bottom-up associative embedding vs top-down inference.

On one multi-person synthetic split (rendered scenes of 2-4 people, 256x256, coco17; the
validation scenes come from an unseen seed):

(a) bottom-up: the ``bottomup`` task (configs/bottomup_hourglass_tiny.yaml: a tiny 2-stack
    hourglass with one tag per joint on the whole 256x256 image) trained for ``--steps``,
    decoded by associative-embedding grouping (Hungarian matching on tag distance);
(b) top-down: a ``pose2d`` hourglass checkpoint (``--topdown CKPT``, e.g.
    runs/pose2d_results/03_hourglass/checkpoints/best.ckpt; without it one is trained here
    with configs/pose2d_hourglass_tiny.yaml on the default single-person data for
    ``--topdown-steps``) run on a 128x128 crop of every **ground-truth** person box (no person
    detector: an upper bound of detector + pose).

Both are scored by `posekit.metrics.multiperson.multiperson_evaluation` (pycocotools) against the
same ground truth (areas: the people's visible pixel counts). Runs resume where they stopped
(same ``--out``). Prints a markdown table and writes ``<out>/results.json``.

Usage::

    python benchmarks/multiperson.py [--steps 1500] [--num 2048] [--val-num 256]
        [--topdown CKPT | --topdown-steps 2000] [--out runs/multiperson] [--workers 1]

Smoke run (seconds of training, a few scenes)::

    POSEKIT_CACHE=/tmp/posekit_smoke python benchmarks/multiperson.py --steps 3 --num 8 \
        --val-num 4 --batch-size 2 --topdown-steps 3 --topdown-num 8 --out /tmp/mp_smoke
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from posekit.engine.config import load_config
from posekit.engine.evaluate import evaluate_checkpoint
from posekit.engine.run import train
from posekit.tasks.pose2d.multiperson import topdown_multiperson_evaluation

ROOT = Path(__file__).resolve().parents[1]


def _train(config_name: str, sets: list[str], run_dir: Path) -> Path:
    """Train (or resume) a config; its best checkpoint."""
    config = load_config(ROOT / "configs" / config_name, sets)
    best = run_dir / "checkpoints" / "best.ckpt"
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        step = int(torch.load(last, map_location="cpu", weights_only=False)["global_step"])
        if step >= config.trainer.max_steps and best.is_file():
            return best  # already done
    t0 = time.perf_counter()
    result = train(config, run_dir, resume=True)
    print(f"trained {config_name} to step {result.global_step} in {time.perf_counter() - t0:.0f} s")
    return Path(result.best_checkpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steps", type=int, default=1500, help="bottom-up training steps (0: top-down only)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num", type=int, default=2048, help="training scenes")
    parser.add_argument("--val-num", type=int, default=256, help="validation scenes")
    parser.add_argument("--size", type=int, default=256, help="scene size (pixels, square)")
    parser.add_argument("--people", type=int, nargs=2, default=[2, 4], metavar=("MIN", "MAX"))
    parser.add_argument("--topdown", type=Path, default=None, help="a pose2d checkpoint")
    parser.add_argument("--topdown-steps", type=int, default=2000)
    parser.add_argument(
        "--topdown-num", type=int, default=None, help="single-person training images (config: 4096)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/multiperson"))
    parser.add_argument("--workers", type=int, default=1, help="scene rendering processes")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--tag-weight", type=float, default=None, help="loss.tag_weight (default: the config's)"
    )
    parser.add_argument("--device", default="cpu", help="evaluation device")
    parser.add_argument("--accelerator", default="auto", help="training accelerator")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    scenes = {
        "num": args.num,
        "val_num": args.val_num,
        "size": [args.size, args.size],
        "people": list(args.people),
        "workers": args.workers,
    }
    bu_sets = [
        f"data.params={scenes}",
        f"trainer.max_steps={args.steps}",
        f"trainer.val_every={min(500, args.steps)}",
        f"trainer.batch_size={args.batch_size}",
        f"trainer.accelerator={args.accelerator}",
    ]
    if args.tag_weight is not None:
        bu_sets.append(f"loss.tag_weight={args.tag_weight}")
    bu_ckpt = (
        _train("bottomup_hourglass_tiny.yaml", bu_sets, args.out / "bottomup")
        if args.steps > 0
        else None
    )

    if args.topdown is not None:
        td_ckpt = args.topdown
    else:
        td_sets = [
            f"trainer.max_steps={args.topdown_steps}",
            f"trainer.val_every={min(500, args.topdown_steps)}",
            f"data.params.workers={args.workers}",
            f"trainer.accelerator={args.accelerator}",
        ]
        if args.topdown_num is not None:
            td_sets.append(f"data.params.num={args.topdown_num}")
        td_ckpt = _train("pose2d_hourglass_tiny.yaml", td_sets, args.out / "topdown")

    rows: list[dict[str, Any]] = []
    if bu_ckpt is not None:
        t0 = time.perf_counter()
        report = evaluate_checkpoint(bu_ckpt, device=args.device, progress=False)
        rows.append(
            {
                "method": "bottom-up AE (hourglass tiny, tag_dim 1, 256x256 image)",
                "checkpoint": str(bu_ckpt),
                "step": report.step,
                "eval_s": time.perf_counter() - t0,
                **report.evaluation.metrics,
            }
        )
    t0 = time.perf_counter()
    td = topdown_multiperson_evaluation(
        td_ckpt, "synthetic_body", scenes, device=args.device, progress=False
    )
    ckpt = torch.load(td_ckpt, map_location="cpu", weights_only=False)
    size = ckpt["posekit"]["model"]["config"].get("input_size", "?")
    name = ckpt["posekit"]["model"]["name"]
    rows.append(
        {
            "method": f"top-down over GT boxes ({name} {ckpt['posekit']['model']['preset']}, "
            f"{size[0]}x{size[1]} crops)",
            "checkpoint": str(td_ckpt),
            "step": int(ckpt.get("global_step", 0)),
            "eval_s": time.perf_counter() - t0,
            **td.metrics,
        }
    )

    date = datetime.date.today().isoformat()
    print(
        f"\nMulti-person synthetic split: {args.val_num} validation scenes of "
        f"{args.people[0]}-{args.people[1]} people ({rows[-1]['num_people']} people), "
        f"{args.size}x{args.size}, coco17; {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {date}\n"
    )
    print("| method | step | AP | AP50 | AP75 | AR | detections | eval (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['step']} | {r['ap']:.3f} | {r['ap50']:.3f} | "
            f"{r['ap75']:.3f} | {r['ar']:.3f} | {r['num_detections']} | {r['eval_s']:.1f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"date": date, "scenes": scenes, "rows": rows}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
