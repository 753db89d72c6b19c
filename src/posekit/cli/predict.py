"""``posekit predict CHECKPOINT INPUT... --out DIR``: run a trained model on user files.

What the inputs are depends on the checkpoint's task:

- ``pose2d``: images (JPEG, PNG, ...; grayscale and alpha are converted). Writes
  ``<stem>.json`` (keypoints per person in the keypoints JSON format, so it can be lifted to
  3D by ``posekit predict LIFTER.ckpt <stem>.json``) and ``<stem>.png`` (the skeletons drawn on
  the image). One person per image (the whole image is the crop) unless ``--boxes`` gives
  person boxes. ``bottomup`` (associative embedding): every person in the image, no boxes.
- ``lift``: 2D keypoints JSON files (`posekit.data.keypoints_json`; coco17, h36m17 or any
  layout a regressor maps to the model's). Writes ``<stem>.json`` (3D joints per person,
  root-relative camera frame, metres) and ``<stem>.png`` (the 2D input and the 3D pose from
  several viewpoints) per input.

Every input is checked before anything is written; a bad input names the file and the field
and exits non-zero with nothing written. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_parser", "lift_picture", "run"]

_EPILOG = """\
examples:
  posekit predict runs/lift_martinez_tiny/checkpoints/best.ckpt keypoints.json --out pred/
  posekit predict best.ckpt a.json b.json --out pred/ --backend onnx
  posekit predict best.onnx keypoints.json --out pred/
  posekit predict runs/pose2d_hourglass_tiny/checkpoints/best.ckpt photo.jpg --out pred/
  posekit predict pose2d.ckpt a.jpg b.png --boxes boxes.json --out pred/

keypoints JSON (one object per image, or a list of them):
  {"skeleton": "coco17", "image_size": [H, W], "K": [[fx,0,cx],[0,fy,cy],[0,0,1]],
   "image": "photo.jpg", "people": [{"keypoints": [[x, y, score], ...]}]}
"image_size" or "K" is required; "K" and "image" are optional. A joint with score 0 is missing.

boxes JSON (pose2d): {"a.jpg": [[x0, y0, x1, y1], ...], ...}, keyed by file name; an image
without an entry is one person filling the image.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run a checkpoint (or its ONNX export) on input files; JSON and pictures out",
        description="Predict with a model trained by `posekit train`.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt from posekit train or .onnx from export")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="input files")
    p.add_argument("--out", type=Path, required=True, help="folder for the predictions")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--no-pictures", action="store_true", help="write the JSON only")
    p.add_argument(
        "--boxes", type=Path, default=None, help="pose2d: JSON of person boxes per image name"
    )
    p.set_defaults(func=run)


def _round(a: np.ndarray, digits: int) -> Any:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def lift_picture(frame: Any, pred: Any, image: np.ndarray | None = None) -> np.ndarray:
    """The 2D input (on ``image``, or the image the frame names) beside the 3D poses.

    Shapes:
        returns: (H, W, 3) uint8 RGB.
    """
    import cv2

    from posekit.data.images import read_image
    from posekit.viz.overlay import draw_skeleton
    from posekit.viz.plots3d import plot_pose3d

    if image is not None:
        canvas = image
    elif frame.image is not None:
        canvas = read_image(frame.image)
    else:
        H, W = frame.image_size if frame.image_size else (1000, 1000)
        canvas = np.full((H, W, 3), 235, np.uint8)
    if len(pred.keypoints2d):
        kp = np.where(pred.visibility[..., None], pred.keypoints2d, np.nan)
        canvas = draw_skeleton(
            canvas, kp, pred.visibility, pred.skeleton, thickness=max(2, canvas.shape[0] // 300)
        )
    panels = [
        plot_pose3d(j, pred.skeleton, frame="camera", title=f"person {p}")
        for p, j in enumerate(pred.joints3d)
    ]
    h = panels[0].shape[0] if panels else 420
    scale = h / canvas.shape[0]
    left = cv2.resize(
        canvas, (max(1, round(canvas.shape[1] * scale)), h), interpolation=cv2.INTER_AREA
    )
    rows = [np.concatenate([left, p], axis=1) for p in panels] or [left]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def _lift(args: argparse.Namespace, predictor: Any) -> int:
    from posekit._io import atomic_write
    from posekit.data.keypoints_json import read_keypoints_json
    from posekit.skeletons import get_skeleton
    from posekit.viz._figure import save_png

    # Read and check every input first: a bad file stops the run before anything is written.
    files = [(path, read_keypoints_json(path)) for path in args.inputs]
    for _path, frames in files:
        for frame in frames:
            predictor.frame_intrinsics(frame)  # raises on a frame that cannot be interpreted
            if frame.image is not None and not frame.image.is_file():
                raise FileNotFoundError(f"{frame.source}: image: no such file {frame.image}")
    args.out.mkdir(parents=True, exist_ok=True)
    stems: dict[str, int] = {}
    for path, frames in files:
        stem = path.stem
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f"{stem}_{stems[stem]}"
        results = []
        for i, frame in enumerate(frames):
            pred = predictor.predict(frame)
            results.append(
                {
                    "source": frame.source,
                    "skeleton": pred.skeleton,
                    "joints": list(get_skeleton(pred.skeleton).joints),
                    "frame": "camera (x right, y down, z forward), root-relative, metres",
                    "people": [
                        {
                            "joints3d_m": _round(j, 5),
                            "keypoints2d_px": _round(k, 2),
                            "visible": v.tolist(),
                        }
                        for j, k, v in zip(
                            pred.joints3d, pred.keypoints2d, pred.visibility, strict=True
                        )
                    ],
                }
            )
            if not args.no_pictures:
                name = f"{stem}.png" if len(frames) == 1 else f"{stem}_{i:03d}.png"
                save_png(args.out / name, lift_picture(frame, pred))
        doc = {
            "checkpoint": str(args.checkpoint),
            "backend": predictor.info.backend,
            "precision": predictor.info.precision,
            "task": "lift",
            "model": predictor.info.model,
            "frames": results,
        }
        out_json = args.out / f"{stem}.json"
        atomic_write(out_json, (json.dumps(doc, indent=1) + "\n").encode())
        n = sum(len(r["people"]) for r in results)
        print(f"{path}: {len(results)} frame(s), {n} person(s) lifted -> {out_json}")
    return 0


def _read_boxes(path: Path | None) -> dict[str, np.ndarray]:
    if path is None:
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such boxes file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: malformed JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object {{image name: [[x0, y0, x1, y1], ...]}}")
    out = {}
    for name, boxes in doc.items():
        arr = np.asarray(boxes, dtype=np.float64) if isinstance(boxes, list) else None
        if arr is None or arr.ndim != 2 or arr.shape[1] != 4 or not np.isfinite(arr).all():
            raise ValueError(f"{path}: {name}: expected a list of [x0, y0, x1, y1] boxes")
        if ((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])).any():
            raise ValueError(f"{path}: {name}: expected x1 > x0 and y1 > y0 in every box")
        out[name] = arr
    return out


def _pose2d(args: argparse.Namespace, predictor: Any) -> int:
    import os

    from posekit._io import atomic_write
    from posekit.data.images import read_image
    from posekit.viz._figure import save_png
    from posekit.viz.overlay import draw_skeleton

    boxes = _read_boxes(args.boxes)
    images = [(path, read_image(path)) for path in args.inputs]  # all checked before writing
    args.out.mkdir(parents=True, exist_ok=True)
    for path, image in images:
        pred = predictor.predict(image, boxes.get(path.name))
        found = np.isfinite(pred.keypoints).all(-1)  # joints a grouping left unplaced: score 0
        kps = np.where(found[..., None], pred.keypoints, 0.0)
        scs = np.where(found, pred.scores, 0.0)
        people = [
            {
                "keypoints": np.round(
                    np.concatenate([k, s[:, None]], axis=1).astype(np.float64), 3
                ).tolist(),
                "bbox": np.round(b, 2).tolist(),
            }
            for k, s, b in zip(kps, scs, pred.boxes, strict=True)
        ]
        doc = {
            "skeleton": pred.skeleton,
            "image_size": list(image.shape[:2]),
            "image": os.path.relpath(path.resolve(), args.out.resolve()),
            "checkpoint": str(args.checkpoint),
            "backend": predictor.info.backend,
            "task": predictor.task,
            "model": predictor.info.model,
            "people": people,
        }
        out_json = args.out / f"{path.stem}.json"
        atomic_write(out_json, (json.dumps(doc, indent=1) + "\n").encode())
        if not args.no_pictures:
            thick = max(2, round(max(image.shape[:2]) / 250))
            pic = draw_skeleton(image, kps, scs > 0.2, pred.skeleton, thick)
            save_png(args.out / f"{path.stem}.png", pic)
        print(f"{path}: {len(people)} person(s) -> {out_json}")
    return 0


def run(args: argparse.Namespace) -> int:
    from posekit.engine.predict import load_predictor

    for path in args.inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such input file")
    predictor = load_predictor(args.checkpoint, backend=args.backend, device=args.device)
    if predictor.task == "lift":
        return _lift(args, predictor)
    if predictor.task in ("pose2d", "bottomup"):
        return _pose2d(args, predictor)
    raise ValueError(f"{args.checkpoint}: predict does not handle task {predictor.task!r}")
