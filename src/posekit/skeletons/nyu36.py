"""NYU hand dataset: all 36 annotated points of ``joint_data.mat``, rooted at the palm centre.

NYU (Tompson et al. 2014) labels each finger with six points along it, two per bone —
``KNU3`` the distal bone, ``KNU2`` the middle, ``KNU1`` the proximal; ``A`` the point towards
the tip, ``B`` the one towards the base — and the palm with six (``PALM_1`` .. ``PALM_6``).
Fingers: ``F1`` pinky, ``F2`` ring, ``F3`` middle, ``F4`` index, ``TH`` thumb.

Names: the 14 evaluated points (`NYU14_FROM_36`) carry nyu14's names, so `joint_map` pairs
nyu36 with nyu14 and hand21 by name; the other 22 keep NYU's label with the finger spelled out
(``F2_KNU1_A`` -> ``ring_knu1_a``, ``PALM_4`` -> ``palm_4``). `NYU36_LABELS` is the file's own
``joint_names`` order (the native order).
"""

from __future__ import annotations

from posekit.skeletons._build import build_skeleton
from posekit.skeletons.hand21 import NYU14_FROM_36, NYU14_NATIVE

__all__ = ["NYU36", "NYU36_LABELS"]

_FINGER_LABELS = (("F1", "pinky"), ("F2", "ring"), ("F3", "middle"), ("F4", "index"))
_POINTS = ("KNU3_A", "KNU3_B", "KNU2_A", "KNU2_B", "KNU1_A", "KNU1_B")  # tip to base

NYU36_LABELS: tuple[str, ...] = (
    *(f"{f}_{p}" for f, _ in (*_FINGER_LABELS, ("TH", "thumb")) for p in _POINTS),
    *(f"PALM_{i}" for i in range(1, 7)),
)
"""NYU's names of its 36 points, in ``joint_data.mat`` order (``joint_names``)."""

_WORDS = dict((*_FINGER_LABELS, ("TH", "thumb"), ("PALM", "palm")))
_SHARED = dict(zip(NYU14_FROM_36, NYU14_NATIVE, strict=True))


def _name(i: int, label: str) -> str:
    if i in _SHARED:
        return _SHARED[i]
    head, rest = label.split("_", 1)
    return f"{_WORDS[head]}_{rest.lower()}"


_NATIVE = tuple(_name(i, label) for i, label in enumerate(NYU36_LABELS))

_tree: list[tuple[str, str | None]] = [("palm", None)]
_tree += [(n, "palm") for n in _NATIVE[30:] if n != "palm"]
for _k in range(5):  # each finger (and the thumb) from its base to its tip
    _chain = _NATIVE[6 * _k : 6 * _k + 6][::-1]
    _tree += [(n, "palm" if j == 0 else _chain[j - 1]) for j, n in enumerate(_chain)]

NYU36 = build_skeleton(
    "nyu36",
    _tree,
    native_joints=_NATIVE,
    description=(
        "All 36 points of the NYU hand dataset's joint_data.mat, rooted at the palm centre "
        "(PALM_3); fingers chain base (KNU1_B) to tip (KNU3_A). The 14 evaluated points carry "
        "nyu14's names; the others NYU's labels (e.g. ring_knu1_a, palm_4)."
    ),
)
