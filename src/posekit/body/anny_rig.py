"""How posekit drives anny's 104-bone rig, and how it reads joints and body parts off it.

**Compact pose (anny24).** 24 joints with SMPL24's names and order. Each drives the anny bones
below with an axis-angle rotation (see `posekit.body.anny.AnnyBody` for the frame). ``chain``
groups split the rotation evenly along a chain of bones (each gets ``rotvec / n``; rotations
about one axis compose exactly, so the end of the chain turns by the full rotation, and the bend
is spread along the spine or neck as in a real one); ``each`` groups give the whole rotation to
sibling bones (all toes, all four fingers) so they bend together like SMPL's foot and hand
joints. The other 104 - 31 bones (pelvis.L/R, spine05, shoulder01, upper/lower arm and leg twist
bones upperarm02/lowerarm02/upperleg02/lowerleg02, metacarpals, finger and toe distal phalanges,
thumbs, eyes) stay at their reference orientation.

==========  ================================================  =======
joint       anny bones                                        mode
==========  ================================================  =======
pelvis      root (global orientation)                         chain
l/r_hip     upperleg01.L/R                                    chain
spine1      spine04, spine03                                  chain
l/r_knee    lowerleg01.L/R                                    chain
spine2      spine02                                           chain
l/r_ankle   foot.L/R                                          chain
spine3      spine01                                           chain
l/r_foot    toe1-1 ... toe5-1 .L/R                            each
neck        neck01, neck02, neck03                            chain
l/r_collar  clavicle.L/R                                      chain
head        head                                              chain
l/r_should. upperarm01.L/R                                    chain
l/r_elbow   lowerarm01.L/R                                    chain
l/r_wrist   wrist.L/R                                         chain
l/r_hand    finger2-1 ... finger5-1 .L/R (not the thumb)      each
==========  ================================================  =======

**Joint layouts.** Each output joint is a fixed linear combination of posed bone heads
("bone:<label>"), anny's own COCO keypoint regressor ("coco:<label>", linear in the vertices)
and surface landmark vertices ("landmark:<name>", `posekit.body.landmarks`):

- ``anny24``: the rotation centre of each compact joint: the head of its first bone (``chain``)
  or the mean of its bones' heads (``each``).
- ``smpl24``: anny24, except the collars, which SMPL places mid-clavicle: the midpoint of the
  clavicle and shoulder01 heads (anny's clavicle head is the sterno-clavicular joint).
- ``coco17``: anny's COCO regressor (``anny.KeypointsRegressor.coco``), its 17 body points.
- ``h36m17``:

  ==============  =========================================================================
  h36m17 joint    definition on the anny body
  ==============  =========================================================================
  pelvis          midpoint of the two hip joints (upperleg01.L/R heads)
  r_hip, l_hip    upperleg01.R / .L heads (femoral head centres)
  r_knee, l_knee  lowerleg01.R / .L heads
  r_ankle, l_an.  foot.R / .L heads (talocrural joint)
  spine           spine02 head (mid-back, about halfway from pelvis to thorax)
  thorax          midpoint of the clavicle.L/R heads (sternal notch level, base of the neck)
  neck_nose       midpoint of the head bone's head (skull base) and the "chin" landmark: the
                  upper neck at the level of the mandible (see the note below)
  head_top        midpoint of the head bone's head and the "head_top" landmark (skull
                  vertex): the centre of the head at about temple level (see the note below;
                  the vertex itself stays available as the ``head_top`` landmark)
  l/r_shoulder    upperarm01.L / .R heads (gleno-humeral joint)
  l/r_elbow       lowerarm01.L / .R heads
  l/r_wrist       wrist.L / .R heads
  ==============  =========================================================================

  **neck_nose and head_top (changed 2026-11-24).** They were the midpoint of the skull base
  and the COCO nose, and the skull vertex. H3.6M's skeleton (one fixed set of bone lengths)
  has Thorax -> Neck/Nose 121 mm and Neck/Nose -> Head 115 mm, so its Head is at most 236 mm
  from its Thorax, while anny's sternal notch -> vertex is 340 mm at a scale (default shape)
  where the limb bones agree with H3.6M's to 1-3 %; after scaling, the two neck/head bones were
  1.58x and 1.32x H3.6M's (now 1.30x and 1.02x: 162 and 121 mm), and against real H3.6M poses
  (benchmarks/pose_coverage.py) the vertex was the worst joint (105 mm mean error of the
  nearest sampled pose, now 65 mm). Not changed, though also off: anny's h36m17 shoulders are
  ~17 mm per side wider and its hips ~7 mm per side narrower than H3.6M's after a free fit
  (shoulder width / leg length 0.34 in H3.6M, 0.38-0.47 over anny's shapes), and its spine
  and thorax ~12 mm higher; see benchmarks/RESULTS.md.

**Body parts.** 14 parts (`PART_NAMES`); each bone belongs to one (`part_of_bone`) and each
vertex gets the part with the largest summed skinning weight (`AnnyBody.part_labels`).
"""

from __future__ import annotations

import re

__all__ = [
    "ANNY24_BONES",
    "COCO_LABELS",
    "JOINT_DEFINITIONS",
    "PART_FLIP",
    "PART_NAMES",
    "part_of_bone",
]

_Anchors = tuple[tuple[str, float], ...]


def _sides(name: str, bones: tuple[str, ...], mode: str) -> list[tuple[str, tuple[str, ...], str]]:
    """Expand ``l_x`` / ``r_x`` rows whose bones end in ``.{S}``."""
    return [
        (f"{s}_{name}", tuple(b.replace("{S}", side) for b in bones), mode)
        for s, side in (("l", "L"), ("r", "R"))
    ]


_ROWS: list[tuple[str, tuple[str, ...], str]] = [
    ("pelvis", ("root",), "chain"),
    ("spine1", ("spine04", "spine03"), "chain"),
    ("spine2", ("spine02",), "chain"),
    ("spine3", ("spine01",), "chain"),
    ("neck", ("neck01", "neck02", "neck03"), "chain"),
    ("head", ("head",), "chain"),
    *_sides("hip", ("upperleg01.{S}",), "chain"),
    *_sides("knee", ("lowerleg01.{S}",), "chain"),
    *_sides("ankle", ("foot.{S}",), "chain"),
    *_sides("foot", tuple(f"toe{i}-1.{{S}}" for i in range(1, 6)), "each"),
    *_sides("collar", ("clavicle.{S}",), "chain"),
    *_sides("shoulder", ("upperarm01.{S}",), "chain"),
    *_sides("elbow", ("lowerarm01.{S}",), "chain"),
    *_sides("wrist", ("wrist.{S}",), "chain"),
    *_sides("hand", tuple(f"finger{i}-1.{{S}}" for i in range(2, 6)), "each"),
]

# joint name -> (bones it drives, "chain" | "each"); `AnnyBody` reads it in the anny24
# skeleton's joint order.
ANNY24_BONES: dict[str, tuple[tuple[str, ...], str]] = {j: (b, m) for j, b, m in _ROWS}

# anny's COCO regressor labels for the 17 COCO body keypoints, in COCO (coco17) order.
COCO_LABELS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


def _bone(b: str) -> _Anchors:
    return ((f"bone:{b}", 1.0),)


def _mean(*anchors: str) -> _Anchors:
    return tuple((a, 1.0 / len(anchors)) for a in anchors)


def _anny24() -> dict[str, _Anchors]:
    out = {}
    for joint, (bones, mode) in ANNY24_BONES.items():
        out[joint] = _bone(bones[0]) if mode == "chain" else _mean(*(f"bone:{b}" for b in bones))
    return out


def _smpl24() -> dict[str, _Anchors]:
    out = _anny24()
    for s, side in (("l", "L"), ("r", "R")):
        out[f"{s}_collar"] = _mean(f"bone:clavicle.{side}", f"bone:shoulder01.{side}")
    return out


def _h36m17() -> dict[str, _Anchors]:
    out = {
        "pelvis": _mean("bone:upperleg01.L", "bone:upperleg01.R"),
        "spine": _bone("spine02"),
        "thorax": _mean("bone:clavicle.L", "bone:clavicle.R"),
        "neck_nose": _mean("bone:head", "landmark:chin"),
        "head_top": _mean("bone:head", "landmark:head_top"),
    }
    for s, side in (("l", "L"), ("r", "R")):
        out[f"{s}_hip"] = _bone(f"upperleg01.{side}")
        out[f"{s}_knee"] = _bone(f"lowerleg01.{side}")
        out[f"{s}_ankle"] = _bone(f"foot.{side}")
        out[f"{s}_shoulder"] = _bone(f"upperarm01.{side}")
        out[f"{s}_elbow"] = _bone(f"lowerarm01.{side}")
        out[f"{s}_wrist"] = _bone(f"wrist.{side}")
    return out


def _coco17() -> dict[str, _Anchors]:
    names = [re.sub(r"^left_", "l_", re.sub(r"^right_", "r_", c)) for c in COCO_LABELS]
    return {n: ((f"coco:{c}", 1.0),) for n, c in zip(names, COCO_LABELS)}


# layout -> joint name -> anchors with weights. The joint order of each layout is its registered
# skeleton's order (`AnnyBody` reads the names from the skeleton).
JOINT_DEFINITIONS: dict[str, dict[str, _Anchors]] = {
    "anny24": _anny24(),
    "smpl24": _smpl24(),
    "h36m17": _h36m17(),
    "coco17": _coco17(),
}

PART_NAMES: tuple[str, ...] = (
    "head",
    "torso",
    "l_upper_arm",
    "r_upper_arm",
    "l_lower_arm",
    "r_lower_arm",
    "l_hand",
    "r_hand",
    "l_upper_leg",
    "r_upper_leg",
    "l_lower_leg",
    "r_lower_leg",
    "l_foot",
    "r_foot",
)

# part index -> index of its mirror part (left <-> right), for horizontal-flip augmentation.
PART_FLIP: tuple[int, ...] = tuple(
    PART_NAMES.index(p.replace("l_", "r_", 1) if p.startswith("l_") else p.replace("r_", "l_", 1))
    for p in PART_NAMES
)

# Bone-name prefixes per part (the side comes from the ".L" / ".R" suffix).
_PART_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("head", ("neck", "head", "eye")),
    ("torso", ("root", "spine", "pelvis", "clavicle", "shoulder01")),
    ("upper_arm", ("upperarm",)),
    ("lower_arm", ("lowerarm",)),
    ("hand", ("wrist", "finger", "metacarpal")),
    ("upper_leg", ("upperleg",)),
    ("lower_leg", ("lowerleg",)),
    ("foot", ("foot", "toe")),
)


def part_of_bone(label: str) -> int:
    """Index into `PART_NAMES` of the part an anny bone belongs to.

    Neck bones count as head; pelvis, clavicle and shoulder (scapula) bones as torso; wrist,
    metacarpal and finger bones as hand. KeyError for a bone no rule covers.
    """
    for part, prefixes in _PART_PREFIXES:
        if label.startswith(prefixes):
            if part in ("head", "torso"):
                return PART_NAMES.index(part)
            side = "l" if label.endswith(".L") else "r" if label.endswith(".R") else None
            if side is None:
                break
            return PART_NAMES.index(f"{side}_{part}")
    raise KeyError(f"no body part rule for anny bone {label!r}")
