"""Tests of occluder pasting and keypoint visibility (occluders and depth test)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.data.synthetic.occluders import (
    OCCLUDER_SHAPES,
    OccluderConfig,
    paste_occluders,
    update_visibility,
    visibility_from_depth,
)
from posekit.data.synthetic.render import MeshInstance, Renderer, get_gl_context

ALWAYS = OccluderConfig(probability=1.0, min_count=3, max_count=6)
HARD = OccluderConfig(probability=1.0, min_count=4, max_count=8, soft_edge_probability=0.0)


def odd_image(h=96, w=128) -> np.ndarray:
    return np.full((h, w, 3), (3, 250, 7), np.uint8)  # a colour no texture produces exactly


def test_same_seed_same_bytes():
    img = odd_image()
    a = paste_occluders(img, np.random.default_rng(11), config=ALWAYS)
    b = paste_occluders(img, np.random.default_rng(11), config=ALWAYS)
    c = paste_occluders(img, np.random.default_rng(12), config=ALWAYS)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[0].tobytes() != c[0].tobytes()
    assert (img == (3, 250, 7)).all()  # the input is not modified


def test_probability_zero_and_one():
    img = odd_image()
    out, mask = paste_occluders(img, np.random.default_rng(0), config=OccluderConfig(0.0))
    assert (out == img).all() and not mask.any() and mask.dtype == bool
    hits = [paste_occluders(img, np.random.default_rng(s))[1].any() for s in range(40)]
    assert 8 < sum(hits) < 32  # default probability 0.5


@pytest.mark.parametrize("shape", OCCLUDER_SHAPES)
def test_hard_edged_mask_is_exactly_the_changed_pixels(shape):
    img = odd_image()
    cfg = OccluderConfig(probability=1.0, min_count=3, max_count=3, soft_edge_probability=0.0,
                         shapes=(shape,))  # fmt: skip
    for seed in range(3):
        out, mask = paste_occluders(img, np.random.default_rng(seed), config=cfg)
        changed = (out != img).any(axis=-1)
        assert mask.sum() > 20
        np.testing.assert_array_equal(changed, mask)


def test_soft_edges_change_only_a_fringe_around_the_mask():
    img = odd_image()
    cfg = OccluderConfig(probability=1.0, soft_edge_probability=1.0, max_edge_sigma_px=2.0)
    out, mask = paste_occluders(img, np.random.default_rng(5), config=cfg)
    changed = (out != img).any(axis=-1)
    assert changed[mask].all()
    near = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert not (changed & ~near).any()


def test_objects_are_biased_onto_the_person_box():
    img = odd_image(128, 128)
    box = np.array([[90.0, 80.0, 120.0, 124.0]])
    cfg = OccluderConfig(probability=1.0, overlap_bias=1.0, min_count=8, max_count=8)
    inside = outside = 0
    for seed in range(5):
        _, mask = paste_occluders(img, np.random.default_rng(seed), box, cfg)
        inside += mask[80:124, 90:120].mean()
        outside += mask[:60, :60].mean()
    assert inside > 5 * outside and inside > 0.5


def test_keypoint_under_occluder_becomes_invisible():
    mask = np.zeros((50, 60), bool)
    mask[10:20, 30:40] = True
    kp = np.array([[[35.2, 14.6], [5.0, 5.0], [39.4, 19.4], [39.6, 14.0], [-3.0, 15.0]]])
    vis = np.array([[True, True, True, True, False]])
    new = update_visibility(kp, vis, mask)
    assert new.dtype == bool and new.shape == (1, 5)
    assert new.tolist() == [[False, True, False, True, False]]  # (39.6 -> col 40): outside
    as_float = update_visibility(kp[0], vis[0].astype(np.float32), mask)
    assert as_float.dtype == np.float32 and as_float.tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="visibility"):
        update_visibility(kp, vis[:, :3], mask)


def test_pasted_occluders_hide_keypoints_they_cover():
    img = odd_image()
    _, mask = paste_occluders(img, np.random.default_rng(2), config=HARD)
    ys, xs = np.nonzero(mask)
    kp = np.stack([xs, ys], axis=1)[::50].astype(np.float32)
    assert not update_visibility(kp, np.ones(len(kp), bool), mask).any()


@pytest.fixture(scope="module")
def scene():
    """A 'person' slab at z = 3 with its own 'arm' at z = 2.6, another person at z = 2."""
    try:
        get_gl_context()
    except RuntimeError as err:  # pragma: no cover - machines without EGL
        pytest.skip(str(err))
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 31.5], [0, 0, 1]])

    def quad(x0, y0, x1, y1, z):
        v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float32)
        return v, np.array([[0, 1, 2], [0, 2, 3]])

    (tv, tf), (av, af) = quad(-0.6, -1.2, 0.6, 1.2, 3.0), quad(-0.9, 0.5, 0.3, 0.7, 2.6)
    person = MeshInstance(np.concatenate([tv, av]), np.concatenate([tf, af + 4]))
    other = MeshInstance(*quad(0.2, -1.4, 1.4, 0.0, 2.0))
    out = Renderer(64, 64).render([person, other], K)
    return K, out


def joint_pixels(K, joints):
    p = joints @ K.T
    return p[:, :2] / p[:, 2:]


def test_visibility_from_depth_other_person_and_own_limb(scene):
    K, out = scene
    joints = np.array(
        [
            [-0.3, -0.5, 3.1],  # on the slab, 0.1 m inside it: visible
            [0.4, -0.6, 3.1],  # behind the other person (z = 2): occluded
            [-0.3, 0.63, 3.1],  # behind its own arm (z = 2.6, 0.5 m ahead): occluded
            [0.5, 0.9, 3.1],  # on the slab, below the other person: visible
            [-0.3, -0.5, 3.5],  # 0.5 m behind its own surface: occluded
            [-9.0, 0.0, 3.0],  # out of frame
            [0.5, -0.3, 1.5],  # in front of the other person: visible
        ]
    )
    kp = joint_pixels(K, joints)
    expected = [True, False, False, True, False, False, True]
    vis = visibility_from_depth(kp, joints[:, 2], out.depth, 0.15, out.instance_mask, 0)
    assert vis.tolist() == expected
    plain = visibility_from_depth(kp, joints[:, 2], out.depth)  # depth only: same verdicts
    assert plain.tolist() == expected
    # The other person's own joints: at z = 2.1 they are inside it and visible.
    other = np.array([[0.8, -0.7, 2.1], [0.3, 0.5, 3.5]])  # the second is behind person 0
    v2 = visibility_from_depth(
        joint_pixels(K, other), other[:, 2], out.depth, instance_mask=out.instance_mask,
        instance_id=1,
    )  # fmt: skip
    assert v2.tolist() == [True, False]


def test_mutual_occlusion_needs_no_tolerance_with_instance_mask(scene):
    """A joint 0.05 m behind another person's surface is hidden, whatever the tolerance."""
    K, out = scene
    joint = np.array([[0.4, -0.6, 2.05]])
    kp = joint_pixels(K, joint)
    with_ids = visibility_from_depth(kp, joint[:, 2], out.depth, 0.15, out.instance_mask, 0)
    depth_only = visibility_from_depth(kp, joint[:, 2], out.depth, 0.15)
    assert with_ids.tolist() == [False] and depth_only.tolist() == [True]
    with pytest.raises(ValueError, match="instance_mask"):
        visibility_from_depth(kp, joint[:, 2], out.depth, instance_mask=out.instance_mask)
