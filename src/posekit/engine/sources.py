"""Data sources by name: the factories that build a task's training and validation data.

An experiment names its data with ``data.source`` (and ``data.val_source``): a registered name
such as ``"synthetic_lift"``, or an import path ``"package.module:factory"``. Registered names
are resolved lazily (the data module is imported the first time its name is used), so the
engine never imports the data readers it does not use. The built-in sources are those of the
task families (`posekit.engine.tasks.TaskSpec.sources`); another one plugs in by name:

.. code-block:: python

    register_data_source("my_poses", "lift", "mypkg.poses:make_source")

A factory is called as ``factory(split, seed, **params)`` with ``split`` in
``("train", "val")``; what it returns depends on the task (see the task family's ``sources``
module). ``params`` come from ``data.params`` (``data.val_params``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from posekit.engine.tasks import get_task_spec, list_tasks, load_object

__all__ = [
    "SPLITS",
    "DataSourceSpec",
    "build_source",
    "get_data_source",
    "list_data_sources",
    "register_data_source",
]

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DataSourceSpec:
    """A data source.

    Attributes:
        name: registered name or the import path it was given as.
        task: the task family whose samples it yields (``lift``, ...); None when unknown
            (an import path), in which case the task's data module checks what it returns.
        factory: ``factory(split, seed, **params)``.
        description: one line for listings.
    """

    name: str
    task: str | None
    factory: Callable[..., Any]
    description: str = ""


_REGISTRY: dict[str, DataSourceSpec] = {}
_PENDING: dict[str, tuple[str, str, str]] = {}
_BUILTINS_READ = False


def _read_builtins() -> None:
    """Add the sources of every registered task family (their `TaskSpec.sources`) once."""
    global _BUILTINS_READ
    if _BUILTINS_READ:
        return
    _BUILTINS_READ = True
    for task in list_tasks():
        for name, entry in get_task_spec(task).sources.items():
            if name not in _REGISTRY and name not in _PENDING:
                _PENDING[name] = (task, entry.factory, entry.description)


def register_data_source(
    name: str,
    task: str,
    factory: Callable[..., Any] | str,
    description: str = "",
) -> None:
    """Register a data source under ``name``.

    Args:
        name: the name configs use in ``data.source``.
        task: task family of its samples (``lift``, ...).
        factory: ``factory(split, seed, **params)``, or its import path ``"module:attr"``
            (imported when the name is first used).
        description: one line for listings.
    """
    if isinstance(factory, str):
        _PENDING[name] = (task, factory, description)
        _REGISTRY.pop(name, None)
    else:
        _REGISTRY[name] = DataSourceSpec(name, task, factory, description)
        _PENDING.pop(name, None)


def list_data_sources(task: str | None = None) -> list[str]:
    """Registered source names (of one task when given), sorted."""
    _read_builtins()
    names = {n: s.task for n, s in _REGISTRY.items()} | {n: t[0] for n, t in _PENDING.items()}
    return sorted(n for n, t in names.items() if task is None or t == task)


def get_data_source(name: str) -> DataSourceSpec:
    """The `DataSourceSpec` of a registered name or of an import path ``"module:factory"``.

    Raises:
        ValueError: unknown name (the message lists the registered ones) or an import path
            that does not resolve.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    _read_builtins()
    if name in _PENDING:
        task, path, description = _PENDING[name]
        factory = load_object(path, f"data source {name!r}")
        register_data_source(name, task, factory, description)
        return _REGISTRY[name]
    if ":" in name:
        factory = load_object(name, "data source")
        return DataSourceSpec(name, getattr(factory, "task", None), factory, "")
    raise ValueError(
        f"unknown data source {name!r}; registered sources: {', '.join(list_data_sources())} "
        "(or give an import path 'package.module:factory')"
    )


def build_source(
    name: str,
    split: str,
    seed: int,
    params: Mapping[str, Any] | None = None,
    task: str | None = None,
) -> Any:
    """Call a source's factory: ``factory(split, seed, **params)``.

    Args:
        name: registered name or import path.
        split: ``train`` or ``val``.
        seed: the experiment seed (sources with a random but fixed content use it).
        params: factory keyword arguments.
        task: when given, a registered source of another task is refused.

    Raises:
        ValueError: unknown source, wrong task, bad split, or the factory rejected ``params``.
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    spec = get_data_source(name)
    if task is not None and spec.task is not None and spec.task != task:
        raise ValueError(
            f"data source {name!r} yields {spec.task!r} samples, not {task!r}; "
            f"{task} sources: {', '.join(list_data_sources(task)) or 'none'}"
        )
    try:
        return spec.factory(split, seed, **dict(params or {}))
    except TypeError as err:
        raise ValueError(
            f"data source {name!r}: bad parameters {dict(params or {})}: {err}"
        ) from None
