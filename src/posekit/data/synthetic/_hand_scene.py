"""Scene pieces of the hand depth generator: orientation, forearm proxy, background planes.

Convention:
    Hand frame: `posekit.body.AnnyHand`'s (right hand: wrist at the origin, fingers +Y, palm
    towards -X, thumb on the +Z side). Camera frame: OpenCV (x right, y down, z forward).
    Metres, degrees in the arguments.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from posekit.data.synthetic.render import MeshInstance

__all__ = ["BACKGROUNDS", "Forearm", "background_plane", "rotation"]

BACKGROUNDS = ("none", "wall", "table")

# Canonical view: palm (-X_hand) towards the camera (-z), fingers (+Y_hand) up (-y), so the
# thumb (+Z_hand) of a right hand is on the image's right (+x). Columns: images of X, Y, Z.
_CANONICAL = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])


def _axis_rotation(axis: int, angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg`` about coordinate axis 0 (x), 1 (y) or 2 (z), right-handed."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def rotation(roll_deg: float, tilt_deg: float, turn_deg: float) -> np.ndarray:
    """Hand-to-camera rotation ``Rz(roll) @ Rx(tilt) @ Ry(turn) @ canonical``.

    From the canonical view (palm to the camera, fingers up), ``turn`` rotates the hand about
    its finger axis (the back of the hand shows beyond ±90°), ``tilt`` tips the fingers
    towards the camera (and the forearm away from it), ``roll`` turns it in the image plane.

    Shapes:
        -> (3, 3) float64, x_cam = R @ x_hand.
    """
    return (
        _axis_rotation(2, roll_deg)
        @ _axis_rotation(0, tilt_deg)
        @ _axis_rotation(1, turn_deg)
        @ _CANONICAL
    )


def _boundary_loop(faces: np.ndarray) -> np.ndarray:
    """The vertices of a mesh's only boundary loop, in order (edges used by one face)."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    undirected = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    nxt = {int(a): int(b) for a, b in boundary}
    if not nxt or len(nxt) != len(boundary):
        raise ValueError("faces: expected a mesh with one simple boundary loop (the wrist)")
    loop = [int(boundary[0, 0])]
    while nxt[loop[-1]] != loop[0]:
        loop.append(nxt[loop[-1]])
        if len(loop) > len(nxt):
            raise ValueError("faces: the boundary is not one loop")
    if len(loop) != len(nxt):
        raise ValueError(f"faces: expected one boundary loop, found {len(nxt)} boundary edges")
    return np.array(loop)


class Forearm:
    """A tube from the hand's wrist ring, widening towards the elbow, bent at the wrist.

    Args:
        hand_faces: the hand mesh's faces; its single boundary loop is the wrist ring.
        num_hand_vertices: V of the hand mesh.

    Attributes:
        faces: (F, 3) faces of hand + forearm (forearm vertices follow the hand's).
        hand_faces: (Fh, 3) the hand's faces alone.
        part_ids: (V + Va,) 0 on the hand, 1 on the forearm.

    Convention:
        Positive wrist flexion bends the hand towards its palm, positive deviation towards
        the little finger (ulnar); in the hand frame the forearm moves the same way.
    """

    RINGS = (0.06, 0.2, 0.4, 0.6, 0.8, 1.0)  # ring positions, fractions of the length

    def __init__(self, hand_faces: np.ndarray, num_hand_vertices: int) -> None:
        self.hand_faces = np.asarray(hand_faces, np.int64)
        self.loop = _boundary_loop(self.hand_faces)
        n, V, R = len(self.loop), int(num_hand_vertices), len(self.RINGS)
        self.num_vertices = R * n + 1  # rings + the cap's centre
        rings = np.concatenate([self.loop[None], V + np.arange(R * n).reshape(R, n)])
        i = np.arange(n)
        j = (i + 1) % n
        tube = []
        for a, b in itertools.pairwise(rings):  # last vertex on the elbow side: its part id
            tube += [np.stack([a[i], a[j], b[i]], 1), np.stack([a[j], b[j], b[i]], 1)]
        cap = np.stack([rings[-1][j], rings[-1][i], np.full(n, V + R * n)], 1)
        self.faces = np.concatenate([self.hand_faces, *tube, cap])
        self.part_ids = np.concatenate(
            [np.zeros(V, np.int64), np.ones(self.num_vertices, np.int64)]
        )

    @staticmethod
    def _wrist(flex_deg: float, deviation_deg: float) -> np.ndarray:
        return _axis_rotation(0, deviation_deg) @ _axis_rotation(2, -flex_deg)

    def direction(self, flex_deg: float, deviation_deg: float) -> np.ndarray:
        """Unit direction wrist -> elbow in the hand frame. Shapes: -> (3,)."""
        return self._wrist(flex_deg, deviation_deg) @ np.array([0.0, -1.0, 0.0])

    def vertices(
        self,
        hand_vertices: np.ndarray,
        flex_deg: float,
        deviation_deg: float,
        length_m: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The forearm's vertices for a posed hand, in the hand frame.

        The elbow end is 1.3–1.6× thicker (palm-normal direction) and 1.1–1.3× wider than
        the wrist ring (drawn from ``rng``); the first ring takes half the wrist bend.

        Shapes:
            hand_vertices: (V, 3) -> (len(RINGS) * n + 1, 3), n the wrist ring's size.
        """
        ring0 = hand_vertices[self.loop]
        c0 = ring0.mean(axis=0)
        flat = (ring0 - c0) * np.array([1.0, 0.0, 1.0])  # the ring's shape, across the arm
        grow = np.array([rng.uniform(1.3, 1.6) - 1.0, 0.0, rng.uniform(1.1, 1.3) - 1.0])
        half, full = (
            self._wrist(flex_deg / 2, deviation_deg / 2),
            self._wrist(flex_deg, deviation_deg),
        )
        down = np.array([0.0, -1.0, 0.0])
        s1 = self.RINGS[0] * length_m
        start = c0 + s1 * (half @ down)
        out = []
        for k, frac in enumerate(self.RINGS):
            t = frac**0.7
            rot = half if k == 0 else full
            centre = start + (frac * length_m - s1) * (full @ down)
            out.append(centre + (flat * (1.0 + grow * t)) @ rot.T)
        out.append(out[-1].mean(axis=0, keepdims=True))
        return np.concatenate(out)


def background_plane(
    kind: str,
    hand_vertices: np.ndarray,
    K: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> MeshInstance | None:
    """A wall behind the hand or a table under it, as a quad in the camera frame, or None.

    ``"wall"``: normal within 30° of the optical axis, 0.1–1.0 m behind the hand's farthest
    vertex (measured along the normal), covering the whole image. ``"table"``: a horizontal
    plane 2–25 cm below the hand's lowest vertex for a camera looking down by 0–45° and
    rolled by up to ±10°, an 8 m square, with its exact normal (for the incidence angles).

    Shapes:
        hand_vertices: (V, 3) camera metres; K: (3, 3).
    """
    if kind not in BACKGROUNDS:
        raise ValueError(f"kind: expected one of {BACKGROUNDS}, got {kind!r}")
    if kind == "none":
        return None
    if kind == "wall":
        phi, theta = rng.uniform(0, 2 * np.pi), math.radians(rng.uniform(0, 30))
        n = np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi)])
        n = np.append(n, math.cos(theta))
        d = float((hand_vertices @ n).max()) + rng.uniform(0.1, 1.0)
        H, W = size
        corners = np.array([[-3, -3, 1], [W + 2, -3, 1], [W + 2, H + 2, 1], [-3, H + 2, 1.0]])
        rays = corners @ np.linalg.inv(K).T
        quad = rays * (d / (rays @ n))[:, None]
    else:
        alpha, rho = math.radians(rng.uniform(0, 45)), rng.uniform(-10, 10)
        n = _axis_rotation(2, rho) @ np.array([0.0, math.cos(alpha), math.sin(alpha)])
        d = float((hand_vertices @ n).max()) + rng.uniform(0.02, 0.25)
        e1 = np.array([1.0, 0.0, 0.0]) - n[0] * n
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        quad = d * n + 4.0 * np.array([e1 + e2, e1 - e2, -e1 - e2, -e1 + e2])
    return MeshInstance(
        quad.astype(np.float32),
        np.array([[0, 1, 2], [0, 2, 3]]),
        normals=np.broadcast_to(n, (4, 3)).astype(np.float32),
    )
