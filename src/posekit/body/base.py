"""The body-model protocol and its output.

Every body model in posekit (the anny adapter `AnnyBody`, the hand `AnnyHand`, the SMPL adapter
`SMPLBody`) is an ``nn.Module`` whose ``forward(pose, shape, transl)`` returns a `BodyOutput`
in posekit's world frame (Z-up metres, canonical body facing -Y, left at +X; see
`posekit.body.frames`).

Joints are returned eagerly as a dict ``layout name -> (B, J, 3)``, one entry per layout the
model supports (e.g. ``"anny24"``, ``"smpl24"``, ``"h36m17"``, ``"coco17"``); the layouts are
registered skeletons (`posekit.skeletons.get_skeleton(name)`), so joint names, parents and flip
pairs come with them. Computing all layouts costs well under a millisecond next to skinning, and a
dict keeps the output a plain container that collates, moves and detaches like the other fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

import torch

__all__ = ["BodyModel", "BodyOutput"]


@dataclass
class BodyOutput:
    """What a body model returns for a batch of bodies.

    Attributes:
        vertices: posed surface vertices, world frame, metres.
        faces: triangle vertex indices (shared by the batch), long.
        joints: layout name -> joint positions in that layout's order, world frame, metres.
        pose: the pose parameters used (the model's own parameterization).
        shape: the shape parameters used.
        transl: the translation used, metres.
        bone_poses: posed world pose of every rig bone as a homogeneous matrix (rotation columns
            are the bone's axes, translation is the bone's head), or None if the model does not
            expose its rig.
        rest_vertices: vertices of the shaped body in its rest pose, before translation (e.g.
            for height or other anthropometry), or None.

    Shapes:
        vertices: (B, V, 3); faces: (F, 3); joints[layout]: (B, J_layout, 3);
        pose: model-specific, leading B; shape: (B, S); transl: (B, 3);
        bone_poses: (B, N_bones, 4, 4); rest_vertices: (B, V, 3).
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    joints: dict[str, torch.Tensor]
    pose: torch.Tensor
    shape: torch.Tensor
    transl: torch.Tensor
    bone_poses: torch.Tensor | None = None
    rest_vertices: torch.Tensor | None = field(default=None, repr=False)

    @property
    def batch_size(self) -> int:
        """Number of bodies B."""
        return int(self.vertices.shape[0])

    def joints_in(self, layout: str) -> torch.Tensor:
        """The joints in one layout, (B, J, 3); KeyError naming the available layouts."""
        try:
            return self.joints[layout]
        except KeyError:
            raise KeyError(
                f"no joints in layout {layout!r}; this model gives: {', '.join(self.joints)}"
            ) from None

    def detach(self) -> BodyOutput:
        """A copy with every tensor detached from the autograd graph."""
        return self._map(lambda t: t.detach())

    def to(self, device: torch.device | str) -> BodyOutput:
        """A copy with every tensor moved to ``device``."""
        return self._map(lambda t: t.to(device))

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> BodyOutput:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                v = fn(v)
            elif isinstance(v, dict):
                v = {k: fn(t) for k, t in v.items()}
            out[f.name] = v
        return BodyOutput(**out)


@runtime_checkable
class BodyModel(Protocol):
    """A parametric body: ``forward(pose, shape, transl) -> BodyOutput``.

    Attributes every body model has:
        faces: (F, 3) long triangle indices.
        num_vertices: V.
        shape_dim: S, the size of one shape vector.
        joint_layouts: the layouts present in ``BodyOutput.joints``.

    Convention:
        Output in posekit's world frame: Z-up, metres, canonical body facing -Y with its left
        side at +X. Pose parameters are in each model's own documented parameterization.
    """

    faces: torch.Tensor
    num_vertices: int
    shape_dim: int
    joint_layouts: tuple[str, ...]

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose, shape and translate a batch of bodies."""
        ...
