"""The ``bottomup`` task's predictor: every person of an image from one pass, no boxes."""

from __future__ import annotations

import numpy as np
import torch

from posekit.engine.predict import ModelInfo, Runner
from posekit.skeletons import get_skeleton
from posekit.tasks.bottomup.codec import BottomUpCodec
from posekit.tasks.bottomup.config import AssociativeEmbeddingCodecConfig
from posekit.tasks.pose2d.predictor import KeypointImagePredictor, Pose2DPrediction

__all__ = ["BottomUpPredictor"]


class BottomUpPredictor(KeypointImagePredictor):
    """Multi-person 2D pose without boxes: the whole image (letterboxed to the model's input)
    through a hourglass with associative-embedding tags, people grouped by tag with the
    training codec (`BottomUpCodec`: the ``codec`` section, ``eval.flip_test``).
    """

    task = "bottomup"

    def __init__(self, runner: Runner, info: ModelInfo) -> None:
        super().__init__(runner, info)
        exp = info.experiment
        self.codec_config = AssociativeEmbeddingCodecConfig(**(exp.get("codec") or {}))
        self.push_sigma = float((exp.get("loss") or {}).get("tag_push_sigma", 1.0))
        self.flip_test = bool((exp.get("eval") or {}).get("flip_test", False))
        self._codec: BottomUpCodec | None = None

    def codec(self, images: torch.Tensor) -> BottomUpCodec:
        """The training codec, built on the first call from the outputs of one image."""
        if self._codec is None:
            shapes = {k: tuple(v.shape) for k, v in self.network(images[:1]).items()}
            self._codec = BottomUpCodec(
                self.codec_config, self.push_sigma, shapes, self.input_size, self.skeleton
            )
        return self._codec

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None) -> Pose2DPrediction:
        """Every person found in ``image``.

        Shapes:
            image: (H, W, 3) uint8 RGB.

        Raises:
            ValueError: ``boxes`` given (the model finds the people itself).
        """
        from posekit.data.pose2d import normalize_image
        from posekit.data.transforms import AugmentParams, crop_and_augment
        from posekit.geometry.crops import bbox_to_center_scale, invert_affine

        if boxes is not None:
            raise ValueError("--boxes: a bottom-up model finds the people itself; drop --boxes")
        H, W = image.shape[:2]
        J = get_skeleton(self.skeleton).num_joints
        whole = torch.tensor([0.0, 0.0, float(W), float(H)], dtype=torch.float64)
        center, height = bbox_to_center_scale(whole, self.input_size)
        crop, _, _, M = crop_and_augment(
            image, np.zeros((J, 2)), np.zeros(J, bool), center, float(height),
            self.input_size, AugmentParams(), self.skeleton,
        )  # fmt: skip
        images = normalize_image(crop)[None]
        codec = self.codec(images)
        hm, tags = codec.predict_maps(self.network, images, self.flip_test)
        people = codec.decode_people(hm, tags, invert_affine(M).float()[None])[0]
        kp = people.keypoints.numpy()
        scores = people.joint_scores
        joint_scores = np.zeros(kp.shape[:2]) if scores is None else scores.numpy()
        if len(kp):
            boxes_np = np.concatenate([np.nanmin(kp, 1), np.nanmax(kp, 1)], axis=1)
        else:
            boxes_np = np.zeros((0, 4))
        return Pose2DPrediction(self.skeleton, kp, joint_scores, boxes_np)
