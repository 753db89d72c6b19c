"""The reference-point refiner of the ``hand`` task: a ``centre`` model (a small 2D CNN on the
cube's depth image, ``configs/hand_refiner_tiny.yaml``) moves the cube from the centre of mass
of the hand's surface to the hand's centre, as V2V-PoseNet's refinement network does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CentreRefiner"]


class CentreRefiner:
    """``refiner(depth_m, K, reference_m) -> reference_m``: the centre a ``centre`` checkpoint
    predicts from the cube around ``reference_m`` (loaded on first use in each process;
    pickles without the loaded model, for data-loading workers).

    Raises:
        FileNotFoundError: no such checkpoint.
    """

    def __init__(self, checkpoint: str | Path) -> None:
        self.checkpoint = Path(checkpoint)
        if not self.checkpoint.is_file():
            raise FileNotFoundError(f"codec.refiner: {self.checkpoint}: no such checkpoint")
        self._predictor: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "_predictor": None}

    def predictor(self) -> Any:
        """The refiner's `HandPredictor`.

        Raises:
            ValueError: the checkpoint is not a hand model with ``codec.target: centre``.
        """
        if self._predictor is None:
            from posekit.engine.predict import load_predictor

            p = load_predictor(self.checkpoint)
            if getattr(p, "task", "") != "hand" or p.codec_config.target != "centre":
                raise ValueError(
                    f"codec.refiner: {self.checkpoint} is not a hand-centre model "
                    "(train one with configs/hand_refiner_tiny.yaml)"
                )
            self._predictor = p
        return self._predictor

    def __call__(self, depth_m: np.ndarray, K: np.ndarray, reference_m: np.ndarray) -> np.ndarray:
        """The refined reference point (3,), metres."""
        return self.predictor().predict_at(depth_m, K, reference_m).joints3d_m[0]
