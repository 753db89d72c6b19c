"""Shape and value checks used at the public boundaries of posekit.

Every public function checks the shapes of what it is given and raises a `ValueError` that
says what it expected and what it got, e.g. ``keypoints: expected (..., J, 2), got (4, 17, 3)``.

Shape specs are space-separated tokens:

- an integer literal (``2``) must match exactly;
- a symbol (``J``, ``B``) binds to the size it first meets; later uses must agree. Pass the same
  ``dims`` dict to several calls to check that arrays agree with each other;
- ``*`` matches any one dimension;
- ``...`` (first token only) matches any number of leading dimensions, including none.

NaN rule (documented once, applied everywhere): geometry and codec functions are pure maths and
do not scan for NaN; metrics reject NaN in predictions (`ValueError`) and treat NaN in ground
truth as a missing joint (masked, like visibility 0). Data readers reject NaN in annotations they
cannot mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["check_finite", "check_shape", "shape_of"]


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a torch tensor, numpy array or nested sequence, as a tuple of ints.

    Symbolic sizes (``torch.SymInt`` under ``torch.export``, size tensors under the TorchScript
    tracer) are kept as they are: ``int()`` on them would freeze the traced batch size into an
    exported graph.
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    return tuple(s if isinstance(s, torch.SymInt | torch.Tensor) else int(s) for s in shape)


def _spec_text(tokens: Sequence[str]) -> str:
    inner = ", ".join(tokens)
    return f"({inner},)" if len(tokens) == 1 and tokens[0] != "..." else f"({inner})"


def check_shape(x: Any, name: str, spec: str, dims: dict[str, int] | None = None) -> dict[str, int]:
    """Check that ``x`` has the shape described by ``spec``; return the bound symbols.

    Args:
        x: a tensor or array (anything with ``.shape``).
        name: the argument's name, used in the error message.
        spec: e.g. ``"... J 2"``, ``"B 3 3"``, ``"J"``.
        dims: symbols already bound (updated in place with new bindings).

    Returns:
        The dict of bound symbols (the same object as ``dims`` when given).

    Raises:
        ValueError: ``"<name>: expected (..., J, 2), got (4, 17, 3)"``, with the bound values of
            the symbols when a symbol disagrees.
    """
    dims = {} if dims is None else dims
    tokens = spec.split()
    shape = shape_of(x)
    has_ellipsis = bool(tokens) and tokens[0] == "..."
    fixed = tokens[1:] if has_ellipsis else tokens

    def fail(extra: str = "") -> ValueError:
        return ValueError(f"{name}: expected {_spec_text(tokens)}{extra}, got {shape}")

    if (has_ellipsis and len(shape) < len(fixed)) or (
        not has_ellipsis and len(shape) != len(fixed)
    ):
        raise fail()
    tail = shape[len(shape) - len(fixed) :] if fixed else ()
    new: dict[str, int] = {}
    for tok, size in zip(fixed, tail):
        if tok == "*":
            continue
        if tok.lstrip("-").isdigit():
            if size != int(tok):
                raise fail()
            continue
        bound = dims.get(tok, new.get(tok))
        if bound is None:
            new[tok] = size
        elif bound != size:
            known = ", ".join(f"{k}={v}" for k, v in {**dims, **new}.items())
            raise fail(f" with {known}")
    dims.update(new)
    return dims


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` if ``x`` (tensor or array) holds NaN or inf values."""
    if hasattr(x, "isfinite"):  # torch
        ok = bool(x.isfinite().all())
    else:
        ok = bool(np.isfinite(np.asarray(x)).all())
    if not ok:
        raise ValueError(f"{name}: contains NaN or inf values; expected finite numbers")
