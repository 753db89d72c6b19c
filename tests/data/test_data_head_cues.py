"""Hair, eyebrows and eyes on the synthetic bodies (`posekit.data.synthetic.head_cues`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("anny", reason="the synthetic engine needs the 'anny' package")


def _zero_pose_frame(body):
    with torch.no_grad():
        out = body(torch.zeros(1, 24, 3, dtype=body.dtype))
    v = out.vertices[0].double().numpy()
    j = out.joints["coco17"][0].double().numpy()
    ears = 0.5 * (j[3] + j[4])
    fwd = j[0] - ears
    fwd[2] = 0.0
    return v, j, ears, fwd / np.linalg.norm(fwd)


def test_scalp_behind_and_above_the_face_features_at_the_eyes(anny_body) -> None:
    from posekit.body.anny_rig import PART_NAMES
    from posekit.data.synthetic.head_cues import head_cue_regions

    scalp, features = head_cue_regions(anny_body)
    head = anny_body.part_labels.numpy() == PART_NAMES.index("head")
    assert scalp.sum() > 200 and features.sum() > 10
    assert not (scalp & features).any()
    assert (scalp <= head).all() and (features <= head).all()
    v, j, ears, fwd = _zero_pose_frame(anny_body)
    d = v - ears
    # the back of the head is hair, the face is not
    back = head & (d @ fwd < -0.04) & (d[:, 2] > 0.0)
    face = head & (d @ fwd > 0.06) & (d[:, 2] < 0.06) & (d[:, 2] > -0.02)
    assert back.sum() > 20 and face.sum() > 20
    assert scalp[back].mean() > 0.95
    assert scalp[face].mean() < 0.05
    # features lie around the eyes: within 3 cm of one, in front of the ears
    to_eye = np.minimum(np.linalg.norm(v - j[1], axis=1), np.linalg.norm(v - j[2], axis=1))
    assert (to_eye[features] < 0.03).all()
    assert (d[features] @ fwd > 0).all()


def test_hair_is_coloured_and_bald_heads_keep_the_skin() -> None:
    from posekit.data.synthetic.generate import BodySceneGenerator
    from posekit.data.synthetic.textures import body_part_colors

    gen = BodySceneGenerator(size=(64, 64), skeleton="coco17", hair_probability=0.5)
    hair, brows, head = (gen.part_index[k] for k in ("hair", "hair_brows", "head"))
    rng = np.random.default_rng(0)
    bald = []
    for _ in range(400):
        c = gen._person_colors(rng)
        assert not np.allclose(c[brows], c[head])  # eyebrows always in the hair colour
        bald.append(np.allclose(c[hair], c[head]))
    assert 0.4 < np.mean(bald) < 0.6
    # off (the default): the colours and the random stream of earlier versions
    plain = BodySceneGenerator(size=(64, 64), skeleton="coco17")
    assert "hair" not in plain.part_index
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(plain._person_colors(a), body_part_colors(plain.part_index, b))
    assert a.random() == b.random()
