"""Datasets: synthetic shards, real 2D pose readers, NYU hand depth and 3D pose from images
(Human3.6M frames, the MPI-INF-3DHP test set) as `Sample`s; Human3.6M npz for lifting."""

from __future__ import annotations

from posekit.data.datasets.coco import COCODataset
from posekit.data.datasets.h36m import H36MLifting
from posekit.data.datasets.h36m_images import H36MImageDataset
from posekit.data.datasets.lsp import LSPDataset
from posekit.data.datasets.mpi_inf_3dhp import MPIInf3DHPTest
from posekit.data.datasets.mpii import MPIIDataset
from posekit.data.datasets.nyu import NYUHandDataset
from posekit.data.datasets.synthetic import SyntheticDataset

__all__ = [
    "COCODataset",
    "H36MImageDataset",
    "H36MLifting",
    "LSPDataset",
    "MPIIDataset",
    "MPIInf3DHPTest",
    "NYUHandDataset",
    "SyntheticDataset",
]
