"""Datasets that yield `posekit.data.Sample`: synthetic shards (and, later, real-format readers)."""

from __future__ import annotations

from posekit.data.datasets.synthetic import SyntheticDataset

__all__ = ["SyntheticDataset"]
