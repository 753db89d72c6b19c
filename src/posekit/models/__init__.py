"""Models: a registry of named models with ``tiny`` / ``full`` presets, built lazily by name.

``import posekit.models`` imports no model module; `create_model` imports a model's module the
first time its name is used (see `posekit.models.registry`).

Families: ``lift/`` (2D → 3D lifting: ``martinez``, ``lcn``, ``smplr_dae``), ``pose2d/`` (RGB →
2D pose: ``deeppose``, ``hourglass``, ``compositional``), ``hand/`` (depth → 3D hand joints:
``v2v``, ``depth_regression``, ``depth_heatmaps``); ``backbones/`` (ResNet, hourglass).
"""

from __future__ import annotations

from posekit.models.registry import (
    PRESETS,
    ModelSpec,
    count_flops,
    count_parameters,
    create_model,
    get_model_spec,
    list_models,
    model_config,
    register_model,
    registered_name,
)

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
