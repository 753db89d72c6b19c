"""`SMPLBody`: SMPL (Loper et al. 2015) through the ``smplx`` package, in posekit's frame.

SMPL's model files are not redistributable: users who hold them (``SMPL_NEUTRAL.pkl`` etc.,
from smpl.is.tue.mpg.de) pass the path; ``pip install 'posekit[smpl]'`` installs ``smplx``.
Files whose arrays are plain numpy / scipy.sparse load without ``chumpy``; the original 2015
release pickles chumpy objects (convert it once with the SMPL authors' instructions).

Parameters stay in SMPL's own convention, so SMPL parameters from any dataset or method work
unchanged: pose is SMPL's 24 axis-angles (global orientation first, then the 23 body joints,
each relative to its parent, axes of SMPL's Y-up rest frame), betas are SMPL's shape
coefficients, and ``transl`` is SMPL's translation (Y-up frame, added after posing). The
*output* (vertices, joints, bone poses) is converted to posekit's Z-up world frame with
`posekit.body.frames.yup_to_zup`, where the rest body faces -Y with its left at +X like anny.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from posekit._checks import check_shape
from posekit.body.base import BodyOutput
from posekit.body.frames import R_YUP_TO_ZUP, yup_to_zup

__all__ = ["SMPLBody"]


class SMPLBody(nn.Module):
    """SMPL as a `posekit.body.BodyModel` (needs ``smplx`` and a SMPL model file).

    Args:
        model_path: a SMPL ``.pkl`` file (or a folder holding ``SMPL_<GENDER>.pkl``).
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (used when ``model_path`` is a folder).
        num_betas: number of shape coefficients used (at most what the file has).
        h36m_regressor: optional (17, V) vertex regressor of the Human3.6M joints in h36m17
            order (e.g. the ``J_regressor_h36m.npy`` used by SPIN and most mesh-recovery
            work), an array or a ``.npy`` path; adds ``"h36m17"`` to the joints.
        dtype: floating dtype.

    Shapes:
        forward: pose (B, 24, 3), shape (B, num_betas) or None, transl (B, 3) or None ->
        `BodyOutput` with vertices (B, 6890, 3), faces (13776, 3), joints ``smpl24``
        (B, 24, 3) (and ``h36m17`` (B, 17, 3)), bone_poses (B, 24, 4, 4).

    Convention:
        Inputs in SMPL's native Y-up frame (see the module docstring); outputs in posekit's
        Z-up frame: ``x_posekit = yup_to_zup(x_smpl)``. Bone poses are the posed joint frames:
        rotation = accumulated joint rotations (re-expressed in Z-up), translation = the joint.
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        gender: str = "neutral",
        num_betas: int = 10,
        h36m_regressor: np.ndarray | str | os.PathLike | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        try:
            import smplx
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SMPLBody needs the 'smplx' package: pip install 'posekit[smpl]'"
            ) from e
        # smplx prints (not warns) when a file has fewer than 300 shape components.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path=str(model_path),
                gender=gender,
                num_betas=num_betas,
                create_betas=False,
                create_global_orient=False,
                create_body_pose=False,
                create_transl=False,
                dtype=dtype,
            )
        self.register_buffer("faces", self.smpl.faces_tensor.clone(), persistent=False)
        self.register_buffer(
            "_yup_to_zup", torch.as_tensor(R_YUP_TO_ZUP, dtype=dtype), persistent=False
        )
        self.num_vertices = int(self.smpl.v_template.shape[0])
        self.shape_dim = int(self.smpl.num_betas)
        layouts: Sequence[str] = ("smpl24",)
        if h36m_regressor is not None:
            reg = h36m_regressor
            if isinstance(reg, (str, os.PathLike)):
                reg = np.load(reg)
            reg_t = torch.as_tensor(np.asarray(reg), dtype=dtype)
            check_shape(reg_t, "h36m_regressor", f"17 {self.num_vertices}")
            self.register_buffer("_h36m_regressor", reg_t, persistent=False)
            layouts = ("smpl24", "h36m17")
        else:
            self._h36m_regressor = None
        self.joint_layouts = tuple(layouts)

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model."""
        return self._yup_to_zup.dtype

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose, shape and translate a batch of SMPL bodies; output in posekit's Z-up frame.

        Args:
            pose: SMPL axis-angles, joint 0 = global orientation (SMPL's Y-up frame), radians.
            shape: betas; None: zeros (the mean shape).
            transl: SMPL translation in its Y-up frame, metres; None: zeros.

        Shapes:
            pose: (B, 24, 3); shape: (B, num_betas); transl: (B, 3).
        """
        B = check_shape(pose, "pose", "B 24 3")["B"]
        pose = pose.to(self.dtype)
        shape = pose.new_zeros(B, self.shape_dim) if shape is None else shape.to(self.dtype)
        transl = pose.new_zeros(B, 3) if transl is None else transl.to(self.dtype)
        check_shape(shape, "shape", f"{B} {self.shape_dim}")
        check_shape(transl, "transl", f"{B} 3")
        out = self.smpl(
            betas=shape,
            global_orient=pose[:, 0],
            body_pose=pose[:, 1:].reshape(B, 69),
            transl=transl,
            return_full_pose=False,
        )
        joints = {"smpl24": yup_to_zup(out.joints[:, :24])}
        if self._h36m_regressor is not None:
            # Regress in SMPL's frame, then change frame (both linear: the order is free).
            joints["h36m17"] = yup_to_zup(
                torch.einsum("jv,bvd->bjd", self._h36m_regressor, out.vertices)
            )
        return BodyOutput(
            vertices=yup_to_zup(out.vertices),
            faces=self.faces,
            joints=joints,
            pose=pose,
            shape=shape,
            transl=transl,
            bone_poses=self._bone_poses(pose, joints["smpl24"]),
        )

    def _bone_poses(self, pose: torch.Tensor, joints_zup: torch.Tensor) -> torch.Tensor:
        """World frames of SMPL's joints: accumulated rotations (Z-up) at the posed joints.

        Shapes:
            pose: (B, 24, 3); joints_zup: (B, 24, 3); return: (B, 24, 4, 4).
        """
        import roma

        local = roma.rotvec_to_rotmat(pose)  # (B, 24, 3, 3)
        parents = self.smpl.parents.tolist()
        world = [local[:, 0]]
        for j in range(1, 24):
            world.append(world[parents[j]] @ local[:, j])
        rot = torch.stack(world, dim=1)  # (B, 24, 3, 3) in SMPL's frame
        c = self._yup_to_zup
        out = torch.zeros(*rot.shape[:2], 4, 4, dtype=rot.dtype, device=rot.device)
        out[..., :3, :3] = c @ rot @ c.T
        out[..., :3, 3] = joints_zup
        out[..., 3, 3] = 1.0
        return out
