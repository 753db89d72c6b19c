"""Training engine (PyTorch Lightning): what every task family shares. The families
themselves live in `posekit.tasks` and register through `tasks`.

Modules:

- `tasks`: the task registry (`TaskSpec` per family; no torch import);
- `config`: YAML experiments → nested dataclasses, ``--set`` overrides (no Lightning import);
- `sources`: data sources by name (the families' own and any ``"module:factory"``);
- `seeding`: every random draw of a run as a function of (seed, rank, step);
- `base`: `TaskModule`, the shared LightningModule base with the one validation loop;
- `datamodule`: the generic image DataModule (step-indexed batches, validation subset);
- `optim`: Adam / AdamW with exponential or cosine (+ warmup) schedules;
- `checkpoint`: atomic checkpoint writes, best / last files, loading with clear errors;
- `run`: `train` (fit / resume); `evaluate`: `evaluate_checkpoint`; `predict`:
  `load_predictor`; ONNX export and int8 quantization.

``import posekit.engine`` imports only the light modules (`config`, `sources`, `seeding`,
`tasks`); the others import Lightning and are imported by name.
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
