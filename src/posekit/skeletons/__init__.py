"""Keypoint layouts: the `Skeleton` dataclass and one module per named layout.

Layouts: coco17, mpii16, lsp14, h36m17, smpl24, anny24, hand21, nyu14, nyu36, mpi_inf_3dhp17.
Joints are root-first with parents before children; datasets whose files use another order
carry ``native_joints``.
"""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton
from posekit.skeletons.anny import ANNY24
from posekit.skeletons.coco17 import COCO17
from posekit.skeletons.h36m17 import H36M17
from posekit.skeletons.hand21 import HAND21, NYU14, NYU14_FROM_36
from posekit.skeletons.lsp14 import LSP14
from posekit.skeletons.mpi_inf_3dhp17 import MPI_INF_3DHP17
from posekit.skeletons.mpii16 import MPII16
from posekit.skeletons.nyu36 import NYU36
from posekit.skeletons.registry import (
    get_skeleton,
    joint_map,
    list_skeletons,
    register_skeleton,
    unregister_skeleton,
)
from posekit.skeletons.skeleton import Skeleton
from posekit.skeletons.smpl24 import SMPL24

__all__ = [
    "ANNY24",
    "COCO17",
    "H36M17",
    "HAND21",
    "LSP14",
    "MPII16",
    "MPI_INF_3DHP17",
    "NYU14",
    "NYU14_FROM_36",
    "NYU36",
    "SMPL24",
    "Skeleton",
    "build_skeleton",
    "get_skeleton",
    "joint_map",
    "list_skeletons",
    "register_skeleton",
    "unregister_skeleton",
]
