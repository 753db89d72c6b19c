"""SMPLBody on a generated file of SMPL's exact structure (no real SMPL data needed)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import roma
import scipy.sparse
import torch

from posekit.body import BodyModel, yup_to_zup
from posekit.body.frames import yup_to_zup_rotmat

smplx = pytest.importorskip("smplx", reason="SMPLBody needs the optional 'smplx' package")

V, F, NB = 6890, 13776, 10
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


@pytest.fixture(scope="module")
def smpl_file(tmp_path_factory):
    """A random SMPL-structured pickle of numpy / scipy.sparse arrays only (no chumpy)."""
    rng = np.random.default_rng(0)
    # a Y-up "body": 1.7 m tall along +Y, thin along Z
    v = rng.uniform([-0.25, -1.0, -0.1], [0.25, 0.7, 0.1], size=(V, 3))
    j_reg = np.zeros((24, V))
    for j in range(24):  # each joint: the mean of 10 vertices
        j_reg[j, rng.choice(V, 10, replace=False)] = 0.1
    weights = rng.dirichlet(np.full(24, 0.3), size=V)
    kintree = np.array([[2**32 - 1, *PARENTS[1:]], list(range(24))], dtype=np.int64)
    data = {
        "v_template": v,
        "shapedirs": rng.normal(0.0, 0.01, size=(V, 3, NB)),
        "posedirs": rng.normal(0.0, 0.001, size=(V, 3, 207)).astype(np.float32),
        "J_regressor": scipy.sparse.csc_matrix(j_reg),
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, V, size=(F, 3)).astype(np.uint32),
    }
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return path, data


def test_smpl_body_in_zup_frame(smpl_file):
    from posekit.body.smpl import SMPLBody

    path, _ = smpl_file
    body = SMPLBody(path).double()
    assert isinstance(body, BodyModel)
    B = 2
    g = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(B, 24, 3, generator=g, dtype=torch.float64)
    betas = torch.randn(B, NB, generator=g, dtype=torch.float64)
    transl = torch.randn(B, 3, generator=g, dtype=torch.float64)
    out = body(pose, betas, transl)
    assert out.vertices.shape == (B, V, 3) and out.faces.shape == (F, 3)
    assert out.joints["smpl24"].shape == (B, 24, 3)
    ref = body.smpl(
        betas=betas, global_orient=pose[:, 0], body_pose=pose[:, 1:].reshape(B, 69), transl=transl
    )
    torch.testing.assert_close(out.vertices, yup_to_zup(ref.vertices))
    torch.testing.assert_close(out.joints["smpl24"], yup_to_zup(ref.joints[:, :24]))
    # bone poses: translation = joints, rotation = accumulated (root's = global orientation)
    torch.testing.assert_close(out.bone_poses[..., :3, 3], out.joints["smpl24"])
    r0 = yup_to_zup_rotmat(roma.rotvec_to_rotmat(pose[:, 0]))
    torch.testing.assert_close(out.bone_poses[:, 0, :3, :3], r0)


def test_smpl_rest_pose_and_frame(smpl_file):
    from posekit.body.smpl import SMPLBody

    path, data = smpl_file
    h36m = np.random.default_rng(1).dirichlet(np.ones(V), size=17)
    body = SMPLBody(path, h36m_regressor=h36m).double()
    out = body(torch.zeros(1, 24, 3, dtype=torch.float64))
    v = torch.as_tensor(data["v_template"])
    # zero pose and betas = the template, which stood along +Y and now stands along +Z
    torch.testing.assert_close(out.vertices[0], yup_to_zup(v), atol=1e-6, rtol=0)
    extent = out.vertices[0].amax(0) - out.vertices[0].amin(0)
    assert extent[2] > 1.6 and extent[1] < 0.25
    j = torch.as_tensor(h36m) @ out.vertices[0]
    torch.testing.assert_close(out.joints["h36m17"][0], j)
    with pytest.raises(ValueError, match="shape"):
        body(torch.zeros(1, 24, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="h36m_regressor"):
        SMPLBody(path, h36m_regressor=np.zeros((17, 10)))
