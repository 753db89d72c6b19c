"""The task registry: one lazy `TaskSpec` per task family, the only place that names tasks.

A task family (``lift``, ``pose2d``, ``bottomup``, ...) lives in one folder,
``posekit/tasks/<name>/``, whose ``__init__`` defines ``TASK = TaskSpec(...)``: its
LightningModule, predictor, data sources, typed config sections and options, all as import
paths or light dataclasses. Every generic consumer (train, eval, predict, export, quantize,
demo, the model and source listings) asks this registry, never tests a task name itself.

Built-in families are listed here by import path and imported on first use, so that using one
task never imports another; a user's family plugs in with

.. code-block:: python

    register_task("mytask", "mypkg.mytask:TASK")

This module imports nothing heavy (no torch, no Lightning): the config loader uses it to type
an experiment's task sections.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TASK_SECTIONS",
    "NoOptions",
    "SourceEntry",
    "TaskSpec",
    "get_task_spec",
    "list_tasks",
    "load_object",
    "register_task",
]

#: Experiment sections whose dataclass each task declares: the training objective, the
#: target/decoding codec (one object builds targets and decodes predictions), evaluation.
TASK_SECTIONS = ("loss", "codec", "eval")


@dataclass
class NoOptions:
    """A task section without options (any key is refused, naming the valid ones: none)."""


@dataclass(frozen=True)
class SourceEntry:
    """A data source a task family provides.

    Attributes:
        factory: import path ``"module:function"`` of ``factory(split, seed, **params)``.
        description: one line for listings.
    """

    factory: str
    description: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """Everything the generic code needs to know about one task family.

    Attributes:
        name: the experiment's ``task`` value.
        description: one line for listings.
        module: import path of the `TaskModule` subclass (``"pkg.mod:Class"``).
        predictor: import path of the predictor class that ``posekit predict`` runs for this
            task's checkpoints (``cls(runner, info)``; see `posekit.engine.predict`); None:
            the task cannot predict.
        sources: data sources of the family: name → `SourceEntry`.
        source_task: the family whose sources this one reads (None: its own).
        loss, codec, eval: dataclasses of the task's config sections (see `TASK_SECTIONS`).
        models: registry names of the models the task trains (for listings; any model whose
            outputs the task accepts works).
        quantize_output: the output compared (mean joint distance, mm) when a model of this
            task is quantized to int8; None: int8 export is not offered for the task.
        demo_config: the config file (under ``configs/``) that ``posekit demo`` trains.
    """

    name: str
    description: str
    module: str
    predictor: str | None = None
    sources: Mapping[str, SourceEntry] = field(default_factory=dict)
    source_task: str | None = None
    loss: type = NoOptions
    codec: type = NoOptions
    eval: type = NoOptions
    models: tuple[str, ...] = ()
    quantize_output: str | None = None
    demo_config: str | None = None

    def section(self, name: str) -> type:
        """The dataclass of config section ``name`` (one of `TASK_SECTIONS`)."""
        if name not in TASK_SECTIONS:
            raise ValueError(f"task section: expected one of {TASK_SECTIONS}, got {name!r}")
        cls = getattr(self, name)
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"task {self.name!r}: section {name!r} is not a dataclass")
        return cls

    def module_class(self) -> Any:
        """The task's `TaskModule` subclass (imports it)."""
        return load_object(self.module, f"task {self.name!r} module")

    def predictor_class(self) -> Any:
        """The task's predictor class (imports it).

        Raises:
            ValueError: the task has no predictor.
        """
        if self.predictor is None:
            predicting = ", ".join(n for n in list_tasks() if get_task_spec(n).predictor)
            raise ValueError(
                f"task {self.name!r} has no predictor yet; tasks that predict: {predicting}"
            )
        return load_object(self.predictor, f"task {self.name!r} predictor")


#: Built-in task families: name → import path of their `TaskSpec` (imported on first use).
_BUILTIN: dict[str, str] = {
    "lift": "posekit.tasks.lift:TASK",
    "pose2d": "posekit.tasks.pose2d:TASK",
    "bottomup": "posekit.tasks.bottomup:TASK",
    "hand": "posekit.tasks.hand:TASK",
    "pose3d": "posekit.tasks.pose3d:TASK",
}
_PENDING: dict[str, str] = dict(_BUILTIN)
_LOADED: dict[str, TaskSpec] = {}


def load_object(path: str, what: str) -> Any:
    """The object at import path ``"package.module:attr"``.

    Raises:
        ValueError: a malformed path, a module that cannot be imported, or a missing attribute
            (the message names ``what``).
    """
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{what}: expected 'package.module:attr', got {path!r}")
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"{what}: cannot import {module!r} ({err})") from None
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise ValueError(f"{what}: module {module!r} has no attribute {attr!r}") from None


def register_task(name: str, spec: TaskSpec | str) -> None:
    """Register a task family: its `TaskSpec`, or the import path of one (``"mod:TASK"``)."""
    if isinstance(spec, str):
        _PENDING[name] = spec
        _LOADED.pop(name, None)
        return
    if spec.name != name:
        raise ValueError(f"register_task: the spec is named {spec.name!r}, not {name!r}")
    _LOADED[name] = spec
    _PENDING.pop(name, None)


def list_tasks() -> list[str]:
    """Registered task families, sorted."""
    return sorted(set(_PENDING) | set(_LOADED))


def get_task_spec(name: str) -> TaskSpec:
    """The `TaskSpec` of a task family.

    Raises:
        ValueError: unknown task (the message lists the known ones).
    """
    if name in _LOADED:
        return _LOADED[name]
    if name not in _PENDING:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(list_tasks())}")
    spec = load_object(_PENDING[name], f"task {name!r}")
    if not isinstance(spec, TaskSpec) or spec.name != name:
        raise ValueError(f"task {name!r}: {_PENDING[name]} is not the TaskSpec of {name!r}")
    register_task(name, spec)
    return spec
