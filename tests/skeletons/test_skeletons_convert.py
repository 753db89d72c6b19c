"""Layout conversion: the coco17 → h36m17 regressor, visibility rules, the name fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.skeletons import get_skeleton
from posekit.skeletons.convert import LAYOUT_REGRESSORS, convert_keypoints, layout_regressor


def test_regressor_rows_are_affine_combinations() -> None:
    for (src, dst), table in LAYOUT_REGRESSORS.items():
        W = layout_regressor(src, dst)
        assert W.shape == (get_skeleton(dst).num_joints, get_skeleton(src).num_joints)
        defined = np.isfinite(W).all(1)
        assert defined.sum() == len(table)
        np.testing.assert_allclose(W[defined].sum(1), 1.0, atol=1e-9)


def test_conversion_commutes_with_similarity_transforms() -> None:
    g = torch.Generator().manual_seed(0)
    kp = torch.randn(4, 17, 3, generator=g, dtype=torch.float64)
    R = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))[0]
    t = torch.randn(3, generator=g, dtype=torch.float64)
    a, _ = convert_keypoints(2.0 * kp @ R.T + t, None, "coco17", "h36m17")
    b, _ = convert_keypoints(kp, None, "coco17", "h36m17")
    torch.testing.assert_close(a, 2.0 * b @ R.T + t)


def test_invisible_source_joints_make_their_targets_invisible_and_do_not_leak() -> None:
    kp = torch.rand(1, 17, 2) * 100
    vis = torch.ones(1, 17, dtype=torch.bool)
    coco = get_skeleton("coco17")
    vis[0, coco.index("l_eye")] = False
    kp[0, coco.index("l_eye")] = float("nan")  # a missing joint's coordinates are ignored
    out, v = convert_keypoints(kp, vis, "coco17", "h36m17")
    h36m = get_skeleton("h36m17")
    assert not v[0, h36m.index("head_top")] and not v[0, h36m.index("neck_nose")]
    assert v[0, h36m.index("pelvis")] and v[0, h36m.index("l_wrist")]
    assert torch.isfinite(out).all()


def test_name_fallback_copies_shared_joints() -> None:
    kp = torch.rand(2, 16, 2)
    out, vis = convert_keypoints(kp, None, "mpii16", "lsp14")
    assert out.shape == (2, 14, 2) and bool(vis.all())
    mpii, lsp = get_skeleton("mpii16"), get_skeleton("lsp14")
    j = lsp.joints[3]
    torch.testing.assert_close(out[:, 3], kp[:, mpii.index(j)])
    out, vis = convert_keypoints(torch.rand(1, 14, 2), None, "lsp14", "mpii16")
    assert not bool(vis.all()) and torch.isnan(out[~vis]).all()


def test_wrong_joint_count_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"expected .*17, D.*coco17"):
        convert_keypoints(torch.zeros(3, 16, 2), None, "coco17", "h36m17")


def test_coco_to_h36m_matches_anny_bodies(anny_body) -> None:
    """The regressor reproduces posekit's h36m17 joints from anny's COCO points (the fit)."""
    from posekit.data.synthetic.body_shapes import ShapeSampler
    from posekit.data.synthetic.poses import PoseSampler

    rng = np.random.default_rng(7)
    poses = torch.tensor(PoseSampler().sample(200, rng).pose, dtype=torch.float32)
    shapes = torch.tensor(ShapeSampler().sample(200, rng), dtype=torch.float32)
    with torch.no_grad():
        out = anny_body.forward_joints(poses, shapes, layouts=("coco17", "h36m17"))
    pred, _ = convert_keypoints(out["coco17"].double(), None, "coco17", "h36m17")
    err_mm = (pred - out["h36m17"].double()).norm(dim=-1).mean(0) * 1000  # (17,)
    h36m = get_skeleton("h36m17")
    assert float(err_mm.max()) < 50.0, dict(zip(h36m.joints, err_mm.tolist(), strict=True))
    for name in ("neck_nose", "head_top"):
        assert float(err_mm[h36m.index(name)]) < 5.0
