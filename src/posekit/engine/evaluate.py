"""Evaluate a checkpoint: rebuild its task module and model from the checkpoint alone, run it on
the validation data of its experiment (or another data source), report metrics per joint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from posekit.engine.base import METADATA_KEY, TaskEvaluation, TaskModule, get_task
from posekit.engine.checkpoint import CheckpointError, load_checkpoint
from posekit.engine.config import ExperimentConfig, config_to_dict, load_config
from posekit.models import list_models

__all__ = ["EvalReport", "evaluate_checkpoint", "module_from_checkpoint", "report_to_dict"]


@dataclass
class EvalReport:
    """The result of `evaluate_checkpoint`.

    Attributes:
        checkpoint: the evaluated file.
        task: its task family.
        model: registry name; preset: its preset.
        step: the training step it was saved at.
        data_source: the data source evaluated on; data_params: its parameters.
        evaluation: metrics and per-joint columns.
    """

    checkpoint: Path
    task: str
    model: str
    preset: str
    step: int
    data_source: str
    data_params: dict[str, Any]
    evaluation: TaskEvaluation


def module_from_checkpoint(
    path: str | Path,
    overrides: Sequence[str] = (),
    map_location: str | torch.device = "cpu",
) -> tuple[TaskModule, ExperimentConfig, dict[str, Any]]:
    """Rebuild the task module of a checkpoint and load its weights (no YAML needed).

    The experiment comes from the checkpoint's metadata, with ``overrides`` (``KEY=VALUE``)
    applied; the model is built from the full model config stored in the checkpoint, so later
    changes of a preset's defaults do not change what is rebuilt.

    Returns:
        (module in eval mode, its experiment config, the whole checkpoint dict).

    Raises:
        FileNotFoundError, CheckpointError: missing / corrupt / foreign checkpoint, or a task
            or model this version of posekit does not have.
    """
    ckpt = load_checkpoint(path, map_location)
    meta = ckpt[METADATA_KEY]
    task, model = meta["task"], meta["model"]["name"]
    try:
        task_cls = get_task(task)
    except ValueError as err:
        raise CheckpointError(f"{path}: cannot evaluate this checkpoint: {err}") from None
    if model not in list_models():
        raise CheckpointError(
            f"{path}: holds model {model!r}, unknown to this posekit; "
            f"models: {', '.join(list_models())}"
        )
    experiment = dict(meta["experiment"])
    experiment["model"] = {**experiment["model"], "overrides": dict(meta["model"]["config"])}
    config = load_config(base=experiment, overrides=overrides)
    if config.task != task or config.model.name != model:
        raise CheckpointError(f"{path}: --set cannot change the task or the model of a checkpoint")
    module = task_cls(config)
    try:
        module.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(f"{path}: weights do not fit model {model!r}: {err}") from None
    module.eval()
    return module, config, ckpt


def evaluate_checkpoint(
    path: str | Path,
    source: str | None = None,
    overrides: Sequence[str] = (),
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> EvalReport:
    """Evaluate a checkpoint on its validation data, or on data source ``source``.

    Args:
        path: a checkpoint written by ``posekit train``.
        source: a data source name or import path; its parameters are ``data.val_params``
            (``--set data.val_params.KEY=VALUE``), or ``data.params`` when ``source`` is the
            training source. A source of another task is refused.
        overrides: ``KEY=VALUE`` changes to the stored experiment (e.g. ``data.val_size=0``).
        device: where to run the model.
        progress: show a progress bar.
    """
    module, config, ckpt = module_from_checkpoint(path, overrides)
    module.to(device)
    d = config.data
    if source is None:
        name = d.val_source or d.source
        params = d.val_params if d.val_params is not None else d.params
    else:
        name = source
        params = (
            d.val_params if d.val_params is not None else (d.params if source == d.source else {})
        )
    batches, total = module.evaluation_batches(config, name, params)
    evaluation = module.evaluate(batches, progress=progress, total=total)
    meta = ckpt[METADATA_KEY]
    return EvalReport(
        checkpoint=Path(path),
        task=meta["task"],
        model=meta["model"]["name"],
        preset=meta["model"].get("preset", ""),
        step=int(ckpt.get("global_step", 0)),
        data_source=name,
        data_params=dict(params or {}),
        evaluation=evaluation,
    )


def report_to_dict(report: EvalReport) -> dict[str, Any]:
    """A JSON-ready dict: checkpoint, task, model, data, metrics and per-joint values."""
    ev = report.evaluation
    from posekit.skeletons import get_skeleton

    joints = get_skeleton(ev.skeleton).joints if ev.skeleton else ()
    per_joint = {
        col: {name: _num(v) for name, v in zip(joints, values.tolist())}
        for col, values in ev.per_joint.items()
    }
    return {
        "checkpoint": str(report.checkpoint),
        "task": report.task,
        "model": report.model,
        "preset": report.preset,
        "step": report.step,
        "data": {"source": report.data_source, "params": config_to_dict(report.data_params)},
        "num_samples": ev.num_samples,
        "skeleton": ev.skeleton,
        "metrics": {k: _num(v) for k, v in ev.metrics.items()},
        "per_joint": per_joint,
    }


def _num(v: Any) -> Any:
    v = float(v) if not isinstance(v, int) else v
    return None if isinstance(v, float) and v != v else v
