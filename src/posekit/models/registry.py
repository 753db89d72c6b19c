"""Models by name: ``create_model(name, preset, **overrides)`` over a lazy name → class table.

Every model in posekit has a config dataclass, a ``tiny`` and a ``full`` preset, and is
registered under a name with `register_model`:

.. code-block:: python

    @register_model("martinez", MartinezConfig, presets={"tiny": {...}, "full": {...}})
    class Martinez(nn.Module): ...

``import posekit.models`` imports no model module. The registry knows every built-in model
through `_LAZY_MODELS`, a table ``name → "module.path:ClassName"``; the first time a name is
used, its module is imported, which runs the decorator and registers the class. A model
written outside posekit registers itself when its module is imported, like any other.

The model protocol (what `create_model`, `count_flops` and the test suite rely on):

- ``Model(config)`` builds the model from its config dataclass, kept as ``model.config``;
- ``model.example_input(batch_size)`` returns a dict of keyword arguments (or one tensor) for
  ``forward``, on the model's device and dtype;
- ``model.output_shapes(batch_size)`` returns ``{key: shape}`` of what ``forward`` returns;
- ``forward`` returns a dict of tensors; losses and decoding live outside it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "PRESETS",
    "ModelSpec",
    "count_flops",
    "count_parameters",
    "create_model",
    "get_model_spec",
    "list_models",
    "model_config",
    "register_model",
    "registered_name",
]

#: The presets every registered model must define.
PRESETS = ("tiny", "full")

#: Built-in models: name → "module:Class". Resolved (imported) on first use of the name.
#: A test checks that this table and the ``@register_model`` decorators in the package agree.
_LAZY_MODELS: dict[str, str] = {
    "martinez": "posekit.models.lift.martinez:Martinez",
    "lcn": "posekit.models.lift.lcn:LCN",
    "smplr_dae": "posekit.models.lift.dae:DAE",
    "deeppose": "posekit.models.pose2d.deeppose:DeepPose",
    "hourglass": "posekit.models.pose2d.hourglass:HourglassPose",
    "compositional": "posekit.models.pose2d.compositional:Compositional",
    "v2v": "posekit.models.hand.v2v:V2VPoseNet",
    "depth_regression": "posekit.models.hand.depth_cnn:DepthRegression",
    "depth_heatmaps": "posekit.models.hand.depth_cnn:DepthHeatmaps",
    "volumetric": "posekit.models.pose3d.volumetric:VolumetricPose",
    "integral": "posekit.models.pose3d.integral:IntegralPose",
    "direct": "posekit.models.pose3d.integral:DirectPose3D",
}

ModelT = TypeVar("ModelT", bound=type[nn.Module])


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes:
        name: registry name, e.g. ``"martinez"``.
        model_cls: the ``nn.Module`` class, built as ``model_cls(config)``.
        config_cls: its config dataclass.
        presets: preset name → config instance (at least ``tiny`` and ``full``).
        description: one line for listings (defaults to the class docstring's first line).
    """

    name: str
    model_cls: type[nn.Module]
    config_cls: type
    presets: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, ModelSpec] = {}


def _config_fields(config_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config_cls) if f.init]


def _build_config(spec_name: str, config_cls: type, base: Any, overrides: Mapping[str, Any]) -> Any:
    """``base`` (a config instance) with ``overrides`` applied; unknown keys → ValueError."""
    valid = _config_fields(config_cls)
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"model {spec_name!r}: unknown config field(s) {', '.join(unknown)}; "
            f"valid fields: {', '.join(valid)}"
        )
    return dataclasses.replace(base, **overrides)


def register_model(
    name: str,
    config_cls: type,
    presets: Mapping[str, Any],
    description: str = "",
) -> Callable[[ModelT], ModelT]:
    """Class decorator: register a model under ``name`` with its config class and presets.

    Args:
        name: registry name (lower case, ``[a-z0-9_]``).
        config_cls: the model's config dataclass.
        presets: preset name → a ``config_cls`` instance or a dict of fields (applied to the
            config's defaults). Must hold ``tiny`` and ``full``.
        description: one line for listings; defaults to the first line of the class docstring.

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        ValueError: a preset is missing or has an unknown field, or ``name`` is taken by a
            different class.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise ValueError(f"model {name!r}: config_cls must be a dataclass, got {config_cls!r}")
    missing = [p for p in PRESETS if p not in presets]
    if missing:
        raise ValueError(f"model {name!r}: presets must include {', '.join(missing)}")

    def decorator(cls: ModelT) -> ModelT:
        built: dict[str, Any] = {}
        for preset, value in presets.items():
            if isinstance(value, config_cls):
                built[preset] = value
            elif isinstance(value, Mapping):
                built[preset] = _build_config(name, config_cls, config_cls(), value)
            else:
                raise ValueError(
                    f"model {name!r}: preset {preset!r} must be a {config_cls.__name__} or a "
                    f"dict, got {type(value).__name__}"
                )
        old = _REGISTRY.get(name)
        if old is not None and (old.model_cls.__module__, old.model_cls.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"a different model named {name!r} is already registered "
                f"({old.model_cls.__module__}.{old.model_cls.__qualname__})"
            )
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelSpec(
            name=name,
            model_cls=cls,
            config_cls=config_cls,
            presets=built,
            description=description or (doc[0] if doc else ""),
        )
        return cls

    return decorator


def list_models() -> list[str]:
    """Names of all models: built-in (not yet imported) and registered, sorted."""
    return sorted(set(_LAZY_MODELS) | set(_REGISTRY))


def registered_name(model: nn.Module) -> str | None:
    """The registry name of ``model``'s class (exactly that class, not a subclass), or None
    when it is not registered. Imports no model module."""
    for spec in _REGISTRY.values():
        if spec.model_cls is type(model):
            return spec.name
    return None


def get_model_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of a model, importing its module on first use.

    Raises:
        KeyError: unknown name; the message lists the registered names.
    """
    if name not in _REGISTRY and name in _LAZY_MODELS:
        module, _, cls_name = _LAZY_MODELS[name].partition(":")
        importlib.import_module(module)
        if name not in _REGISTRY:
            raise RuntimeError(
                f"importing {module} did not register model {name!r} (expected "
                f"@register_model({name!r}, ...) on class {cls_name})"
            )
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; known models: {', '.join(list_models())}"
        ) from None


def model_config(name: str, preset: str = "tiny", **overrides: Any) -> Any:
    """The config dataclass of ``name``'s ``preset`` with ``overrides`` applied.

    Raises:
        KeyError: unknown model or preset (the message lists the valid ones).
        ValueError: an override names no config field (the message lists the valid fields), or
            the config rejects a value.
    """
    spec = get_model_spec(name)
    if preset not in spec.presets:
        raise KeyError(
            f"model {name!r} has no preset {preset!r}; presets: {', '.join(spec.presets)}"
        )
    return _build_config(name, spec.config_cls, spec.presets[preset], overrides)


def create_model(name: str, preset: str = "tiny", **overrides: Any) -> nn.Module:
    """Build a registered model from a preset, with config fields overridden by keyword.

    Example:
        ``create_model("martinez", "full", num_blocks=4, dropout=0.0)``

    Raises:
        KeyError: unknown model or preset.
        ValueError: unknown override key (the message lists the valid keys) or a bad value.
    """
    spec = get_model_spec(name)
    return spec.model_cls(model_config(name, preset, **overrides))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (buffers excluded); only ``requires_grad`` ones if asked."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _call(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def count_flops(model: nn.Module, batch_size: int = 2) -> float:
    """Floating-point operations of one forward pass, per sample, in eval mode.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on ``model.example_input``: matrix
    products and convolutions, a multiply-add counting 2 FLOPs; elementwise operations
    (normalization, activations) are not counted. Masked dense products (LCN) count every
    multiply executed, zeros included.

    Args:
        model: a model following the registry protocol (has ``example_input``).
        batch_size: batch used for the count (the result is divided by it).

    Returns:
        FLOPs per sample.
    """
    example_input = getattr(model, "example_input", None)
    if example_input is None:
        raise ValueError(f"{type(model).__name__} has no example_input(batch_size) method")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            _call(model, example_input(batch_size))
    finally:
        model.train(was_training)
    return counter.get_total_flops() / batch_size
