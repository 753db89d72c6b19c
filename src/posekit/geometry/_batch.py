"""Private helpers shared by the geometry modules (not part of the public API)."""

from __future__ import annotations

from typing import Any

import torch

from posekit._checks import check_shape, shape_of

__all__ = ["check_batch_like", "leading_shape", "to_tensor_like"]


def leading_shape(x: Any, n_trailing: int) -> tuple[int, ...]:
    """The dims of ``x`` before its last ``n_trailing`` dims."""
    shape = shape_of(x)
    return shape[: len(shape) - n_trailing]


def check_batch_like(
    x: Any, name: str, tail: str, batch: tuple[int, ...], ref_name: str
) -> tuple[int, ...]:
    """Check ``x`` is ``(*tail)`` or ``(*batch, *tail)``; return its leading dims.

    The geometry functions do not broadcast silently: a camera, a matrix or a parameter
    either has exactly the batch dims of the points it acts on, or none (one value shared by
    the whole batch).

    Raises:
        ValueError: ``"R: expected (3, 3) or (4, 3, 3) to match points_world (4, 17, 3), got
            (5, 3, 3)"``.
    """
    tail_tokens = tail.split()
    check_shape(x, name, " ".join(["...", *tail_tokens]))
    lead = leading_shape(x, len(tail_tokens))
    if lead and lead != batch:
        tail_shape = shape_of(x)[len(lead) :]
        shared = _fmt(tail_shape)
        batched = _fmt(batch + tail_shape)
        raise ValueError(
            f"{name}: expected {shared} or {batched} to match the batch dims {_fmt(batch)} "
            f"of {ref_name}, got {_fmt(shape_of(x))}"
        )
    return lead


def to_tensor_like(value: Any, like: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` (float or tensor) as a tensor with the dtype and device of ``like``."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    try:
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a number or a tensor, got {value!r}") from err


def _fmt(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(str(s) for s in shape)})"
