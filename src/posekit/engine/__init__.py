"""Training engine (PyTorch Lightning): experiment configs, task modules, data modules,
checkpoints, resume and DDP.

Modules:

- `config`: YAML experiments → nested dataclasses, ``--set`` overrides (no Lightning import);
- `sources`: data sources by name (``synthetic_lift``, ``h36m_npz``, ``real_h36m_poses``);
- `seeding`: every random draw of a run as a function of (seed, rank, step);
- `base`: `TaskModule`, the shared LightningModule base, and the task table;
- `lift`, `datamodule`, `lift_data`, `lift_sources`: the ``lift`` task;
- `optim`: Adam / AdamW with exponential or cosine (+ warmup) schedules;
- `checkpoint`: atomic checkpoint writes, best / last files, loading with clear errors;
- `run`: `train` (fit / resume); `evaluate`: `evaluate_checkpoint`.

``import posekit.engine`` imports only the light modules (`config`, `sources`, `seeding`);
the others import Lightning and are imported by name.
"""

from __future__ import annotations

from posekit.engine.config import ExperimentConfig, apply_overrides, load_config
from posekit.engine.sources import build_source, list_data_sources, register_data_source

__all__ = [
    "ExperimentConfig",
    "apply_overrides",
    "build_source",
    "list_data_sources",
    "load_config",
    "register_data_source",
]
