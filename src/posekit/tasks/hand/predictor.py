"""The ``hand`` task's predictor: 3D hand joints from a user's depth map.

A depth map (16-bit PNG in millimetres, NYU's RGB encoding, or ``.npy`` metres) with its
intrinsics (``--K``; default NYU's Kinect scaled to the map's size) and, optionally, a point
in the hand (``--center u,v[,z]``): the hand's cube is placed at the centre of mass of the
nearest surface around that point (without it: of the nearest surface in the whole map), the
model runs on the cube and its joints are read out in camera metres.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._io import atomic_write, remove_stale_temporaries
from posekit.engine.predict import (
    ModelInfo,
    PredictOptions,
    Runner,
    dump_json,
    output_names,
    parse_intrinsics_text,
)
from posekit.skeletons import get_skeleton
from posekit.tasks.hand.codec import HandCodec
from posekit.tasks.hand.config import HandCodecConfig
from posekit.tasks.hand.evaluation import hand_skeleton
from posekit.viz._figure import save_png

__all__ = ["HandPrediction", "HandPredictor", "hand_picture"]


@dataclass
class HandPrediction:
    """One hand's prediction.

    Attributes:
        skeleton: joint layout. joints3d_m: (J, 3) camera metres. keypoints2d: (J, 2) their
        projection, pixels. confidences: (J,). reference_m: (3,) the cube centre. K: (3, 3).
    """

    skeleton: str
    joints3d_m: np.ndarray
    keypoints2d: np.ndarray
    confidences: np.ndarray
    reference_m: np.ndarray
    K: np.ndarray


def _round(a: Any, digits: int) -> Any:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def hand_picture(depth_m: np.ndarray, pred: HandPrediction) -> np.ndarray:
    """The depth map (colourised) with the joints drawn, beside a 3D view of them.

    Shapes:
        depth_m: (H, W) metres. returns: (h, w, 3) uint8 RGB.
    """
    import cv2

    from posekit.viz.overlay import colorize_depth, draw_skeleton
    from posekit.viz.plots3d import plot_pose3d

    canvas = colorize_depth(depth_m)
    J = len(pred.keypoints2d)
    if not pred.skeleton:  # a centre model: its point(s) as rings
        for x, y in pred.keypoints2d:
            if np.isfinite([x, y]).all():
                cv2.circle(canvas, (round(float(x)), round(float(y))), 6, (255, 255, 255), 2)
        return canvas
    canvas = draw_skeleton(
        canvas, pred.keypoints2d[None], np.ones((1, J), bool), pred.skeleton, thickness=2
    )
    panel = plot_pose3d(pred.joints3d_m, pred.skeleton, frame="camera", title="3D joints")
    h = panel.shape[0]
    w = max(1, round(canvas.shape[1] * h / canvas.shape[0]))
    left = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.concatenate([left, panel], axis=1)


def parse_intrinsics(text: str | None, size: tuple[int, int]) -> np.ndarray:
    """``"fx,fy,cx,cy"`` as a (3, 3) matrix; None: NYU's Kinect scaled to ``size`` (H, W).

    Raises:
        ValueError: not four positive focal lengths and two numbers.
    """
    from posekit.data.synthetic.hands import kinect_intrinsics

    if text is None:
        return kinect_intrinsics(size)
    return parse_intrinsics_text(text)


def parse_center(text: str | None) -> tuple[tuple[float, float], float | None] | None:
    """``"u,v"`` or ``"u,v,z"`` (pixels, metres) as ((u, v), z or None); None stays None.

    Raises:
        ValueError: not two or three numbers, or z <= 0.
    """
    if text is None:
        return None
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or not np.isfinite(values).all():
        raise ValueError(f"--center: expected u,v or u,v,z (pixels, metres), got {text!r}")
    if len(values) == 3 and values[2] <= 0:
        raise ValueError(f"--center: z must be > 0 metres, got {values[2]}")
    return (values[0], values[1]), (values[2] if len(values) == 3 else None)


class HandPredictor:
    """3D hand joints of depth maps with a model of the ``hand`` task (module docstring)."""

    task = "hand"
    #: ``posekit predict`` may pass ``--K`` and ``--center`` to this predictor.
    camera_options = True

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        from posekit.models import create_model
        from posekit.tasks.hand.module import model_input

        self.runner, self.info = runner, info
        exp = info.experiment
        self.codec_config = HandCodecConfig(**(exp.get("codec") or {}))
        model = create_model(info.model, info.preset, **(exp["model"].get("overrides") or {}))
        self.input_kind, self.input_size = model_input(model)
        self.codec = HandCodec(self.codec_config, model.output_shapes(1), self.input_size)
        J = next(iter(model.output_shapes(1).values()))[1]
        self.skeleton = hand_skeleton(J)  # "" for a centre model (one point)
        self._refiner: Any = None

    def predict(
        self,
        depth_m: np.ndarray,
        K: np.ndarray,
        center: tuple[tuple[float, float], float | None] | None = None,
    ) -> HandPrediction:
        """The hand near ``center`` (or the nearest surface) of one depth map.

        Shapes:
            depth_m: (H, W) metres (0 = no measurement); K: (3, 3).

        Raises:
            ValueError: no measured depth, or none near ``center``.
        """
        return self.predict_at(depth_m, K, self.localise(depth_m, K, center))

    def localise(
        self,
        depth_m: np.ndarray,
        K: np.ndarray,
        center: tuple[tuple[float, float], float | None] | None = None,
    ) -> np.ndarray:
        """The cube's centre (3,) metres: the centre of mass of the nearest surface around
        ``center`` (or of the nearest surface in the map), moved by the refiner when the
        model was trained with one (``codec.refiner``).

        Raises:
            ValueError: no measured depth, or none near ``center``.
        """
        from posekit.data.hand import box_around, hand_reference_point

        H, W = depth_m.shape
        if not (np.isfinite(depth_m) & (depth_m > 0)).any():
            raise ValueError("no measured depth in the map (all zeros)")
        cube = self.codec.cube_size_m
        if center is None:
            seed = hand_reference_point(depth_m, K, (0.0, 0.0, W - 1.0, H - 1.0))
            u = K[0, 0] * seed[0] / seed[2] + K[0, 2]
            v = K[1, 1] * seed[1] / seed[2] + K[1, 2]
            uv, z = (float(np.clip(u, 0, W - 1)), float(np.clip(v, 0, H - 1))), float(seed[2])
        else:
            uv, z = center
        ref = hand_reference_point(depth_m, K, box_around(depth_m, K, uv, z, cube))
        if self.codec_config.refiner:
            from posekit.tasks.hand.refiner import CentreRefiner

            if self._refiner is None:
                self._refiner = CentreRefiner(self.codec_config.refiner)
            ref = self._refiner(depth_m, K, ref)
        return ref

    def predict_at(self, depth_m: np.ndarray, K: np.ndarray, ref: np.ndarray) -> HandPrediction:
        """The hand in the cube centred at ``ref`` (3,) metres.

        Raises:
            ValueError: no depth point inside the cube.
        """
        from posekit.data.hand import cube_depth_image, depth_points, voxel_grid

        cube = self.codec.cube_size_m
        rel = depth_points(depth_m, K) - ref
        if not (np.abs(rel) < 0.5 * cube).all(axis=1).any():
            raise ValueError(f"no depth point within the {cube * 1000:.0f} mm cube of the hand")
        if self.input_kind == "voxels":
            x = voxel_grid(rel, cube, int(self.input_size))
        else:
            x = cube_depth_image(rel, cube, self.input_size)
        out = self.runner(**{self.input_kind: x[None, None].astype(np.float32)})
        tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in out.items()}
        joints, conf = self.codec.decode(tensors, torch.from_numpy(np.asarray(ref)[None]).float())
        j = joints[0].double().numpy()
        kp = (j[:, :2] / j[:, 2:3]) * np.diag(K)[:2] + K[:2, 2]
        return HandPrediction(self.skeleton, j, kp, conf[0].numpy(), np.asarray(ref), np.asarray(K))

    def predict_files(
        self, inputs: Sequence[Path], out: Path, options: PredictOptions
    ) -> Iterator[str]:
        """Predict the hand of each depth file; write ``<name>.json`` and ``<name>.png``.
        Every input is read and predicted before anything is written."""
        from posekit.data.images import read_depth

        if options.boxes is not None:
            raise ValueError("--boxes: a hand model takes depth maps; give --center u,v instead")
        center = parse_center(options.center)
        results = []
        for path in inputs:
            depth = read_depth(path)
            K = parse_intrinsics(options.intrinsics, depth.shape)
            try:
                pred = self.predict(depth, K, center)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
            results.append((path, depth, pred))
        names = output_names(list(inputs))
        out.mkdir(parents=True, exist_ok=True)
        for (path, depth, pred), name in zip(results, names, strict=True):
            doc = {
                "checkpoint": str(options.source),
                "backend": self.info.backend,
                "task": self.task,
                "model": self.info.model,
                "input": str(path),
                "skeleton": pred.skeleton,
                "joints": (
                    list(get_skeleton(pred.skeleton).joints)
                    if pred.skeleton
                    else [f"point_{i}" for i in range(len(pred.joints3d_m))]
                ),
                "frame": "camera (x right, y down, z forward), metres",
                "joints3d_m": _round(pred.joints3d_m, 5),
                "keypoints2d_px": _round(pred.keypoints2d, 2),
                "confidence": _round(pred.confidences, 4),
                "reference_m": _round(pred.reference_m, 5),
                "K": _round(pred.K, 4),
            }
            text = dump_json(doc)
            for target in (f"{name}.json", f"{name}.png"):
                remove_stale_temporaries(out / target)
            if options.pictures:
                save_png(out / f"{name}.png", hand_picture(depth, pred))
            atomic_write(out / f"{name}.json", text)
            yield f"{path}: hand at {_round(pred.reference_m, 3)} m -> {out / (name + '.json')}"
