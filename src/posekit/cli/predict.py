"""``posekit predict CHECKPOINT INPUT... --out DIR``: run a trained model on user files.

What the inputs are depends on the checkpoint's task; its predictor (the task's
`TaskSpec.predictor`) checks them, writes the outputs and says what it wrote:

- ``pose2d``: images (JPEG, PNG, ...; grayscale and alpha are converted). Writes
  ``<stem>.json`` (keypoints per person in the keypoints JSON format, so it can be lifted to
  3D by ``posekit predict LIFTER.ckpt <stem>.json``) and ``<stem>.png`` (the skeletons drawn on
  the image). One person per image (the whole image is the crop) unless ``--boxes`` gives
  person boxes. ``bottomup`` (associative embedding): every person in the image, no boxes.
- ``lift``: 2D keypoints JSON files (`posekit.data.keypoints_json`; coco17, h36m17 or any
  layout a regressor maps to the model's). Writes ``<stem>.json`` (3D joints per person,
  root-relative camera frame, metres) and ``<stem>.png`` (the 2D input and the 3D pose from
  several viewpoints) per input.
- ``hand``: depth maps (16-bit PNG in millimetres, NYU's RGB-encoded PNG, or ``.npy`` in
  metres) with ``--K fx,fy,cx,cy`` (default: NYU's Kinect scaled to the map) and optionally
  ``--center u,v[,z]`` (a point in the hand; default: the nearest surface). Writes
  ``<stem>.json`` (3D hand joints, camera frame, metres) and ``<stem>.png`` (the joints over
  the depth map and in 3D).
- ``pose3d``: images, one person per image unless ``--boxes`` gives person boxes, with
  ``--K fx,fy,cx,cy`` for 3D in the camera frame (without it a 53° camera is assumed and only
  root-relative joints are written). Writes ``<stem>.json`` (per person: 2D pixels, depth
  relative to the pelvis, root-relative 3D and, with ``--K``, camera-frame 3D, metres) and
  ``<stem>.png`` (the skeletons over the photo and each 3D pose from several viewpoints).

Every input is checked before anything is written; a bad input names the file and the field
and exits non-zero with nothing written. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]

_EPILOG = """\
examples:
  posekit predict runs/lift_martinez_tiny/checkpoints/best.ckpt keypoints.json --out pred/
  posekit predict best.ckpt a.json b.json --out pred/ --backend onnx
  posekit predict best.onnx keypoints.json --out pred/
  posekit predict runs/pose2d_hourglass_tiny/checkpoints/best.ckpt photo.jpg --out pred/
  posekit predict pose2d.ckpt a.jpg b.png --boxes boxes.json --out pred/
  posekit predict runs/hand_v2v_tiny/checkpoints/best.ckpt depth.png --out pred/
  posekit predict hand.ckpt depth.png --K 588.0,587.1,320,240 --center 300,220 --out pred/
  posekit predict pose3d.ckpt photo.jpg --K 1145,1144,512,515 --out pred/

keypoints JSON (one object per image, or a list of them):
  {"skeleton": "coco17", "image_size": [H, W], "K": [[fx,0,cx],[0,fy,cy],[0,0,1]],
   "image": "photo.jpg", "people": [{"keypoints": [[x, y, score], ...]}]}
"image_size" or "K" is required; "K" and "image" are optional. A joint with score 0 is missing.

boxes JSON (pose2d): {"a.jpg": [[x0, y0, x1, y1], ...], "b.jpg": [], ...}, keyed by the
image's path as given (or its file name when no other input shares it); [] means nobody; an
image without an entry is one person filling the image. A key that names no input is an error.

Outputs are named after the inputs' stems; inputs sharing a stem get the file name
(photo.jpg.json, photo.png.json) or their folders (d1__photo.json, d2__photo.json).
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
    p.add_argument(
        "--K",
        default=None,
        metavar="FX,FY,CX,CY",
        help="hand: intrinsics of the depth maps; pose3d: of the photos (absolute 3D)",
    )
    p.add_argument(
        "--center", default=None, metavar="U,V[,Z]", help="hand: a point in the hand (px, m)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from posekit.engine.predict import PredictOptions, load_predictor

    for path in args.inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such input file")
    predictor = load_predictor(args.checkpoint, backend=args.backend, device=args.device)
    if (args.K is not None or args.center is not None) and not getattr(
        predictor, "camera_options", False
    ):
        raise ValueError(
            f"--K / --center: for the hand and pose3d tasks; {args.checkpoint} is a "
            f"{predictor.task} model"
        )
    options = PredictOptions(
        args.checkpoint,
        pictures=not args.no_pictures,
        boxes=args.boxes,
        intrinsics=args.K,
        center=args.center,
    )
    for line in predictor.predict_files(args.inputs, args.out, options):
        print(line)
    return 0
