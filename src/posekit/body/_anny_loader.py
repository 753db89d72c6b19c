"""Build anny models once per process, and shared helpers of the anny adapters.

The first build of an anny configuration takes ~40 s and ~2 GB of memory and writes ~0.8 GB of
model data to anny's cache (``$ANNY_CACHE_DIR``, default ``~/.cache/anny``; Warp kernels go to
``$WARP_CACHE_PATH``); later builds load that cache in ~0.4 s. `load_anny` keeps one instance
per configuration in memory; the adapters deep-copy it before converting dtype or device, so
the cached instance is never modified.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Literal

import torch

if TYPE_CHECKING:
    import anny

__all__ = ["AnnyKind", "load_anny", "root_ref", "rotation_deltas", "vertex_part_weights"]

AnnyKind = Literal["body", "hand.R", "hand.L"]


#: Printed by Warp's native library (``fprintf(stderr)``) when it finds no CUDA driver: on a
#: CPU-only machine that is expected, and anny runs on the CPU either way.
_NO_CUDA_DRIVER = "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver."


@functools.cache
def _init_warp_quietly() -> None:
    """Initialise Warp once, without its start-up banner and its "no CUDA driver" line.

    The banner is Python-side (info level): it is lowered to warnings unless the user chose a
    level. The driver line is printed by the native library while ``wp.init()`` probes for
    CUDA, which no Warp setting silences (``config.quiet`` and ``log_level`` only govern the
    Python side), so the init runs with the process's stderr file descriptor sent to a
    temporary file, and everything written there except that one line is written back to
    stderr afterwards: real errors (another CUDA warning, a failed init) still show.
    """
    try:
        import warp
    except ImportError:  # anny falls back to torch skinning without Warp
        return
    try:
        if warp.config.log_level == warp.LOG_INFO:
            warp.config.log_level = warp.LOG_WARNING
    except AttributeError:  # another Warp
        pass
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable file descriptor 2
        warp.init()
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            warp.init()
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(ln for ln in lines if not ln.startswith(_NO_CUDA_DRIVER))
            if kept:
                os.write(2, kept.encode())


@functools.cache
def _cache_warp_skinning_kernel() -> None:
    """Make anny's Warp skinning reuse its kernel instead of rebuilding it on every forward.

    ``anny.skinning.warp_skinning.get_kernel`` defines a new ``@wp.kernel`` per call; Warp
    then re-walks and re-hashes its source (~1.6 ms a body forward on the CPU) before finding
    the module it already compiled. The kernel only depends on its (hashable) arguments, so
    memoizing it gives the same kernel and the same outputs.
    """
    try:
        from anny.skinning import warp_skinning
    except Exception:  # no Warp (or another anny): nothing to cache
        return
    get_kernel = getattr(warp_skinning, "get_kernel", None)
    if get_kernel is not None and not hasattr(get_kernel, "cache_info"):
        warp_skinning.get_kernel = functools.cache(get_kernel)


@functools.cache
def load_anny(kind: AnnyKind = "body") -> anny.Anny:
    """The anny model of one kind, built on first use and cached for the process.

    Args:
        kind: ``"body"`` (``anny.Anny()``: 104 bones, 13,718 vertices) or ``"hand.R"`` /
            ``"hand.L"`` (``anny.Anny(rig="anny-hand.<S>", topology="hand.<S>")``: 21 bones,
            1,609 vertices; built from the body's cached source data, see below).

    Returns:
        The shared float64 CPU instance; do not modify it (the adapters copy it).
    """
    _init_warp_quietly()  # before anny imports Warp and initialises it loudly
    _cache_warp_skinning_kernel()
    try:
        import anny
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "posekit's anny body models need the 'anny' package: pip install 'posekit[body]'"
        ) from e
    if kind == "body":
        return anny.Anny()
    if kind in ("hand.R", "hand.L"):
        from anny.models.model_data import TopologyConfig

        # anny's "hand.<S>" topology, except that it loads the eye and tongue meshes too: they
        # are cut away with the rest of the body, so the model is identical (checked: same
        # vertices, faces, weights and outputs), but its source data is the body's, already
        # in anny's cache once the body is built: ~3 s and 30 MB instead of ~40 s and 0.6 GB.
        topology = TopologyConfig(
            base_mesh="makehuman",
            submodel=kind,
            nudity_edits=False,
            eyes=True,
            tongue=True,
            remove_unattached_vertices=True,
            triangulate_faces=True,
        )
        return anny.Anny(rig=f"anny-hand.{kind[-1]}", topology=topology)
    raise ValueError(f"kind: expected 'body', 'hand.R' or 'hand.L', got {kind!r}")


def rotation_deltas(
    rotmats: torch.Tensor,
    posed_bones: torch.Tensor,
    identity: torch.Tensor,
    transl: torch.Tensor,
) -> torch.Tensor:
    """anny delta transforms: identity everywhere, ``rotmats`` on the posed bones, root at transl.

    Callers give ``rotmats`` and ``transl`` in anny's delta frame: with the "local-ref"
    parameterization the output frame is the root bone's reference frame U0, so a rotation R
    (translation t) of the output frame is the delta ``U0 R U0^T`` (``U0 t``); see `root_ref`.

    Shapes:
        rotmats: (B, P, 3, 3); posed_bones: (P,) long; identity: (N, 4, 4); transl: (B, 3);
        return: (B, N, 4, 4).
    """
    B = rotmats.shape[0]
    deltas = identity.expand(B, -1, -1, -1).clone()  # (B, N, 4, 4)
    deltas[:, posed_bones, :3, :3] = rotmats
    deltas[:, 0, :3, 3] = transl
    return deltas


def root_ref(model: anny.Anny, dtype: torch.dtype) -> torch.Tensor:
    """U0, the root bone's reference orientation (I for the full body, not for the hands).

    anny's "local-ref" deltas are expressed in the frame the reference orientations live in,
    while its output is in the root's reference frame; a rotation vector r of the output frame
    is the delta rotation vector ``U0 r``.

    Shapes:
        return: (3, 3).
    """
    ref = model.reference_bone_orientations
    if ref is None:
        return torch.eye(3, dtype=dtype)
    return ref[0].detach().to(dtype).clone()


def vertex_part_weights(
    weights: torch.Tensor, indices: torch.Tensor, bone_part: torch.Tensor, num_parts: int
) -> torch.Tensor:
    """Per-vertex skinning weight summed per body part.

    Shapes:
        weights, indices: (V, K) sparse skinning weights and bone indices; bone_part: (N,) long;
        return: (V, num_parts).
    """
    out = torch.zeros(weights.shape[0], num_parts, dtype=weights.dtype)
    return out.scatter_add_(1, bone_part[indices.long()], weights)
