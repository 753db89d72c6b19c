"""Layouts by name, and joint maps between layouts where joints coincide by name."""

from __future__ import annotations

from posekit.skeletons.anny import ANNY24
from posekit.skeletons.coco17 import COCO17
from posekit.skeletons.h36m17 import H36M17
from posekit.skeletons.hand21 import HAND21, NYU14
from posekit.skeletons.lsp14 import LSP14
from posekit.skeletons.mpi_inf_3dhp17 import MPI_INF_3DHP17
from posekit.skeletons.mpii16 import MPII16
from posekit.skeletons.nyu36 import NYU36
from posekit.skeletons.skeleton import Skeleton
from posekit.skeletons.smpl24 import SMPL24

__all__ = [
    "get_skeleton",
    "joint_map",
    "list_skeletons",
    "register_skeleton",
    "unregister_skeleton",
]

_SKELETONS: dict[str, Skeleton] = {
    s.name: s
    for s in (COCO17, MPII16, LSP14, H36M17, SMPL24, ANNY24, HAND21, NYU14, NYU36, MPI_INF_3DHP17)
}
_BUILTIN = frozenset(_SKELETONS)


def register_skeleton(skeleton: Skeleton) -> Skeleton:
    """Add a layout to the registry (e.g. the anny body layouts); returns it."""
    if skeleton.name in _SKELETONS and _SKELETONS[skeleton.name] != skeleton:
        raise ValueError(f"a different skeleton named {skeleton.name!r} is already registered")
    _SKELETONS[skeleton.name] = skeleton
    return skeleton


def unregister_skeleton(name: str) -> None:
    """Remove a layout a user registered (the built-in layouts stay).

    Raises:
        KeyError: an unknown name; ValueError: a built-in layout.
    """
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in layout; it cannot be unregistered")
    if name not in _SKELETONS:
        raise KeyError(f"unknown skeleton {name!r}")
    del _SKELETONS[name]


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """A layout by name (a `Skeleton` is returned unchanged)."""
    if isinstance(name, Skeleton):
        return name
    try:
        return _SKELETONS[name]
    except KeyError:
        raise KeyError(
            f"unknown skeleton {name!r}; known: {', '.join(sorted(_SKELETONS))}"
        ) from None


def list_skeletons() -> list[str]:
    """Names of all registered layouts."""
    return sorted(_SKELETONS)


def joint_map(src: str | Skeleton, dst: str | Skeleton) -> tuple[list[int], list[int]]:
    """Indices of the joints two layouts share by name.

    Returns ``(src_idx, dst_idx)`` so that ``y[..., dst_idx, :] = x[..., src_idx, :]`` copies
    every shared joint, in ``dst`` order. Shared names mean the same anatomical point up to
    each dataset's annotation convention (e.g. lsp14 ⊂ mpii16 exactly by name; smpl24's
    rotation centres only approximate annotated joints — see each layout's description).
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    pairs = [(s.index(n), i) for i, n in enumerate(d.joints) if n in s._index]
    return [p[0] for p in pairs], [p[1] for p in pairs]
