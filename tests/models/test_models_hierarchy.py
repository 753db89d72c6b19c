"""Tests of posekit.models.pose2d.hierarchy: the part tables are trees over each skeleton's
joints, and the level targets follow the joints' Gaussians."""

from __future__ import annotations

import pytest
import torch

from posekit.codecs import Heatmap2D
from posekit.models.pose2d import (
    HIERARCHY_TABLES,
    encode_part_heatmaps,
    get_hierarchy,
    list_hierarchies,
)
from posekit.skeletons import get_skeleton


def test_tables_cover_the_2d_layouts():
    assert {"coco17", "mpii16", "lsp14", "h36m17"} <= set(list_hierarchies())


@pytest.mark.parametrize("name", sorted(HIERARCHY_TABLES))
def test_every_level_partitions_the_level_below(name):
    hier = get_hierarchy(name)
    skeleton = get_skeleton(name)
    assert hier.names[0] == skeleton.joints
    assert hier.num_levels == 4 and hier.level_sizes[-1] == 1
    for level in range(1, hier.num_levels):
        m = hier.child_matrix(level)
        assert bool((m.sum(0) == 1).all()), f"level {level}: a child with != 1 parent"
        assert bool((m.sum(1) >= 1).all()), f"level {level}: a part without children"
        joints = hier.joint_matrix(level)
        assert bool((joints.sum(0) == 1).all()), f"level {level}: a joint in != 1 part"
        # joints of a part = union of its children's joints
        below = hier.joint_matrix(level - 1) if level > 1 else torch.eye(skeleton.num_joints)
        torch.testing.assert_close(joints, (m @ below).clamp(max=1))
    assert hier.joints(hier.num_levels - 1) == (tuple(range(skeleton.num_joints)),)
    # a left / right part holds joints of its side only
    for level in range(1, hier.num_levels - 1):
        for part, joints in zip(hier.names[level], hier.joints(level)):
            if part[:2] in ("l_", "r_"):
                assert all(skeleton.joints[j][:2] == part[:2] for j in joints), (name, part)


def test_unknown_skeleton_lists_the_available_ones():
    with pytest.raises(KeyError, match="available: coco17, h36m17, lsp14, mpii16"):
        get_hierarchy("hand21")


def test_part_targets_max_and_centre():
    hier = get_hierarchy("lsp14")
    codec = Heatmap2D((64, 64), (16, 16), sigma=1.0)
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 14, 2, generator=gen, dtype=torch.float64) * 60
    vis = torch.ones(2, 14)
    r_arm = [hier.names[0].index(n) for n in ("r_shoulder", "r_elbow", "r_wrist")]
    vis[0, r_arm] = 0  # sample 0: right arm not annotated
    maps, weights = encode_part_heatmaps(kp, vis, hier, codec)
    joint_maps, joint_w = codec.encode(kp, vis)
    torch.testing.assert_close(maps[0], joint_maps)
    assert [m.shape[1] for m in maps] == list(hier.level_sizes)
    for level in range(1, 4):
        for k, joints in enumerate(hier.joints(level)):
            ref = joint_maps[:, list(joints)].amax(1)
            torch.testing.assert_close(maps[level][:, k], ref)
            torch.testing.assert_close(weights[level][:, k], joint_w[:, list(joints)].amax(1))
    r_arm_limb = hier.names[2].index("r_arm")
    assert weights[2][0, r_arm_limb] == 0 and weights[2][1, r_arm_limb] == 1
    centre, _ = encode_part_heatmaps(kp, vis, hier, codec, mode="centre")
    body = kp[1].mean(0)  # sample 1: all joints visible, body Gaussian at their mean
    torch.testing.assert_close(centre[3][1:], codec.encode(body[None, None])[0])
    with pytest.raises(ValueError, match="mode"):
        encode_part_heatmaps(kp, vis, hier, codec, mode="sum")
