"""The ``lift`` task's predictor: 2D keypoints in any image's pixels → 3D joints.

`LiftPredictor` lifts the people of keypoints JSON frames (`posekit.data.keypoints_json`) to
root-relative 3D joints in the camera frame, metres; ``predict_files`` is what
``posekit predict LIFTER.ckpt frames.json`` runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._io import atomic_write
from posekit.data.keypoints_json import KeypointsFrame, read_keypoints_json
from posekit.engine.predict import ModelInfo, PredictOptions, Runner
from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import convert_keypoints
from posekit.viz._figure import save_png

__all__ = ["LiftPrediction", "LiftPredictor", "lift_picture"]


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
        from posekit.data.lifting.cameras import VirtualCameraSampler

        self.runner, self.info = runner, info
        self.skeleton = get_skeleton(info.config.get("skeleton", "h36m17")).name
        self.input_coords = info.config.get("input_coords", "pixel")
        params = (info.experiment.get("data") or {}).get("params") or {}
        cams = params.get("cameras") or {}
        fields = {k: v for k, v in cams.items() if k in ("image_size", "focal_px")}
        train_cam = VirtualCameraSampler(**fields)
        self.train_image_size: tuple[int, int] = tuple(train_cam.image_size)  # type: ignore[assignment]
        self.train_focal_px = float(train_cam.focal_px)
        self.train_principal_px = train_cam.principal_point_px

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
        H, W = frame.image_size
        f = self.train_focal_px * max(H, W) / max(self.train_image_size)
        return np.array([[f, 0.0, (W - 1) / 2.0], [0.0, f, (H - 1) / 2.0], [0.0, 0.0, 1.0]])

    def model_input(self, frame: KeypointsFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(model input (P, J, 2) float32, visibility (P, J) bool, keypoints (P, J, 2) px)."""
        from posekit.data.lifting.dataset import normalize_keypoints

        kp = torch.from_numpy(frame.keypoints)  # (P, Js, 2)
        vis = torch.from_numpy(frame.scores > 0)
        kp, vis = convert_keypoints(kp, vis, frame.skeleton, self.skeleton)  # (P, J, 2)
        kp = torch.nan_to_num(kp)
        K = self.frame_intrinsics(frame)
        xn = (kp[..., 0] - K[0, 2]) / K[0, 0]  # (P, J) normalized image plane
        yn = (kp[..., 1] - K[1, 2]) / K[1, 1]
        if self.input_coords == "camera":
            x = torch.stack((xn, yn), -1)
        else:
            cx, cy = self.train_principal_px
            f = self.train_focal_px
            px = torch.stack((xn * f + cx, yn * f + cy), -1)  # (P, J, 2) training pixels
            Kt = torch.tensor([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]], dtype=px.dtype)
            x = (
                normalize_keypoints(px, Kt.expand(len(px), 3, 3), self.train_image_size, "pixel")
                if len(px)
                else px
            )
        x = torch.where(vis[..., None], x, torch.zeros_like(x))
        return x.float().numpy(), vis.numpy(), kp.numpy()

    def predict(self, frame: KeypointsFrame) -> LiftPrediction:
        """Lift every person of ``frame``."""
        x, vis, kp = self.model_input(frame)
        J = get_skeleton(self.skeleton).num_joints
        if len(x) == 0:
            joints = np.zeros((0, J, 3), np.float32)
        else:
            out = self.runner(keypoints2d=x, visibility=vis.astype(np.float32))
            joints = np.asarray(out["joints3d"], np.float32)
        return LiftPrediction(self.skeleton, joints, kp.astype(np.float32), vis)

    def predict_files(
        self, inputs: Sequence[Path], out: Path, options: PredictOptions
    ) -> Iterator[str]:
        """Lift every frame of keypoints JSON files; write ``<stem>.json`` (and ``<stem>.png``)
        per input into ``out``; yield one summary line per input.

        Every input is read and checked before anything is written.
        """
        if options.boxes is not None:
            raise ValueError("--boxes: a lifter takes keypoints JSON files, not images")
        # Read and check every input first: a bad file stops the run before anything is written.
        files = [(path, read_keypoints_json(path)) for path in inputs]
        for _path, frames in files:
            for frame in frames:
                self.frame_intrinsics(frame)  # raises on a frame that cannot be interpreted
                if frame.image is not None and not frame.image.is_file():
                    raise FileNotFoundError(f"{frame.source}: image: no such file {frame.image}")
        out.mkdir(parents=True, exist_ok=True)
        stems: dict[str, int] = {}
        for path, frames in files:
            stem = path.stem
            stems[stem] = stems.get(stem, 0) + 1
            if stems[stem] > 1:
                stem = f"{stem}_{stems[stem]}"
            results = []
            for i, frame in enumerate(frames):
                pred = self.predict(frame)
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
                if options.pictures:
                    name = f"{stem}.png" if len(frames) == 1 else f"{stem}_{i:03d}.png"
                    save_png(out / name, lift_picture(frame, pred))
            doc = {
                "checkpoint": str(options.source),
                "backend": self.info.backend,
                "precision": self.info.precision,
                "task": self.task,
                "model": self.info.model,
                "frames": results,
            }
            out_json = out / f"{stem}.json"
            atomic_write(out_json, (json.dumps(doc, indent=1) + "\n").encode())
            n = sum(len(r["people"]) for r in results)
            yield f"{path}: {len(results)} frame(s), {n} person(s) lifted -> {out_json}"
