"""Body models: the `BodyModel` protocol, the anny body and hand, SMPL through ``smplx``.

- `AnnyBody` (default, needs ``posekit[body]``): anny's full body posed by 24 SMPL-like joints.
- `AnnyHand`: anny's right (or left) hand, posed by 20 flexion/abduction angles.
- `SMPLBody` (needs ``posekit[smpl]`` and a SMPL model file): SMPL in posekit's Z-up frame.
- `landmarks`: surface landmarks and limbs (SMPLR); `mesh_sampling`: graph-CNN mesh hierarchy.

posekit's world frame is Z-up metres; bodies face -Y with their left at +X (`frames`).
"""

from __future__ import annotations

from posekit.body._anny_loader import load_anny
from posekit.body.anny import DEFAULT_SHAPE, PHENOTYPES, AnnyBody
from posekit.body.anny_rig import PART_FLIP, PART_NAMES
from posekit.body.base import BodyModel, BodyOutput
from posekit.body.frames import yup_to_zup, zup_to_yup
from posekit.body.hand import HAND_DOF_NAMES, HAND_LIMITS_DEG, AnnyHand, sample_hand_articulation
from posekit.body.landmarks import (
    LANDMARK_NAMES,
    LANDMARK_VERTICES,
    LIMBS,
    landmark_positions,
    limb_index_pairs,
)
from posekit.body.mesh_sampling import MeshHierarchy, mesh_hierarchy, sparse_apply
from posekit.body.smpl import SMPLBody

__all__ = [
    "DEFAULT_SHAPE",
    "HAND_DOF_NAMES",
    "HAND_LIMITS_DEG",
    "LANDMARK_NAMES",
    "LANDMARK_VERTICES",
    "LIMBS",
    "PART_FLIP",
    "PART_NAMES",
    "PHENOTYPES",
    "AnnyBody",
    "AnnyHand",
    "BodyModel",
    "BodyOutput",
    "MeshHierarchy",
    "SMPLBody",
    "landmark_positions",
    "limb_index_pairs",
    "load_anny",
    "mesh_hierarchy",
    "sample_hand_articulation",
    "sparse_apply",
    "yup_to_zup",
    "zup_to_yup",
]
