"""Bone-length retargeting keeps bone directions and size, and leaves Human3.6M poses alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.data.lifting.retarget import (
    H36M_BONE_LENGTHS_M,
    H36M_DIRECTION_OFFSETS,
    bone_lengths,
    fit_direction_offsets,
    level_hips,
    retarget,
    retarget_bone_lengths,
    retarget_directions,
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


def _upright(n: int = 32) -> torch.Tensor:
    """Upright h36m17 poses: a fixed standing skeleton plus small noise."""
    rest = torch.tensor(
        [[0, 0, 0], [-0.13, 0, 0], [-0.13, 0, -0.44], [-0.13, 0, -0.89], [0.13, 0, 0],
         [0.13, 0, -0.44], [0.13, 0, -0.89], [0, 0.02, 0.23], [0, 0, 0.49], [0, -0.08, 0.58],
         [0, -0.02, 0.7], [0.15, 0, 0.45], [0.18, 0, 0.17], [0.2, -0.05, -0.08],
         [-0.15, 0, 0.45], [-0.18, 0, 0.17], [-0.2, -0.05, -0.08]], dtype=torch.float64
    )  # fmt: skip
    g = torch.Generator().manual_seed(1)
    return rest + torch.randn(n, 17, 3, generator=g, dtype=torch.float64) * 0.005


def _turn(joints: torch.Tensor, yaw: float, pitch: float) -> torch.Tensor:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rz = torch.tensor([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]], dtype=joints.dtype)
    rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=joints.dtype)
    return joints @ (rz @ rx).T


def test_direction_offsets_are_fitted_back_and_follow_the_trunk() -> None:
    src = _upright()
    want = {"neck_nose": (-0.3, 0.0, 0.0), "l_shoulder": (0.0, -0.2, 0.0),
            "r_shoulder": (0.0, 0.2, 0.0)}  # fmt: skip
    moved = retarget_directions(src, "h36m17", want)
    fitted = fit_direction_offsets(src, moved)
    for bone, v in want.items():
        np.testing.assert_allclose(fitted[bone], v, atol=0.02)
    for bone in ("spine", "thorax", "head_top"):
        np.testing.assert_allclose(fitted[bone], (0.0, 0.0, 0.0), atol=0.02)
    # bone lengths kept; the same offsets on a turned, bent-over body give the turned result
    torch.testing.assert_close(bone_lengths(moved, "h36m17"), bone_lengths(src, "h36m17"))
    turned = retarget_directions(_turn(src, 0.7, 1.2), "h36m17", want)
    torch.testing.assert_close(turned, _turn(moved, 0.7, 1.2))
    # the limbs keep their world directions
    sk = get_skeleton("h36m17")
    for j in (2, 3, 12, 13):
        p = sk.parents[j]
        torch.testing.assert_close(moved[:, j] - moved[:, p], src[:, j] - src[:, p])


def test_retarget_modes() -> None:
    x = _upright()
    sk = get_skeleton("h36m17")
    want = torch.tensor([H36M_BONE_LENGTHS_M[sk.joints[j]] for j in range(1, 17)]).double()
    for mode in ("h36m_lengths", "h36m"):
        out = retarget(x, "h36m17", mode)
        torch.testing.assert_close(bone_lengths(out, "h36m17")[:, 1:], want.expand(32, -1))
    prop = retarget(x, "h36m17", "h36m_proportions")
    size = bone_lengths(x, "h36m17").sum(1)
    torch.testing.assert_close(bone_lengths(prop, "h36m17").sum(1), size)
    assert set(H36M_DIRECTION_OFFSETS) == {"spine", "thorax", "neck_nose", "head_top",
                                           "l_shoulder", "r_shoulder"}  # fmt: skip
    with pytest.raises(ValueError, match="retarget: expected one of"):
        retarget(x, "h36m17", "smpl")
    with pytest.raises(ValueError, match="no trunk frame for l_knee"):
        retarget_directions(x, "h36m17", {"l_knee": (0.0, 0.0, 0.1)})


def test_level_hips() -> None:
    x = _turn(_upright(), 0.4, 0.0)
    x[:, 1, 2] -= 0.03  # roll the pelvis: the right hip lower, the left one higher
    x[:, 4, 2] += 0.03
    out = level_hips(x)
    np.testing.assert_allclose((out[:, [1, 4], 2] - out[:, :1, 2]).numpy(), 0.0, atol=1e-12)
    torch.testing.assert_close(bone_lengths(out, "h36m17"), bone_lengths(x, "h36m17"))
    torch.testing.assert_close(out[:, 3] - out[:, 1], x[:, 3] - x[:, 1])  # the leg moves along
    torch.testing.assert_close(out[:, 8:], x[:, 8:])  # the trunk does not
