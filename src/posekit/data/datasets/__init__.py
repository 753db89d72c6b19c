"""Datasets: synthetic shards (`Sample`s) and Human3.6M preprocessed npz files for lifting."""

from __future__ import annotations

from posekit.data.datasets.h36m import H36MLifting
from posekit.data.datasets.synthetic import SyntheticDataset

__all__ = ["H36MLifting", "SyntheticDataset"]
