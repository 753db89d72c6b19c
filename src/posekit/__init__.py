"""posekit: human pose and shape estimation, trainable offline on synthetic humans."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
