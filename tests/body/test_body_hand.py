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


# hand21 joint -> anny bone whose head it is (`posekit.body.hand` docstring; tips are vertices).
_ANNY_BONE = {
    "wrist": "wrist",
    **{f"thumb_{j}": f"finger1-{i}" for i, j in enumerate(("cmc", "mcp", "ip"), 1)},
    **{
        f"{f}_{j}": f"finger{k}-{i}"
        for k, f in enumerate(FINGERS, 2)
        for i, j in enumerate(("mcp", "pip", "dip"), 1)
    },
}
# every finger chain, proximal to distal
_CHAINS = {
    "thumb": ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"),
    **{f: tuple(f"{f}_{j}" for j in ("mcp", "pip", "dip", "tip")) for f in FINGERS},
}


def _rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle (B, 3) -> (B, 3, 3) as the exponential of the cross-product matrix."""
    x, y, z = rotvec.unbind(-1)
    o = torch.zeros_like(x)
    K = torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(-1, 3, 3)
    return torch.linalg.matrix_exp(K)


def _angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.atan2(torch.linalg.cross(a, b, dim=-1).norm(dim=-1), (a * b).sum(-1))


def _palm_normal(j0: torch.Tensor) -> torch.Tensor:
    """Out of the palm of the right hand, from the zero-pose joints (module docstring)."""
    u = j0[HAND21.index("middle_mcp")] - j0[HAND21.index("wrist")]
    w = j0[HAND21.index("index_mcp")] - j0[HAND21.index("pinky_mcp")]
    n = -torch.linalg.cross(u, w)
    return n / n.norm()


def test_matches_anny_forward(anny_hand):
    """Zero articulation is anny's own reference posture (identity deltas), joint by joint;
    ``global_orient`` and ``transl`` then move the posed hand rigidly about the wrist."""
    N = len(anny_hand.bone_labels)
    identity = torch.eye(4, dtype=torch.float64).expand(1, N, 4, 4)
    ref = anny_hand.anny(pose_parameters=identity, phenotype_kwargs=anny_hand.default_shape[None])
    out = anny_hand(torch.zeros(1, 20, dtype=torch.float64))
    torch.testing.assert_close(out.vertices, ref["vertices"], rtol=0, atol=1e-12)
    heads = ref["bone_poses"][0, :, :3, 3]
    label = list(anny_hand.bone_labels)
    j = out.joints["hand21"][0]
    for name, bone in _ANNY_BONE.items():
        torch.testing.assert_close(j[HAND21.index(name)], heads[label.index(f"{bone}.R")])
    for chain in _CHAINS.values():  # each tip: a mesh vertex beyond the distal joint
        tip, dip = j[HAND21.index(chain[3])], j[HAND21.index(chain[2])]
        assert (ref["vertices"][0] - tip).norm(dim=-1).min() < 1e-12
        assert 0.01 < (tip - dip).norm() < 0.04

    g = torch.Generator().manual_seed(3)
    pose = sample_hand_articulation(3, g, dtype=torch.float64)
    orient = torch.randn(3, 3, dtype=torch.float64, generator=g)
    transl = torch.randn(3, 3, dtype=torch.float64, generator=g)
    local = anny_hand(pose)
    placed = anny_hand(pose, transl=transl, global_orient=orient)
    R = _rotmat(orient)
    expected = local.vertices @ R.transpose(1, 2) + transl[:, None]
    torch.testing.assert_close(placed.vertices, expected, rtol=0, atol=1e-10)
    expected = local.joints["hand21"] @ R.transpose(1, 2) + transl[:, None]
    torch.testing.assert_close(placed.joints["hand21"], expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(placed.joints["hand21"][:, 0], transl)


_FLEX = [n for n in HAND_DOF_NAMES if n.endswith("_flex")]


@pytest.mark.parametrize("dof", _FLEX)
def test_flexion_turns_the_distal_chain_rigidly_by_its_angle(anny_hand, dof):
    """One flexion angle θ turns the bone after its joint by exactly θ, carries everything
    distal to it rigidly (bone lengths kept) and leaves every other joint where it was."""
    finger, joint = dof.split("_")[:2]
    chain = [HAND21.index(n) for n in _CHAINS[finger]]
    k = [n.split("_")[1] for n in _CHAINS[finger]].index(joint)
    pivot, distal = chain[k], chain[k + 1 :]
    j0 = anny_hand(torch.zeros(1, 20, dtype=torch.float64)).joints["hand21"][0]
    theta = 0.5
    pose = torch.zeros(1, 20, dtype=torch.float64)
    pose[0, HAND_DOF_NAMES.index(dof)] = theta
    j = anny_hand(pose).joints["hand21"][0]
    still = [i for i in range(21) if i not in distal]
    torch.testing.assert_close(j[still], j0[still], rtol=0, atol=1e-12)
    moved = [pivot, *distal]
    d0 = torch.cdist(j0[moved], j0[moved])
    torch.testing.assert_close(torch.cdist(j[moved], j[moved]), d0, rtol=0, atol=1e-6)
    child = distal[0]
    turned = _angle(j0[child] - j0[pivot], j[child] - j[pivot])
    assert abs(float(turned) - theta) < 1e-6, (dof, float(turned))


@pytest.mark.parametrize("finger", FINGERS)
def test_abduction_turns_about_the_palm_normal(anny_hand, finger):
    """MCP abduction φ turns the proximal phalanx by φ about the palm normal, towards the
    thumb for φ > 0; added to a flexion it keeps the flexion's lift off the palm plane
    (``R_abd @ R_flex``: the flexion axis is carried by the abduction)."""
    mcp, pip = HAND21.index(f"{finger}_mcp"), HAND21.index(f"{finger}_pip")
    j0 = anny_hand(torch.zeros(1, 20, dtype=torch.float64)).joints["hand21"][0]
    n = _palm_normal(j0)
    radial = j0[HAND21.index("index_mcp")] - j0[HAND21.index("pinky_mcp")]

    def bone(flex: float, abd: float) -> torch.Tensor:
        pose = torch.zeros(1, 20, dtype=torch.float64)
        pose[0, HAND_DOF_NAMES.index(f"{finger}_mcp_flex")] = flex
        pose[0, HAND_DOF_NAMES.index(f"{finger}_mcp_abd")] = abd
        j = anny_hand(pose).joints["hand21"][0]
        return j[pip] - j[mcp]

    def in_palm_plane(v: torch.Tensor) -> torch.Tensor:
        return v - (v @ n) * n

    b0, phi = bone(0.0, 0.0), 0.2
    b = bone(0.0, phi)
    torch.testing.assert_close(b @ n, b0 @ n, rtol=0, atol=1e-9)  # about n: no lift
    turned = _angle(in_palm_plane(b0), in_palm_plane(b))
    assert abs(float(turned) - phi) < 1e-6
    assert (b - b0) @ radial > 0  # towards the thumb
    assert (bone(0.0, -phi) - b0) @ radial < 0
    flexed = bone(0.6, 0.0)
    torch.testing.assert_close(bone(0.6, phi) @ n, flexed @ n, rtol=0, atol=1e-9)
    torch.testing.assert_close(bone(0.6, phi).norm(), b0.norm())


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
