"""anny24: the 24 compact pose joints of posekit's anny adapter (`posekit.body.AnnyBody`).

The joints carry SMPL24's names, order and tree, so a SMPL-style (B, 24, 3) axis-angle pose
drives the anny body joint for joint; each joint drives one or a few of anny's 104 rig bones
(table in `posekit.body.anny_rig`). Joint positions are the rotation centres of those bones.
"""

from __future__ import annotations

from posekit.skeletons.skeleton import Skeleton
from posekit.skeletons.smpl24 import SMPL24

__all__ = ["ANNY24"]

ANNY24 = Skeleton(
    name="anny24",
    joints=SMPL24.joints,
    parents=SMPL24.parents,
    flip_pairs=SMPL24.flip_pairs,
    limbs=SMPL24.limbs,
    description=(
        "posekit's compact pose of the anny body: SMPL24's joint names, order and tree. "
        "Positions are the heads (rotation centres) of the anny bones each joint drives: "
        "pelvis = 'root', spine1 = 'spine04', spine2 = 'spine02', spine3 = 'spine01', "
        "neck = 'neck01', head = 'head', collars = 'clavicle', shoulders = 'upperarm01', "
        "elbows = 'lowerarm01', wrists = 'wrist', hands = mean of the finger 2-5 base "
        "heads, hips = 'upperleg01', knees = 'lowerleg01', ankles = 'foot', feet = mean of "
        "the five toe base heads."
    ),
)
