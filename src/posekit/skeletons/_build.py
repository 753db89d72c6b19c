"""Build a `Skeleton` from (joint, parent-name) pairs; flip pairs follow the l_/r_ names."""

from __future__ import annotations

from collections.abc import Sequence

from posekit.skeletons.skeleton import Skeleton

__all__ = ["build_skeleton"]


def build_skeleton(
    name: str,
    tree: Sequence[tuple[str, str | None]],
    limbs: Sequence[tuple[str, str]] = (),
    native_joints: Sequence[str] | None = None,
    description: str = "",
) -> Skeleton:
    """Make a skeleton from ``(joint, parent)`` names in topological order.

    Left/right flip pairs are every ``l_<x>`` / ``r_<x>`` pair of joint names.
    """
    joints = tuple(j for j, _ in tree)
    index = {j: i for i, j in enumerate(joints)}
    parents = tuple(-1 if p is None else index[p] for _, p in tree)
    flips = tuple(
        (index[j], index["r_" + j[2:]])
        for j in joints
        if j.startswith("l_") and "r_" + j[2:] in index
    )
    return Skeleton(
        name=name,
        joints=joints,
        parents=parents,
        flip_pairs=flips,
        limbs=tuple((index[a], index[b]) for a, b in limbs),
        native_joints=None if native_joints is None else tuple(native_joints),
        description=description,
    )
