"""Bone-length retargeting keeps bone directions and size, and leaves Human3.6M poses alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.data.lifting.retarget import (
    H36M_BONE_LENGTHS_M,
    bone_lengths,
    retarget_bone_lengths,
)
from posekit.skeletons import get_skeleton

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "h36m_poses"


def _poses(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 17, 3, generator=g, dtype=torch.float64) * 0.3


def test_lengths_directions_and_size() -> None:
    x = _poses()
    sk = get_skeleton("h36m17")
    exact = retarget_bone_lengths(x, "h36m17", "h36m", keep_size=False)
    want = torch.tensor([H36M_BONE_LENGTHS_M[sk.joints[j]] for j in range(1, 17)])
    torch.testing.assert_close(bone_lengths(exact, "h36m17")[:, 1:], want.expand(16, -1).double())
    parents = [max(p, 0) for p in sk.parents]
    d0, d1 = x - x[:, parents], exact - exact[:, parents]
    cos = torch.nn.functional.cosine_similarity(d0[:, 1:], d1[:, 1:], dim=-1)
    torch.testing.assert_close(cos, torch.ones_like(cos))
    torch.testing.assert_close(exact[:, 0], x[:, 0])  # the root stays
    kept = retarget_bone_lengths(x, "h36m17", "h36m")
    torch.testing.assert_close(
        bone_lengths(kept, "h36m17").sum(1), bone_lengths(x, "h36m17").sum(1)
    )


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        retarget_bone_lengths(_poses(), "h36m17", "smpl")
    with pytest.raises(ValueError, match="no bone length for"):
        retarget_bone_lengths(_poses(), "h36m17", {"r_hip": 0.1})


def test_real_h36m_poses_are_a_fixed_point() -> None:
    files = sorted(REAL.glob("S1.npz"))
    if not files:
        pytest.skip(f"real Human3.6M poses not found at {REAL}")
    joints = torch.from_numpy(np.load(files[0])["joints3d"][::50]).double()
    out = retarget_bone_lengths(joints, "h36m17", "h36m", keep_size=False)
    assert float((out - joints).norm(dim=-1).max()) < 1.5e-3  # the table is rounded to 0.1 mm
