"""Plain dataclasses <-> YAML / dicts: a safe YAML loader that reads ``1e-3`` as a float,
values checked and converted against a dataclass's type hints, and dataclasses back to plain
data. Generic: `posekit.engine.config` applies it to the experiment config.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = [
    "FLOAT_RE",
    "YamlLoader",
    "coerce",
    "from_dict",
    "parse_value",
    "to_plain",
    "type_hints",
    "yaml_error_line",
]


class YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` / ``5E4`` as floats (YAML 1.2 style)."""


FLOAT_RE = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
YamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_RE, list("-+0123456789"))


def yaml_error_line(err: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and where (``... at line 3, column 5``)."""
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    if not problem:
        problem = next((line for line in str(err).splitlines() if line.strip()), "")
    text = " ".join(str(problem).split()) or type(err).__name__
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return text


def parse_value(text: str) -> Any:
    """A ``--set`` value: a YAML scalar or flow collection (``4``, ``1e-3``, ``[1, 2]``).

    Raises:
        ValueError: not YAML (the message is one line).
    """
    try:
        return yaml.load(text, Loader=YamlLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ValueError(f"cannot parse value {text!r}: {yaml_error_line(err)}") from None


def type_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a dataclass (annotations are strings under PEP 563)."""
    return typing.get_type_hints(cls)


def coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` checked / converted to the annotated type ``tp``; ValueError naming ``key``.

    Handles Optional / unions, nested dataclasses (from mappings), bool, int (not bool; an
    integral float), float (an int, or a numeric string such as ``"1e-3"``), str, dict, tuple
    and list; other annotations pass the value through.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0] if len(errors) == 1 else f"{key}: cannot use {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ValueError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and FLOAT_RE.match(value.strip()):
            return float(value)
        raise ValueError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # e.g. precision: 32
        raise ValueError(f"{key}: expected a string, got {value!r}")
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        return tuple(coerce(v, args[0], key) for v in value)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        return [coerce(v, args[0], key) for v in value]
    return value


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """A ``cls`` instance from a mapping; unknown keys and bad values raise ValueError naming
    the dotted key (``prefix.key``) and, for unknown keys, the valid ones."""
    hints = type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ValueError(f"unknown key {full!r}; valid keys: {', '.join(names)}")
        kwargs[key] = coerce(value, hints[key], full)
    return cls(**kwargs)


def to_plain(value: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, recursively (YAML / JSON / checkpoint friendly)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value
