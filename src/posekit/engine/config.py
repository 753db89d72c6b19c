"""Experiment configs: YAML files loaded into nested dataclasses, with ``--set`` overrides.

An experiment is one YAML file (``configs/*.yaml``) whose sections mirror the dataclasses here:

.. code-block:: yaml

    name: lift_martinez_tiny
    task: lift
    model: {name: martinez, preset: tiny, overrides: {num_blocks: 2}}
    data: {source: synthetic_lift, params: {}}
    loss: {name: mpjpe}
    optim: {lr: 1.0e-3, scheduler: exponential}
    trainer: {max_steps: 3000, batch_size: 256}

The ``loss``, ``codec`` and ``eval`` sections belong to the task: their dataclasses are the
task's own (`posekit.engine.tasks.TaskSpec`; e.g. ``eval.flip_test`` exists for ``pose2d``,
not for ``lift``), so a key another task would take is refused with the task's valid keys.

Rules:

- A file must name its ``task`` and ``model.name`` (`REQUIRED_KEYS`); the rest has defaults. An
  empty file is refused (it would train the default experiment).
- Every key must name a field; an unknown key is an error that lists the valid keys at its
  level (``unknown key 'optim.lrr'; valid keys: optimizer, lr, ...``). Free-form mappings
  (``model.overrides``, ``data.params``) accept any key; the model registry or the data source
  checks them when the run is built.
- ``--set a.b.c=VALUE`` overrides one value; VALUE is parsed as a YAML scalar or flow
  collection (``4``, ``1e-3``, ``true``, ``null``, ``[256, 128]``, ``{jitter_sigma: 0.01}``).
  Floats may be written without a dot (``1e-3``), unlike plain YAML 1.1. ``KEY=`` (no
  value) is refused; ``KEY=null`` sets None.
- Values are checked against the field types (an int where a float is expected is accepted;
  a string where a number is expected is an error naming the key).
- Config files are data: they are parsed with a safe YAML loader, never executed.
- Errors are one line and say where the mistake is: ``PATH: key: ...`` for the file,
  ``--set ITEM: key: ...`` for the first override that makes the config fail that way.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from posekit.engine._dataclass_io import (
    YamlLoader,
    from_dict,
    parse_value,
    to_plain,
    type_hints,
    yaml_error_line,
)
from posekit.engine.tasks import TASK_SECTIONS, get_task_spec

__all__ = [
    "REQUIRED_KEYS",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_diff",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "find_config",
    "load_config",
    "migrate_experiment",
    "parse_value",
    "read_config_file",
    "task_section",
]

OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("none", "exponential", "cosine")


def _choice(section: str, name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{section}.{name}: expected one of {', '.join(choices)}, got {value!r}")


def _positive(section: str, name: str, value: float | int | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise ValueError(f"{section}.{name}: expected a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{section}.{name}: expected {bound}, got {value}")


@dataclass
class ModelConfig:
    """Which registered model to build: ``create_model(name, preset, **overrides)``.

    Attributes:
        name: registry name (``posekit models`` lists them).
        preset: ``tiny`` or ``full`` (or another preset the model defines).
        overrides: config fields of the model, applied on top of the preset.
    """

    name: str = "martinez"
    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where the training and validation samples come from.

    Attributes:
        source: a registered data source name (``synthetic_lift``, ``h36m_npz``,
            ``real_h36m_poses``) or an import path ``"package.module:factory"``.
        params: keyword arguments of the source's factory (paths, subjects, cameras, ...).
        val_source: the validation source; None: ``source`` (with its ``val`` split).
        val_params: keyword arguments of the validation source; None: ``params``.
        val_size: validation samples: drawn from a fixed stream (sampling sources), or spread
            evenly over a finite set; 0: every item of a source that has a length.
        stats_size: training samples drawn to compute the input normalization.
    """

    source: str = "synthetic_lift"
    params: dict[str, Any] = field(default_factory=dict)
    val_source: str | None = None
    val_params: dict[str, Any] | None = None
    val_size: int = 4096
    stats_size: int = 8192

    def __post_init__(self) -> None:
        _positive("data", "val_size", self.val_size, allow_zero=True)
        _positive("data", "stats_size", self.stats_size)


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule (stepped once per optimizer step).

    Attributes:
        optimizer: ``adam`` or ``adamw``.
        lr: peak learning rate.
        weight_decay: L2 penalty (adam) or decoupled decay (adamw).
        betas: Adam's (beta1, beta2).
        scheduler: ``none``; ``exponential``: ``lr * decay_rate ** (step / decay_steps)``
            (Martinez et al.: 0.96 every 100k steps); ``cosine``: cosine from ``lr`` to
            ``lr * min_lr_ratio`` over the run.
        decay_rate: factor of the exponential schedule per ``decay_steps``.
        decay_steps: steps per ``decay_rate`` factor.
        warmup_steps: linear warmup from 0 to ``lr`` (any scheduler).
        min_lr_ratio: floor of the cosine schedule as a fraction of ``lr``.
        grad_clip_norm: clip the gradient's global L2 norm (None: no clipping).
    """

    optimizer: str = "adam"
    lr: float = 1.0e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    scheduler: str = "exponential"
    decay_rate: float = 0.96
    decay_steps: int = 100_000
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    grad_clip_norm: float | None = None

    def __post_init__(self) -> None:
        _choice("optim", "optimizer", self.optimizer, OPTIMIZERS)
        _choice("optim", "scheduler", self.scheduler, SCHEDULERS)
        _positive("optim", "lr", self.lr)
        _positive("optim", "weight_decay", self.weight_decay, allow_zero=True)
        _positive("optim", "decay_rate", self.decay_rate)
        _positive("optim", "decay_steps", self.decay_steps)
        _positive("optim", "warmup_steps", self.warmup_steps, allow_zero=True)
        _positive("optim", "grad_clip_norm", self.grad_clip_norm)
        if len(self.betas) != 2:
            raise ValueError(f"optim.betas: expected two numbers, got {list(self.betas)}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"optim.min_lr_ratio: expected in [0, 1], got {self.min_lr_ratio}")


@dataclass
class TrainerConfig:
    """How the run is executed (Lightning Trainer settings and the loop's rhythm).

    Attributes:
        max_steps: optimizer steps of the run.
        batch_size: samples per step and per device (the global batch is
            ``batch_size * devices * num_nodes``).
        devices: devices per node: an int, or ``auto``.
        num_nodes: machines (DDP through torchrun / SLURM).
        accelerator: ``cpu``, ``gpu``, ``auto``, ...
        strategy: ``auto``, ``ddp``, ``ddp_spawn``, ...
        precision: Lightning precision string (``32-true``, ``bf16-mixed``, ``16-mixed``).
        log_every: steps between logged training scalars.
        val_every: steps between validations (the last step is always validated; 0: never).
        checkpoint_every: steps between ``last.ckpt`` writes; None: ``val_every``.
        num_workers: data-loading worker processes (0: in the main process).
        worker_threads: torch / OpenCV threads in each data-loading worker (0: the
            libraries' defaults, one per core each, which oversubscribes a busy machine).
        deterministic: ask torch for deterministic kernels (slower on GPU).
        progress_bar: show tqdm progress bars.
    """

    max_steps: int = 1000
    batch_size: int = 256
    devices: int | str = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    log_every: int = 50
    val_every: int = 500
    checkpoint_every: int | None = None
    num_workers: int = 0
    worker_threads: int = 1
    deterministic: bool = False
    progress_bar: bool = True

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "num_nodes", "log_every"):
            _positive("trainer", name, getattr(self, name))
        for name in ("val_every", "num_workers", "worker_threads"):
            _positive("trainer", name, getattr(self, name), allow_zero=True)
        _positive("trainer", "checkpoint_every", self.checkpoint_every)
        if isinstance(self.devices, str) and self.devices != "auto":
            if not self.devices.isdigit():
                raise ValueError(
                    f"trainer.devices: expected an int or 'auto', got {self.devices!r}"
                )
            self.devices = int(self.devices)
        if isinstance(self.devices, int):
            _positive("trainer", "devices", self.devices)
        self.precision = str(self.precision)

    @property
    def checkpoint_interval(self) -> int:
        """Steps between ``last.ckpt`` writes (``checkpoint_every``, else ``val_every``)."""
        return self.checkpoint_every or self.val_every or self.max_steps


@dataclass
class ExperimentConfig:
    """One experiment: what to train, on what, how, and where to write it.

    Attributes:
        name: run name; the run directory is ``output_dir / name``.
        seed: seeds model init, data streams, noise and dropout (see `posekit.engine.seeding`).
        task: task family (``posekit tasks`` lists them; `posekit.engine.tasks`).
        model, data, optim, trainer: the sections above.
        loss, codec, eval: the task's own sections (instances of its `TaskSpec`'s
            dataclasses; a mapping is converted, missing means the task's defaults).
        output_dir: parent directory of run directories.
    """

    name: str = "experiment"
    seed: int = 0
    task: str = "lift"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: Any = None
    codec: Any = None
    eval: Any = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    output_dir: str = "runs"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise ValueError(f"name: expected letters, digits, '_.+-', got {self.name!r}")
        _positive("experiment", "seed", self.seed, allow_zero=True)
        for section in TASK_SECTIONS:
            cls = task_section(self.task, section)
            value = getattr(self, section)
            if value is None:
                value = cls()
            elif isinstance(value, Mapping):
                value = from_dict(cls, value, section)
            elif not isinstance(value, cls):
                raise ValueError(
                    f"{section}: expected the {self.task!r} task's {cls.__name__}, "
                    f"got {type(value).__name__}"
                )
            setattr(self, section, value)

    @property
    def run_dir(self) -> Path:
        """Default run directory: ``output_dir / name``."""
        return Path(self.output_dir) / self.name


def task_section(task: str, section: str) -> type:
    """The dataclass of section ``section`` (``loss``, ``codec``, ``eval``) of ``task``.

    Raises:
        ValueError: unknown task.
    """
    return get_task_spec(task).section(section)


def config_from_dict(data: Mapping[str, Any]) -> ExperimentConfig:
    """An `ExperimentConfig` from nested dicts (missing keys take their defaults).

    Raises:
        ValueError: an unknown key (the message lists the valid keys at its level) or a value
            of the wrong type or range (the message names the key).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a config must be a mapping at the top level, got {type(data).__name__}")
    return from_dict(ExperimentConfig, data)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass (any, nested) as plain dicts, lists and scalars."""
    return to_plain(config)


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The leaves that differ between two config dicts, as ``"key: old -> new"`` lines."""
    out: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        full = f"{prefix}.{key}" if prefix else str(key)
        a, b = old.get(key, "<unset>"), new.get(key, "<unset>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += config_diff(a, b, full)
        elif to_plain(a) != to_plain(b):
            out.append(f"{full}: {a!r} -> {b!r}")
    return out


def dump_config(config: ExperimentConfig) -> str:
    """The config as YAML text (loads back to an equal config with `config_from_dict`)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


# --- overrides --------------------------------------------------------------------------------


def _show(item: str) -> str:
    """A ``--set`` item as written, quoted when it would not read back from one line."""
    return item if item and item.isprintable() and item.strip() == item else repr(item)


def _split_override(item: str) -> tuple[list[str], Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part.strip() for part in key.split(".")):
        raise ValueError(
            f"--set {_show(item)}: expected KEY=VALUE with a dotted KEY (optim.lr=1e-3)"
        )
    if not text.strip():
        raise ValueError(f"--set {_show(item)}: no value after '=' (write {key}=null for none)")
    try:
        value = parse_value(text)
    except ValueError as err:
        raise ValueError(f"--set {_show(item)}: {err}") from None
    return [part.strip() for part in key.split(".")], value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides to a config dict (before `config_from_dict`), in place.

    Keys are checked against the dataclass fields along the path, so that a misspelt key fails
    here with the valid keys of its level; inside a free-form mapping any key is accepted.

    Returns:
        ``data``.

    Raises:
        ValueError: a malformed item, an unparsable value or an unknown key; the message
            starts with ``--set ITEM:``.
    """
    for item in overrides:
        path, value = _split_override(item)
        try:
            _apply_one(data, path, value)
        except ValueError as err:
            raise type(err)(f"--set {_show(item)}: {err}") from None
    return data


class _NotAMapping(ValueError):
    """An override goes through a value of the config dict that is not a mapping."""


def _apply_one(data: dict[str, Any], path: list[str], value: Any) -> None:
    cls: Any = ExperimentConfig
    node = data
    for depth, part in enumerate(path):
        done = ".".join(path[: depth + 1])
        last = depth == len(path) - 1
        if cls is not None:
            names = [f.name for f in dataclasses.fields(cls)]
            if part not in names:
                raise ValueError(f"unknown key {done!r}; valid keys: {', '.join(names)}")
            tp = type_hints(cls)[part]
            if cls is ExperimentConfig and part in TASK_SECTIONS:
                tp = task_section(str(data.get("task", _default_task())), part)
            union = typing.get_origin(tp) in (typing.Union, types.UnionType)
            inner = [a for a in (typing.get_args(tp) if union else (tp,)) if a is not type(None)]
            nested = next((a for a in inner if dataclasses.is_dataclass(a)), None)
            free = any(a is dict or typing.get_origin(a) is dict for a in inner)
            cls = nested
            if not last and nested is None and not free:
                raise ValueError(f"{done!r} is a value, it has no key {path[depth + 1]!r}")
        if last:
            node[part] = value
        else:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise _NotAMapping(
                    f"{done!r} is {child!r}, not a mapping: it has no key {path[depth + 1]!r}"
                )
            node = child


def find_config(name: str) -> Path:
    """The experiment file ``name`` (e.g. ``lift_martinez_tiny.yaml``) from posekit's
    ``configs/``: ``$POSEKIT_CONFIGS``, else the checkout's ``configs/`` beside ``src/``, else
    ``./configs``.

    Raises:
        FileNotFoundError: not found (the message lists the folders tried).
    """
    import os

    tried = []
    if os.environ.get("POSEKIT_CONFIGS"):
        tried.append(Path(os.environ["POSEKIT_CONFIGS"]))
    tried += [Path(__file__).resolve().parents[3] / "configs", Path.cwd() / "configs"]
    for folder in tried:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"config {name!r} not found in {', '.join(str(t) for t in tried)} "
        "(set POSEKIT_CONFIGS to posekit's configs/ folder)"
    )


def _default_task() -> str:
    return next(f.default for f in dataclasses.fields(ExperimentConfig) if f.name == "task")


#: What an experiment file must say (the rest has defaults): which task, which model.
REQUIRED_KEYS = ("task", "model.name")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping of an experiment YAML file, unchecked against the dataclasses.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, not UTF-8, invalid YAML, empty, or not a mapping (one line,
            naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file (invalid UTF-8 at byte {err.start})") from None
    try:
        data = yaml.load(text, Loader=YamlLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML: {yaml_error_line(err)}") from None
    if data is None:
        raise ValueError(f"{path}: empty; expected at least task and model")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> ExperimentConfig:
    """Load an experiment from YAML, apply ``--set`` overrides, check every key and type.

    A file must name its ``task`` and ``model.name`` (`REQUIRED_KEYS`; given by the file or
    by an override); everything else has a default. Without a file the run starts from
    ``base`` or the defaults.

    Args:
        path: a YAML file; None starts from ``base`` (or the defaults).
        overrides: ``KEY=VALUE`` strings, applied in order.
        base: a config dict to start from instead of a file (e.g. the one in a checkpoint).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: invalid YAML, an empty file, a missing required key, an unknown key or a
            bad value. The message is one line and says where the mistake is: the file
            (``PATH: ...``) or the override (``--set ITEM: ...``).
    """
    data = read_config_file(path) if path is not None else {}
    path = Path(path) if path is not None else None
    if base is not None:
        data = _merge(to_plain(base), data)
    start = copy.deepcopy(data)
    try:
        data = apply_overrides(data, overrides)
    except _NotAMapping:
        if path is not None:  # the file's own section is not a mapping: say so
            _from_file_data(start, path)
        raise
    if path is not None:
        for key in REQUIRED_KEYS:
            if not _has_key(data, key):
                raise ValueError(
                    f"{path}: no {key!r}; expected at least task and model.name "
                    "(e.g. task: lift, model: {name: martinez})"
                )
    try:
        return config_from_dict(data)
    except ValueError as err:
        raise ValueError(_blame(start, overrides, str(err), path)) from None


def _from_file_data(data: Mapping[str, Any], path: Path) -> ExperimentConfig:
    """`config_from_dict` of the contents of file ``path``; errors name the file."""
    try:
        return config_from_dict(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _has_key(data: Mapping[str, Any], dotted: str) -> bool:
    """Whether ``dotted`` is set (a section that is not a mapping counts: its type check
    names it)."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


def _blame(start: dict[str, Any], overrides: Sequence[str], msg: str, path: Path | None) -> str:
    """``msg`` prefixed with what caused it: the first ``--set`` item after which the config
    fails this way, else the file (or nothing without one)."""

    def error(items: Sequence[str]) -> str | None:
        try:
            config_from_dict(apply_overrides(copy.deepcopy(start), items))
        except ValueError as err:
            return str(err)
        return None

    if overrides and error([]) != msg:
        for k in range(1, len(overrides) + 1):
            if error(overrides[:k]) == msg:
                return f"--set {_show(overrides[k - 1])}: {msg}"
    return f"{path}: {msg}" if path is not None else msg


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


#: The fields of the one ``loss`` section that every task shared before checkpoint format 2.
_FORMAT1_LOSS_KEYS = frozenset(
    {
        "name",
        "heatmap_weight",
        "coord_weight",
        "flip_test",
        "intermediate_supervision",
        "tag_weight",
        "heatmap_foreground_weight",
        "tag_push_sigma",
    }
)


def migrate_experiment(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """An experiment dict written before the task sections (checkpoint format 1: one ``loss``
    section shared by every task) in today's layout; today's dicts come back unchanged.

    Each old ``loss`` key goes to the task section that has it now (``loss.flip_test`` →
    ``eval.flip_test``); keys that only other tasks used are dropped (they had no effect);
    ``loss.name: auto`` becomes the task's default loss. An unknown key stays in ``loss`` so
    that loading names it.
    """
    out = to_plain(dict(experiment))
    spec = get_task_spec(str(out.get("task", _default_task())))
    fields = {s: {f.name for f in dataclasses.fields(spec.section(s))} for s in TASK_SECTIONS}
    sections = {s: dict(out.get(s) or {}) for s in TASK_SECTIONS}
    loss: dict[str, Any] = {}
    for key, value in sections["loss"].items():
        if key in fields["loss"]:
            if not (key == "name" and value == "auto"):
                loss[key] = value
        elif key in fields["eval"]:
            sections["eval"].setdefault(key, value)
        elif key in fields["codec"]:
            sections["codec"].setdefault(key, value)
        elif key not in _FORMAT1_LOSS_KEYS:
            loss[key] = value
    sections["loss"] = loss
    out.update(sections)
    return out
