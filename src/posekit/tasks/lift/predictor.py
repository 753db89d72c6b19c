"""The ``lift`` task's predictor: 2D keypoints in any image's pixels → 3D joints.

`LiftPredictor` lifts the people of keypoints JSON frames (`posekit.data.keypoints_json`) to
root-relative 3D joints in the camera frame, metres; ``predict_files`` is what
``posekit predict LIFTER.ckpt frames.json`` runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._io import atomic_write, remove_stale_temporaries
from posekit.data.keypoints_json import KeypointsFrame, read_keypoints_json
from posekit.engine.predict import ModelInfo, PredictOptions, Runner, dump_json, output_names
from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import convert_keypoints, layout_regressor
from posekit.tasks.lift.inputs import TrainingCamera, lifter_inputs
from posekit.viz._figure import save_png

__all__ = ["PICTURE_SIDE_PX", "LiftPrediction", "LiftPredictor", "lift_picture"]


#: Longest side of the 2D half of a picture, pixels (larger images are drawn scaled down).
PICTURE_SIDE_PX = 1600


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
        s = min(1.0, PICTURE_SIDE_PX / max(H, W))  # a blank canvas costs at most this much
        canvas = np.full((max(1, round(H * s)), max(1, round(W * s)), 3), 235, np.uint8)
    H, W = frame.image_size if frame.image_size else canvas.shape[:2]
    scale = canvas.shape[0] / H  # keypoint pixels -> canvas pixels
    if max(canvas.shape[:2]) > PICTURE_SIDE_PX:
        s = PICTURE_SIDE_PX / max(canvas.shape[:2])
        size = (max(1, round(canvas.shape[1] * s)), max(1, round(canvas.shape[0] * s)))
        canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
        scale *= s
    if len(pred.keypoints2d):
        side = max(canvas.shape[:2])
        kp = np.clip(pred.keypoints2d * scale, -4.0 * side, 5.0 * side)  # drawable coordinates
        kp = np.where(pred.visibility[..., None], kp, np.nan)
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


@dataclass
class LiftPrediction:
    """3D joints lifted from the 2D keypoints of one frame.

    Attributes:
        skeleton: the model's layout.
        joints3d: (P, J, 3) root-relative, camera frame (x right, y down, z forward), metres.
        keypoints2d: (P, J, 2) the model's 2D input in the frame's pixels, model layout.
        visibility: (P, J) bool, the joints the model was told are present.
    """

    skeleton: str
    joints3d: np.ndarray
    keypoints2d: np.ndarray
    visibility: np.ndarray


class LiftPredictor:
    """Lift 2D keypoints in any image's pixels to 3D with a trained lifter.

    A lifter learns 2D → 3D for the cameras it was trained with. The frame's pixels are
    therefore first turned into normalized image-plane coordinates with the frame's intrinsics
    (``K``; without it a camera like the training cameras is assumed: focal length = the
    training focal length scaled by the image size, principal point at the image centre),
    then into the model's input coordinates: ``camera`` models take them as they are;
    ``pixel`` models get them as pixels of the mean training camera (its focal length,
    principal point and image size), normalized as in training.

    Args:
        runner: the network (torch or ONNX) taking ``keypoints2d``, ``visibility``.
        info: the model's metadata.
    """

    task = "lift"

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        self.runner, self.info = runner, info
        self.skeleton = get_skeleton(info.config.get("skeleton", "h36m17")).name
        self.input_coords = info.config.get("input_coords", "pixel")
        params = (info.experiment.get("data") or {}).get("params") or {}
        self.train_camera = TrainingCamera.from_params(params)
        self.train_image_size = self.train_camera.image_size
        self.train_focal_px = self.train_camera.focal_px
        self.train_principal_px = self.train_camera.principal_px

    def frame_intrinsics(self, frame: KeypointsFrame) -> np.ndarray:
        """K of a frame: its own, or the assumed one (see the class docstring).

        Raises:
            ValueError: neither ``K`` nor ``image_size`` in the frame.
        """
        if frame.K is not None:
            return frame.K
        if frame.image_size is None:
            raise ValueError(
                f"{frame.source}: image_size: missing; a lifter needs the image size [H, W] "
                "(or the intrinsics K) to interpret pixel coordinates"
            )
        return self.train_camera.intrinsics(frame.image_size)

    def model_input(self, frame: KeypointsFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(model input (P, J, 2) float32, visibility (P, J) bool, keypoints (P, J, 2) px).

        The input is made by `lifter_inputs` with the frame's K, as in ``posekit eval``.
        """
        kp = torch.from_numpy(frame.keypoints)  # (P, Js, 2)
        vis = torch.from_numpy(frame.scores > 0)
        kp, vis = convert_keypoints(kp, vis, frame.skeleton, self.skeleton)  # (P, J, 2)
        kp = torch.nan_to_num(kp)
        K = torch.from_numpy(np.asarray(self.frame_intrinsics(frame), np.float64))
        x = lifter_inputs(kp, K, vis, self.input_coords, self.train_camera)  # (P, J, 2)
        return x.numpy(), vis.numpy(), kp.numpy()

    def check_frame(self, frame: KeypointsFrame) -> None:
        """Refuse a frame this lifter cannot interpret: a layout of which fewer than half the
        model's joints can be made, a person without one visible mappable joint, or neither
        intrinsics nor an image size.

        Raises:
            ValueError: naming the frame's source and field.
        """
        self.frame_intrinsics(frame)
        W = layout_regressor(frame.skeleton, self.skeleton)  # (J, Js), NaN rows: unmappable
        mappable = ~np.isnan(W).any(axis=1)
        J = len(mappable)
        if mappable.sum() * 2 < J:
            raise ValueError(
                f"{frame.source}: skeleton: {frame.skeleton} keypoints give {int(mappable.sum())} "
                f"of the {J} {self.skeleton} joints this lifter takes (at least {(J + 1) // 2} "
                f"needed); give keypoints of a body layout such as coco17 or {self.skeleton}"
            )
        visible = frame.scores > 0  # (P, Js)
        # A target joint is visible where every source joint it is made of is visible.
        used = np.nan_to_num(np.abs(W)) > 0  # (J, Js)
        for p in range(visible.shape[0]):
            ok = mappable & ~(used & ~visible[p][None, :]).any(axis=1)
            if not ok.any():
                raise ValueError(
                    f"{frame.source}: people[{p}].keypoints: no joint with a score > 0 maps to "
                    f"{self.skeleton}: nothing to lift (a missing joint has score 0)"
                )

    def predict(self, frame: KeypointsFrame) -> LiftPrediction:
        """Lift every person of ``frame`` (checked by `check_frame` first).

        Raises:
            ValueError: a frame `check_frame` refuses, or a non-finite network output (input
                coordinates far outside any image).
        """
        self.check_frame(frame)
        x, vis, kp = self.model_input(frame)
        J = get_skeleton(self.skeleton).num_joints
        if len(x) == 0:
            joints = np.zeros((0, J, 3), np.float32)
        else:
            out = self.runner(keypoints2d=x, visibility=vis.astype(np.float32))
            joints = np.asarray(out["joints3d"], np.float32)
        bad = ~np.isfinite(joints).all(axis=(1, 2))
        if bad.any():
            raise ValueError(
                f"{frame.source}: people[{int(np.argmax(bad))}]: the lifted joints are not finite "
                "(keypoints far outside the image?); nothing written"
            )
        return LiftPrediction(self.skeleton, joints, kp.astype(np.float32), vis)

    def predict_files(
        self, inputs: Sequence[Path], out: Path, options: PredictOptions
    ) -> Iterator[str]:
        """Lift every frame of keypoints JSON files; write ``<name>.json`` (and ``<name>.png``
        per frame) into ``out``; yield one summary line per input. Output names are the
        inputs' stems, made distinct where they collide (`output_names`).

        Every input is read, checked and lifted before anything is written: a bad input
        writes nothing.
        """
        if options.boxes is not None:
            raise ValueError("--boxes: a lifter takes keypoints JSON files, not images")
        files = [(path, read_keypoints_json(path)) for path in inputs]
        for _path, frames in files:
            for frame in frames:
                self.check_frame(frame)
                if frame.image is not None and not frame.image.is_file():
                    raise FileNotFoundError(f"{frame.source}: image: no such file {frame.image}")
        lifted = [[self.predict(frame) for frame in frames] for _path, frames in files]
        docs = []
        for (_path, frames), preds in zip(files, lifted, strict=True):
            results = [
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
                for frame, pred in zip(frames, preds, strict=True)
            ]
            doc = {
                "checkpoint": str(options.source),
                "backend": self.info.backend,
                "precision": self.info.precision,
                "task": self.task,
                "model": self.info.model,
                "frames": results,
            }
            docs.append(dump_json(doc))
        out.mkdir(parents=True, exist_ok=True)
        names = output_names([path for path, _ in files])
        for (path, frames), preds, text, name in zip(files, lifted, docs, names, strict=True):
            pngs = (
                [f"{name}.png"]
                if len(frames) == 1
                else [f"{name}_{i:03d}.png" for i in range(len(frames))]
            )
            for target in (f"{name}.json", *pngs):  # what a killed earlier run left
                remove_stale_temporaries(out / target)
            if options.pictures:
                for i, (frame, pred) in enumerate(zip(frames, preds, strict=True)):
                    png = f"{name}.png" if len(frames) == 1 else f"{name}_{i:03d}.png"
                    save_png(out / png, lift_picture(frame, pred))
            out_json = out / f"{name}.json"
            atomic_write(out_json, text)
            n = sum(len(p.joints3d) for p in preds)
            yield f"{path}: {len(frames)} frame(s), {n} person(s) lifted -> {out_json}"
