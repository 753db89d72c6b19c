"""The ``pose2d`` task's predictor: top-down 2D pose on images (one crop per person box).

`Pose2DPredictor.predict_files` is what ``posekit predict POSE2D.ckpt photo.jpg`` runs: it
writes the keypoints of each image in the keypoints JSON format (so that a lifter can take
them: ``posekit predict LIFTER.ckpt photo.json``) and a picture of the skeletons.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posekit._io import atomic_write
from posekit.data.images import read_image
from posekit.engine.predict import ModelInfo, PredictOptions, Runner
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.codec import Pose2DCodec
from posekit.tasks.pose2d.config import HeatmapCodecConfig
from posekit.viz._figure import save_png
from posekit.viz.overlay import draw_skeleton

__all__ = ["KeypointImagePredictor", "Pose2DPrediction", "Pose2DPredictor", "read_boxes"]


def read_boxes(path: Path | None) -> dict[str, np.ndarray]:
    """Person boxes per image file name from a boxes JSON file (``{name: [[x0, y0, x1, y1],
    ...]}``); {} without a file.

    Raises:
        FileNotFoundError, ValueError: a missing or malformed file (the message names it and
            the entry).
    """
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


@dataclass
class Pose2DPrediction:
    """2D keypoints of the people of one image.

    Attributes:
        skeleton: the model's layout.
        keypoints: (P, J, 2) image pixels.
        scores: (P, J) joint confidences (heatmap maxima; 1 for regression models).
        boxes: (P, 4) the person boxes the crops were cut around (x0, y0, x1, y1).
    """

    skeleton: str
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray


class KeypointImagePredictor:
    """What the image predictors of 2D keypoints share: the model's layout and input size,
    the runner as a tensor function, and ``predict_files`` (keypoints JSON and pictures per
    image). Subclasses implement ``predict(image, boxes) -> Pose2DPrediction``.

    Args:
        runner: the network (torch or ONNX) taking ``image``.
        info: the model's metadata.
    """

    task = ""

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        self.runner, self.info = runner, info
        self.skeleton = get_skeleton(info.config.get("skeleton", "coco17")).name
        self.input_size: tuple[int, int] = tuple(info.config["input_size"])  # type: ignore[assignment]

    def network(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The runner as a function of an image batch (B, 3, H, W) → output tensors."""
        out = self.runner(image=images.numpy())
        return {k: torch.as_tensor(v) for k, v in out.items()}

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None) -> Pose2DPrediction:
        raise NotImplementedError

    def predict_files(
        self, inputs: Sequence[Path], out: Path, options: PredictOptions
    ) -> Iterator[str]:
        """Find the people of image files; write ``<stem>.json`` (keypoints JSON, one entry per
        person) and ``<stem>.png`` (the skeletons drawn) per input into ``out``; yield one
        summary line per input. Every image is read before anything is written."""
        boxes = read_boxes(options.boxes)
        images = [(path, read_image(path)) for path in inputs]  # all checked before writing
        out.mkdir(parents=True, exist_ok=True)
        for path, image in images:
            pred = self.predict(image, boxes.get(path.name))
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
                "image": os.path.relpath(path.resolve(), out.resolve()),
                "checkpoint": str(options.source),
                "backend": self.info.backend,
                "task": self.task,
                "model": self.info.model,
                "people": people,
            }
            out_json = out / f"{path.stem}.json"
            atomic_write(out_json, (json.dumps(doc, indent=1) + "\n").encode())
            if options.pictures:
                thick = max(2, round(max(image.shape[:2]) / 250))
                pic = draw_skeleton(image, kps, scs > 0.2, pred.skeleton, thick)
                save_png(out / f"{path.stem}.png", pic)
            yield f"{path}: {len(people)} person(s) -> {out_json}"


class Pose2DPredictor(KeypointImagePredictor):
    """Top-down 2D pose on images: crop each person box, run the model, map back.

    Without boxes the whole image is one person's box (the model was trained on crops of one
    person with 25 % margin; a photo framed on one person matches that). Crops are cut with
    the training pipeline's affine crop, without augmentation; the outputs are decoded by the
    training codec, with the flip test when the experiment's ``eval.flip_test`` is set.
    """

    task = "pose2d"

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        super().__init__(runner, info)
        self.codec_config = HeatmapCodecConfig(**(info.experiment.get("codec") or {}))
        self.flip_test = bool((info.experiment.get("eval") or {}).get("flip_test", False))
        self._codec: Pose2DCodec | None = None

    def codec(self, images: torch.Tensor) -> Pose2DCodec:
        """The training codec of the model (`Pose2DCodec` from the experiment's ``codec``
        section), built on the first call from the outputs of one crop."""
        if self._codec is None:
            shapes = {k: tuple(v.shape) for k, v in self.network(images[:1]).items()}
            self._codec = Pose2DCodec(self.codec_config, shapes, self.input_size, self.skeleton)
        return self._codec

    def predict(
        self, image: np.ndarray, boxes: np.ndarray | None = None, padding: float = 1.25
    ) -> Pose2DPrediction:
        """Keypoints of the people in ``boxes`` (default: the whole image, no padding).

        Shapes:
            image: (H, W, 3) uint8 RGB; boxes: (P, 4) pixels or None.
        """
        from posekit.data.pose2d import normalize_image
        from posekit.data.transforms import AugmentParams, crop_and_augment
        from posekit.geometry.crops import apply_affine, bbox_to_center_scale, invert_affine

        H, W = image.shape[:2]
        if boxes is None:
            boxes, padding = np.array([[0.0, 0.0, W - 1.0, H - 1.0]]), 1.0
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        J = get_skeleton(self.skeleton).num_joints
        crops, inverses = [], []
        for box in boxes:
            center, height = bbox_to_center_scale(torch.from_numpy(box), self.input_size)
            crop, _, _, M = crop_and_augment(
                image, np.zeros((J, 2)), np.zeros(J, bool), center, float(height) * padding,
                self.input_size, AugmentParams(), self.skeleton,
            )  # fmt: skip
            crops.append(normalize_image(crop))
            inverses.append(invert_affine(M).float())
        if not crops:
            empty = np.zeros((0, J))
            return Pose2DPrediction(self.skeleton, np.zeros((0, J, 2)), empty, boxes)
        images = torch.stack(crops)
        kp, scores = self.codec(images).predict(self.network, images, self.flip_test)
        A = torch.stack(inverses)  # (P, 2, 3) crop -> image
        kp_img = apply_affine(kp.float(), A)
        return Pose2DPrediction(self.skeleton, kp_img.numpy(), scores.float().numpy(), boxes)
