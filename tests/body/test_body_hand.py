"""AnnyHand: hand21 joints, finger flexion semantics, limits and the articulation sampler."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.body.hand import HAND_DOF_NAMES, HAND_LIMITS_DEG, sample_hand_articulation
from posekit.skeletons import HAND21

FINGERS = ("index", "middle", "ring", "pinky")


def _palm_centre(j: torch.Tensor) -> torch.Tensor:
    return j[..., [HAND21.index(n) for n in ("wrist", *(f"{f}_mcp" for f in FINGERS))], :].mean(-2)


def test_hand21_joints(anny_hand):
    out = anny_hand(torch.zeros(2, 20, dtype=torch.float64))
    j = out.joints["hand21"]
    assert j.shape == (2, 21, 3) == (2, HAND21.num_joints, 3)
    assert out.vertices.shape == (2, 1609, 3)
    torch.testing.assert_close(j[:, 0], torch.zeros(2, 3).double())  # wrist at the origin
    lengths = HAND21.bone_lengths(j[0])
    assert (lengths > 0.01).all() and (lengths < 0.13).all(), lengths  # metacarpals ~11 cm
    # fingers point to +Y, the thumb is on the +Z side of the right hand
    assert (j[0, 1:, 1] > 0.02).all()
    assert j[0, HAND21.index("thumb_tip"), 2] > j[0, HAND21.index("pinky_tip"), 2] + 0.08
    with pytest.raises(ValueError, match=r"pose: expected \(B, 20\)"):
        anny_hand(torch.zeros(2, 21))


def test_matches_anny_forward(anny_hand):
    g = torch.Generator().manual_seed(3)
    pose = sample_hand_articulation(3, g, dtype=torch.float64)
    orient, transl = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    out = anny_hand(pose, transl=transl, global_orient=orient)
    ref = anny_hand.anny(
        pose_parameters=anny_hand.bone_deltas(pose, orient, transl),
        phenotype_kwargs=anny_hand.default_shape.expand(3, -1),
    )
    torch.testing.assert_close(out.vertices, ref["vertices"], rtol=0, atol=1e-12)
    torch.testing.assert_close(out.joints["hand21"][:, 0], transl)


@pytest.mark.parametrize("finger", FINGERS)
def test_flexion_moves_tips_toward_the_palm(anny_hand, finger):
    tip = HAND21.index(f"{finger}_tip")
    j0 = anny_hand(torch.zeros(1, 20, dtype=torch.float64)).joints["hand21"][0]
    d0 = (j0[tip] - _palm_centre(j0)).norm()
    for dof in ("mcp_flex", "pip_flex", "dip_flex"):
        pose = torch.zeros(1, 20, dtype=torch.float64)
        pose[0, HAND_DOF_NAMES.index(f"{finger}_{dof}")] = math.radians(40)
        j = anny_hand(pose).joints["hand21"][0]
        assert (j[tip] - _palm_centre(j)).norm() < d0 - 0.002, dof
        assert (j[tip] - j0[tip]) @ anny_hand.palm_normal > 0.005, dof  # to the palm side
    # a full fist (all three joints at their upper limits) brings the tip close to the palm
    pose = torch.zeros(1, 20, dtype=torch.float64)
    for dof in ("mcp_flex", "pip_flex", "dip_flex"):
        pose[0, HAND_DOF_NAMES.index(f"{finger}_{dof}")] = math.radians(
            HAND_LIMITS_DEG[f"{finger}_{dof}"][1]
        )
    j = anny_hand(pose).joints["hand21"][0]
    assert (j[tip] - _palm_centre(j)).norm() < 0.6 * d0


def test_abduction_is_radial_and_thumb_opposes(anny_hand):
    j0 = anny_hand(torch.zeros(1, 20, dtype=torch.float64)).joints["hand21"][0]
    radial = j0[HAND21.index("index_mcp")] - j0[HAND21.index("pinky_mcp")]
    pose = torch.zeros(1, 20, dtype=torch.float64)
    pose[0, HAND_DOF_NAMES.index("middle_mcp_abd")] = math.radians(15)
    j = anny_hand(pose).joints["hand21"][0]
    tip = HAND21.index("middle_tip")
    assert (j[tip] - j0[tip]) @ radial > 0
    pose = torch.zeros(1, 20, dtype=torch.float64)
    pose[0, HAND_DOF_NAMES.index("thumb_cmc_flex")] = math.radians(40)
    j = anny_hand(pose).joints["hand21"][0]
    tip = HAND21.index("thumb_tip")
    assert (j[tip] - _palm_centre(j)).norm() < (j0[tip] - _palm_centre(j0)).norm() - 0.02


def test_sampler_within_limits_and_plausible(anny_hand):
    g = torch.Generator().manual_seed(0)
    s = sample_hand_articulation(512, g)
    assert s.shape == (512, 20) and s.dtype == torch.float32
    lim = torch.deg2rad(torch.tensor([HAND_LIMITS_DEG[n] for n in HAND_DOF_NAMES]))
    assert (s >= lim[:, 0] - 1e-6).all() and (s <= lim[:, 1] + 1e-6).all()
    # the samples use the range (not all near zero) and are reproducible
    assert (s.amax(0) - s.amin(0) > torch.deg2rad(torch.tensor(10.0))).all()
    torch.testing.assert_close(s, sample_hand_articulation(512, torch.Generator().manual_seed(0)))
    # fingers of one hand curl together (synergy): index and ring flexion correlate
    i = HAND_DOF_NAMES.index("index_pip_flex")
    r = HAND_DOF_NAMES.index("ring_pip_flex")
    assert torch.corrcoef(torch.stack([s[:, i], s[:, r]]))[0, 1] > 0.6
    # sampled hands keep fingertips apart (no two tips closer than 5 mm for most samples)
    out = anny_hand(s[:64].double())
    tips = out.joints["hand21"][:, [HAND21.index(f"{f}_tip") for f in FINGERS]]
    d = torch.cdist(tips, tips) + torch.eye(4, dtype=tips.dtype) * 1.0
    assert (d.amin((1, 2)) > 0.005).float().mean() > 0.9


def test_left_hand_mirrors_the_right(anny_hand):
    from posekit.body.hand import AnnyHand

    left = AnnyHand("L", dtype=torch.float64)  # ~1 s once the body is cached
    pose = sample_hand_articulation(4, torch.Generator().manual_seed(1), dtype=torch.float64)
    jl, jr = left(pose).joints["hand21"], anny_hand(pose).joints["hand21"]
    mirror = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(jl, jr * mirror, rtol=0, atol=1e-9)
    torch.testing.assert_close(left.palm_normal, anny_hand.palm_normal * mirror)
