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

from posekit._io import atomic_write, remove_stale_temporaries
from posekit.data.images import read_image
from posekit.engine.predict import ModelInfo, PredictOptions, Runner, dump_json, output_names
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.codec import Pose2DCodec
from posekit.tasks.pose2d.config import HeatmapCodecConfig
from posekit.viz._figure import save_png
from posekit.viz.overlay import draw_skeleton

__all__ = [
    "KeypointImagePredictor",
    "Pose2DPrediction",
    "Pose2DPredictor",
    "boxes_for_inputs",
    "check_boxes",
    "person_crops",
    "read_boxes",
]


def read_boxes(path: Path | None) -> dict[str, np.ndarray]:
    """Person boxes per image from a boxes JSON file (``{image: [[x0, y0, x1, y1], ...]}``,
    ``[]`` for an image without people); {} without a file.

    Raises:
        FileNotFoundError, ValueError: a missing or malformed file (the message names it and
            the entry).
    """
    if path is None:
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such boxes file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: malformed JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object {{image: [[x0, y0, x1, y1], ...]}}")
    out = {}
    for name, boxes in doc.items():
        ok = isinstance(boxes, list) and all(
            isinstance(b, list)
            and len(b) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in b)
            for b in boxes
        )
        if not ok:
            raise ValueError(
                f"{path}: {name}: expected a list of [x0, y0, x1, y1] boxes (numbers), or [] "
                f"for no person; got {json.dumps(boxes)[:80]}"
            )
        arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if not np.isfinite(arr).all():
            raise ValueError(f"{path}: {name}: expected finite numbers in every box")
        if ((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])).any():
            raise ValueError(f"{path}: {name}: expected x1 > x0 and y1 > y0 in every box")
        out[name] = arr
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number in JSON")


def boxes_for_inputs(
    boxes: dict[str, np.ndarray], inputs: Sequence[Path], source: Path | None
) -> list[np.ndarray | None]:
    """The boxes of each input image (None: no entry). A key names an input by its path as
    given, its resolved path, or its file name when that name is unique among the inputs.

    Raises:
        ValueError: a key that matches no input, or a file name shared by several inputs
            (the message names the key and the inputs).
    """
    out: list[np.ndarray | None] = [None] * len(inputs)
    resolved = [Path(p).resolve() for p in inputs]
    names: dict[str, list[int]] = {}
    for i, p in enumerate(inputs):
        names.setdefault(Path(p).name, []).append(i)
    for key, arr in boxes.items():
        hits = [i for i, p in enumerate(inputs) if key == str(p) or Path(key) == Path(p)]
        hits = hits or [i for i, r in enumerate(resolved) if Path(key).resolve() == r]
        if not hits and key in names:
            hits = names[key]
            if len(hits) > 1:
                shared = ", ".join(str(inputs[i]) for i in hits)
                raise ValueError(
                    f"{source}: {key}: names {len(hits)} inputs ({shared}); key their boxes by path"
                )
        if not hits:
            raise ValueError(
                f"{source}: {key}: matches no input image; inputs: "
                f"{', '.join(str(p) for p in inputs)}"
            )
        for i in hits:
            if out[i] is not None:
                raise ValueError(f"{source}: {key}: {inputs[i]} has boxes under two keys")
            out[i] = arr
    return out


def check_boxes(boxes: np.ndarray, image_hw: tuple[int, int], where: str) -> None:
    """Refuse boxes a crop cannot come from: entirely outside the image, or with corners
    more than one image size beyond its edges.

    Raises:
        ValueError: naming ``where`` and the box.
    """
    H, W = image_hw
    side = float(max(H, W))
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        if min(x0, y0) < -side or x1 > W + side or y1 > H + side:
            raise ValueError(
                f"{where}: box {k} [{x0:g}, {y0:g}, {x1:g}, {y1:g}] reaches more than the image "
                f"size ({W}x{H}) beyond the image"
            )
        if x1 <= -0.5 or y1 <= -0.5 or x0 >= W - 0.5 or y0 >= H - 0.5:
            raise ValueError(
                f"{where}: box {k} [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the image "
                f"({W}x{H})"
            )


def person_crops(
    image: np.ndarray,
    boxes: np.ndarray | None,
    input_size: tuple[int, int],
    skeleton: str,
    padding: float = 1.25,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The model inputs of the people in ``boxes``, cut as in training (no augmentation).

    ``boxes`` None: the whole image is one person's box, without padding.

    Shapes:
        image: (H, W, 3) uint8 RGB; boxes: (P, 4) pixels or None -> normalized crops
        (P, 3, h, w), crop -> image affines (P, 2, 3), the boxes used (P, 4).
    """
    from posekit.data.pose2d import normalize_image
    from posekit.data.transforms import AugmentParams, crop_and_augment
    from posekit.geometry.crops import bbox_to_center_scale, invert_affine

    H, W = image.shape[:2]
    if boxes is None:
        boxes, padding = np.array([[0.0, 0.0, W - 1.0, H - 1.0]]), 1.0
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    J = get_skeleton(skeleton).num_joints
    crops, inverses = [], []
    for box in boxes:
        center, height = bbox_to_center_scale(torch.from_numpy(box), input_size)
        crop, _, _, M = crop_and_augment(
            image, np.zeros((J, 2)), np.zeros(J, bool), center, float(height) * padding,
            input_size, AugmentParams(), skeleton,
        )  # fmt: skip
        crops.append(normalize_image(crop))
        inverses.append(invert_affine(M).float())
    if not crops:
        h, w = input_size
        return torch.zeros(0, 3, h, w), torch.zeros(0, 2, 3), boxes
    return torch.stack(crops), torch.stack(inverses), boxes


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
        """Find the people of image files; write ``<name>.json`` (keypoints JSON, one entry
        per person) and ``<name>.png`` (the skeletons drawn) per input into ``out``; yield one
        summary line per input. Output names are the inputs' stems, made distinct where they
        collide (`output_names`). Every image and box is read, checked and predicted before
        anything is written."""
        boxes = boxes_for_inputs(read_boxes(options.boxes), inputs, options.boxes)
        images = [read_image(path) for path in inputs]
        for path, image, bx in zip(inputs, images, boxes, strict=True):
            if bx is not None:
                check_boxes(bx, image.shape[:2], f"{options.boxes}: {path}")
        names = output_names(inputs)
        results = []
        for path, image, bx in zip(inputs, images, boxes, strict=True):
            pred = self.predict(image, bx)
            found = np.isfinite(pred.keypoints).all(-1)  # joints a grouping left unplaced
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
            try:
                text = dump_json(doc)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
            results.append((kps, scs, pred.skeleton, text, len(people)))
        out.mkdir(parents=True, exist_ok=True)
        for path, image, name, (kps, scs, skeleton, text, n) in zip(
            inputs, images, names, results, strict=True
        ):
            for suffix in (".json", ".png"):  # what a killed earlier run left
                remove_stale_temporaries(out / f"{name}{suffix}")
            if options.pictures:
                thick = max(2, round(max(image.shape[:2]) / 250))
                save_png(out / f"{name}.png", draw_skeleton(image, kps, scs > 0.2, skeleton, thick))
            out_json = out / f"{name}.json"
            atomic_write(out_json, text)
            yield f"{path}: {n} person(s) -> {out_json}"


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
        from posekit.geometry.crops import apply_affine

        images, inverses, boxes = person_crops(
            image, boxes, self.input_size, self.skeleton, padding
        )
        J = get_skeleton(self.skeleton).num_joints
        if len(boxes) == 0:
            empty = np.zeros((0, J))
            return Pose2DPrediction(self.skeleton, np.zeros((0, J, 2)), empty, boxes)
        kp, scores = self.codec(images).predict(self.network, images, self.flip_test)
        kp_img = apply_affine(kp.float(), inverses)
        return Pose2DPrediction(self.skeleton, kp_img.numpy(), scores.float().numpy(), boxes)
