"""Hand layouts: hand21 (wrist + 4 joints per finger) and the NYU-14 evaluation subset."""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton

__all__ = ["HAND21", "NYU14"]

_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_THUMB = ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip")


def _finger(f: str) -> tuple[str, ...]:
    return _THUMB if f == "thumb" else (f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip")


_tree: list[tuple[str, str | None]] = [("wrist", None)]
for _f in _FINGERS:
    _names = _finger(_f)
    _tree += [(n, "wrist" if i == 0 else _names[i - 1]) for i, n in enumerate(_names)]

HAND21 = build_skeleton(
    "hand21",
    _tree,
    description=(
        "21 hand joints: wrist, then thumb (CMC, MCP, IP, tip), index, middle, ring and pinky "
        "(MCP, PIP, DIP, tip), from base to tip — the order of FreiHAND, InterHand2.6M and "
        "MANO-based datasets. One hand: no flip pairs (a flip turns a left hand into a right)."
    ),
)

# NYU hand dataset (Tompson et al. 2014): of its 36 annotated points, these 14 are the ones
# evaluated by DeepPrior, V2V-PoseNet and later work, in this (native) order. "_pip" is the
# middle joint NYU marks on each finger; "wrist_l"/"wrist_r" are the two wrist-line points
# (thumb side and pinky side) and "palm" the palm centre.
NYU14_NATIVE = (
    "pinky_tip",
    "pinky_pip",
    "ring_tip",
    "ring_pip",
    "middle_tip",
    "middle_pip",
    "index_tip",
    "index_pip",
    "thumb_tip",
    "thumb_ip",
    "thumb_mcp",
    "wrist_thumb_side",
    "wrist_pinky_side",
    "palm",
)
NYU14_FROM_36 = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)

NYU14 = build_skeleton(
    "nyu14",
    [
        ("palm", None),
        ("wrist_thumb_side", "palm"),
        ("wrist_pinky_side", "palm"),
        ("thumb_mcp", "palm"),
        ("thumb_ip", "thumb_mcp"),
        ("thumb_tip", "thumb_ip"),
        ("index_pip", "palm"),
        ("index_tip", "index_pip"),
        ("middle_pip", "palm"),
        ("middle_tip", "middle_pip"),
        ("ring_pip", "palm"),
        ("ring_tip", "ring_pip"),
        ("pinky_pip", "palm"),
        ("pinky_tip", "pinky_pip"),
    ],
    native_joints=NYU14_NATIVE,
    description=(
        "NYU hand evaluation subset: 14 of the dataset's 36 points (indices NYU14_FROM_36 "
        "of joint_data.mat), rooted at the palm centre. Finger tips, thumb IP/MCP and finger "
        "PIPs share hand21's names; the two wrist points and the palm centre have no hand21 "
        "counterpart."
    ),
)
