"""Synthetic hand depth maps, as a Kinect-like sensor sees them (data for V2V-PoseNet).

`HandDepthGenerator` is the ``"hand"`` task of the synthetic engine: a callable
``(index, rng) -> Sample`` that renders one hand (anny's hand model, `posekit.body.AnnyHand`)
with a random articulation, shape, orientation and distance, adds a forearm and optionally a
wall or table behind it, and passes the clean depth through a structured-light sensor model
(`posekit.data.synthetic.depth_sensor`).

What a sample is:

- **Articulation**: 20 finger angles within `posekit.body.HAND_LIMITS_DEG`, from a family
  drawn from ``families`` (`posekit.data.synthetic.hand_families`): ``"random"`` (correlated
  finger curls) or a grasp-like template (``open``, ``fist``, ``pinch``, ``point``).
- **Shape**: anny phenotypes from ``HAND_SHAPE_RANGES`` (wrist joint to middle fingertip
  16–21 cm, 5th–95th percentile), or anny's default adult (20 cm).
- **Orientation** (camera frame): from the canonical view — palm towards the sensor, fingers
  up, forearm down — the hand turns about its finger axis by ``palm_turn_deg`` (beyond ±90°
  the back of the hand faces the sensor), tilts its fingers towards the sensor by
  ``tilt_deg`` (negative: away, so the forearm comes towards the sensor), and rolls in the
  image plane by ``roll_deg``.
- **Side**: ``"R"`` (default), ``"L"`` or ``"random"``. A left hand is the right hand's
  scene mirrored across the camera's y-z plane through the hand (x -> 2·c_x - x, c the hand
  centre): anny's left hand is its right hand mirrored, so this is exact, and the left
  orientations are the mirror images of the right ones.
- **Forearm**: anny's hand ends at the wrist (an open ring of 20 vertices). A proxy forearm —
  a tube from that ring, widening towards the elbow (×1.3–1.6 thicker, ×1.1–1.3 wider),
  ``forearm_length_m`` long and capped — is bent at the wrist by ``wrist_flex_deg`` (about the
  thumb axis) and ``wrist_deviation_deg`` (about the palm normal). Orientations whose forearm
  would point more than 30° towards the sensor get a straight wrist.
- **Distance and position**: the hand centre (mean of the 21 joints) at camera z drawn from
  ``distance_m`` (default 0.3–0.7 m, where hand datasets are recorded), at an image position
  that keeps the whole hand in frame when it fits (at 0.3 m it does not always: then centred).
- **Camera**: NYU's Kinect (Tompson et al. 2014: 640×480, fx = 588.04, fy = 587.08,
  cx = 320, cy = 240 px) scaled to ``size`` = (H, W) (pixel-centre convention: a coordinate p
  becomes (p + 0.5)·s - 0.5), see `kinect_intrinsics`. Default size (240, 320).
- **Background**: ``"none"`` (depth 0 around the hand, as after a depth threshold),
  ``"wall"`` (a plane 0.1–1.0 m behind the hand's farthest point, tilted up to 30°) or
  ``"table"`` (a plane 2–25 cm below the hand's lowest point, seen from a camera looking
  down by 0–45°), drawn from ``background`` probabilities.
- **Sensor**: `simulate_depth_sensor` with ``sensor`` (a `DepthSensorConfig` or its fields as
  a dict); ``noise=False`` gives the clean rendered depth.

Ground truth: ``joints3d`` (1, 21, 3) hand21 joints in camera metres; ``keypoints2d`` their
projection by ``K``; ``visibility``: in frame and at most a tolerance behind the clean
rendered surface of the hand or forearm at its pixel, else hidden by the hand itself
(`visibility_from_depth`). The tolerance is how deep the joint lies in the hand, per joint
(`HAND_VISIBILITY_TOLERANCE_M`: 4 cm for the wrist and thumb CMC, 2–3.5 cm under the skin;
3 cm for the MCPs, up to 2.5 cm under the palm's pads; 2 cm for the finger joints; 1.5 cm
for the tips, which are surface vertices), or one value for all (``visibility_tolerance_m``).
``bbox``: the extent of the hand's rendered pixels (not the forearm's), (x0, y0, x1, y1) =
(min - 0.5, min - 0.5, max + 0.5, max + 0.5) over pixel centres. ``body_shape``: the
phenotypes (1, 6). ``masks["instance"]``: 0 on the hand and forearm, -1 elsewhere. ``meta``:
family, side, articulation (radians, `posekit.body.HAND_DOF_NAMES` order), orientation and
wrist angles, distance, background and ``rotation``: x_cam = rotation @ x_hand +
joints3d[0, 0] (the wrist) for the mesh of ``AnnyHand(side)`` in its own frame (for a left
hand too: mirroring the right hand's frame and the scene gives anny's left hand and a proper
rotation).

Convention:
    Camera frame OpenCV (x right, y down, z forward), metres; depth is camera z, 0 = no
    measurement. Everything random comes from the ``rng`` given to ``__call__``: the same
    (index, seed) gives the same bytes. Build generators inside the worker process that uses
    them (the renderer is created on first call and cannot cross a fork, see
    `posekit.data.synthetic.render`); pickling drops the renderer and the model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from posekit.body.anny import DEFAULT_SHAPE
from posekit.body.hand import AnnyHand
from posekit.data.sample import Sample
from posekit.data.synthetic._hand_scene import (
    BACKGROUNDS,
    Forearm,
    background_plane,
    rotation,
)
from posekit.data.synthetic.depth_sensor import DepthSensorConfig, simulate_depth_sensor
from posekit.data.synthetic.hand_families import (
    HAND_FAMILIES,
    sample_family_articulation,
    sample_hand_shape,
)
from posekit.data.synthetic.occluders import mask_box, visibility_from_depth
from posekit.data.synthetic.render import MeshInstance, Renderer, decode_incidence
from posekit.skeletons.hand21 import HAND21

__all__ = ["HAND_VISIBILITY_TOLERANCE_M", "NYU_KINECT", "HandDepthGenerator", "kinect_intrinsics"]

NYU_KINECT: dict[str, Any] = {
    "size": (480, 640),
    "fx": 588.036865,
    "fy": 587.075073,
    "cx": 320.0,
    "cy": 240.0,
}
"""Intrinsics of the NYU hand dataset's Kinect (pixels, at 640×480)."""


HAND_VISIBILITY_TOLERANCE_M: dict[str, float] = {
    name: 0.04 if name in ("wrist", "thumb_cmc") else
    0.03 if name.endswith("_mcp") else
    0.015 if name.endswith("_tip") else 0.02
    for name in HAND21.joints
}  # fmt: skip
"""How deep under the visible hand surface each hand21 joint may be and still be visible."""

_DEFAULT_FAMILIES = {"random": 0.6, "open": 0.1, "fist": 0.1, "pinch": 0.1, "point": 0.1}
_DEFAULT_BACKGROUND = {"none": 0.3, "wall": 0.5, "table": 0.2}
_MIRROR = np.diag([-1.0, 1.0, 1.0])
_DEFAULT_SHAPE = np.array(DEFAULT_SHAPE, np.float64)


def kinect_intrinsics(size: tuple[int, int]) -> np.ndarray:
    """`NYU_KINECT` intrinsics scaled to an image of ``size`` = (H, W) pixels.

    Convention:
        Pixel centres at integer coordinates: a coordinate p at 640×480 becomes
        ``(p + 0.5)·s - 0.5`` with s = W / 640 (x) or H / 480 (y); focal lengths scale by s.

    Shapes:
        -> (3, 3) float64.
    """
    H, W = size
    sx, sy = W / NYU_KINECT["size"][1], H / NYU_KINECT["size"][0]
    return np.array(
        [
            [NYU_KINECT["fx"] * sx, 0.0, (NYU_KINECT["cx"] + 0.5) * sx - 0.5],
            [0.0, NYU_KINECT["fy"] * sy, (NYU_KINECT["cy"] + 0.5) * sy - 0.5],
            [0.0, 0.0, 1.0],
        ]
    )


@functools.cache
def _hand_model() -> AnnyHand:
    """The right `AnnyHand` (float32), built once per process and shared (used read-only).

    It skins with anny's dense torch LBS: for one 1,609-vertex hand it is faster than the
    Warp kernel (2.4 vs 4.3 ms a hand here), which is rebuilt on every call.
    """
    hand = AnnyHand("R", dtype=torch.float32)
    hand.anny.set_skinning_method("lbs")
    return hand


def _probabilities(value: str | Mapping[str, float], known: tuple[str, ...], name: str):
    table = {value: 1.0} if isinstance(value, str) else dict(value)
    bad = set(table) - set(known)
    if bad or not table or any(p < 0 for p in table.values()) or sum(table.values()) <= 0:
        raise ValueError(f"{name}: expected a name or probabilities over {known}, got {value!r}")
    names = tuple(table)
    p = np.array([table[n] for n in names], np.float64)
    return names, p / p.sum()


def _range(value: tuple[float, float], name: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not lo <= hi:
        raise ValueError(f"{name}: expected (min, max) with min <= max, got {value!r}")
    return lo, hi


class HandDepthGenerator:
    """Random hand depth samples (see the module docstring for what a sample is).

    Args:
        size: (H, W) of the depth map.
        side: ``"R"``, ``"L"`` or ``"random"`` (each side with probability 1/2).
        distance_m: range of the camera z of the hand centre, metres.
        families: a family name or probabilities over
            `posekit.data.synthetic.hand_families.HAND_FAMILIES`; ``"default"``: random 0.6,
            open, fist, pinch and point 0.1 each.
        random_shape: draw phenotypes from ``HAND_SHAPE_RANGES`` (else the default adult).
        palm_turn_deg, tilt_deg, roll_deg: orientation ranges, degrees (module docstring).
        wrist_flex_deg, wrist_deviation_deg: forearm bend ranges, degrees.
        forearm: add the forearm proxy.
        forearm_length_m: its length range, metres.
        background: a name of ``("none", "wall", "table")`` or probabilities over them;
            ``"default"``: none 0.3, wall 0.5, table 0.2.
        noise: apply the sensor model (else the clean rendered depth, 0 off the surfaces).
        sensor: `DepthSensorConfig` or a dict of its fields; default the Kinect-like one.
        visibility_tolerance_m: allowed depth of a visible joint under the hand's surface,
            metres, for all joints; None: per joint, `HAND_VISIBILITY_TOLERANCE_M`.
        instance_mask: add ``masks["instance"]`` to the samples.
    """

    def __init__(
        self,
        size: tuple[int, int] = (240, 320),
        side: str = "R",
        distance_m: tuple[float, float] = (0.3, 0.7),
        families: str | Mapping[str, float] = "default",
        random_shape: bool = True,
        palm_turn_deg: tuple[float, float] = (-135.0, 135.0),
        tilt_deg: tuple[float, float] = (-30.0, 60.0),
        roll_deg: tuple[float, float] = (-135.0, 135.0),
        wrist_flex_deg: tuple[float, float] = (-40.0, 40.0),
        wrist_deviation_deg: tuple[float, float] = (-15.0, 25.0),
        forearm: bool = True,
        forearm_length_m: tuple[float, float] = (0.2, 0.3),
        background: str | Mapping[str, float] = "default",
        noise: bool = True,
        sensor: DepthSensorConfig | Mapping[str, Any] | None = None,
        visibility_tolerance_m: float | None = None,
        instance_mask: bool = True,
    ) -> None:
        H, W = (int(s) for s in size)
        if H < 8 or W < 8:
            raise ValueError(f"size: expected (H, W) with H, W >= 8, got {size!r}")
        if side not in ("R", "L", "random"):
            raise ValueError(f"side: expected 'R', 'L' or 'random', got {side!r}")
        self.size, self.side = (H, W), side
        self.distance_m = _range(distance_m, "distance_m")
        if self.distance_m[0] <= 0.15:
            raise ValueError(f"distance_m: expected a range above 0.15 m, got {distance_m!r}")
        fams = _DEFAULT_FAMILIES if families == "default" else families
        self.families, self._family_p = _probabilities(fams, HAND_FAMILIES, "families")
        bg = _DEFAULT_BACKGROUND if background == "default" else background
        self.backgrounds, self._background_p = _probabilities(bg, BACKGROUNDS, "background")
        self.random_shape = bool(random_shape)
        self.palm_turn_deg = _range(palm_turn_deg, "palm_turn_deg")
        self.tilt_deg = _range(tilt_deg, "tilt_deg")
        self.roll_deg = _range(roll_deg, "roll_deg")
        self.wrist_flex_deg = _range(wrist_flex_deg, "wrist_flex_deg")
        self.wrist_deviation_deg = _range(wrist_deviation_deg, "wrist_deviation_deg")
        self.forearm = bool(forearm)
        self.forearm_length_m = _range(forearm_length_m, "forearm_length_m")
        self.noise = bool(noise)
        if sensor is None or isinstance(sensor, DepthSensorConfig):
            self.sensor = sensor or DepthSensorConfig()
        else:
            self.sensor = DepthSensorConfig(**dict(sensor))
        if visibility_tolerance_m is None:
            tol = np.array([HAND_VISIBILITY_TOLERANCE_M[n] for n in HAND21.joints])
        elif visibility_tolerance_m >= 0:
            tol = np.full(HAND21.num_joints, float(visibility_tolerance_m))
        else:
            raise ValueError(f"visibility_tolerance_m: expected >= 0, got {visibility_tolerance_m}")
        self.visibility_tolerance_m = tol
        self.instance_mask = bool(instance_mask)
        self.K = kinect_intrinsics((H, W))
        self._renderer: Renderer | None = None
        self._model: tuple[AnnyHand, Forearm] | None = None
        self._faces: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_renderer"] = state["_model"] = None  # rebuilt lazily in the new process
        state["_faces"] = {}
        return state

    def _parts(self) -> tuple[AnnyHand, Forearm, Renderer]:
        if self._model is None:
            hand = _hand_model()
            forearm = Forearm(hand.faces.numpy(), hand.num_vertices)
            faces = forearm.faces if self.forearm else forearm.hand_faces
            # a mirrored mesh keeps outward normals with the opposite winding
            self._faces = {"R": faces, "L": np.ascontiguousarray(faces[:, ::-1])}
            self._model = (hand, forearm)
        if self._renderer is None:
            self._renderer = Renderer(*self.size, near_m=0.05, far_m=20.0)
        return (*self._model, self._renderer)

    def _hand_mesh(
        self, hand: AnnyHand, forearm: Forearm, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """A posed right hand (+ forearm) in the camera orientation, before placement.

        Returns:
            vertices (V', 3) and joints (21, 3), metres, rotated (not mirrored, not moved),
            and the sample's parameters for ``meta`` (with the rotation matrix ``R``).
        """
        family = self.families[int(rng.choice(len(self.families), p=self._family_p))]
        pose = sample_family_articulation(family, rng)
        shape = sample_hand_shape(rng) if self.random_shape else _DEFAULT_SHAPE
        with torch.no_grad():
            out = hand(
                torch.from_numpy(pose[None]).float(), shape=torch.tensor(shape[None]).float()
            )
        verts = out.vertices[0].numpy().astype(np.float64)  # (1609, 3), hand frame
        joints = out.joints["hand21"][0].numpy().astype(np.float64)  # (21, 3)
        turn, tilt, roll = (
            _uniform(rng, r) for r in (self.palm_turn_deg, self.tilt_deg, self.roll_deg)
        )
        R = rotation(roll, tilt, turn)
        wrist = [0.0, 0.0]
        if self.forearm:
            wrist = [_uniform(rng, self.wrist_flex_deg), _uniform(rng, self.wrist_deviation_deg)]
            if (R @ forearm.direction(*wrist))[2] < -0.5:  # the arm would point at the sensor
                wrist = [0.0, 0.0]
            arm = forearm.vertices(verts, *wrist, _uniform(rng, self.forearm_length_m), rng)
            verts = np.concatenate([verts, arm])
        params = {
            "family": family,
            "articulation_rad": [float(a) for a in pose],
            "shape": shape,
            "palm_turn_deg": turn,
            "tilt_deg": tilt,
            "roll_deg": roll,
            "wrist_flex_deg": wrist[0],
            "wrist_deviation_deg": wrist[1],
            "R": R,
        }
        return verts @ R.T, joints @ R.T, params

    def _place(
        self, verts: np.ndarray, joints: np.ndarray, n_hand: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, float]:
        """The translation that puts the hand centre at a random distance and image position."""
        K, (H, W) = self.K, self.size
        centre = joints.mean(axis=0)
        z_c = _uniform(rng, self.distance_m)
        radius = float(np.linalg.norm(verts[:n_hand] - centre, axis=1).max())
        reach = radius / max(z_c - radius, 0.05)  # tangent of the hand's angular radius
        pix = []
        for axis, extent in ((0, W), (1, H)):
            lo, hi = K[axis, axis] * reach, extent - 1 - K[axis, axis] * reach
            pix.append(rng.uniform(lo, hi) if lo < hi else K[axis, 2])
        target = z_c * np.array([(pix[0] - K[0, 2]) / K[0, 0], (pix[1] - K[1, 2]) / K[1, 1], 1])
        return target - centre, z_c

    def __call__(self, index: int, rng: np.random.Generator) -> Sample:
        """Sample ``index`` of a dataset, drawn from ``rng`` only."""
        hand, forearm, renderer = self._parts()
        K, n_hand = self.K, hand.num_vertices
        side = self.side if self.side != "random" else ("R" if rng.random() < 0.5 else "L")
        verts, joints, params = self._hand_mesh(hand, forearm, rng)
        if side == "L":  # mirror the scene (see the module docstring)
            verts[:, 0] *= -1.0
            joints[:, 0] *= -1.0
        shift, z_c = self._place(verts, joints, n_hand, rng)
        verts += shift
        joints += shift
        kind = self.backgrounds[int(rng.choice(len(self.backgrounds), p=self._background_p))]
        plane = background_plane(kind, verts[:n_hand], K, self.size, rng)

        verts32 = verts.astype(np.float32)
        faces = self._faces[side]
        parts = forearm.part_ids[: len(verts32)]  # 0 hand, 1 forearm
        # smooth normals computed by the renderer; its rgb holds the incidence cosines
        meshes = [MeshInstance(verts32, faces, part_ids=parts)]
        meshes += [] if plane is None else [plane]
        frame = renderer.render(meshes, K, incidence=True)
        clean = frame.depth
        own = frame.instance_mask == 0

        joints32 = joints.astype(np.float32)
        j64 = joints32.astype(np.float64)
        kp = (j64[:, :2] / j64[:, 2:3]) * np.diag(K)[:2] + K[:2, 2]  # K has no skew
        # Per-joint tolerances: test the joints moved towards the camera by their tolerance.
        z_test = j64[:, 2] - self.visibility_tolerance_m
        vis = visibility_from_depth(kp, z_test, np.where(own, clean, 0.0), 0.0)
        depth = clean
        if self.noise:
            cos = decode_incidence(frame.rgb)  # 0 where no surface (no background image)
            depth = simulate_depth_sensor(clean, cos, float(K[0, 0]), rng, self.sensor)
        bbox = mask_box(own & (frame.part_mask == 0)) or [0.0] * 4  # [0]*4: out of frame

        shape, R = params.pop("shape"), params.pop("R")
        R = _MIRROR @ R @ _MIRROR if side == "L" else R
        meta = {"index": int(index), "task": "hand", "side": side, **params}
        meta |= {"background": kind, "distance_m": z_c, "rotation": R.tolist()}
        masks = {"instance": np.where(own, 0, -1).astype(np.int16)} if self.instance_mask else {}
        return Sample(
            keypoints2d=kp.astype(np.float32)[None],
            visibility=vis[None],
            skeleton="hand21",
            depth=depth,
            joints3d=joints32[None],
            K=K.astype(np.float32),
            bbox=np.array([bbox], np.float32),
            body_shape=shape.astype(np.float32)[None],
            masks=masks,
            meta=meta,
        )


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))
