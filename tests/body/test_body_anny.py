"""AnnyBody: agreement with anny's own forward, pose semantics, joint layouts, shape."""

from __future__ import annotations

import math

import pytest
import roma
import torch

from posekit.body import PART_NAMES, PHENOTYPES, BodyModel, BodyOutput
from posekit.skeletons import get_skeleton

torch.manual_seed(0)


def _pose(B: int, scale: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(B, 24, 3, generator=g, dtype=torch.float64)


def test_protocol_and_output(anny_body):
    assert isinstance(anny_body, BodyModel)
    out = anny_body(torch.zeros(2, 24, 3))
    assert isinstance(out, BodyOutput)
    assert out.vertices.shape == (2, 13718, 3)
    assert out.faces.shape == (27420, 3) and out.faces.dtype == torch.long
    assert out.bone_poses.shape == (2, 104, 4, 4)
    for layout in anny_body.joint_layouts:
        sk = get_skeleton(layout)
        assert out.joints_in(layout).shape == (2, sk.num_joints, 3)
    with pytest.raises(KeyError, match="anny24"):
        out.joints_in("mpii16")
    moved = out.detach().to("cpu")
    assert moved.batch_size == 2 and set(moved.joints) == set(out.joints)
    assert torch.equal(moved.vertices, out.vertices)


def test_bad_shapes_raise(anny_body):
    with pytest.raises(ValueError, match=r"pose: expected \(B, 24, 3\)"):
        anny_body(torch.zeros(2, 23, 3))
    with pytest.raises(ValueError, match="shape"):
        anny_body(torch.zeros(2, 24, 3), shape=torch.zeros(3, 6))
    with pytest.raises(ValueError, match="transl"):
        anny_body(torch.zeros(2, 24, 3), transl=torch.zeros(2, 2))


def test_matches_anny_forward(anny_body64):
    """Same delta transforms -> the same vertices and bones as anny's own forward."""
    body = anny_body64
    B = 3
    pose, transl = _pose(B), torch.randn(B, 3, dtype=torch.float64)
    shape = torch.rand(B, 6, dtype=torch.float64)
    out = body(pose, shape, transl)
    ref = body.anny(pose_parameters=body.bone_deltas(pose, transl), phenotype_kwargs=shape)
    torch.testing.assert_close(out.vertices, ref["vertices"], rtol=0, atol=1e-10)
    torch.testing.assert_close(out.bone_poses, ref["bone_poses"], rtol=0, atol=1e-10)
    # COCO joints equal anny's own keypoint regressor on the same vertices.
    import anny

    from posekit.body.anny_rig import COCO_LABELS

    reg = anny.KeypointsRegressor.coco(body.anny, labels=list(COCO_LABELS))
    # (posekit renormalizes the regressor's rows to sum to exactly 1: a < 1e-6 m change)
    torch.testing.assert_close(out.joints["coco17"], reg(ref), rtol=0, atol=1e-6)


def test_coco_through_skinning_float32(anny_body):
    """float32: the skinned COCO regressor agrees with regressing the skinned vertices."""
    import anny

    from posekit.body.anny_rig import COCO_LABELS

    pose, shape = _pose(4).float(), torch.rand(4, 6)
    out = anny_body(pose, shape)
    reg = anny.KeypointsRegressor.coco(anny_body.anny, labels=list(COCO_LABELS))
    direct = reg({"vertices": out.vertices})
    torch.testing.assert_close(out.joints["coco17"], direct, rtol=0, atol=2e-5)


def test_compact_pose_drives_the_named_bones(anny_body64):
    """An elbow rotation equals anny's forward with that delta on lowerarm01.L only."""
    body = anny_body64
    pose = torch.zeros(1, 24, 3, dtype=torch.float64)
    rotvec = torch.tensor([0.4, -0.2, 0.9], dtype=torch.float64)
    pose[0, get_skeleton("anny24").index("l_elbow")] = rotvec
    delta = torch.eye(4, dtype=torch.float64)[None].clone()
    delta[0, :3, :3] = roma.rotvec_to_rotmat(rotvec)
    ref = body.anny(pose_parameters={"lowerarm01.L": delta}, phenotype_kwargs=body.make_shape(1))
    torch.testing.assert_close(body(pose).vertices, ref["vertices"], rtol=0, atol=1e-10)


def test_chain_split_gives_full_rotation(anny_body64):
    """spine1 drives two bones with half the angle each: the chain's end turns by the whole."""
    body = anny_body64
    sk = get_skeleton("anny24")
    pose = torch.zeros(1, 24, 3, dtype=torch.float64)
    pose[0, sk.index("spine1"), 0] = 0.6
    out = body(pose)
    i3, i4 = body.bone_labels.index("spine03"), body.bone_labels.index("spine04")
    zero = body(torch.zeros_like(pose))
    rel = out.bone_poses[0, i3, :3, :3] @ zero.bone_poses[0, i3, :3, :3].T
    torch.testing.assert_close(roma.rotmat_to_rotvec(rel), torch.tensor([0.6, 0, 0]).double())
    rel4 = out.bone_poses[0, i4, :3, :3] @ zero.bone_poses[0, i4, :3, :3].T
    torch.testing.assert_close(roma.rotmat_to_rotvec(rel4), torch.tensor([0.3, 0, 0]).double())


def test_zero_pose_is_the_reference_rest_pose(anny_body64):
    """Zero pose: every bone at anny's (shape-independent) reference orientation, upright."""
    body = anny_body64
    shape = torch.tensor([[0.5, 0.8, 0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    out = body(torch.zeros(2, 24, 3, dtype=torch.float64), shape.double())
    ref = body.anny.reference_bone_orientations.expand(2, -1, -1, -1)
    torch.testing.assert_close(out.bone_poses[..., :3, :3], ref, rtol=0, atol=1e-8)
    # The pelvis sits at the origin (transl = 0); the mesh is within a few cm of anny's shaped
    # mesh in its artist rest posture (compared centroid to centroid).
    torch.testing.assert_close(out.joints["anny24"][:, 0], torch.zeros(2, 3).double())
    rest = out.rest_vertices - out.rest_vertices.mean(1, keepdim=True)
    posed = out.vertices - out.vertices.mean(1, keepdim=True)
    assert (rest - posed).norm(dim=-1).max() < 0.08
    # Canonical frame: up +Z, facing -Y (nose in front of the head top), left at +X.
    j = out.joints["h36m17"][0]
    h36 = get_skeleton("h36m17")
    assert j[h36.index("head_top"), 2] > j[h36.index("pelvis"), 2] + 0.6
    assert j[h36.index("l_shoulder"), 0] > 0.1 > -0.1 > j[h36.index("r_shoulder"), 0]
    nose = out.joints["coco17"][0, 0]
    assert nose[1] < j[h36.index("head_top"), 1] - 0.05


def test_root_rotation_rotates_everything(anny_body64):
    body = anny_body64
    pose = _pose(2, 0.2, seed=1)
    transl = torch.tensor([[0.3, -0.2, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    base = body(pose, transl=transl)
    rot = torch.tensor([0.3, -1.1, 0.5], dtype=torch.float64)
    R = roma.rotvec_to_rotmat(rot)
    pose2 = pose.clone()
    pose2[:, 0] = roma.rotmat_to_rotvec(R @ roma.rotvec_to_rotmat(pose[:, 0]))
    out = body(pose2, transl=transl)
    # Everything turns about the pelvis, which sits at transl.
    expect = (base.vertices - transl[:, None]) @ R.T + transl[:, None]
    torch.testing.assert_close(out.vertices, expect, rtol=0, atol=1e-9)
    for layout in body.joint_layouts:
        j = (base.joints[layout] - transl[:, None]) @ R.T + transl[:, None]
        torch.testing.assert_close(out.joints[layout], j, rtol=0, atol=1e-9)


def test_default_adult_proportions(anny_body):
    out = anny_body(torch.zeros(1, 24, 3))
    v = out.vertices[0]
    height = float(v[:, 2].max() - v[:, 2].min())
    assert 1.5 < height < 2.0
    for layout in ("anny24", "smpl24", "h36m17"):
        sk = get_skeleton(layout)
        j = out.joints[layout][0]
        femur = (j[sk.index("l_hip")] - j[sk.index("l_knee")]).norm()
        shin = (j[sk.index("l_knee")] - j[sk.index("l_ankle")]).norm()
        upper_arm = (j[sk.index("l_shoulder")] - j[sk.index("l_elbow")]).norm()
        assert 0.35 < femur < 0.55 and 0.35 < shin < 0.55 and 0.22 < upper_arm < 0.40
        # left/right symmetric at the zero pose
        perm = sk.flip_permutation
        mirrored = j[perm] * j.new_tensor([-1.0, 1.0, 1.0])
        torch.testing.assert_close(mirrored, j, rtol=0, atol=2e-3)
    coco = out.joints["coco17"][0]
    assert 0.3 < (coco[5] - coco[6]).norm() < 0.45  # shoulder width


def test_height_monotonic_in_height_phenotype(anny_body):
    shape = anny_body.make_shape(5, height=torch.linspace(0.0, 1.0, 5))
    out = anny_body(torch.zeros(5, 24, 3), shape)
    h = out.vertices[..., 2].amax(1) - out.vertices[..., 2].amin(1)
    assert (h.diff() > 0.01).all(), h
    with pytest.raises(ValueError, match="unknown phenotypes"):
        anny_body.make_shape(1, size=1.0)
    assert PHENOTYPES[4] == "height"


def test_knee_flexion_bends_the_leg_backward(anny_body):
    """+x rotation at the knee (lateral axis) swings the shin backward (+Y), as a knee does."""
    sk = get_skeleton("anny24")
    pose = torch.zeros(1, 24, 3)
    pose[0, sk.index("l_knee"), 0] = math.radians(90)
    j0 = anny_body(torch.zeros(1, 24, 3)).joints["anny24"][0]
    j1 = anny_body(pose).joints["anny24"][0]
    ankle0, ankle1 = j0[sk.index("l_ankle")], j1[sk.index("l_ankle")]
    assert ankle1[1] - ankle0[1] > 0.3  # moved backward
    shin = (j1[sk.index("l_ankle")] - j1[sk.index("l_knee")]).norm()
    torch.testing.assert_close(shin, (ankle0 - j0[sk.index("l_knee")]).norm())


def test_part_labels(anny_body):
    labels = anny_body.part_labels
    assert labels.shape == (anny_body.num_vertices,)
    counts = torch.bincount(labels, minlength=len(PART_NAMES))
    assert (counts > 100).all()
    v = anny_body(torch.zeros(1, 24, 3)).vertices[0]
    # left parts on the left (+X), head on top, feet at the bottom
    for i, name in enumerate(PART_NAMES):
        x = v[labels == i, 0].mean()
        if name.startswith("l_"):
            assert x > 0.05
        elif name.startswith("r_"):
            assert x < -0.05
    z = [v[labels == PART_NAMES.index(p), 2].mean() for p in ("head", "torso", "l_foot")]
    assert z[0] > z[1] > z[2]


def test_gradients_flow(anny_body):
    pose = torch.zeros(2, 24, 3, requires_grad=True)
    shape = anny_body.make_shape(2).requires_grad_(True)
    out = anny_body(pose, shape)
    (out.joints["h36m17"].square().sum() + out.vertices.square().mean()).backward()
    assert pose.grad is not None and pose.grad.abs().sum() > 0
    assert shape.grad is not None and shape.grad.abs().sum() > 0
