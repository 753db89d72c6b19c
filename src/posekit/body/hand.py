"""`AnnyHand`: anny's hand model posed by finger flexion / abduction angles, hand21 joints out.

anny's hand model (``anny.Anny(rig="anny-hand.R", topology="hand.R")``: 1,609 vertices, 21
bones) is the hand of the full body cut at the wrist. Its bones: ``root`` and ``wrist.S`` (both
at the wrist), the thumb ``finger1-1/2/3.S`` (metacarpal, proximal, distal phalanx), and for
each finger k = 2 (index) ... 5 (pinky) a ``metacarpal{k-1}.S`` plus ``finger{k}-1/2/3.S``.
hand21 joints are bone heads: wrist = wrist.S; thumb_cmc/mcp/ip = finger1-1/2/3;
<finger>_mcp/pip/dip = finger{k}-1/2/3; each tip is a vertex, the one furthest along the distal
phalanx among the vertices it dominates (found once at construction, at the zero pose).

**Articulation** (B, 20), radians, relative to anny's reference posture (slightly curled):
per finger MCP flexion and abduction, PIP and DIP flexion; for the thumb CMC flexion and
abduction, MCP and IP flexion (`HAND_DOF_NAMES`). Axes come from the zero-pose hand: the palm
normal n (out of the palm) is ``±(u × w)``, u = wrist -> middle MCP, w = pinky MCP -> index MCP
(sign by side); a finger bone flexes about ``d × n`` (d its direction), so positive flexion
moves the finger towards the palm side; abduction turns about ±n, positive towards the thumb
(radial); the thumb flexes towards the palm centre and abducts (palmar) towards n. An abducting
joint turns as ``R_abd @ R_flex`` (flexion axis carried by the abduction, as in a condyloid
MCP joint).

Limits (degrees), after the normal active ranges of motion of the American Academy of
Orthopaedic Surgeons (AAOS, *Joint Motion: Method of Measuring and Recording*, 1965) and the
static finger constraints of Lin, Wu & Huang (*Modeling the constraints of human hand motion*,
IEEE Workshop on Human Motion, 2000: MCP 0..90, PIP 0..110, DIP 0..90, MCP abduction ±15,
DIP ≈ 2/3 PIP), narrowed to plausible everyday hands; the thumb's CMC axes are posekit's
approximation, and its limits are ours:

=========================  ============  =====================================================
DOF                        min .. max    source
=========================  ============  =====================================================
thumb_cmc_flex             -20 .. 40     posekit (CMC flexion/opposition, approximate axis)
thumb_cmc_abd              -15 .. 60     AAOS palmar abduction 0..70, narrowed
thumb_mcp_flex             -10 .. 50     AAOS 0..50
thumb_ip_flex              -10 .. 80     AAOS 0..80
<finger>_mcp_flex          -20 .. 90     AAOS / Lin 2000 0..90, small hyperextension
<finger>_mcp_abd           -15 .. 15     Lin 2000 (positive: towards the thumb)
<finger>_pip_flex            0 .. 100    AAOS 0..100 (Lin 2000: 0..110)
<finger>_dip_flex            0 .. 80     AAOS / Lin 2000 0..90, narrowed
=========================  ============  =====================================================
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Literal

import roma
import torch
from torch import nn

from posekit._checks import check_shape
from posekit.body._anny_loader import load_anny, root_ref, rotation_deltas
from posekit.body.anny import DEFAULT_SHAPE, PHENOTYPES
from posekit.body.base import BodyOutput
from posekit.skeletons.hand21 import HAND21

if TYPE_CHECKING:
    import anny

__all__ = ["HAND_DOF_NAMES", "HAND_LIMITS_DEG", "AnnyHand", "sample_hand_articulation"]

_FINGERS = ("index", "middle", "ring", "pinky")
HAND_DOF_NAMES: tuple[str, ...] = (
    "thumb_cmc_flex",
    "thumb_cmc_abd",
    "thumb_mcp_flex",
    "thumb_ip_flex",
    *(f"{f}_{d}" for f in _FINGERS for d in ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")),
)
_FINGER_LIMITS = {"mcp_flex": (-20.0, 90.0), "mcp_abd": (-15.0, 15.0), "pip_flex": (0.0, 100.0)}
_FINGER_LIMITS["dip_flex"] = (0.0, 80.0)
HAND_LIMITS_DEG: dict[str, tuple[float, float]] = {
    "thumb_cmc_flex": (-20.0, 40.0),
    "thumb_cmc_abd": (-15.0, 60.0),
    "thumb_mcp_flex": (-10.0, 50.0),
    "thumb_ip_flex": (-10.0, 80.0),
    **{f"{f}_{d}": lim for f in _FINGERS for d, lim in _FINGER_LIMITS.items()},
}

# hand21 joint -> bone whose head it is (".S" is the side); tips are vertices.
_JOINT_BONES = {
    "wrist": "wrist",
    "thumb_cmc": "finger1-1",
    "thumb_mcp": "finger1-2",
    "thumb_ip": "finger1-3",
    **{
        f"{f}_{j}": f"finger{k}-{i}"
        for k, f in enumerate(_FINGERS, start=2)
        for i, j in enumerate(("mcp", "pip", "dip"), start=1)
    },
}
_TIP_BONES = {
    "thumb_tip": "finger1-3",
    **{f"{f}_tip": f"finger{k}-3" for k, f in enumerate(_FINGERS, 2)},
}
# bone posed by each DOF's joint: thumb_cmc -> finger1-1, index_mcp -> finger2-1, ...
_JOINT_OF_DOF = {n: n.rsplit("_", 1)[0] for n in HAND_DOF_NAMES}


def limits_tensor(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(20, 2) articulation limits in radians, `HAND_DOF_NAMES` order."""
    deg = torch.tensor([HAND_LIMITS_DEG[n] for n in HAND_DOF_NAMES], dtype=torch.float64)
    return torch.deg2rad(deg).to(dtype)


def sample_hand_articulation(
    batch_size: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Random plausible finger articulations, within `HAND_LIMITS_DEG`.

    A shared grasp level g ~ U(0, 1) curls every finger (each by g plus noise, so fingers move
    together as in real hands); MCP and PIP flex in proportion to the curl, the DIP follows
    2/3 of the PIP (Lin et al. 2000); a shared spread s fans index and ring/pinky apart, less as
    the fingers curl; the thumb curls with its own noisy copy of g. Everything is clamped to the
    limits.

    Shapes:
        return: (batch_size, 20) radians, `HAND_DOF_NAMES` order.
    """
    B = batch_size

    def u(*size: int) -> torch.Tensor:
        return torch.rand(*size, generator=generator, dtype=torch.float64)

    def n(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    deg = math.pi / 180.0
    g = u(B, 1)
    curl = (g + 0.15 * n(B, 4)).clamp(0.0, 1.0)  # (B, 4) per finger
    mcp = curl * 90.0 * (0.7 + 0.3 * u(B, 4)) + 5.0 * n(B, 4)
    pip = curl * 100.0 * (0.7 + 0.3 * u(B, 4)) + 5.0 * n(B, 4)
    dip = 2.0 / 3.0 * pip + 5.0 * n(B, 4)
    spread = -0.3 + 1.3 * u(B, 1)  # < 0: fingers pressed together
    fan = torch.tensor([1.0, 0.0, -0.7, -1.4], dtype=torch.float64)  # radial + for the index
    abd = spread * fan * 12.0 * (1.0 - curl) + 2.0 * n(B, 4)
    tcurl = (g + 0.2 * n(B, 1)).clamp(0.0, 1.0)
    thumb = torch.cat(
        [
            -10.0 + 50.0 * tcurl * u(B, 1),  # cmc flex
            -5.0 + 50.0 * u(B, 1),  # cmc abd
            tcurl * 50.0 * u(B, 1),  # mcp flex
            tcurl * 80.0 * u(B, 1),  # ip flex
        ],
        dim=1,
    )
    fingers = torch.stack([mcp, abd, pip, dip], dim=2).reshape(B, 16)  # finger-major
    out = torch.cat([thumb, fingers], dim=1) * deg
    lim = limits_tensor(torch.float64)
    return out.clamp(lim[:, 0], lim[:, 1]).to(dtype)


class AnnyHand(nn.Module):
    """anny's hand posed by 20 anatomical angles (a `posekit.body.BodyModel`).

    Args:
        side: ``"R"`` or ``"L"``.
        model: the anny hand model to wrap (copied); default: the cached one (`load_anny`).
        dtype, device: of the adapter.

    Shapes:
        forward: pose (B, 20) radians, shape (B, 6) or None, transl (B, 3) or None,
        global_orient (B, 3) or None -> `BodyOutput` with vertices (B, 1609, 3) and joints
        ``{"hand21": (B, 21, 3)}``.

    Convention:
        The hand's own frame (anny's wrist bone frame at the zero pose): wrist at the origin,
        fingers towards +Y; for the right hand the palm faces -X and the thumb is on the +Z
        side. The left hand is the right one mirrored across x = 0, for the same articulation
        (tested). ``global_orient`` is an axis-angle about the wrist in that frame; ``transl``
        moves the wrist. Metres, radians.
    """

    def __init__(
        self,
        side: Literal["R", "L"] = "R",
        model: anny.Anny | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if side not in ("R", "L"):
            raise ValueError(f"side: expected 'R' or 'L', got {side!r}")
        src = load_anny(f"hand.{side}") if model is None else model
        self.anny = copy.deepcopy(src).to(dtype=dtype)
        self.side = side
        labels = list(self.anny.bone_labels)
        self.bone_labels = tuple(labels)
        index = {b: i for i, b in enumerate(labels)}

        def bone(name: str) -> int:
            return index[f"{name}.{side}"]

        eye = torch.eye(4, dtype=dtype).expand(len(labels), 4, 4).clone()
        self.register_buffer("_identity", eye, persistent=False)
        with torch.no_grad():
            zero = self.anny(
                pose_parameters=eye[None],
                phenotype_kwargs=torch.tensor([DEFAULT_SHAPE], dtype=dtype),
            )
        heads = zero["bone_poses"][0, :, :3, 3].double()  # (N, 3) zero-pose bone heads
        verts = zero["vertices"][0].double()

        # Finger tips: furthest vertex along the distal phalanx among those it dominates.
        w, idx = self.anny.vertex_bone_weights.detach(), self.anny.vertex_bone_indices.detach()
        dominant = idx.gather(1, w.argmax(1, keepdim=True)).squeeze(1)  # (V,)
        tips = {}
        for joint, b in _TIP_BONES.items():
            cand = torch.nonzero(dominant == bone(b)).flatten()
            prox = bone(b.replace("-3", "-2"))
            d = heads[bone(b)] - heads[prox]
            tips[joint] = int(cand[((verts[cand] - heads[bone(b)]) @ d).argmax()])
        self.tip_vertices = tips
        head_idx = [bone(_JOINT_BONES[j]) if j in _JOINT_BONES else -1 for j in HAND21.joints]
        tip_idx = [tips.get(j, -1) for j in HAND21.joints]
        self.register_buffer("_joint_bones", torch.tensor(head_idx), persistent=False)
        self.register_buffer("_joint_tips", torch.tensor(tip_idx), persistent=False)

        # Anatomical axes at the zero pose (see the module docstring).
        u = heads[bone("finger3-1")] - heads[bone("wrist")]
        wv = heads[bone("finger2-1")] - heads[bone("finger5-1")]
        n = torch.linalg.cross(u, wv) * (-1.0 if side == "R" else 1.0)
        n = n / n.norm()
        palm_centre = heads[[bone(f"finger{k}-1") for k in range(2, 6)] + [bone("wrist")]].mean(0)

        tip_of_bone = {b: j for j, b in _TIP_BONES.items()}

        def direction(b: str) -> torch.Tensor:  # head -> next head (or tip vertex), unit
            k, i = b.split("-")
            nxt = verts[tips[tip_of_bone[b]]] if i == "3" else heads[bone(f"{k}-{int(i) + 1}")]
            d = nxt - heads[bone(b)]
            return d / d.norm()

        posed, flex_axes, abd_axes = [], [], []
        flex_dof, abd_dof = [], []
        for joint in dict.fromkeys(_JOINT_OF_DOF.values()):
            b = _JOINT_BONES[joint]
            d = direction(b)
            if joint.startswith("thumb"):
                p = palm_centre - heads[bone(b)]
                p = p - (p @ d) * d
                a_flex = torch.linalg.cross(d, p / p.norm())
                a_abd = torch.linalg.cross(d, n)
            else:
                a_flex = torch.linalg.cross(d, n)
                # positive abduction turns the finger towards the thumb side (wv)
                a_abd = n if torch.linalg.cross(n, d) @ wv > 0 else -n
            posed.append(bone(b))
            flex_axes.append(a_flex / a_flex.norm())
            abd_axes.append(a_abd / a_abd.norm())
            flex_dof.append(HAND_DOF_NAMES.index(f"{joint}_flex"))
            abd_name = f"{joint}_abd"
            abd_dof.append(HAND_DOF_NAMES.index(abd_name) if abd_name in HAND_DOF_NAMES else -1)
        # Root first, then the 15 finger bones; abduction for the joints that have it.
        self.register_buffer("_posed_bones", torch.tensor([0, *posed]), persistent=False)
        has_abd = [i for i, a in enumerate(abd_dof) if a >= 0]
        # Axes are found in the output frame; deltas rotate about U0 @ axis (see `root_ref`).
        u0 = root_ref(self.anny, torch.float64)
        self.register_buffer("_root_ref", u0.to(dtype), persistent=False)
        flex_delta = (torch.stack(flex_axes) @ u0.T).to(dtype)
        abd_delta = (torch.stack(abd_axes)[has_abd] @ u0.T).to(dtype)
        self.register_buffer("_flex_axes", flex_delta, persistent=False)
        self.register_buffer("_abd_axes", abd_delta, persistent=False)
        self.register_buffer("_flex_dof", torch.tensor(flex_dof), persistent=False)
        self.register_buffer("_abd_dof", torch.tensor([abd_dof[i] for i in has_abd]), False)
        # rows of the (root + 15) rotation stack that also abduct
        self.register_buffer("_abd_rows", torch.tensor(has_abd) + 1, persistent=False)
        self.register_buffer("palm_normal", n.to(dtype), persistent=False)
        self.register_buffer("limits", limits_tensor(dtype), persistent=False)
        self.register_buffer("faces", self.anny.faces.detach().long().clone(), persistent=False)
        self.register_buffer("default_shape", torch.tensor(DEFAULT_SHAPE, dtype=dtype), False)
        self.num_vertices = int(self.anny.template_vertices.shape[0])
        self.shape_dim = len(PHENOTYPES)
        self.joint_layouts = ("hand21",)
        if device is not None:
            self.to(device)

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model."""
        return self._identity.dtype

    def bone_deltas(
        self, pose: torch.Tensor, global_orient: torch.Tensor, transl: torch.Tensor
    ) -> torch.Tensor:
        """anny delta transforms for an articulation.

        Shapes:
            pose: (B, 20); global_orient: (B, 3); transl: (B, 3); return: (B, 21, 4, 4).
        """
        flex = pose[:, self._flex_dof, None] * self._flex_axes  # (B, 15, 3)
        abd = pose[:, self._abd_dof, None] * self._abd_axes  # (B, 5, 3)
        root = (global_orient @ self._root_ref.T)[:, None]  # (B, 1, 3)
        # One batched conversion for root, flexions and abductions: (B, 21, 3, 3).
        R = roma.rotvec_to_rotmat(torch.cat([root, flex, abd], dim=1))
        rotmats = R[:, :16].clone()  # root + the 15 finger bones
        # condyloid joints: R_abd @ R_flex (flexion axis carried by the abduction)
        rotmats[:, self._abd_rows] = R[:, 16:] @ rotmats[:, self._abd_rows]
        return rotation_deltas(
            rotmats, self._posed_bones, self._identity, transl @ self._root_ref.T
        )

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Articulate, shape and place a batch of hands.

        Args:
            pose: finger angles in `HAND_DOF_NAMES` order, radians (not clamped to the limits).
            shape: anny phenotypes (`posekit.body.PHENOTYPES`); None: the default adult.
            transl: wrist position, metres; None: origin.
            global_orient: axis-angle of the whole hand about the wrist; None: identity.

        Shapes:
            pose: (B, 20); shape: (B, 6); transl: (B, 3); global_orient: (B, 3).
        """
        B = check_shape(pose, "pose", f"B {len(HAND_DOF_NAMES)}")["B"]
        pose = pose.to(self.dtype)
        shape = self.default_shape.expand(B, -1) if shape is None else shape.to(self.dtype)
        transl = pose.new_zeros(B, 3) if transl is None else transl.to(self.dtype)
        orient = pose.new_zeros(B, 3) if global_orient is None else global_orient.to(self.dtype)
        check_shape(shape, "shape", f"{B} {self.shape_dim}")
        check_shape(transl, "transl", f"{B} 3")
        check_shape(orient, "global_orient", f"{B} 3")
        out = self.anny(
            pose_parameters=self.bone_deltas(pose, orient, transl), phenotype_kwargs=shape
        )
        heads = out["bone_poses"][:, self._joint_bones.clamp(min=0), :3, 3]  # (B, 21, 3)
        tips = out["vertices"][:, self._joint_tips.clamp(min=0)]  # (B, 21, 3)
        joints = torch.where((self._joint_tips >= 0)[None, :, None], tips, heads)
        return BodyOutput(
            vertices=out["vertices"],
            faces=self.faces,
            joints={"hand21": joints},
            pose=pose,
            shape=shape,
            transl=transl,
            bone_poses=out["bone_poses"],
            rest_vertices=out["rest_vertices"],
        )
