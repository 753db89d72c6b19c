"""Tests of the synthetic hand depth generator: determinism, geometry, sensor, sides."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from posekit.data.synthetic.depth_sensor import DepthSensorConfig, noise_sigma
from posekit.data.synthetic.hands import (
    HAND_VISIBILITY_TOLERANCE_M,
    HandDepthGenerator,
    kinect_intrinsics,
)
from posekit.data.synthetic.shards import ShardReader, shard_bytes
from posekit.geometry.camera import project
from posekit.skeletons import HAND21

pytest.importorskip("anny", reason="the hand generator needs the 'anny' package")

TIPS = [HAND21.index(f"{f}_tip") for f in ("thumb", "index", "middle", "ring", "pinky")]
MCPS = [HAND21.index(f"{f}_mcp") for f in ("index", "middle", "ring", "pinky")]
PIPS = [HAND21.index(f"{f}_pip") for f in ("index", "middle", "ring", "pinky")]
# a sensor with axial noise only: no shadows, holes, dropouts or rounding
NOISE_ONLY = dict(
    angle_noise_m=0.0,
    quantization_m=0.0,
    projector_baseline_m=0.0,
    grazing_deg=None,
    edge_dropout=0.0,
    hole_fraction=(0.0, 0.0),
    pixel_dropout=0.0,
)


@pytest.fixture(scope="module")
def hand_model():
    """The process-wide hand model (built once) and a working EGL context."""
    from posekit.data.synthetic.hands import _hand_model
    from posekit.data.synthetic.render import get_gl_context

    try:
        get_gl_context()
    except RuntimeError as err:  # pragma: no cover - machines without EGL
        pytest.skip(str(err))
    return _hand_model()


@pytest.fixture(scope="module")
def gen(hand_model) -> HandDepthGenerator:
    return HandDepthGenerator(size=(120, 160))


def rng(seed: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def samples(g: HandDepthGenerator, n: int, seed: int = 0):
    return [g(i, rng(seed, i)) for i in range(n)]


def test_same_seed_same_bytes(gen):
    other = HandDepthGenerator(size=(120, 160))  # a second generator, its own renderer
    for i in range(4):
        a, b = gen(i, rng(3, i)), other(i, rng(3, i))
        assert a.arrays().keys() == b.arrays().keys()
        for k, arr in a.arrays().items():
            assert arr.tobytes() == b.arrays()[k].tobytes(), k
        assert json.dumps(a.meta, sort_keys=True) == json.dumps(b.meta, sort_keys=True)
    c = gen(0, rng(4, 0))
    assert c.depth.tobytes() != gen(0, rng(3, 0)).depth.tobytes()


def test_sample_fields(gen, tmp_path):
    for s in samples(gen, 4, seed=1):
        assert s.skeleton == "hand21" and s.image is None and s.image_size == (120, 160)
        assert s.depth.dtype == np.float32 and s.depth.shape == (120, 160)
        assert s.keypoints2d.shape == (1, 21, 2) and s.keypoints2d.dtype == np.float32
        assert s.joints3d.shape == (1, 21, 3) and s.joints3d.dtype == np.float32
        assert s.visibility.shape == (1, 21) and s.visibility.dtype == np.bool_
        assert s.K.shape == (3, 3) and s.bbox.shape == (1, 4) and s.body_shape.shape == (1, 6)
        assert s.masks["instance"].dtype == np.int16
        assert set(np.unique(s.masks["instance"])) <= {-1, 0}
        np.testing.assert_allclose(s.K, kinect_intrinsics((120, 160)), rtol=1e-6)
        x0, y0, x1, y1 = s.bbox[0]
        kp = s.keypoints2d[0][s.visibility[0]]  # visible joints are on the hand's pixels
        assert (kp[:, 0] > x0 - 1).all() and (kp[:, 0] < x1 + 1).all()
        assert (kp[:, 1] > y0 - 1).all() and (kp[:, 1] < y1 + 1).all()
        assert s.meta["family"] in ("random", "open", "fist", "pinch", "point")
        assert len(s.meta["articulation_rad"]) == 20
    # the shard format round-trips a hand sample (meta is JSON, arrays are npy)
    path = tmp_path / "shard.zip"
    path.write_bytes(shard_bytes([s]))
    with ShardReader(path) as reader:
        back = reader[0]
    for k, arr in s.arrays().items():
        np.testing.assert_array_equal(back.arrays()[k], arr)
    assert back.meta == json.loads(json.dumps(s.meta))


def test_keypoints_are_the_projection_of_the_joints(gen):
    for s in samples(gen, 6, seed=2):
        j = torch.from_numpy(s.joints3d.astype(np.float64))
        kp = project(j, torch.from_numpy(s.K.astype(np.float64))).numpy()
        np.testing.assert_allclose(s.keypoints2d, kp, rtol=0, atol=1e-3)


def test_meta_rotation_places_anny_hand(gen, hand_model):
    """x_cam = rotation @ x_hand + wrist, for AnnyHand's joints (left: mirrored right hand)."""
    left = HandDepthGenerator(size=(120, 160), side="L")
    for g in (gen, left):
        s = g(0, rng(5))
        pose = torch.tensor([s.meta["articulation_rad"]], dtype=torch.float32)
        with torch.no_grad():
            j = hand_model(pose, shape=torch.from_numpy(s.body_shape)).joints["hand21"][0]
        j = j.double().numpy() * (np.array([-1.0, 1, 1]) if g.side == "L" else 1.0)
        R = np.array(s.meta["rotation"])
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(R) == pytest.approx(1.0)
        np.testing.assert_allclose(j @ R.T + s.joints3d[0, 0], s.joints3d[0], atol=2e-5)


def test_fingertip_depth_matches_the_joint(hand_model):
    clean = HandDepthGenerator(size=(120, 160), noise=False, background="wall")
    noisy = HandDepthGenerator(size=(120, 160), background="wall")
    checked, close = 0, 0
    for i in range(10):
        for g in (clean, noisy):
            s = g(i, rng(6, i))
            for t in TIPS:
                if not s.visibility[0, t]:
                    continue
                x, y = np.floor(s.keypoints2d[0, t] + 0.5).astype(int)
                z = s.joints3d[0, t, 2]
                box = np.s_[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]
                win = s.depth[box][s.masks["instance"][box] == 0]  # the hand's pixels
                if g is clean:  # the tip is a surface vertex (on the silhouette, maybe)
                    assert np.abs(win - z).min() < HAND_VISIBILITY_TOLERANCE_M["index_tip"]
                    continue
                win = win[win > 0]
                checked += 1
                close += bool(len(win)) and abs(np.median(win) - z) < 0.03
    assert checked >= 20 and close >= 0.85 * checked, (close, checked)


def test_depth_within_the_distance_range(hand_model):
    near, far = 0.45, 0.5
    g = HandDepthGenerator(size=(120, 160), distance_m=(near, far), forearm=False,
                           background="none")  # fmt: skip
    for s in samples(g, 6, seed=7):
        assert near <= s.joints3d[0, :, 2].mean() <= far
        d = s.depth[s.depth > 0]
        assert len(d) > 200
        assert d.min() > near - 0.13 and d.max() < far + 0.13  # the hand's radius
    wall = HandDepthGenerator(size=(120, 160), background="wall", sensor={"max_range_m": 0.8})
    for s in samples(wall, 3, seed=7):
        assert s.depth.max() <= 0.8 + 1e-6  # beyond the sensor's range: no measurement


@pytest.mark.parametrize("distance", [0.32, 0.68])
def test_noise_follows_the_depth_model(hand_model, distance):
    opts = dict(size=(120, 160), distance_m=(distance, distance), background="none")
    clean = HandDepthGenerator(noise=False, **opts)
    noisy = HandDepthGenerator(sensor=NOISE_ONLY, **opts)
    residuals = []
    for i in range(4):  # the same scene: the sensor draws last from the generator
        a, b = clean(i, rng(8, i)), noisy(i, rng(8, i))
        m = a.depth > 0
        np.testing.assert_array_equal(m, b.depth > 0)  # no holes with this sensor
        cfg = DepthSensorConfig(**NOISE_ONLY)
        residuals.append((b.depth[m] - a.depth[m]) / noise_sigma(a.depth[m], 1.0, cfg))
    r = np.concatenate(residuals)
    assert len(r) > 2000 and abs(r.std() - 1.0) < 0.1 and abs(r.mean()) < 0.1


def test_noise_grows_with_distance(hand_model):
    stds = []
    for distance in (0.32, 0.68):
        opts = dict(size=(120, 160), distance_m=(distance, distance), background="none")
        clean = HandDepthGenerator(noise=False, **opts)
        noisy = HandDepthGenerator(sensor={**NOISE_ONLY, "quantization_m": 0.001}, **opts)
        res = []
        for i in range(3):
            a, b = clean(i, rng(9, i)), noisy(i, rng(9, i))
            m = (a.depth > 0) & (b.depth > 0)
            res.append(b.depth[m] - a.depth[m])
        stds.append(np.concatenate(res).std())
    # model: 1.5 mm · (z / 0.5 m)² -> 0.61 mm and 2.77 mm (+ 1 mm rounding)
    assert 0.4e-3 < stds[0] < 1.0e-3 and 2.2e-3 < stds[1] < 3.4e-3, stds


def test_holes_at_the_configured_rate(hand_model):
    opts = dict(size=(120, 160), background="wall")
    clean = HandDepthGenerator(noise=False, **opts)
    holes = HandDepthGenerator(sensor={**NOISE_ONLY, "hole_fraction": (0.1, 0.1)}, **opts)
    none = HandDepthGenerator(sensor=NOISE_ONLY, **opts)
    default = HandDepthGenerator(**opts)
    for i in range(3):
        a = clean(i, rng(10, i))
        measured = a.depth > 0
        lost = measured & (holes(i, rng(10, i)).depth == 0)
        assert lost.mean() / measured.mean() == pytest.approx(0.1, abs=0.005)
        assert (none(i, rng(10, i)).depth[measured] > 0).all()
        # the default sensor loses pixels at the hand's silhouette and in projector shadows
        d = default(i, rng(10, i)).depth
        hand = a.masks["instance"] == 0
        edge = hand & ~np.roll(hand, 1, axis=1)  # the hand's left boundary (shadow side)
        assert (d[edge] == 0).mean() > 0.3
        assert 0.001 < (d[measured] == 0).mean() < 0.3


def test_visibility_fist_from_the_back_and_open_palm(hand_model):
    fixed = dict(size=(120, 160), tilt_deg=(0, 0), roll_deg=(0, 0), forearm=False)
    back = HandDepthGenerator(families="fist", palm_turn_deg=(180, 180), **fixed)
    palm = HandDepthGenerator(families="open", palm_turn_deg=(0, 0), **fixed)
    for i in range(3):
        v_back = back(i, rng(11, i)).visibility[0]
        v_palm = palm(i, rng(11, i)).visibility[0]
        assert v_palm[TIPS].all() and v_palm[MCPS].all()
        assert not v_back[TIPS[1:]].any()  # finger tips curled into the palm, behind it
        assert v_back[MCPS].all()  # the knuckles face the sensor


def test_left_hand_is_the_mirror_image(hand_model):
    opts = dict(size=(120, 160), families="fist", background="none")
    right, left = HandDepthGenerator(side="R", **opts), HandDepthGenerator(side="L", **opts)
    for i in range(4):
        r, l_ = right(i, rng(12, i)), left(i, rng(12, i))
        jr, jl = r.joints3d[0].astype(np.float64), l_.joints3d[0].astype(np.float64)
        mirror = np.array([-1.0, 1.0, 1.0])
        np.testing.assert_allclose(jl - jl.mean(0), (jr - jr.mean(0)) * mirror, atol=1e-5)
        assert (r.meta["side"], l_.meta["side"]) == ("R", "L")
        for j, expected in ((jr, -1), (jl, 1)):
            # u × radial points to the back of a right hand; in a fist the proximal
            # phalanges point to the palm side
            u = j[HAND21.index("middle_mcp")] - j[HAND21.index("wrist")]
            radial = j[HAND21.index("index_mcp")] - j[HAND21.index("pinky_mcp")]
            palm_side = j[PIPS].mean(0) - j[MCPS].mean(0)
            assert np.sign(np.cross(u, radial) @ palm_side) == expected


def test_forearm_extends_beyond_the_hand(hand_model):
    g = HandDepthGenerator(size=(120, 160), background="none", distance_m=(0.6, 0.7))
    outside = []
    for s in samples(g, 5, seed=13):
        x0, y0, x1, y1 = s.bbox[0]
        ys, xs = np.nonzero(s.masks["instance"] == 0)
        outside.append(((xs < x0) | (xs > x1) | (ys < y0) | (ys > y1)).sum())
    assert sum(n > 30 for n in outside) >= 4, outside


def test_options_from_json_and_pickling(gen):
    opts = json.loads('{"distance_m": [0.4, 0.5], "families": {"fist": 1, "open": 1},'
                      ' "background": "wall", "sensor": {"hole_fraction": [0, 0.1]}}')  # fmt: skip
    g = HandDepthGenerator(size=[96, 128], **opts)
    s = g(0, rng(14))
    assert s.depth.shape == (96, 128) and s.meta["family"] in ("fist", "open")
    clone = pickle.loads(pickle.dumps(g))
    assert clone(0, rng(14)).depth.tobytes() == s.depth.tobytes()
    with pytest.raises(ValueError, match="families"):
        HandDepthGenerator(families={"wave": 1.0})
    with pytest.raises(ValueError, match="side"):
        HandDepthGenerator(side="both")
    with pytest.raises(ValueError, match="distance_m"):
        HandDepthGenerator(distance_m=(0.7, 0.3))
