"""Datasets: synthetic shards, real 2D pose readers and NYU hand depth (`Sample`s), Human3.6M npz
for lifting."""

from __future__ import annotations

from posekit.data.datasets.coco import COCODataset
from posekit.data.datasets.h36m import H36MLifting
from posekit.data.datasets.lsp import LSPDataset
from posekit.data.datasets.mpii import MPIIDataset
from posekit.data.datasets.nyu import NYUHandDataset
from posekit.data.datasets.synthetic import SyntheticDataset

__all__ = [
    "COCODataset",
    "H36MLifting",
    "LSPDataset",
    "MPIIDataset",
    "NYUHandDataset",
    "SyntheticDataset",
]
