"""2D checkpoints on real annotated photos: PCK@0.2 (torso) and PCKh@0.5 per set, beside the
floor of the same architecture untrained.

Sets: the MMPose test samples in ../shared/data/real/mmpose_samples (COCO: 4 images, 14
people; MPII: 5 people; CrowdPose: 2 crowded images, 5 people; Human3.6M: 4 frames), read by
posekit's readers. Every person with a labelled joint is cropped over its ground-truth box at
the checkpoint's input size (no detector), predicted (flip test as the checkpoint's
experiment says) and mapped back to the image (`posekit.tasks.pose2d.real_images`). Joints
are matched by name: a coco17 model scores 12 of MPII's 16 joints, 12 of CrowdPose's 14, 12
of Human3.6M's 17 (the rest are listed as "not scored"). PCK@0.2: norm = the ground-truth
right shoulder to left hip (people without both are left out); PCKh@0.5: MPII's head box
when the file has one (MMPose's MPII json has none), else head top to neck (nose to the
shoulders' midpoint on COCO). Floor: the same architecture with random weights, mean over
``--seeds`` (range over seeds in brackets). A few dozen people: read the numbers as a smoke
test of real-photo behaviour, not as accuracy.

    .venv/bin/python benchmarks/real_photos.py CHECKPOINT [CHECKPOINT ...]
        [--root ../shared/data/real/mmpose_samples] [--out runs/real_photos] [--threads 1]

Prints a Markdown table; writes one PNG per (checkpoint, set) and results.json into --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import torch

from posekit.engine.evaluate import module_from_checkpoint
from posekit.tasks.pose2d.real_images import (
    RealImageScore,
    evaluate_real_images,
    real_image_sets,
    untrained_floor,
)
from posekit.tasks.pose2d.real_pictures import write_real_image_pictures

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "real" / "mmpose_samples"


def _label(path: Path) -> str:
    """A run's name for a checkpoint: ``runs/x/checkpoints/best.ckpt`` -> ``x/best``."""
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}/{path.stem}"
    return path.stem


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}"


def _row(model: str, s: RealImageScore) -> str:
    m = s.evaluation.metrics
    pck, pckh = _pct(s.pck), _pct(s.pckh)
    if s.seed_metrics:  # a floor: mean [min-max] over seeds
        for key, text in (("pck_0.2", "pck"), ("pckh_0.5", "pckh")):
            vals = [float(d[key]) for d in s.seed_metrics]
            spread = f" [{_pct(min(vals))}-{_pct(max(vals))}]"
            if text == "pck":
                pck += spread
            else:
                pckh += spread
    missing = ", ".join(s.unscored_joints) or "-"
    return (
        f"| {model} | {s.name} ({s.skeleton}) | {s.people} / {s.people_annotated} | "
        f"{m['joints_pck']} / {m['joints_pckh']} | {pck} | {pckh} | {s.head_norm} | {missing} |"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", type=Path, nargs="+", metavar="CHECKPOINT")
    p.add_argument("--root", type=Path, default=DEFAULT_DATA, help="an MMPose-samples folder")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "real_photos")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="floor seeds")
    p.add_argument("--sets", nargs="*", default=None, help="default: every set found")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if not a.root.is_dir():
        sys.exit(
            f"real_photos.py: no real-image folder at {a.root} (the MMPose samples of "
            "../shared/data/real/mmpose_samples are not shipped with posekit; pass --root)"
        )
    sets = a.sets if a.sets is not None else real_image_sets(a.root)
    if not sets:
        sys.exit(f"real_photos.py: {a.root} holds none of coco, mpii, crowdpose, h36m")
    for ckpt in a.checkpoints:
        if not ckpt.is_file():
            sys.exit(f"real_photos.py: no checkpoint {ckpt}")

    rows: list[tuple[str, RealImageScore]] = []
    floors: dict[str, tuple[str, dict[str, RealImageScore]]] = {}
    for i, ckpt in enumerate(a.checkpoints):
        module, config, raw = module_from_checkpoint(ckpt)
        if module.task != "pose2d":
            sys.exit(f"real_photos.py: {ckpt}: a {module.task} checkpoint, expected pose2d")
        label = _label(ckpt)
        step = int(raw.get("global_step", 0))
        scores = evaluate_real_images(
            module, a.root, sets, batch_size=a.batch_size, device=a.device
        )
        rows.extend((f"{label} (step {step})", s) for s in scores.values())
        prefix = f"{i:02d}_{label.replace('/', '_')}_"
        write_real_image_pictures(scores, a.root, a.out, prefix=prefix)
        m = config.model
        arch = repr((m, config.codec, config.eval))
        if arch not in floors:
            size = "x".join(str(v) for v in module.input_size)
            name = f"untrained {m.name} {m.preset}, {size} (seeds {', '.join(map(str, a.seeds))})"
            floor = untrained_floor(
                config, a.root, sets, seeds=a.seeds, batch_size=a.batch_size, device=a.device
            )
            floors[arch] = (name, floor)

    date = datetime.date.today().isoformat()
    print(
        f"Real photos ({a.root.resolve()}): {', '.join(sets)}; "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{a.threads} thread(s), {date}\n"
    )
    print(
        "| model | set (layout) | people scored / annotated | joints scored PCK / PCKh | "
        "PCK@0.2 torso | PCKh@0.5 | PCKh head size | not scored (model lacks) |"
    )
    print("|---|---|--:|--:|--:|--:|---|---|")
    for model, s in rows:
        print(_row(model, s))
    for name, floor in floors.values():
        for s in floor.values():
            print(_row(name, s))
    notes = [
        f"{s.name}: {s.evaluation.metrics['people_without_torso']} person(s) without both "
        "torso joints (not in PCK@0.2)"
        for s in next(iter(floors.values()))[1].values()
        if s.evaluation.metrics["people_without_torso"]
    ]
    if notes:
        print("\n" + "; ".join(notes) + ".")
    print(f"\nPictures: {a.out.resolve()}")
    results = {
        "date": date,
        "root": str(a.root.resolve()),
        "rows": [
            {"model": model, "set": s.name, "unscored_joints": list(s.unscored_joints),
             "head_norm": s.head_norm, **s.evaluation.metrics}
            for model, s in rows
        ]
        + [
            {"model": name, "set": s.name, "seeds": list(a.seeds),
             "per_seed": list(s.seed_metrics), **s.evaluation.metrics}
            for name, floor in floors.values()
            for s in floor.values()
        ],
    }  # fmt: skip
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
