"""Frame changes between the SMPL family's Y-up frame and posekit's Z-up world."""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from posekit.body.frames import (
    BODY_FORWARD,
    BODY_LEFT,
    BODY_UP,
    yup_to_zup,
    yup_to_zup_rotmat,
    zup_to_yup,
    zup_to_yup_rotmat,
)


def test_axes_map():
    # SMPL: up +Y, facing +Z, left +X  ->  posekit: up +Z, facing -Y, left +X
    smpl_axes = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    expect = torch.tensor([BODY_UP, BODY_FORWARD, BODY_LEFT])
    torch.testing.assert_close(yup_to_zup(smpl_axes), expect)
    np.testing.assert_allclose(yup_to_zup(smpl_axes.numpy()), expect.numpy())
    assert np.allclose(np.cross(BODY_LEFT, np.negative(BODY_FORWARD)), BODY_UP)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trips_and_rotations(dtype):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(4, 7, 3, generator=g, dtype=dtype)
    torch.testing.assert_close(zup_to_yup(yup_to_zup(p)), p)
    assert yup_to_zup(p).dtype == dtype
    R = roma.random_rotmat(4, dtype=dtype)
    torch.testing.assert_close(zup_to_yup_rotmat(yup_to_zup_rotmat(R)), R)
    # rotating then changing frame = changing frame then rotating with the converted rotation
    lhs = yup_to_zup(p @ R.mT)
    rhs = yup_to_zup(p) @ yup_to_zup_rotmat(R).mT
    torch.testing.assert_close(lhs, rhs)
    # a rotation, not a reflection: lengths and handedness are kept
    torch.testing.assert_close(yup_to_zup(p).norm(dim=-1), p.norm(dim=-1))


def test_shape_errors():
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3\)"):
        yup_to_zup(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3, 3\)"):
        yup_to_zup_rotmat(torch.zeros(4, 3))
