"""The ``bottomup`` task family: multi-person 2D pose from whole images by associative
embedding (Newell et al. 2017). It reads the ``pose2d`` family's data sources and writes the
same keypoints JSON as its predictor."""

from __future__ import annotations

from posekit.engine.tasks import TaskSpec
from posekit.tasks.bottomup.config import (
    AssociativeEmbeddingCodecConfig,
    BottomUpEvalConfig,
    BottomUpLossConfig,
)

__all__ = ["TASK"]

TASK = TaskSpec(
    name="bottomup",
    description="whole RGB images -> every person's 2D keypoints (associative embedding)",
    module="posekit.tasks.bottomup.module:BottomUpModule",
    predictor="posekit.tasks.bottomup.predictor:BottomUpPredictor",
    source_task="pose2d",
    loss=BottomUpLossConfig,
    codec=AssociativeEmbeddingCodecConfig,
    eval=BottomUpEvalConfig,
    models=("hourglass",),
    demo_config=None,
)
