"""Hair and eyebrows on the body mesh: which way a rendered person faces, visible in the image.

anny's head is one body part, coloured with the skin, so a bald, featureless head looks
nearly the same from the front and from behind; with clothes of one colour front and back,
a person's front view is then close to the mirror image of a back view, and left and right
joints cannot be told apart. Real people carry the cue on their heads: hair at the back and
top, a face (eyebrows, eyes) at the front. `head_cue_regions` finds those regions on the mesh
once (vertex ids do not change with pose or shape) so the generator can colour them.

Geometry, in the zero-pose default body (Z up): ``o`` = the ears' midpoint, ``f`` = the unit
vector from ``o`` to the nose with its vertical part removed (forward), ``u`` = Z (up). For a
vertex ``v`` of the head part, ``d = v - o``:

- scalp (hair): ``d·u > -0.02 m`` and ``d·f < 0.03 m + 0.5 max(d·u - 0.08 m, 0)`` (the
  top of the head and everything behind the face, above the nape), except the forehead and
  face ``d·f > 0`` and ``d·u < 0.07 m``, which stay skin;
- brows and eyes: within 13 mm of the two points 16 mm above each eye and within 7 mm of each
  eye.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["head_cue_regions"]


def head_cue_regions(body: Any) -> tuple[np.ndarray, np.ndarray]:
    """The scalp and the brow/eye vertices of an `AnnyBody`'s mesh (module docstring).

    Args:
        body: a `posekit.body.anny.AnnyBody` (its coco17 joints give nose, eyes and ears).

    Returns:
        ``(scalp, features)``: (V,) bool masks, disjoint, both inside the head part.
    """
    import torch

    from posekit.body.anny_rig import PART_NAMES

    with torch.no_grad():
        out = body(torch.zeros(1, 24, 3, dtype=body.dtype))
    v = out.vertices[0].double().cpu().numpy()  # (V, 3)
    j = out.joints["coco17"][0].double().cpu().numpy()  # (17, 3)
    nose, l_eye, r_eye, l_ear, r_ear = j[0], j[1], j[2], j[3], j[4]
    head = body.part_labels.cpu().numpy() == PART_NAMES.index("head")
    o = 0.5 * (l_ear + r_ear)
    up = np.array([0.0, 0.0, 1.0])
    f = nose - o
    f = f - up * (f @ up)
    f /= np.linalg.norm(f)
    d = v - o
    du, df = d @ up, d @ f
    scalp = head & (du > -0.02) & (df < 0.03 + 0.5 * np.maximum(du - 0.08, 0.0))
    scalp &= ~(head & (df > 0.0) & (du < 0.07))  # the forehead and face stay skin
    features = np.zeros_like(head)
    for eye in (l_eye, r_eye):
        brow = eye + 0.016 * up
        features |= np.linalg.norm(v - brow, axis=1) < 0.013
        features |= np.linalg.norm(v - eye, axis=1) < 0.007
    features &= head & ~scalp
    return scalp, features
