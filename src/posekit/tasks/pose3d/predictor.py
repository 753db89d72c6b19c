"""The ``pose3d`` task's predictor: 3D joints of the people in a user's photo.

One crop per person box (``--boxes``; default: the whole image is one person), cut as in
training; the model's 2.5D output (pixels + depth relative to the root) is placed in 3D with
the intrinsics (``--K fx,fy,cx,cy``) and the training set's mean bone lengths
(`posekit.tasks.pose3d.evaluation.camera_joints`). Without ``--K`` a pinhole with the focal
length of the image's longer side (a 53° field of view) at the image centre is assumed: the
root-relative joints are written, the absolute ones (which need the real camera) are not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._io import atomic_write, remove_stale_temporaries
from posekit.data.images import read_image
from posekit.engine.predict import (
    ModelInfo,
    PredictOptions,
    Runner,
    dump_json,
    output_names,
    parse_intrinsics_text,
)
from posekit.skeletons import get_skeleton
from posekit.tasks.pose2d.predictor import (
    boxes_for_inputs,
    check_boxes,
    person_crops,
    read_boxes,
)
from posekit.tasks.pose3d.codec import Pose3DCodec
from posekit.tasks.pose3d.config import Pose3DCodecConfig
from posekit.viz._figure import save_png

__all__ = [
    "Pose3DPrediction",
    "Pose3DPredictor",
    "check_photo",
    "default_intrinsics",
    "pose3d_picture",
]

PICTURE_HEIGHT_PX = 420
MIN_SIDE_PX = 16


def default_intrinsics(image_hw: tuple[int, int]) -> np.ndarray:
    """The assumed camera of a photo without ``--K``: focal length = the longer side (px),
    principal point at the image centre. Shapes: -> (3, 3)."""
    H, W = image_hw
    f = float(max(H, W))
    return np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])


@dataclass
class Pose3DPrediction:
    """3D joints of the people of one image.

    Attributes:
        skeleton: the model's layout.
        keypoints2d: (P, J, 2) image pixels; depth_rel_m: (P, J) depth relative to the root.
        joints3d_rel_m: (P, J, 3) root-relative camera frame, metres.
        joints3d_cam_m: (P, J, 3) camera frame, metres (placed with ``K``).
        confidences: (P, J); boxes: (P, 4) the person boxes; K: (3, 3) the intrinsics used;
        K_given: whether ``K`` is the user's (else `default_intrinsics`).
    """

    skeleton: str
    keypoints2d: np.ndarray
    depth_rel_m: np.ndarray
    joints3d_rel_m: np.ndarray
    joints3d_cam_m: np.ndarray
    confidences: np.ndarray
    boxes: np.ndarray
    K: np.ndarray
    K_given: bool


def pose3d_picture(image: np.ndarray, pred: Pose3DPrediction) -> np.ndarray:
    """The 2D skeletons over the image beside each person's 3D pose from several viewpoints.

    Shapes:
        image: (H, W, 3) uint8 RGB. returns: (h, w, 3) uint8 RGB.
    """
    import cv2

    from posekit.viz.overlay import draw_skeleton
    from posekit.viz.plots3d import plot_pose3d

    thick = max(2, round(max(image.shape[:2]) / 250))
    canvas = draw_skeleton(
        image, pred.keypoints2d, np.ones(pred.keypoints2d.shape[:2], bool), pred.skeleton, thick
    )
    panels = [
        plot_pose3d(j, pred.skeleton, frame="camera", title=f"person {p} (root-relative)")
        for p, j in enumerate(pred.joints3d_rel_m)
    ]
    h = panels[0].shape[0] if panels else PICTURE_HEIGHT_PX
    scale = h / canvas.shape[0]
    left = cv2.resize(
        canvas, (max(1, round(canvas.shape[1] * scale)), h), interpolation=cv2.INTER_AREA
    )
    rows = [np.concatenate([left, p], axis=1) for p in panels] or [left]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def check_photo(path: Path, image_hw: tuple[int, int], K: np.ndarray | None) -> None:
    """Refuse an image too small to hold a person (under `MIN_SIDE_PX` on a side) and
    intrinsics whose principal point lies more than an image size outside it (a ``--K`` of
    another camera or resolution).

    Raises:
        ValueError: naming the file and what is wrong.
    """
    H, W = image_hw
    if min(H, W) < MIN_SIDE_PX:
        raise ValueError(f"{path}: image of {W}x{H} px; expected at least {MIN_SIDE_PX} per side")
    if K is not None:
        cx, cy = float(K[0, 2]), float(K[1, 2])
        if not (-W <= cx <= 2 * W and -H <= cy <= 2 * H):
            raise ValueError(
                f"{path}: --K principal point ({cx:g}, {cy:g}) lies far outside the {W}x{H} "
                "image; give the intrinsics of this image's camera and resolution"
            )


def _round(a: Any, digits: int) -> Any:
    return np.round(np.asarray(a, np.float64), digits).tolist()


class Pose3DPredictor:
    """3D pose of the people in images: crop each person box, run the model, place in 3D.

    Args:
        runner: the network (torch or ONNX) taking ``image``.
        info: the model's metadata (the experiment's ``codec`` carries the bone lengths).

    Raises:
        ValueError: a model trained without measured bone lengths.
    """

    task = "pose3d"
    #: ``posekit predict`` may pass ``--K`` to this predictor.
    camera_options = True

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        from posekit.models import create_model

        self.runner, self.info = runner, info
        exp = info.experiment
        self.codec_config = Pose3DCodecConfig(**(exp.get("codec") or {}))
        if self.codec_config.bone_lengths_m is None:
            raise ValueError(
                f"{info.path}: the model carries no codec.bone_lengths_m (measured when "
                "training starts): it cannot place its predictions in 3D"
            )
        self.bone_lengths = torch.tensor(self.codec_config.bone_lengths_m, dtype=torch.float64)
        model = create_model(info.model, info.preset, **(exp["model"].get("overrides") or {}))
        self.skeleton = get_skeleton(model.config.skeleton).name
        self.input_size: tuple[int, int] = tuple(model.config.input_size)  # type: ignore[assignment]
        self.codec = Pose3DCodec(
            self.codec_config, model.output_shapes(1), self.input_size, self.skeleton, info.model
        )
        self.flip_test = bool((exp.get("eval") or {}).get("flip_test", False))

    def network(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The runner as a function of an image batch (B, 3, H, W) → output tensors."""
        out = self.runner(image=images.numpy())
        return {k: torch.as_tensor(v) for k, v in out.items()}

    def predict(
        self,
        image: np.ndarray,
        boxes: np.ndarray | None = None,
        K: np.ndarray | None = None,
        padding: float = 1.25,
    ) -> Pose3DPrediction:
        """3D joints of the people in ``boxes`` (default: the whole image, no padding).

        Shapes:
            image: (H, W, 3) uint8 RGB; boxes: (P, 4) pixels or None; K: (3, 3) or None
            (`default_intrinsics`).
        """
        from posekit.geometry.crops import apply_affine
        from posekit.tasks.pose3d.evaluation import camera_joints

        H, W = image.shape[:2]
        K_given = K is not None
        K = np.asarray(K if K is not None else default_intrinsics((H, W)), np.float64)
        images, inverses, boxes = person_crops(
            image, boxes, self.input_size, self.skeleton, padding
        )
        J = get_skeleton(self.skeleton).num_joints
        if len(boxes) == 0:
            z2, z1, z3 = np.zeros((0, J, 2)), np.zeros((0, J)), np.zeros((0, J, 3))
            return Pose3DPrediction(self.skeleton, z2, z1, z3, z3, z1, boxes, K, K_given)
        kp, dz, conf = self.codec.predict(self.network, images, self.flip_test)
        kp_img = apply_affine(kp.float(), inverses).double()
        Kt = torch.from_numpy(K)[None].expand(len(boxes), 3, 3)
        rel, cam = camera_joints(kp_img, dz.double(), Kt, self.skeleton, self.bone_lengths)
        return Pose3DPrediction(
            self.skeleton,
            kp_img.numpy(),
            dz.double().numpy(),
            rel.double().numpy(),
            cam.double().numpy(),
            conf.float().numpy(),
            boxes,
            K,
            K_given,
        )

    def predict_files(
        self, inputs: Sequence[Path], out: Path, options: PredictOptions
    ) -> Iterator[str]:
        """Predict the people of each image; write ``<name>.json`` and ``<name>.png``. Every
        image, box and the intrinsics are read, checked and predicted before anything is
        written.

        Raises:
            ValueError: ``--center`` (a depth option), malformed ``--K`` or boxes.
        """
        if options.center is not None:
            raise ValueError("--center: for depth maps (task hand); give --boxes for photos")
        K = parse_intrinsics_text(options.intrinsics) if options.intrinsics else None
        boxes = boxes_for_inputs(read_boxes(options.boxes), inputs, options.boxes)
        images = [read_image(path) for path in inputs]
        for path, image, bx in zip(inputs, images, boxes, strict=True):
            check_photo(path, image.shape[:2], K)
            if bx is not None:
                check_boxes(bx, image.shape[:2], f"{options.boxes}: {path}")
        results = []
        for path, image, bx in zip(inputs, images, boxes, strict=True):
            pred = self.predict(image, bx, K)
            people = []
            for p in range(len(pred.boxes)):
                person = {
                    "bbox": _round(pred.boxes[p], 2),
                    "keypoints2d_px": _round(pred.keypoints2d[p], 2),
                    "confidence": _round(pred.confidences[p], 4),
                    "depth_rel_m": _round(pred.depth_rel_m[p], 4),
                    "joints3d_rel_m": _round(pred.joints3d_rel_m[p], 4),
                }
                if pred.K_given:
                    person["joints3d_cam_m"] = _round(pred.joints3d_cam_m[p], 4)
                people.append(person)
            doc = {
                "checkpoint": str(options.source),
                "backend": self.info.backend,
                "task": self.task,
                "model": self.info.model,
                "image": str(path),
                "image_size": list(image.shape[:2]),
                "skeleton": pred.skeleton,
                "joints": list(get_skeleton(pred.skeleton).joints),
                "frame": "camera (x right, y down, z forward), metres; rel: minus the root",
                "K": _round(pred.K, 4),
                "K_given": pred.K_given,
                "people": people,
            }
            try:
                text = dump_json(doc)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
            results.append((path, image, pred, text))
        names = output_names(list(inputs))
        out.mkdir(parents=True, exist_ok=True)
        for (path, image, pred, text), name in zip(results, names, strict=True):
            for target in (f"{name}.json", f"{name}.png"):
                remove_stale_temporaries(out / target)
            if options.pictures:
                save_png(out / f"{name}.png", pose3d_picture(image, pred))
            atomic_write(out / f"{name}.json", text)
            where = "camera frame" if pred.K_given else "root-relative (no --K)"
            yield f"{path}: {len(pred.boxes)} person(s), 3D {where} -> {out / (name + '.json')}"
