"""Evaluate a checkpoint: rebuild its task module and model from the checkpoint alone, run it on
the validation data of its experiment (another data source, or a file), report metrics per
joint and how much of the data they cover.

A task module may declare ``file_source``: the data source that reads a file given in place of
a source name (``lift``: ``keypoints_file``, `posekit.tasks.lift.keypoints_file`). The batches
its ``evaluation_batches`` returns may carry ``num_available`` (items of the source) and
``drawn`` (True where the samples were drawn at random from a sampler), which the report keeps.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from posekit.engine.base import METADATA_KEY, TaskEvaluation, TaskModule, get_task
from posekit.engine.checkpoint import CheckpointError, load_checkpoint
from posekit.engine.config import ExperimentConfig, config_to_dict, load_config
from posekit.models import list_models

__all__ = [
    "EvalReport",
    "evaluate_checkpoint",
    "is_data_file",
    "module_from_checkpoint",
    "report_to_dict",
]


@dataclass
class EvalReport:
    """The result of `evaluate_checkpoint`.

    Attributes:
        checkpoint: the evaluated file.
        task: its task family.
        model: registry name; preset: its preset.
        step: the training step it was saved at.
        data_source: the data source evaluated on; data_params: its parameters.
        evaluation: metrics and per-joint columns (``evaluation.num_samples`` scored).
        num_available: items of the data source (None: unknown, or an unlimited sampler).
        drawn: the samples were drawn at random (with replacement) from a sampler.
        val_size: ``data.val_size`` (0: every item of a finite source).
        data_file: the file evaluated on (``--data FILE``), else None.
    """

    checkpoint: Path
    task: str
    model: str
    preset: str
    step: int
    data_source: str
    data_params: dict[str, Any]
    evaluation: TaskEvaluation
    num_available: int | None = None
    drawn: bool = False
    val_size: int = 0
    data_file: str | None = None


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


def is_data_file(source: str) -> bool:
    """Whether ``source`` names a file rather than a data source: not a registered source name,
    and an existing file, or a path (a folder separator or a suffix) that is not an import path
    ``"module:factory"``."""
    from posekit.engine.sources import list_data_sources

    if source in list_data_sources():
        return False
    path = Path(source)
    if path.is_file():
        return True
    return ":" not in source and (path.suffix != "" or "/" in source or os.sep in source)


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
            training source. A source of another task is refused. A file (`is_data_file`) is
            read by the task's ``file_source`` with ``{"path": source}``, every sample of it
            unless ``data.val_size`` is overridden.
        overrides: ``KEY=VALUE`` changes to the stored experiment (e.g. ``data.val_size=0``).
        device: where to run the model.
        progress: show a progress bar.
    """
    module, config, ckpt = module_from_checkpoint(path, overrides)
    module.to(device)
    d = config.data
    data_file = None
    if source is not None and is_data_file(source):
        file_source = getattr(module, "file_source", None)
        if file_source is None:
            from posekit.engine.sources import list_data_sources

            raise ValueError(
                f"{source}: task {config.task!r} reads no evaluation data from a file; give a "
                f"data source: {', '.join(list_data_sources(config.task)) or 'none'}"
            )
        data_file = source
        name, params = file_source, {"path": data_file}
        if not any(o.strip().startswith("data.val_size=") for o in overrides):
            d.val_size = 0  # a user's own file: every sample unless --set data.val_size=N
    elif source is None:
        name = d.val_source or d.source
        params = d.val_params if d.val_params is not None else d.params
    else:
        name = source
        params = (
            d.val_params if d.val_params is not None else (d.params if source == d.source else {})
        )
    batches, total = module.evaluation_batches(config, name, params)
    evaluation = module.evaluate(batches, progress=progress, total=total)
    available = getattr(batches, "num_available", None)
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
        num_available=None if available is None else int(available),
        drawn=bool(getattr(batches, "drawn", False)),
        val_size=int(d.val_size),
        data_file=data_file,
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
        "num_available": report.num_available,
        "drawn": report.drawn,
        "val_size": report.val_size,
        "skeleton": ev.skeleton,
        "metrics": {k: _num(v) for k, v in ev.metrics.items()},
        "per_joint": per_joint,
    }


def _num(v: Any) -> Any:
    v = float(v) if not isinstance(v, int) else v
    return None if isinstance(v, float) and v != v else v
