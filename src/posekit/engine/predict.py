"""Predict with a trained model: load a checkpoint (torch) or its ONNX export, run it on inputs.

`load_predictor(path, backend)` reads what the model is from the checkpoint's posekit metadata
(or the ONNX file's metadata) and returns the predictor of its task:

- ``lift``: `LiftPredictor` lifts 2D keypoints (`posekit.data.keypoints_json`) to
  root-relative 3D joints in the camera frame, metres;
- ``pose2d``: `Pose2DPredictor` finds the 2D keypoints of the people in images (top-down:
  one crop per person box, the whole image without boxes).

Both backends run the same network: ``torch`` the checkpoint's module, ``onnx`` an ONNX
Runtime session of the file written by ``posekit export`` (`posekit.engine.export`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.data.keypoints_json import KeypointsFrame
from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import convert_keypoints

__all__ = [
    "BACKENDS",
    "BottomUpPredictor",
    "LiftPrediction",
    "LiftPredictor",
    "ModelInfo",
    "Pose2DPrediction",
    "Pose2DPredictor",
    "export_checkpoint_onnx",
    "load_predictor",
]

BACKENDS = ("torch", "onnx")

Runner = Callable[..., dict[str, np.ndarray]]


@dataclass
class ModelInfo:
    """What a predictor needs to know about a trained model.

    Attributes:
        path: the checkpoint or ONNX file.
        task: task family; model: registry name; preset: its preset.
        config: the model's config as a dict; experiment: the experiment as a dict.
        backend: ``torch`` or ``onnx``.
        precision: ``float32``, or ``int8`` for a file written by ``posekit export --quantize
            int8`` (its ``quantization`` metadata).
    """

    path: Path
    task: str
    model: str
    preset: str
    config: dict[str, Any]
    experiment: dict[str, Any]
    backend: str
    precision: str = "float32"


class _TorchRunner:
    """Run a torch model on numpy inputs; outputs as numpy (float32)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.model = model.eval().to(device)
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        t = {k: torch.as_tensor(v, device=self.device) for k, v in inputs.items()}
        out = self.model(**t)
        return {k: v.float().cpu().numpy() for k, v in out.items()}


def _load_torch(path: Path, device: str) -> tuple[Runner, ModelInfo]:
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.evaluate import module_from_checkpoint

    module, _, ckpt = module_from_checkpoint(path, map_location="cpu")
    meta = ckpt[METADATA_KEY]
    info = ModelInfo(
        path=path,
        task=meta["task"],
        model=meta["model"]["name"],
        preset=meta["model"].get("preset", ""),
        config=dict(meta["model"]["config"]),
        experiment=dict(meta["experiment"]),
        backend="torch",
    )
    return _TorchRunner(module.model, device), info


def _load_onnx(path: Path) -> tuple[Runner, ModelInfo]:
    from posekit.engine.export import OnnxRunner

    runner = OnnxRunner(path)
    meta = runner.metadata
    if "task" not in meta or "model" not in meta:
        raise ValueError(
            f"{path}: no posekit metadata (task, model); export it with `posekit export`"
        )
    info = ModelInfo(
        path=path,
        task=meta["task"],
        model=meta["model"],
        preset=meta.get("preset", ""),
        config=dict(meta.get("config") or {}),
        experiment=dict(meta.get("experiment") or {}),
        backend="onnx",
        precision=str((meta.get("quantization") or {}).get("dtype", "float32")),
    )

    def run(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return runner(inputs)

    return run, info


def export_checkpoint_onnx(path: str | Path, out: str | Path) -> float:
    """Export a checkpoint to ONNX as ``posekit export`` does (checked against torch, at most
    1e-4 apart, else nothing is written); returns the measured max |difference|."""
    from posekit.engine.export import export_checkpoint

    return export_checkpoint(path, out).max_abs_diff


def _onnx_for_checkpoint(path: Path) -> Path:
    """The ONNX export of a checkpoint: ``<stem>.onnx`` beside it when at least as new as the
    checkpoint, else exported now (and kept there for the next call)."""
    onnx_path = path.with_suffix(".onnx")
    if onnx_path.is_file() and onnx_path.stat().st_mtime >= path.stat().st_mtime:
        return onnx_path
    export_checkpoint_onnx(path, onnx_path)
    return onnx_path


# --- lifting ------------------------------------------------------------------------------


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


# --- 2D pose ------------------------------------------------------------------------------


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


class Pose2DPredictor:
    """Top-down 2D pose on images: crop each person box, run the model, map back.

    Without boxes the whole image is one person's box (the model was trained on crops of one
    person with 25 % margin; a photo framed on one person matches that). Crops are cut with
    the training pipeline's affine crop, without augmentation.

    Args:
        runner: the network (torch or ONNX) taking ``image``.
        info: the model's metadata.
    """

    task = "pose2d"

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        self.runner, self.info = runner, info
        self.skeleton = get_skeleton(info.config.get("skeleton", "coco17")).name
        self.input_size: tuple[int, int] = tuple(info.config["input_size"])  # type: ignore[assignment]

    def _decode(self, out: Mapping[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        from posekit.codecs.heatmap2d import Heatmap2D
        from posekit.codecs.regression import Regression2D

        if "keypoints_stages" in out:
            kp = Regression2D(self.input_size).decode(torch.as_tensor(out["keypoints"]))
            return kp, torch.ones(kp.shape[:2])
        hm = torch.as_tensor(out["heatmaps"])[:, -1]  # (B, J, h, w), last stack
        scores = hm.flatten(2).amax(-1).clamp(0.0, 1.0)
        if "keypoints" in out:  # integral regression
            return torch.as_tensor(out["keypoints"]), scores
        h = hm.shape[-2]
        kp, _ = Heatmap2D(self.input_size, hm.shape[-2:], sigma=max(1.0, 2.0 * h / 64)).decode(hm)
        return kp, scores

    def predict(
        self, image: np.ndarray, boxes: np.ndarray | None = None, padding: float = 1.25
    ) -> Pose2DPrediction:
        """Keypoints of the people in ``boxes`` (default: the whole image, no padding).

        Shapes:
            image: (H, W, 3) uint8 RGB; boxes: (P, 4) pixels or None.
        """
        from posekit.data.pose2d import normalize_image
        from posekit.data.transforms import AugmentParams, crop_and_augment
        from posekit.geometry.crops import bbox_to_center_scale, invert_affine

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
        out = self.runner(image=torch.stack(crops).numpy())
        kp, scores = self._decode(out)
        A = torch.stack(inverses)  # (P, 2, 3) crop -> image
        kp_img = torch.cat([kp.float(), torch.ones_like(kp[..., :1]).float()], -1) @ A.transpose(
            -1, -2
        )
        return Pose2DPrediction(self.skeleton, kp_img.numpy(), scores.float().numpy(), boxes)


class BottomUpPredictor(Pose2DPredictor):
    """Multi-person 2D pose without boxes: the whole image (letterboxed to the model's input)
    through a hourglass with associative-embedding tags, people grouped by tag
    (`AssociativeEmbedding.decode`, the settings of the ``bottomup`` task's validation).
    """

    task = "bottomup"

    def predict(
        self, image: np.ndarray, boxes: np.ndarray | None = None, padding: float = 1.0
    ) -> Pose2DPrediction:
        """Every person found in ``image`` (``boxes`` are ignored: the model finds people).

        Shapes:
            image: (H, W, 3) uint8 RGB.
        """
        from posekit.codecs.associative_embedding import AssociativeEmbedding
        from posekit.data.pose2d import normalize_image
        from posekit.data.transforms import AugmentParams, crop_and_augment
        from posekit.engine import bottomup as bu
        from posekit.geometry.crops import bbox_to_center_scale, invert_affine

        H, W = image.shape[:2]
        J = get_skeleton(self.skeleton).num_joints
        whole = torch.tensor([0.0, 0.0, float(W), float(H)], dtype=torch.float64)
        center, height = bbox_to_center_scale(whole, self.input_size)
        crop, _, _, M = crop_and_augment(
            image, np.zeros((J, 2)), np.zeros(J, bool), center, float(height),
            self.input_size, AugmentParams(), self.skeleton,
        )  # fmt: skip
        out = self.runner(image=normalize_image(crop)[None].numpy())
        hm = torch.as_tensor(out["heatmaps"])[0, -1]  # (J, h, w)
        tags = torch.as_tensor(out["tags"])[0, -1]  # (J * D, h, w)
        h = hm.shape[-2]
        push_sigma = float((self.info.experiment.get("loss") or {}).get("tag_push_sigma", 1.0))
        codec = AssociativeEmbedding(
            self.input_size, tuple(hm.shape[-2:]), sigma=max(1.0, 2.0 * h / 64),
            tag_dim=tags.shape[0] // J, max_people=bu.MAX_PEOPLE,
            detection_threshold=bu.DETECTION_THRESHOLD,
            tag_threshold=bu.TAG_THRESHOLD * push_sigma,
            joint_order=bu.JOINT_ORDER.get(self.skeleton),
        )  # fmt: skip
        kp, scores, _ = codec.decode(hm, tags)  # (N, J, 2) input pixels
        A = invert_affine(M).float()
        kp_img = torch.cat([kp.float(), torch.ones_like(kp[..., :1]).float()], -1) @ A.T
        kp_np = kp_img.numpy()
        if len(kp_np):
            boxes_np = np.concatenate([np.nanmin(kp_np, 1), np.nanmax(kp_np, 1)], axis=1)
        else:
            boxes_np = np.zeros((0, 4))
        return Pose2DPrediction(self.skeleton, kp_np, scores.float().numpy(), boxes_np)


_PREDICTORS: Mapping[str, type] = {
    "lift": LiftPredictor,
    "pose2d": Pose2DPredictor,
    "bottomup": BottomUpPredictor,
}


def load_predictor(path: str | Path, backend: str = "torch", device: str = "cpu") -> Any:
    """The predictor of a checkpoint (``.ckpt``) or an ONNX export (``.onnx``).

    Args:
        path: a checkpoint written by ``posekit train`` or a model written by ``posekit export``.
        backend: ``torch`` or ``onnx``. An ``.onnx`` file always runs on ONNX Runtime; a
            checkpoint with ``onnx`` uses ``<stem>.onnx`` beside it, exporting it first when
            it is missing or older than the checkpoint.
        device: torch device (torch backend).

    Raises:
        FileNotFoundError, CheckpointError, ValueError: a missing or foreign file, an unknown
            backend, or a task that cannot predict yet.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".onnx":
        runner, info = _load_onnx(path)
    elif backend == "onnx":
        runner, info = _load_onnx(_onnx_for_checkpoint(path))
    else:
        runner, info = _load_torch(path, device)
    cls = _PREDICTORS.get(info.task)
    if cls is None:
        raise ValueError(
            f"{path}: predict does not handle task {info.task!r} yet; tasks: "
            f"{', '.join(sorted(_PREDICTORS))}"
        )
    return cls(runner, info)
