"""Surface landmarks: valid, reproducible from their rule, symmetric, spread over the body."""

from __future__ import annotations

import torch

from posekit.body.anny_rig import PART_NAMES
from posekit.body.landmarks import (
    LANDMARK_NAMES,
    LANDMARK_VERTICES,
    LIMBS,
    derive_landmarks,
    landmark_flip_permutation,
    landmark_positions,
    limb_index_pairs,
)
from posekit.skeletons import get_skeleton


def test_table_is_valid():
    assert 30 <= len(LANDMARK_NAMES) <= 40
    assert list(LANDMARK_VERTICES) == list(LANDMARK_NAMES)
    idx = list(LANDMARK_VERTICES.values())
    assert len(set(idx)) == len(idx)  # distinct vertices
    assert all(0 <= i < 13718 for i in idx)
    perm = landmark_flip_permutation()
    assert sorted(perm) == list(range(len(LANDMARK_NAMES)))
    assert all(perm[perm[i]] == i for i in range(len(perm)))


def test_table_reproduces_from_the_rule(anny_body64):
    out = anny_body64(torch.zeros(1, 24, 3, dtype=torch.float64))
    heads = {b: out.bone_poses[0, i, :3, 3].numpy() for i, b in enumerate(anny_body64.bone_labels)}
    derived = derive_landmarks(out.vertices[0].numpy(), heads, anny_body64.part_labels.numpy())
    assert derived == LANDMARK_VERTICES


def test_symmetric(anny_body):
    """Mirrored landmarks match their partners, for two body shapes and a mirrored pose."""
    shape = anny_body.make_shape(
        2, gender=torch.tensor([0.0, 1.0]), weight=torch.tensor([0.2, 0.9])
    )
    out = anny_body(torch.zeros(2, 24, 3), shape)
    p = landmark_positions(out.vertices)
    mirrored = p[:, landmark_flip_permutation()] * p.new_tensor([-1.0, 1.0, 1.0])
    err = (mirrored - p).norm(dim=-1)
    assert err.max() < 3e-3, err.max()
    mid = [i for i, n in enumerate(LANDMARK_NAMES) if n[:2] not in ("l_", "r_")]
    assert p[:, mid, 0].abs().max() < 5e-3


def test_spread_over_the_body(anny_body):
    parts = anny_body.part_labels
    covered = {PART_NAMES[int(parts[v])] for v in LANDMARK_VERTICES.values()}
    assert covered == set(PART_NAMES)
    p = landmark_positions(anny_body(torch.zeros(1, 24, 3)).vertices)[0]
    # every landmark on the surface's extremes: pairwise at least 2 cm apart
    d = torch.cdist(p, p) + torch.eye(len(p))
    assert d.min() > 0.02
    z = {n: float(p[i, 2]) for i, n in enumerate(LANDMARK_NAMES)}
    assert z["head_top"] > z["nose_tip"] > z["chin"] > z["jugular_notch"] > z["navel"]
    assert z["l_knee_front"] > z["l_ankle_lateral"] > z["l_heel"]
    y = {n: float(p[i, 1]) for i, n in enumerate(LANDMARK_NAMES)}
    assert y["navel"] < 0 < y["sacrum"] and y["l_chest"] < y["l_scapula"]  # front is -Y


def test_limbs():
    names = set(get_skeleton("anny24").joints) | set(LANDMARK_NAMES)
    assert all(a in names and b in names for a, b in LIMBS)
    pairs = limb_index_pairs()
    assert len(pairs) == len(LIMBS) and len(set(pairs)) == len(pairs)
    n = 24 + len(LANDMARK_NAMES)
    assert all(0 <= a < n and 0 <= b < n for a, b in pairs)
    # every landmark is the end of some limb
    ends = {b for _, b in LIMBS} | {a for a, _ in LIMBS}
    assert set(LANDMARK_NAMES) <= ends
    # the limb set is left/right symmetric

    def swap(x: str) -> str:
        return {"l_": "r_", "r_": "l_"}.get(x[:2], x[:2]) + x[2:]

    undirected = {frozenset(limb) for limb in LIMBS}
    assert {frozenset((swap(a), swap(b))) for a, b in LIMBS} == undirected
