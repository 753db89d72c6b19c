"""Convert keypoints between layouts: a linear regressor per (source, target) layout pair.

Each target joint is an affine combination of source joints (weights sum to 1), so the
conversion commutes with translation, rotation and scale and applies to 2D pixels and to 3D
metres alike. For 2D it is exact up to perspective (a combination of projections is not the
projection of the combination; the difference is under 1 px for a person a few metres away).

``coco17 → h36m17`` was fitted by least squares on 3,000 anny bodies (posekit's pose and shape
samplers, anny's COCO regressor against posekit's h36m17 joints, 3D, weights restricted to the
source joints listed per target and constrained to sum to 1; rounded to two decimals). Mean
3D error of the rounded table on those bodies (the part of each joint's definition that the
COCO points cannot express), as `benchmarks/layout_regressor.py` prints it:

=============================  ===========================================  ==========
h36m17 joint                   from coco17                                   mean error
=============================  ===========================================  ==========
pelvis                         mean of the hips                              26 mm
r_hip, l_hip                   the hip, pushed 4 % outwards                  28 mm
knees, ankles, elbows, wrists  the same joint                                8-24 mm
spine                          hips 0.245 each, shoulders 0.255 each         44 mm
thorax                         mean of the shoulders                         12 mm
neck_nose                      nose, eyes, ears (below the nose)             2 mm
head_top                       nose, eyes, ears (above the eyes)             2 mm
shoulders                      the shoulder, pushed 4 % outwards             23 mm
=============================  ===========================================  ==========

A target joint is visible where every source joint with a non-zero weight is visible.
Layout pairs without a regressor fall back to copying the joints they share by name
(`joint_map`); the others are NaN and invisible.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from posekit.skeletons.registry import get_skeleton, joint_map

__all__ = ["LAYOUT_REGRESSORS", "convert_keypoints", "layout_regressor"]

_HEAD = ("nose", "l_eye", "r_eye", "l_ear", "r_ear")

#: (source, target) → target joint → {source joint: weight}; weights sum to 1.
LAYOUT_REGRESSORS: dict[tuple[str, str], dict[str, dict[str, float]]] = {
    ("coco17", "h36m17"): {
        "pelvis": {"l_hip": 0.5, "r_hip": 0.5},
        "r_hip": {"r_hip": 1.04, "l_hip": -0.04},
        "r_knee": {"r_knee": 1.0},
        "r_ankle": {"r_ankle": 1.0},
        "l_hip": {"l_hip": 1.04, "r_hip": -0.04},
        "l_knee": {"l_knee": 1.0},
        "l_ankle": {"l_ankle": 1.0},
        "spine": {"l_hip": 0.245, "r_hip": 0.245, "l_shoulder": 0.255, "r_shoulder": 0.255},
        "thorax": {"l_shoulder": 0.5, "r_shoulder": 0.5},
        "neck_nose": dict(zip(_HEAD, (1.70, -0.82, -0.82, 0.47, 0.47), strict=True)),
        "head_top": dict(zip(_HEAD, (-1.34, 0.84, 0.84, 0.33, 0.33), strict=True)),
        "l_shoulder": {"l_shoulder": 1.04, "r_shoulder": -0.04},
        "l_elbow": {"l_elbow": 1.0},
        "l_wrist": {"l_wrist": 1.0},
        "r_shoulder": {"r_shoulder": 1.04, "l_shoulder": -0.04},
        "r_elbow": {"r_elbow": 1.0},
        "r_wrist": {"r_wrist": 1.0},
    },
}


def _table_matrix(src: str, dst: str, table: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    s, d = get_skeleton(src), get_skeleton(dst)
    W = np.full((d.num_joints, s.num_joints), np.nan)
    for j, name in enumerate(d.joints):
        if name not in table:
            continue
        W[j] = 0.0
        for src_name, w in table[name].items():
            W[j, s.index(src_name)] = w
    return W


def layout_regressor(src: str, dst: str) -> np.ndarray:
    """The (J_dst, J_src) matrix mapping ``src`` keypoints to ``dst`` keypoints.

    Rows of target joints the source cannot give are NaN. Identity when ``src == dst``.

    Raises:
        ValueError: an unknown layout name.
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    if s.name == d.name:
        return np.eye(s.num_joints)
    table = LAYOUT_REGRESSORS.get((s.name, d.name))
    if table is not None:
        return _table_matrix(s.name, d.name, table)
    W = np.full((d.num_joints, s.num_joints), np.nan)
    si, di = joint_map(s, d)
    W[di] = 0.0
    W[di, si] = 1.0
    return W


def convert_keypoints(
    keypoints: torch.Tensor,
    visibility: torch.Tensor | None,
    src: str,
    dst: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints of layout ``src`` as keypoints of layout ``dst`` (see the module docstring).

    Args:
        keypoints: any leading dims, then (J_src, D) with D = 2 (pixels) or 3 (metres).
        visibility: (..., J_src), a joint is visible where > 0; None: all visible.
        src, dst: layout names.

    Shapes:
        keypoints: (..., J_src, D); visibility: (..., J_src) or None;
        returns: (..., J_dst, D) keypoints (NaN where ``dst`` has no source) and (..., J_dst)
        bool visibility.

    Raises:
        ValueError: an unknown layout or a joint count that does not match ``src``.
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    if keypoints.ndim < 2 or keypoints.shape[-2] != s.num_joints:
        raise ValueError(
            f"keypoints: expected (..., {s.num_joints}, D) for {s.name}, "
            f"got {tuple(keypoints.shape)}"
        )
    if visibility is None:
        visible = torch.ones(keypoints.shape[:-1], dtype=torch.bool, device=keypoints.device)
    else:
        if visibility.shape != keypoints.shape[:-1]:
            raise ValueError(
                f"visibility: expected {tuple(keypoints.shape[:-1])}, got {tuple(visibility.shape)}"
            )
        visible = visibility > 0
    W_np = layout_regressor(s.name, d.name)
    defined = torch.from_numpy(np.isfinite(W_np).all(1)).to(keypoints.device)  # (J_dst,)
    W = torch.from_numpy(np.nan_to_num(W_np)).to(keypoints)  # (J_dst, J_src)
    # Zero out invisible source joints before mixing so their (possibly NaN) coordinates
    # cannot leak into joints that do not use them.
    kp = torch.where(visible[..., None], keypoints, torch.zeros_like(keypoints))
    out = torch.einsum("ds,...sc->...dc", W, kp)  # (..., J_dst, D)
    used = (W != 0).to(torch.float32)  # (J_dst, J_src)
    missing = torch.einsum("ds,...s->...d", used, (~visible).to(torch.float32)) > 0
    vis_out = defined & ~missing
    out = torch.where(defined[:, None], out, torch.full_like(out, float("nan")))
    return out, vis_out
