"""The `Skeleton` dataclass: joint names, kinematic tree, left/right flip pairs and limbs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch

__all__ = ["Skeleton"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class Skeleton:
    """A named keypoint layout with its kinematic tree.

    Joints are stored in topological order: the root comes first and every parent comes before
    its children, so forward kinematics and bone lengths can be computed in one pass. When a
    dataset's own files use another order (MPII, LSP), ``native_joints`` lists the names in the
    file's order and `from_native` / `to_native` permute between the two.

    Attributes:
        name: layout name, e.g. ``"coco17"``.
        joints: joint names (canonical names shared by layouts where the joints coincide).
        parents: parent index per joint, ``-1`` for the root (index 0).
        flip_pairs: (left, right) index pairs swapped by a horizontal flip.
        limbs: (a, b) index pairs drawn as segments; defaults to the tree's bones.
        native_joints: joint names in the dataset file's order, if it differs.
        description: where the layout comes from and what its joints mean.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    limbs: tuple[tuple[int, int], ...] = ()
    native_joints: tuple[str, ...] | None = None
    description: str = ""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        J = len(self.joints)
        if len(set(self.joints)) != J:
            raise ValueError(f"skeleton {self.name}: duplicate joint names in {self.joints}")
        if len(self.parents) != J:
            raise ValueError(
                f"skeleton {self.name}: parents: expected {J} entries, got {len(self.parents)}"
            )
        if J == 0 or self.parents[0] != -1:
            raise ValueError(f"skeleton {self.name}: joint 0 must be the root (parent -1)")
        for j, p in enumerate(self.parents[1:], start=1):
            if not 0 <= p < j:
                raise ValueError(
                    f"skeleton {self.name}: parents[{j}] = {p}; expected a parent before the "
                    f"joint (0 <= parent < {j})"
                )
        for a, b in self.flip_pairs:
            if not (0 <= a < J and 0 <= b < J) or a == b:
                raise ValueError(f"skeleton {self.name}: bad flip pair ({a}, {b})")
        if not self.limbs:
            object.__setattr__(
                self, "limbs", tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)
            )
        if self.native_joints is not None and sorted(self.native_joints) != sorted(self.joints):
            raise ValueError(f"skeleton {self.name}: native_joints must be a permutation of joints")
        self._index.update({n: i for i, n in enumerate(self.joints)})

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint by name; KeyError naming the valid names otherwise."""
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(
                f"skeleton {self.name} has no joint {joint!r}; joints: {', '.join(self.joints)}"
            ) from None

    def indices(self, joints: Sequence[str]) -> list[int]:
        """Indices of several joints by name."""
        return [self.index(j) for j in joints]

    @property
    def flip_permutation(self) -> list[int]:
        """Permutation ``perm`` with ``x_flipped = x[..., perm, :]`` swapping left and right."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def children(self, joint: int) -> list[int]:
        """Indices of the direct children of a joint."""
        return [j for j, p in enumerate(self.parents) if p == joint]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) index pairs of the kinematic tree."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    def bone_lengths(self, joints: ArrayT) -> ArrayT:
        """Lengths of the tree's bones.

        Shapes:
            joints: (..., J, D) with D = 2 or 3.
            return: (..., J - 1), in the same unit, ordered as `bones`.
        """
        if joints.shape[-2] != self.num_joints:
            raise ValueError(
                f"joints: expected (..., {self.num_joints}, D) for skeleton {self.name}, "
                f"got {tuple(joints.shape)}"
            )
        child = [j for _, j in self.bones]
        parent = [p for p, _ in self.bones]
        d = joints[..., child, :] - joints[..., parent, :]
        if isinstance(d, torch.Tensor):
            return torch.linalg.vector_norm(d, dim=-1)
        return np.linalg.norm(d, axis=-1)

    def _native_perm(self) -> list[int]:
        if self.native_joints is None:
            return list(range(self.num_joints))
        return [self.native_joints.index(n) for n in self.joints]

    def from_native(self, x: ArrayT, axis: int = -2) -> ArrayT:
        """Reorder an array in the dataset's native joint order into this skeleton's order."""
        perm = self._native_perm()
        return _take(x, perm, axis)

    def to_native(self, x: ArrayT, axis: int = -2) -> ArrayT:
        """Reorder an array in this skeleton's order into the dataset's native order."""
        if self.native_joints is None:
            return x
        perm = [self.index(n) for n in self.native_joints]
        return _take(x, perm, axis)


def _take(x: ArrayT, perm: list[int], axis: int) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return x.index_select(axis, torch.as_tensor(perm, device=x.device))
    return np.take(x, perm, axis=axis)
