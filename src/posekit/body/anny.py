"""`AnnyBody`: posekit's adapter over the anny parametric body (the library's default body).

anny (NAVER LABS, Apache-2.0) is a MakeHuman-derived body: 13,718 vertices, 27,420 triangles,
a 104-bone rig, Z-up, metres. `AnnyBody` poses it with a compact SMPL-like pose of 24 joints
(`posekit.body.anny_rig` lists the bones each drives), shapes it with anny's six phenotypes,
and reads joints in the anny24, smpl24, h36m17 and coco17 layouts off the result.

Shape = anny's phenotypes, each in [0, 1] (anny clamps outside; 0.5 is its neutral value):

===========  =====================================================================  =======
phenotype    meaning                                                                default
===========  =====================================================================  =======
gender       0 male ... 1 female                                                    0.5
age          0 newborn, 1/3 child, 2/3 young, 1 old (anny's morphological calib.:   0.8
             0.42 ~ 11 y, 0.67 ~ 16 y, 0.77 ~ 18 y, 0.83 ~ 64 y); 0.8 ~ 40 y
muscle       0 min ... 1 max muscle tone                                            0.5
weight       0 min ... 1 max body mass                                              0.5
height       0 min ... 1 max height for the gender and age                          0.5
proportions  0 ideal ... 1 uncommon proportions                                     0.5
===========  =====================================================================  =======

The default (`DEFAULT_SHAPE`) is an adult of average build, about 1.83 m tall; anny's own
default (age 0.5) is a teenager.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import roma
import torch
from torch import nn

from posekit._checks import check_shape
from posekit.body._anny_loader import load_anny, root_ref, rotation_deltas, vertex_part_weights
from posekit.body._skinned_regressor import SkinnedRegressor
from posekit.body.anny_rig import (
    ANNY24_BONES,
    COCO_LABELS,
    JOINT_DEFINITIONS,
    PART_NAMES,
    part_of_bone,
)
from posekit.body.base import BodyOutput
from posekit.body.landmarks import LANDMARK_VERTICES
from posekit.skeletons.anny import ANNY24
from posekit.skeletons.registry import get_skeleton

if TYPE_CHECKING:
    import anny

__all__ = ["DEFAULT_SHAPE", "PHENOTYPES", "AnnyBody"]

PHENOTYPES: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")
DEFAULT_SHAPE: tuple[float, ...] = (0.5, 0.8, 0.5, 0.5, 0.5, 0.5)
LAYOUTS: tuple[str, ...] = ("anny24", "smpl24", "h36m17", "coco17")


class AnnyBody(nn.Module):
    """The anny body posed by 24 SMPL-like joints (a `posekit.body.BodyModel`).

    Args:
        model: an ``anny.Anny()`` full-body model to wrap (copied); default: the process-wide
            cached one (`posekit.body.load_anny`), built on first use (~40 s once per machine).
        dtype: floating dtype of the adapter and its copy of anny (float32 is ~1.6x faster
            than anny's float64 at batch 64 on a CPU).
        device: where to put it.

    Shapes:
        forward: pose (B, 24, 3), shape (B, 6) or None, transl (B, 3) or None -> `BodyOutput`
        with vertices (B, 13718, 3), faces (27420, 3), joints anny24 (B, 24, 3), smpl24
        (B, 24, 3), h36m17 (B, 17, 3), coco17 (B, 17, 3), bone_poses (B, 104, 4, 4).

    Convention:
        World frame Z-up, metres; the zero pose stands upright facing -Y, left side at +X.
        ``pose[:, j]`` is the axis-angle (radians, right-hand rule) of joint j of `ANNY24`
        relative to its parent, with axes that are the world axes of the zero pose, carried
        along by the parent (SMPL's convention; anny's "local-ref" parameterization). Joint 0
        (pelvis, anny's root bone) is the global orientation about the pelvis, which sits at
        ``transl``. The zero pose is anny's reference posture (a relaxed A-pose whose bone
        orientations do not depend on shape, so a pose means the same posture for every body);
        it differs by a few cm from the shaped mesh in the artist's rest posture
        (``rest_vertices``).
    """

    def __init__(
        self,
        model: anny.Anny | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        src = load_anny("body") if model is None else model
        self.anny = copy.deepcopy(src).to(dtype=dtype)
        labels = list(self.anny.bone_labels)
        if tuple(self.anny.phenotype_labels) != PHENOTYPES:
            raise ValueError(
                f"anny model phenotypes: expected {PHENOTYPES}, got {self.anny.phenotype_labels}"
            )
        if self.anny.pose_parameterization != "local-ref":
            raise ValueError("AnnyBody expects an anny model in its 'local-ref' parameterization")
        self.bone_labels: tuple[str, ...] = tuple(labels)
        bone_index = {b: i for i, b in enumerate(labels)}

        # Compact pose -> bones: for every driven bone, its joint and its share of the rotation.
        posed, joint_of, scale = [], [], []
        for j, joint in enumerate(ANNY24.joints):
            bones, mode = ANNY24_BONES[joint]
            for b in bones:
                posed.append(bone_index[b])
                joint_of.append(j)
                scale.append(1.0 / len(bones) if mode == "chain" else 1.0)
        self.register_buffer("_posed_bones", torch.tensor(posed), persistent=False)
        self.register_buffer("_bone_joint", torch.tensor(joint_of), persistent=False)
        self.register_buffer("_bone_scale", torch.tensor(scale, dtype=dtype)[:, None], False)
        eye = torch.eye(4, dtype=dtype).expand(len(labels), 4, 4).clone()
        self.register_buffer("_identity", eye, persistent=False)
        self.register_buffer("_root_ref", root_ref(self.anny, dtype), persistent=False)

        # anny's COCO regressor, evaluated through the skinning (see _skinned_regressor).
        import anny as anny_pkg

        reg = anny_pkg.KeypointsRegressor.coco(src, labels=list(COCO_LABELS))
        w = reg.regression_weights.detach().cpu().double()  # (17, V), float32 in anny's file
        # Rows sum to 1 only to ~1e-7; renormalizing makes the keypoints exactly equivariant to
        # translation (they move by (sum w) * t otherwise) and changes them by < 1e-6 m.
        w = w / w.sum(1, keepdim=True)
        skin = torch.zeros(w.shape[1], len(labels), dtype=torch.float64).scatter_add_(
            1,
            src.vertex_bone_indices.detach().cpu().long(),
            src.vertex_bone_weights.detach().cpu().double(),
        )  # (V, N) dense skinning weights
        self.coco = SkinnedRegressor(
            w, skin, src.template_vertices.detach().cpu(), src.blendshapes.detach().cpu(), dtype
        )

        # Every layout's joints as one linear map of [bone heads; coco points; landmarks].
        landmarks = sorted(
            {
                a.split(":", 1)[1]
                for d in JOINT_DEFINITIONS.values()
                for anchors in d.values()
                for a, _ in anchors
                if a.startswith("landmark:")
            }
        )
        anchors = (
            [f"bone:{b}" for b in labels]
            + [f"coco:{c}" for c in COCO_LABELS]
            + [f"landmark:{n}" for n in landmarks]
        )
        col = {a: i for i, a in enumerate(anchors)}
        rows, self._layout_slices = [], {}
        for layout in LAYOUTS:
            sk = get_skeleton(layout)
            start = len(rows)
            for joint in sk.joints:
                row = torch.zeros(len(anchors), dtype=dtype)
                for a, wgt in JOINT_DEFINITIONS[layout][joint]:
                    row[col[a]] += wgt
                rows.append(row)
            self._layout_slices[layout] = slice(start, len(rows))
        self.register_buffer("_joint_matrix", torch.stack(rows), persistent=False)
        lm = torch.tensor([LANDMARK_VERTICES[n] for n in landmarks], dtype=torch.long)
        self.register_buffer("_landmark_vertices", lm, persistent=False)

        self.register_buffer("faces", self.anny.faces.detach().long().clone(), persistent=False)
        bone_part = torch.tensor([part_of_bone(b) for b in labels])
        pw = vertex_part_weights(
            self.anny.vertex_bone_weights.detach().cpu(),
            self.anny.vertex_bone_indices.detach().cpu(),
            bone_part,
            len(PART_NAMES),
        )
        # part_labels[v]: index into PART_NAMES of the part with most skinning weight at v.
        self.register_buffer("part_labels", pw.argmax(1), persistent=False)
        self.register_buffer(
            "default_shape", torch.tensor(DEFAULT_SHAPE, dtype=dtype), persistent=False
        )
        self.num_vertices = int(self.anny.template_vertices.shape[0])
        self.shape_dim = len(PHENOTYPES)
        self.joint_layouts = LAYOUTS
        self.part_names = PART_NAMES
        if device is not None:
            self.to(device)

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model."""
        return self._identity.dtype

    def make_shape(self, batch_size: int = 1, **phenotypes: float | torch.Tensor) -> torch.Tensor:
        """A (B, 6) shape tensor: `DEFAULT_SHAPE` with the given phenotypes overridden.

        Example: ``body.make_shape(4, height=torch.linspace(0, 1, 4), gender=1.0)``.
        """
        unknown = set(phenotypes) - set(PHENOTYPES)
        if unknown:
            raise ValueError(f"unknown phenotypes {sorted(unknown)}; known: {PHENOTYPES}")
        shape = self.default_shape.expand(batch_size, -1).clone()
        for name, value in phenotypes.items():
            shape[:, PHENOTYPES.index(name)] = torch.as_tensor(value, dtype=shape.dtype)
        return shape

    def bone_deltas(self, pose: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
        """The anny delta transforms ("local-ref") that realize a compact pose.

        Shapes:
            pose: (B, 24, 3) axis-angle; transl: (B, 3); return: (B, 104, 4, 4).
        """
        # (B, P, 3) per-bone rotation vectors, output frame -> anny's delta frame (U0 r; U0 = I
        # for the full body, so this product is exact).
        rotvecs = (pose[:, self._bone_joint] * self._bone_scale) @ self._root_ref.T
        return rotation_deltas(
            roma.rotvec_to_rotmat(rotvecs),
            self._posed_bones,
            self._identity,
            transl @ self._root_ref.T,
        )

    def run_anny(self, deltas: torch.Tensor, shape: torch.Tensor) -> dict[str, torch.Tensor]:
        """anny's own forward on delta transforms and phenotypes, plus its blend-shape coefficients.

        The three steps of ``anny.Anny.forward`` (inputs -> phenotype blend-shape coefficients ->
        the rigged model's forward), so the coefficients can be reused by the joint regressors
        instead of being computed twice (they cost ~2.5 ms at batch 64).

        Shapes:
            deltas: (B, 104, 4, 4); shape: (B, 6); return: anny's output dict (vertices (B, V, 3),
            bone_poses / rest_bone_poses (B, 104, 4, 4), rest_vertices, ...) and
            ``blendshape_coeffs`` (B, C).
        """
        a = self.anny
        deltas, phenotypes, local, facial = a.get_tensor_inputs(deltas, shape, None, None)
        coeffs = a._get_phenotype_blendshape_coefficients(phenotypes, local, facial)
        out = super(type(a), a).forward(deltas, coeffs)  # RiggedModelWithLinearBlendShapes
        out["blendshape_coeffs"] = coeffs
        return out

    def joints_from(self, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Joints in every layout from the output of `run_anny`.

        Shapes:
            out: see `run_anny`; return: layout -> (B, J, 3).
        """
        heads = out["bone_poses"][..., :3, 3]  # (B, N, 3)
        coco = self.coco(out["blendshape_coeffs"], out["bone_poses"], out["rest_bone_poses"])
        landmarks = out["vertices"][:, self._landmark_vertices]  # (B, L, 3)
        anchors = torch.cat([heads, coco, landmarks], dim=1)  # (B, A, 3)
        joints = torch.einsum("ja,bad->bjd", self._joint_matrix, anchors)  # (B, J_all, 3)
        return {layout: joints[:, s] for layout, s in self._layout_slices.items()}

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose, shape and translate a batch of anny bodies.

        Args:
            pose: axis-angle per `ANNY24` joint, radians (see the class Convention).
            shape: phenotypes in `PHENOTYPES` order, in [0, 1]; None: `DEFAULT_SHAPE`.
            transl: world position of the pelvis (root joint), metres; None: the origin.

        Shapes:
            pose: (B, 24, 3); shape: (B, 6); transl: (B, 3); see the class for the output.
        """
        dims = check_shape(pose, "pose", "B 24 3")
        B = dims["B"]
        pose = pose.to(self.dtype)
        if shape is None:
            shape = self.default_shape.expand(B, -1)
        check_shape(shape, "shape", f"{B} {self.shape_dim}")
        if transl is None:
            transl = pose.new_zeros(B, 3)
        check_shape(transl, "transl", f"{B} 3")
        shape, transl = shape.to(self.dtype), transl.to(self.dtype)
        out = self.run_anny(self.bone_deltas(pose, transl), shape)
        return BodyOutput(
            vertices=out["vertices"],
            faces=self.faces,
            joints=self.joints_from(out),
            pose=pose,
            shape=shape,
            transl=transl,
            bone_poses=out["bone_poses"],
            rest_vertices=out["rest_vertices"],
        )

    def forward_joints(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        layouts: tuple[str, ...] = ("h36m17",),
    ) -> dict[str, torch.Tensor]:
        """Joints only: the same joints as `forward`, without skinning the mesh.

        Poses only the bones the requested layouts read (the ancestors of their anchor bones
        and of the bones that skin their anchor vertices: 29 of 104 for ``h36m17``) and
        evaluates the vertex anchors (COCO points, landmarks) through the skinning
        (`SkinnedRegressor`): for h36m17 on a 2-core CPU ~90 us per pose at batch 64-1024
        (`forward`: 620-750 us) and 1.7 ms at batch 1 (4.4 ms). Equal to `forward`'s joints
        up to float rounding. The pruned rig is built on first use per layouts tuple.

        Shapes:
            pose: (B, 24, 3); shape: (B, 6) or None; transl: (B, 3) or None;
            return: layout -> (B, J, 3).
        """
        dims = check_shape(pose, "pose", "B 24 3")
        B = dims["B"]
        pose = pose.to(self.dtype)
        shape = self.default_shape.expand(B, -1) if shape is None else shape.to(self.dtype)
        transl = pose.new_zeros(B, 3) if transl is None else transl.to(self.dtype)
        check_shape(shape, "shape", f"{B} {self.shape_dim}")
        check_shape(transl, "transl", f"{B} 3")
        key = (tuple(layouts), str(self._identity.device), self.dtype)
        plan = self._joint_plans.get(key) if hasattr(self, "_joint_plans") else None
        if plan is None:
            plan = _JointsPlan(self, tuple(layouts))
            self._joint_plans = {**getattr(self, "_joint_plans", {}), key: plan}
        return plan(self, pose, shape, transl)


class _JointsPlan:
    """The pruned rig and regressors behind `AnnyBody.forward_joints` for some layouts."""

    def __init__(self, body: AnnyBody, layouts: tuple[str, ...]) -> None:
        from anny.utils import kinematics

        a, dev, dt = body.anny, body._identity.device, body.dtype
        unknown = set(layouts) - set(body.joint_layouts)
        if unknown:
            raise ValueError(f"layouts: unknown {sorted(unknown)}; known: {body.joint_layouts}")
        rows = torch.cat([body._joint_matrix[body._layout_slices[lay]] for lay in layouts])
        used = rows.abs().sum(0) > 0  # (A,) anchors read
        N, K = len(body.bone_labels), len(COCO_LABELS)
        coco_rows = torch.nonzero(used[N : N + K]).flatten()
        lm_cols = torch.nonzero(used[N + K :]).flatten()
        V = body.num_vertices
        skin = torch.zeros(V, N, dtype=torch.float64).scatter_add_(
            1, a.vertex_bone_indices.cpu().long(), a.vertex_bone_weights.cpu().double()
        )
        reg = torch.zeros(len(coco_rows) + len(lm_cols), V, dtype=torch.float64)
        if len(coco_rows):
            import anny as anny_pkg

            w = anny_pkg.KeypointsRegressor.coco(a, labels=list(COCO_LABELS)).regression_weights
            w = w.detach().cpu().double()
            reg[: len(coco_rows)] = (w / w.sum(1, keepdim=True))[coco_rows.cpu()]
        reg[torch.arange(len(coco_rows), len(reg)), body._landmark_vertices[lm_cols].cpu()] = 1.0
        needed = set(torch.nonzero(used[:N]).flatten().tolist())
        vert = reg.abs().sum(0) > 0
        needed |= set(torch.nonzero(skin[vert].sum(0) > 0).flatten().tolist())
        parents = list(a.bone_parents)
        for b in list(needed):
            while b > 0:
                b = parents[b]
                needed.add(b)
        bones = sorted(needed)  # parents come first (anny's bones are topologically sorted)
        pos = {b: i for i, b in enumerate(bones)}
        self.bones = torch.tensor(bones, device=dev)
        self.chain = kinematics.get_kinematic_chain([-1] + [pos[parents[b]] for b in bones[1:]])
        self.chain = (self.chain[0], self.chain[1].to(dev))
        self.reg = SkinnedRegressor(
            reg, skin[:, bones], a.template_vertices.cpu(), a.blendshapes.cpu(), dt
        ).to(dev)
        # joints = matrix @ [posed heads of the kept bones; regressed points]
        cols = torch.cat([self.bones, N + coco_rows.to(dev), N + K + lm_cols.to(dev)])
        self.matrix = rows[:, cols]
        self.slices, start = {}, 0
        for lay in layouts:
            n = body._layout_slices[lay].stop - body._layout_slices[lay].start
            self.slices[lay] = slice(start, start + n)
            start += n

    def __call__(self, body, pose, shape, transl) -> dict[str, torch.Tensor]:
        from anny.utils import kinematics

        a, P = body.anny, self.bones
        _, phen, local, facial = a.get_tensor_inputs(None, shape, None, None)
        coeffs = a._get_phenotype_blendshape_coefficients(phen, local, facial)  # (B, C)
        if a.bone_orientation == "cached" and a.rest_orientation_refiner is None:
            heads = a.template_bone_heads[P] + torch.einsum(
                "bc,ckd->bkd", coeffs, a.bone_heads_blendshapes[:, P]
            )
            M = a.bone_template_orientation_matrices[P] + torch.einsum(
                "bc,ckij->bkij", coeffs, a.bone_orientation_blendshapes[:, P]
            )
            rest = roma.Rigid(roma.special_procrustes(M), heads).to_homogeneous()
            if a.root_identity_orientation:
                rest[:, 0, :3, :3] = torch.eye(3, dtype=rest.dtype, device=rest.device)
        else:  # other rest-model variants: the full one, then the kept bones
            rest = a.get_rest_model(coeffs)["rest_bone_poses"][:, P]
        deltas = body.bone_deltas(pose, transl)[:, P]
        ref = a.reference_bone_orientations
        _, W = kinematics.forward_kinematic(
            self.chain, rest, deltas, a.pose_parameterization, None if ref is None else ref[P]
        )
        anchors = torch.cat([W[..., :3, 3], self.reg(coeffs, W, rest)], dim=1)
        joints = torch.einsum("ja,bad->bjd", self.matrix, anchors)
        return {lay: joints[:, s] for lay, s in self.slices.items()}
