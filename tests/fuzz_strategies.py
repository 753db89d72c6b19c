"""Hypothesis strategies shared by the fuzz tests: malformed variants of valid documents."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

__all__ = ["json_values", "mutated_json"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, -1e300, 0.5, -1, 0, 65537, 1e-300]),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, valid: Any) -> bytes:
    """A valid document with one node replaced, a key dropped, or its text cut or flipped."""
    kind = draw(st.sampled_from(["replace", "drop", "truncate", "flip", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=64))
    if kind in ("replace", "drop"):
        paths = [p for p in _paths(valid) if p]
        path = draw(st.sampled_from(paths))
        if kind == "drop":
            parent = json.loads(json.dumps(valid))  # a copy: the valid document stays as it is
            node = parent
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
            return json.dumps(parent).encode()
        return json.dumps(_replace(valid, path, draw(json_values))).encode()
    text = json.dumps(valid).encode()
    at = draw(st.integers(0, len(text) - 1))
    if kind == "truncate":
        return text[:at]
    return text[:at] + bytes([text[at] ^ draw(st.integers(1, 255))]) + text[at + 1 :]
