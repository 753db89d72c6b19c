"""MPI-INF-3DHP test set: the 17 joints of its ``annot_data.mat`` files (Mehta et al. 2017).

The test set's ``annot2`` / ``annot3`` / ``univ_annot3`` hold the 17 joints of the evaluation
code's ``mpii_get_joints('relevant')`` set, "Human3.6m joints in CPM order"; their labels, in
file order, are `MPI_INF_3DHP17_LABELS`. The layout takes h36m17's names and order, so
`posekit.skeletons.joint_map` and `posekit.skeletons.convert.convert_keypoints` pair all 17
joints with h36m17 by name; ``native_joints`` is the file order.

=====  ===========  ==============  ============================================
file   3DHP label   posekit name    note
=====  ===========  ==============  ============================================
0      head_top     head_top        H3.6M "Head"
1      neck         thorax          H3.6M "Thorax" (base of the neck)
2-7    arms         r_/l_ ...       shoulder, elbow, wrist (right first)
8-13   legs         r_/l_ ...       hip, knee, ankle (right first)
14     pelvis       pelvis          the root of the evaluation code
15     spine        spine           H3.6M "Spine"
16     head         neck_nose       H3.6M "Neck/Nose"
=====  ===========  ==============  ============================================

3DHP's ``neck`` and ``head`` are taken for H3.6M's ``Thorax`` and ``Neck/Nose``, the
correspondence public code uses when it scores Human3.6M-trained models on 3DHP (e.g. the
reorder ``[14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]`` of file joints into
H3.6M order); the two skeletons place these points a few centimetres apart, so the names are a
correspondence of annotation conventions, not of identical landmarks.

Evaluated joints: the evaluation code's ``mpii_get_pck_auc_joint_groups`` comes in two forms.
The 14-joint one (`MPI_INF_3DHP_EVAL14`: head top, neck, shoulders, elbows, wrists, hips,
knees, ankles; file joints 0-13) leaves out pelvis, spine and head; the 17-joint one
(`MPI_INF_3DHP_EVAL17`) groups head top with head and hips with the pelvis and adds the spine.
Papers report either; after root alignment the pelvis has error 0, which raises the 17-joint
3DPCK a little.
"""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = [
    "MPI_INF_3DHP17",
    "MPI_INF_3DHP17_LABELS",
    "MPI_INF_3DHP_EVAL14",
    "MPI_INF_3DHP_EVAL17",
]

MPI_INF_3DHP17_LABELS: tuple[str, ...] = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "pelvis", "spine", "head",
)  # fmt: skip
"""The evaluation code's names of the 17 joints, in ``annot_data.mat`` order."""

_NATIVE = (
    "head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
    "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine",
    "neck_nose",
)  # fmt: skip

_TREE = [
    ("pelvis", None),
    ("r_hip", "pelvis"),
    ("r_knee", "r_hip"),
    ("r_ankle", "r_knee"),
    ("l_hip", "pelvis"),
    ("l_knee", "l_hip"),
    ("l_ankle", "l_knee"),
    ("spine", "pelvis"),
    ("thorax", "spine"),  # 3DHP "neck"
    ("neck_nose", "thorax"),  # 3DHP "head"
    ("head_top", "neck_nose"),
    ("l_shoulder", "thorax"),
    ("l_elbow", "l_shoulder"),
    ("l_wrist", "l_elbow"),
    ("r_shoulder", "thorax"),
    ("r_elbow", "r_shoulder"),
    ("r_wrist", "r_elbow"),
]

MPI_INF_3DHP17 = build_skeleton(
    "mpi_inf_3dhp17",
    _TREE,
    native_joints=_NATIVE,
    description=(
        "MPI-INF-3DHP test set (Mehta et al. 2017), the 17 'relevant' joints of annot_data.mat; "
        "h36m17's names and order (3DHP 'neck' -> thorax, 'head' -> neck_nose), file order "
        "native. 3DPCK / AUC use 14 of them (no pelvis, spine, head) or all 17."
    ),
)

MPI_INF_3DHP_EVAL14: tuple[str, ...] = _NATIVE[:14]
"""The 14 joints of the 14-joint 3DPCK / AUC (file joints 0-13), in file order."""

MPI_INF_3DHP_EVAL17: tuple[str, ...] = _NATIVE
"""All 17 joints, in file order (the 17-joint 3DPCK / AUC)."""
