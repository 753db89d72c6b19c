"""Tests of procedural textures, bundled photos and body colour palettes."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.synthetic.textures import (
    TEXTURE_KINDS,
    _part_role,
    body_part_colors,
    checker,
    colorize,
    gradient,
    photo_names,
    random_background,
    random_palette,
    random_texture,
    sample_photo,
    stripes,
    value_noise,
)

FIELDS = [value_noise, stripes, checker, gradient]


@pytest.mark.parametrize("fn", FIELDS)
def test_fields_shape_range_determinism(fn):
    a = fn(np.random.default_rng(3), 40, 56)
    b = fn(np.random.default_rng(3), 40, 56)
    c = fn(np.random.default_rng(4), 40, 56)
    assert a.shape == (40, 56) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0.05
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_value_noise_is_smooth_at_low_octaves():
    n = value_noise(np.random.default_rng(0), 128, 128, octaves=1, base_cells=2)
    assert np.abs(np.diff(n, axis=1)).max() < 0.1  # no pixel-level jumps


def test_colorize_maps_ends_to_palette_ends():
    palette = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]], np.float32)
    field = np.array([[0.0, 0.5, 1.0]], np.float32)
    img = colorize(field, palette)
    expected = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    np.testing.assert_allclose(img[0], expected, atol=2)  # 256 levels: 0.5 -> 128/255
    with pytest.raises(ValueError, match="palette"):
        colorize(field, np.zeros((3, 4)))


def test_palette_range():
    p = random_palette(np.random.default_rng(0), 6)
    assert p.shape == (6, 3) and p.dtype == np.float32 and p.min() >= 0 and p.max() <= 1


@pytest.mark.parametrize("kind", TEXTURE_KINDS)
def test_each_texture_kind(kind):
    a = random_texture(np.random.default_rng(7), 64, 80, kinds=(kind,))
    b = random_texture(np.random.default_rng(7), 64, 80, kinds=(kind,))
    assert a.shape == (64, 80, 3) and a.dtype == np.uint8
    assert a.tobytes() == b.tobytes()
    assert a.astype(np.float32).std() > 3  # not a flat colour


def test_background_determinism_and_variety():
    imgs = [random_background(np.random.default_rng(s), 64, 64) for s in range(12)]
    again = [random_background(np.random.default_rng(s), 64, 64) for s in range(12)]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(imgs, again))
    assert len({a.tobytes() for a in imgs}) == 12
    with pytest.raises(ValueError, match="kinds"):
        random_texture(np.random.default_rng(0), 8, 8, kinds=("bogus",))


def test_photos_are_person_free_and_cropped():
    names = photo_names()
    assert names and not any("hopper" in n for n in names)  # the portrait is excluded
    a = sample_photo(np.random.default_rng(1), 50, 70)
    b = sample_photo(np.random.default_rng(1), 50, 70)
    assert a.shape == (50, 70, 3) and a.dtype == np.uint8 and a.tobytes() == b.tobytes()
    for name in names:
        assert sample_photo(np.random.default_rng(0), 32, 32, name=name).std() > 2


SMPL_LIKE = {
    "head": 0,
    "neck": 1,
    "spine": 2,
    "hips": 3,
    "leftUpLeg": 4,
    "rightUpLeg": 5,
    "leftLeg": 6,
    "rightLeg": 7,
    "leftFoot": 8,
    "rightToeBase": 9,
    "leftArm": 10,
    "rightArm": 11,
    "left_forearm": 12,
    "right_forearm": 13,
    "leftHand": 14,
    "right_hand": 15,
}


def test_part_roles_from_names():
    roles = {name: _part_role(name) for name in SMPL_LIKE}
    assert roles["head"] == roles["leftHand"] == roles["right_hand"] == roles["neck"] == "skin"
    assert roles["leftFoot"] == roles["rightToeBase"] == "shoe"
    assert roles["leftUpLeg"] == roles["hips"] == "bottom"
    assert roles["leftLeg"] == "shin" and roles["left_forearm"] == "forearm"
    assert roles["leftArm"] == "upperarm" and roles["spine"] == "top"
    assert _part_role("lowerarm01.L") == "forearm" and _part_role("upperleg02.R") == "bottom"
    assert _part_role("orbicularis03.R") == "skin" and _part_role("something") == "top"


def test_body_part_colors_outfit_structure():
    for seed in range(20):
        t = body_part_colors(SMPL_LIKE, np.random.default_rng(seed))
        assert t.shape == (16, 3) and t.dtype == np.float32 and t.min() >= 0 and t.max() <= 1
        skin = t[SMPL_LIKE["head"]]
        np.testing.assert_array_equal(t[SMPL_LIKE["leftHand"]], skin)
        np.testing.assert_array_equal(t[SMPL_LIKE["leftFoot"]], t[SMPL_LIKE["rightToeBase"]])
        np.testing.assert_array_equal(t[SMPL_LIKE["leftUpLeg"]], t[SMPL_LIKE["rightUpLeg"]])
        np.testing.assert_array_equal(t[SMPL_LIKE["leftArm"]], t[SMPL_LIKE["rightArm"]])
        assert skin[0] >= skin[1] >= skin[2]  # skin tones are warm: R >= G >= B
    a = body_part_colors(SMPL_LIKE, np.random.default_rng(5))
    b = body_part_colors(SMPL_LIKE, np.random.default_rng(5))
    assert a.tobytes() == b.tobytes()
    with pytest.raises(ValueError, match="part_ids"):
        body_part_colors({}, np.random.default_rng(0))


def test_texture_weights_select_kinds(monkeypatch):
    from posekit.data.synthetic import textures

    calls = []
    monkeypatch.setattr(textures, "sample_photo", lambda rng, h, w: calls.append(1))
    for seed in range(10):
        random_texture(np.random.default_rng(seed), 8, 8, ("checker", "photo"), (1.0, 0.0))
    assert not calls
    for seed in range(10):
        random_texture(np.random.default_rng(seed), 8, 8, ("checker", "photo"), (0.0, 2.0))
    assert len(calls) == 10
    with pytest.raises(ValueError, match="weights"):
        random_texture(np.random.default_rng(0), 8, 8, kinds=("checker", "stripes"), weights=(1.0,))
