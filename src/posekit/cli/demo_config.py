"""The experiments ``posekit demo`` trains: each task's ``configs/*_tiny.yaml`` file (its
`TaskSpec.demo_config`) with the demo's sizes as overrides."""

from __future__ import annotations

import json
from typing import Any

from posekit.engine.config import ExperimentConfig, find_config, load_config
from posekit.engine.tasks import get_task_spec

__all__ = ["task_config"]


def task_config(task: str, **overrides: Any) -> ExperimentConfig:
    """The demo's experiment of ``task``: its ``TaskSpec.demo_config`` file (``configs/``)
    with ``KEY=VALUE`` overrides (dotted keys given with ``__``: ``trainer__max_steps``)."""
    name = get_task_spec(task).demo_config
    if name is None:
        raise ValueError(f"task {task!r} has no demo config")
    sets = [f"{k.replace('__', '.')}={json.dumps(v)}" for k, v in overrides.items()]
    return load_config(find_config(name), sets)
