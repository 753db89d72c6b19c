"""Pose sampler: limits table and axis mapping, families, determinism, penetration, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.data.synthetic.penetration import PAIRS, penetration_depth, segment_distance
from posekit.data.synthetic.pose_families import FAMILIES
from posekit.data.synthetic.pose_limits import (
    CONE_JOINTS,
    LIMITS,
    LOWER_DEG,
    UPPER_DEG,
    anatomical_to_pose,
    clamp_to_limits,
    dof_index,
    format_limits_table,
    mirror_angles,
    pose_to_anatomical,
)
from posekit.data.synthetic.poses import PoseBatch, PoseSampler, ShapeSampler
from posekit.skeletons import get_skeleton

ANNY24 = get_skeleton("anny24")
H36M = get_skeleton("h36m17")


def _angles(**dofs: float) -> np.ndarray:
    """(1, 24, 3) anatomical angles with the given DOFs set, e.g. l_knee__flexion=30."""
    a = np.zeros((1, 24, 3))
    for key, value in dofs.items():
        joint, dof = key.split("__")
        j, ax = dof_index(joint, dof)
        a[0, j, ax] = value
    return a


def _joints(body, angles: np.ndarray, layout: str = "anny24") -> np.ndarray:
    pose = torch.from_numpy(anatomical_to_pose(angles)).to(body.dtype)
    with torch.no_grad():
        return body.forward_joints(pose, layouts=(layout,))[layout].double().numpy()


# --- limits table, conversions --------------------------------------------------------------


def test_limits_table_is_complete_and_ordered() -> None:
    assert (LOWER_DEG[1:] <= 0).all() and (UPPER_DEG[1:] >= 0).all()
    assert all(r.min_deg < r.max_deg and r.source for r in LIMITS)
    for joint in ANNY24.joints[1:]:  # every non-root joint has its three DOFs in the table
        base = joint if not joint.startswith("r_") else "l_" + joint[2:]
        assert {r.axis for r in LIMITS if r.joint == base} == {"x", "y", "z"}, joint
    assert format_limits_table().count("\n") == len(LIMITS) + 1


def test_anatomical_pose_round_trip() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(LOWER_DEG[1:], UPPER_DEG[1:], size=(500, 23, 3))
    a = clamp_to_limits(np.concatenate([np.zeros((500, 1, 3)), a], axis=1))
    back = pose_to_anatomical(anatomical_to_pose(a))
    np.testing.assert_allclose(back[:, 1:], a[:, 1:], atol=1e-9)
    with pytest.raises(ValueError, match=r"angles_deg: expected \(\.\.\., 24, 3\)"):
        anatomical_to_pose(np.zeros((2, 23, 3)))


def test_clamp_applies_box_and_cone() -> None:
    a = _angles(l_shoulder__flexion=300, l_shoulder__abduction=300, l_knee__flexion=-40)
    c = clamp_to_limits(a)
    j, _ = dof_index("l_shoulder", "flexion")
    flex, abd = c[0, j, 0], c[0, j, 1]
    assert np.hypot(flex / UPPER_DEG[j, 0], abd / UPPER_DEG[j, 1]) == pytest.approx(1.0)
    assert c[0, dof_index("l_knee", "flexion")[0], 0] == LOWER_DEG[ANNY24.index("l_knee"), 0]


# --- sampler ------------------------------------------------------------------------------


def test_same_seed_same_poses() -> None:
    sampler = PoseSampler()
    a = sampler.sample(300, np.random.default_rng(7))
    b = sampler.sample(300, np.random.default_rng(7))
    c = sampler.sample(300, np.random.default_rng(8))
    assert isinstance(a, PoseBatch) and a.pose.shape == (300, 24, 3) and a.pose.dtype == np.float32
    np.testing.assert_array_equal(a.pose, b.pose)
    np.testing.assert_array_equal(a.family, b.family)
    np.testing.assert_array_equal(a.arms, b.arms)
    assert not np.array_equal(a.pose, c.pose)


def test_sampled_angles_within_limits() -> None:
    batch = PoseSampler().sample(4000, np.random.default_rng(1))
    a = pose_to_anatomical(batch.pose.astype(np.float64))  # decomposed from the poses themselves
    tol = 1e-3  # degrees (float32 poses)
    assert (a[:, 1:] >= LOWER_DEG[1:] - tol).all() and (a[:, 1:] <= UPPER_DEG[1:] + tol).all()
    for joint in CONE_JOINTS:
        j = ANNY24.index(joint)
        s = a[:, j, :2]
        bound = np.where(s >= 0, UPPER_DEG[j, :2], -LOWER_DEG[j, :2])
        assert (np.sqrt(((s / bound) ** 2).sum(-1)) <= 1 + 1e-4).all(), joint
    assert np.isfinite(batch.pose).all() and np.abs(batch.pose[:, 1:]).max() < np.pi


def test_every_family_appears_with_its_weight() -> None:
    names = tuple(FAMILIES)
    w = np.arange(1, len(names) + 1, dtype=float)
    n = 22000
    batch = PoseSampler(weights=w).sample(n, np.random.default_rng(2))
    counts = np.bincount(batch.family, minlength=len(names))
    p = w / w.sum()
    sigma = np.sqrt(n * p * (1 - p))
    assert (np.abs(counts - n * p) < 4 * sigma).all(), counts
    assert set(batch.family_names) == set(names)
    only = PoseSampler(families=["walk", "sit_chair"], weights={"walk": 1, "sit_chair": 0})
    assert set(only.sample(200, np.random.default_rng(0)).family_names) == {"walk"}
    with pytest.raises(ValueError, match="unknown"):
        PoseSampler(families=["flying"])
    with pytest.raises(ValueError, match="weights: unknown families"):
        PoseSampler(weights={"walk": 1.0, "flying": 1.0})


def test_mirror_is_a_reflection(anny_body64) -> None:
    """mirror_angles gives the reflected body (x -> -x, left <-> right), so L/R is symmetric."""
    a = clamp_to_limits(PoseSampler().sample(4, np.random.default_rng(3)).angles_deg.astype(float))
    j = _joints(anny_body64, a)
    jm = _joints(anny_body64, mirror_angles(a))
    reflected = j[:, ANNY24.flip_permutation] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(jm, reflected, atol=1e-3)  # anny's mesh is symmetric to < 1 mm


# --- axis mapping on the body ---------------------------------------------------------------


def test_zero_pose_faces_minus_y(anny_body) -> None:
    j = _joints(anny_body, np.zeros((1, 24, 3)), "coco17")[0]
    coco = get_skeleton("coco17")
    nose, ls, rs = (j[coco.index(n)] for n in ("nose", "l_shoulder", "r_shoulder"))
    assert nose[1] < (ls[1] + rs[1]) / 2 - 0.05  # the nose is at -y of the shoulders
    assert ls[0] > rs[0] + 0.2  # left side at +x


def test_neutral_posture_limbs_hang_vertically(anny_body) -> None:
    j = _joints(anny_body, np.zeros((1, 24, 3)))[0]
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
        for s in "lr":
            d = j[ANNY24.index(f"{s}_{b}")] - j[ANNY24.index(f"{s}_{a}")]
            assert np.degrees(np.arccos(-d[2] / np.linalg.norm(d))) < 3.0, (s, a, b)


@pytest.mark.parametrize("side", ["l", "r"])
@pytest.mark.parametrize(
    ("joint", "dof", "child", "direction"),
    [
        ("knee", "flexion", "ankle", (0, 1, 0)),  # the ankle moves backward (+y)
        ("hip", "flexion", "knee", (0, -1, 0)),  # the knee moves forward
        ("shoulder", "flexion", "elbow", (0, -1, 0)),
        ("shoulder", "abduction", "elbow", (1, 0, 0)),  # laterally (sign by side, below)
        ("elbow", "flexion", "wrist", (0, -1, 0)),
        ("hip", "abduction", "knee", (1, 0, 0)),
        ("ankle", "plantarflexion", "foot", (0, 0, -1)),  # the toes go down
        ("collar", "elevation", "shoulder", (0, 0, 1)),
    ],
)
def test_anatomical_axes_move_the_child_as_named(
    anny_body, side, joint, dof, child, direction
) -> None:
    base = _joints(anny_body, np.zeros((1, 24, 3)))[0]
    moved = _joints(anny_body, _angles(**{f"{side}_{joint}__{dof}": 40.0}))[0]
    d = moved[ANNY24.index(f"{side}_{child}")] - base[ANNY24.index(f"{side}_{child}")]
    want = np.array(direction, float)
    want[0] *= 1 if side == "l" else -1  # lateral is +x on the left, -x on the right
    assert d @ want > 0.6 * np.linalg.norm(d) and np.linalg.norm(d) > 0.02, d
    if dof == "abduction":
        assert d[2] > 0  # raised, not lowered


def test_trunk_axes(anny_body) -> None:
    base = _joints(anny_body, np.zeros((1, 24, 3)))[0]
    neck = ANNY24.index("neck")
    fwd = _joints(anny_body, _angles(spine1__flexion=30))[0][neck] - base[neck]
    left = _joints(anny_body, _angles(spine1__lateral_flexion_left=15))[0][neck] - base[neck]
    assert fwd[1] < -0.1 and abs(fwd[0]) < 1e-3
    assert left[0] > 0.05 and abs(left[1]) < 1e-3


# --- penetration filter ---------------------------------------------------------------------


def test_segment_distance_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    p1, q1, p2, q2 = torch.randn(4, 200, 3, generator=g, dtype=torch.float64)
    q2[:10] = p2[:10]  # degenerate segments (points)
    q1[10:20] = p1[10:20] + 1e-3 * (q2[10:20] - p2[10:20])  # near parallel
    t = torch.linspace(0, 1, 401, dtype=torch.float64)
    a = p1[:, None] + t[None, :, None] * (q1 - p1)[:, None]  # (200, 401, 3)
    b = p2[:, None] + t[None, :, None] * (q2 - p2)[:, None]
    brute = torch.cdist(a, b).amin(dim=(1, 2))
    d = segment_distance(p1, q1, p2, q2)
    assert (d <= brute + 1e-12).all() and (brute - d).max() < 5e-3


def test_penetration_filter(anny_body) -> None:
    through_torso = _angles(l_shoulder__external_rotation=-70, l_elbow__flexion=95)
    knees = _angles(l_hip__abduction=-30, r_hip__abduction=-30)
    poses = np.concatenate([np.zeros((1, 24, 3)), through_torso, knees])
    pose = torch.from_numpy(anatomical_to_pose(poses)).float()
    pose[0] = 0.0  # anny's rest (zero) pose
    with torch.no_grad():
        j = anny_body.forward_joints(pose)["h36m17"].double()
    depth = penetration_depth(j)
    assert depth[0] < -0.05  # clear of any contact
    assert depth[1] > 0.03 and depth[2] > 0.03
    assert len(PAIRS) > 20


def test_sample_valid_returns_valid_poses(anny_body) -> None:
    from posekit.data.synthetic.penetration import make_penetration_check

    check = make_penetration_check(anny_body)
    batch, rates = PoseSampler().sample_valid(64, np.random.default_rng(4), check)
    assert len(batch) == 64 and check(batch).all()
    assert set(rates) == set(FAMILIES) and all(0 <= r <= 1 for r in rates.values())


# --- joints of sampled poses ----------------------------------------------------------------


def test_sampled_poses_give_plausible_joints(anny_body) -> None:
    batch = PoseSampler().sample(256, np.random.default_rng(5))
    shape = torch.from_numpy(ShapeSampler().sample(256, np.random.default_rng(5))).float()
    with torch.no_grad():
        j = anny_body.forward_joints(torch.from_numpy(batch.pose), shape)["h36m17"].double()
        rest = anny_body.forward_joints(torch.zeros(256, 24, 3), shape)["h36m17"].double()
    assert torch.isfinite(j).all()
    # rigid limb bones keep their length in every pose
    for a, b in (("l_hip", "l_knee"), ("r_knee", "r_ankle"), ("l_shoulder", "l_elbow")):
        ia, ib = H36M.index(a), H36M.index(b)
        length = (j[:, ia] - j[:, ib]).norm(dim=-1)
        torch.testing.assert_close(
            length, (rest[:, ia] - rest[:, ib]).norm(dim=-1), atol=1e-4, rtol=0
        )
    up = np.isin(batch.family_names, ["stand", "walk", "run", "reach", "arms_raised"])
    ankles = [H36M.index("l_ankle"), H36M.index("r_ankle")]
    head, feet = j[:, H36M.index("head_top"), 2], j[:, ankles, 2]
    assert up.sum() > 50
    # z up, pelvis at 0: both feet below the pelvis, one of them near the floor, head above
    assert (feet[up].amax(dim=1) < 0).all() and (feet[up].amin(dim=1) < -0.6).all()
    assert (head[up] > 0.4).all()


def test_forward_joints_equals_forward(anny_body64) -> None:
    g = torch.Generator().manual_seed(0)
    pose = 0.4 * torch.randn(5, 24, 3, generator=g, dtype=torch.float64)
    shape = torch.rand(5, 6, generator=g, dtype=torch.float64)
    transl = torch.randn(5, 3, generator=g, dtype=torch.float64)
    full = anny_body64(pose, shape, transl).joints
    fast = anny_body64.forward_joints(pose, shape, transl, layouts=("h36m17", "anny24"))
    for layout, joints in fast.items():
        torch.testing.assert_close(joints, full[layout], atol=1e-10, rtol=0)


def test_shape_sampler() -> None:
    s = ShapeSampler().sample(500, np.random.default_rng(0))
    assert s.shape == (500, 6) and (s >= 0).all() and (s <= 1).all()
    np.testing.assert_array_equal(s, ShapeSampler().sample(500, np.random.default_rng(0)))
    assert (s[:, 1] >= 0.77 - 1e-9).all()  # adults: anny age >= 0.77 (18 years)
    assert s[:, 0].std() > 0.2 and s[:, 4].std() > 0.05  # gender and height vary
    from posekit.body import PHENOTYPES
    from posekit.data.synthetic.body_shapes import _PHENOTYPE_ORDER

    assert _PHENOTYPE_ORDER == PHENOTYPES
