from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.skeletons import (
    COCO17,
    H36M17,
    HAND21,
    LSP14,
    MPII16,
    NYU14,
    SMPL24,
    Skeleton,
    get_skeleton,
    joint_map,
    list_skeletons,
)

ALL = [COCO17, MPII16, LSP14, H36M17, SMPL24, HAND21, NYU14]


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_tree_is_topological_and_flips_are_involutions(sk: Skeleton) -> None:
    assert sk.parents[0] == -1
    assert all(0 <= p < j for j, p in enumerate(sk.parents) if j > 0)
    perm = sk.flip_permutation
    assert [perm[p] for p in perm] == list(range(sk.num_joints))
    for a, b in sk.flip_pairs:
        assert sk.joints[a].startswith("l_") and sk.joints[b] == "r_" + sk.joints[a][2:]
    # every joint is reachable from the root and every limb is a valid pair
    assert all(0 <= a < sk.num_joints and 0 <= b < sk.num_joints for a, b in sk.limbs)


def test_counts_and_registry() -> None:
    expected = {
        "coco17": 17,
        "mpii16": 16,
        "lsp14": 14,
        "h36m17": 17,
        "smpl24": 24,
        "anny24": 24,
        "hand21": 21,
        "nyu14": 14,
        "nyu36": 36,
        "mpi_inf_3dhp17": 17,
    }
    assert {n: get_skeleton(n).num_joints for n in list_skeletons()} == expected
    with pytest.raises(KeyError, match="unknown skeleton 'mpi'"):
        get_skeleton("mpi")
    with pytest.raises(KeyError, match="no joint 'elbow'"):
        COCO17.index("elbow")


def test_h36m_parents_match_the_public_convention() -> None:
    assert list(H36M17.parents) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]


def test_lsp_is_a_subset_of_mpii_by_name() -> None:
    src, dst = joint_map("lsp14", "mpii16")
    assert len(src) == 14
    assert sorted(set(MPII16.joints) - set(LSP14.joints)) == ["pelvis", "thorax"]
    x = np.random.default_rng(0).normal(size=(3, 14, 2))
    y = np.full((3, 16, 2), np.nan)
    y[:, dst] = x[:, src]
    for name in LSP14.joints:
        np.testing.assert_array_equal(y[:, MPII16.index(name)], x[:, LSP14.index(name)])


def test_native_order_round_trip_and_meaning() -> None:
    # MPII .mat joint id 6 is the pelvis, id 9 the head top.
    native = torch.arange(16.0)[None, :, None].expand(2, 16, 2)
    ours = MPII16.from_native(native)
    assert ours[0, MPII16.index("pelvis"), 0] == 6
    assert ours[0, MPII16.index("head_top"), 0] == 9
    torch.testing.assert_close(MPII16.to_native(ours), native)
    lsp = np.arange(14.0)[:, None]
    assert LSP14.from_native(lsp)[LSP14.index("head_top"), 0] == 13
    np.testing.assert_array_equal(LSP14.to_native(LSP14.from_native(lsp)), lsp)


def test_flip_permutation_mirrors_a_pose() -> None:
    rng = np.random.default_rng(1)
    pose = rng.normal(size=(17, 3))
    flipped = pose[H36M17.flip_permutation] * np.array([-1.0, 1.0, 1.0])
    back = flipped[H36M17.flip_permutation] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(back, pose)
    assert H36M17.flip_permutation[H36M17.index("l_wrist")] == H36M17.index("r_wrist")


def test_bone_lengths_numpy_and_torch_agree() -> None:
    rng = np.random.default_rng(2)
    pose = rng.normal(size=(4, 17, 3))
    a = H36M17.bone_lengths(pose)
    b = H36M17.bone_lengths(torch.from_numpy(pose)).numpy()
    assert a.shape == (4, 16)
    np.testing.assert_allclose(a, b)
    j = H36M17.index("r_knee")
    np.testing.assert_allclose(a[:, j - 1], np.linalg.norm(pose[:, j] - pose[:, j - 1], axis=-1))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 17, D\)"):
        H36M17.bone_lengths(pose[:, :16])


def test_invalid_skeletons_are_refused() -> None:
    with pytest.raises(ValueError, match="parent before the joint"):
        Skeleton("bad", ("a", "b", "c"), (-1, 2, 0))
    with pytest.raises(ValueError, match="duplicate"):
        Skeleton("bad", ("a", "a"), (-1, 0))
    with pytest.raises(ValueError, match="root"):
        Skeleton("bad", ("a", "b"), (1, -1))


def test_nyu14_maps_to_hand21_fingers() -> None:
    src, dst = joint_map("nyu14", "hand21")
    shared = {HAND21.joints[d] for d in dst}
    assert {"thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"} <= shared
    assert "wrist" not in shared  # NYU's wrist points are not hand21's wrist
    assert len(src) == 11  # 5 tips, 4 finger PIPs, thumb IP and MCP
