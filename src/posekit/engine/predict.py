"""Predict with a trained model: load a checkpoint (torch) or its ONNX export, run it on inputs.

`load_predictor(path, backend)` reads what the model is from the checkpoint's posekit metadata
(or the ONNX file's metadata) and returns the predictor of its task (the task's
`TaskSpec.predictor`, e.g. `posekit.tasks.lift.predictor.LiftPredictor`). A predictor is
built as ``cls(runner, info)`` and offers ``predict(...)`` on in-memory inputs and
``predict_files(inputs, out, options)`` (what ``posekit predict`` runs: it checks every input,
writes the outputs atomically and yields one summary line per input).

Both backends run the same network: ``torch`` the checkpoint's module, ``onnx`` an ONNX
Runtime session of the file written by ``posekit export`` (`posekit.engine.export`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.engine.config import migrate_experiment
from posekit.engine.tasks import get_task_spec

__all__ = [
    "BACKENDS",
    "ModelInfo",
    "PredictOptions",
    "Runner",
    "dump_json",
    "export_checkpoint_onnx",
    "load_predictor",
    "output_names",
    "parse_intrinsics_text",
]

BACKENDS = ("torch", "onnx")

Runner = Callable[..., dict[str, np.ndarray]]


@dataclass
class ModelInfo:
    """What a predictor needs to know about a trained model.

    Attributes:
        path: the checkpoint or ONNX file.
        task: task family; model: registry name; preset: its preset.
        config: the model's config as a dict; experiment: the experiment as a dict.
        backend: ``torch`` or ``onnx``.
        precision: ``float32``, or ``int8`` for a file written by ``posekit export --quantize
            int8`` (its ``quantization`` metadata).
    """

    path: Path
    task: str
    model: str
    preset: str
    config: dict[str, Any]
    experiment: dict[str, Any]
    backend: str
    precision: str = "float32"


@dataclass
class PredictOptions:
    """What ``posekit predict`` asks of a predictor's ``predict_files``.

    Attributes:
        source: the checkpoint or ONNX file (recorded in the outputs).
        pictures: also write a picture per input.
        boxes: a JSON file of person boxes per image (top-down image tasks only).
        intrinsics: ``"fx,fy,cx,cy"`` of depth inputs (depth tasks only; default their own).
        center: ``"u,v"`` or ``"u,v,z"``, a point in the hand (depth tasks only).
    """

    source: Path
    pictures: bool = True
    boxes: Path | None = None
    intrinsics: str | None = None
    center: str | None = None


def output_names(inputs: Sequence[Path]) -> list[str]:
    """A distinct output name (no extension) per input file: its stem; where stems collide,
    the file name (``photo.jpg``, ``photo.png``); where names collide too (``d1/photo.jpg``,
    ``d2/photo.jpg``), as many parent folders as it takes in front of the stem (then the
    name), joined by ``__`` (``d1__photo``).

    Raises:
        ValueError: the same file given twice.
    """
    resolved = [Path(p).resolve() for p in inputs]
    seen: dict[Path, Path] = {}
    for given, full in zip(inputs, resolved, strict=True):
        if full in seen:
            raise ValueError(f"{given}: given twice (also as {seen[full]})")
        seen[full] = Path(given)

    def name(full: Path, depth: int, keep_suffix: bool) -> str:
        last = full.name if keep_suffix else full.stem
        return "__".join([*full.parent.parts[len(full.parent.parts) - depth :], last])

    names = [name(f, 0, False) for f in resolved]
    levels = [(0, True)] + [(d, keep) for d in range(1, 64) for keep in (False, True)]
    for depth, keep in levels:
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        if all(c == 1 for c in counts.values()):
            return names
        names = [
            name(f, depth, keep) if counts[n] > 1 else n
            for f, n in zip(resolved, names, strict=True)
        ]
    return names


def parse_intrinsics_text(text: str) -> np.ndarray:
    """``"fx,fy,cx,cy"`` (pixels, the ``--K`` of ``posekit predict``) as a (3, 3) matrix.

    Raises:
        ValueError: not four numbers with positive focal lengths.
    """
    try:
        fx, fy, cx, cy = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--K: expected fx,fy,cx,cy (pixels), got {text!r}") from None
    if not (fx > 0 and fy > 0 and np.isfinite([fx, fy, cx, cy]).all()):
        raise ValueError(f"--K: expected positive focal lengths and finite numbers, got {text!r}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def dump_json(doc: Any) -> bytes:
    """``doc`` as indented JSON text; a NaN or infinity is an error (JSON has none).

    Raises:
        ValueError: a non-finite number in ``doc``.
    """
    try:
        return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()
    except ValueError:
        raise ValueError("the prediction holds a non-finite number; nothing written") from None


class _TorchRunner:
    """Run a torch model on numpy inputs; outputs as numpy (float32)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.model = model.eval().to(device)
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        t = {k: torch.as_tensor(v, device=self.device) for k, v in inputs.items()}
        out = self.model(**t)
        return {k: v.float().cpu().numpy() for k, v in out.items()}


def _load_torch(path: Path, device: str) -> tuple[Runner, ModelInfo]:
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.evaluate import module_from_checkpoint

    module, _, ckpt = module_from_checkpoint(path, map_location="cpu")
    meta = ckpt[METADATA_KEY]
    info = ModelInfo(
        path=path,
        task=meta["task"],
        model=meta["model"]["name"],
        preset=meta["model"].get("preset", ""),
        config=dict(meta["model"]["config"]),
        experiment=dict(meta["experiment"]),
        backend="torch",
    )
    return _TorchRunner(module.model, device), info


def _load_onnx(path: Path) -> tuple[Runner, ModelInfo]:
    from posekit.engine.export import OnnxRunner

    runner = OnnxRunner(path)
    meta = runner.metadata
    if "task" not in meta or "model" not in meta:
        raise ValueError(
            f"{path}: no posekit metadata (task, model); export it with `posekit export`"
        )
    info = ModelInfo(
        path=path,
        task=meta["task"],
        model=meta["model"],
        preset=meta.get("preset", ""),
        config=dict(meta.get("config") or {}),
        experiment=migrate_experiment({"task": meta["task"], **(meta.get("experiment") or {})}),
        backend="onnx",
        precision=str((meta.get("quantization") or {}).get("dtype", "float32")),
    )

    def run(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return runner(inputs)

    return run, info


def export_checkpoint_onnx(path: str | Path, out: str | Path) -> float:
    """Export a checkpoint to ONNX as ``posekit export`` does (checked against torch, at most
    1e-4 apart, else nothing is written); returns the measured max |difference|."""
    from posekit.engine.export import export_checkpoint

    return export_checkpoint(path, out).max_abs_diff


def _onnx_for_checkpoint(path: Path) -> Path:
    """The ONNX export of a checkpoint: ``<stem>.onnx`` beside it when at least as new as the
    checkpoint, else exported now (and kept there for the next call)."""
    onnx_path = path.with_suffix(".onnx")
    if onnx_path.is_file() and onnx_path.stat().st_mtime >= path.stat().st_mtime:
        return onnx_path
    export_checkpoint_onnx(path, onnx_path)
    return onnx_path


def load_predictor(path: str | Path, backend: str = "torch", device: str = "cpu") -> Any:
    """The predictor of a checkpoint (``.ckpt``) or an ONNX export (``.onnx``).

    Args:
        path: a checkpoint written by ``posekit train`` or a model written by ``posekit export``.
        backend: ``torch`` or ``onnx``. An ``.onnx`` file always runs on ONNX Runtime; a
            checkpoint with ``onnx`` uses ``<stem>.onnx`` beside it, exporting it first when
            it is missing or older than the checkpoint.
        device: torch device (torch backend).

    Raises:
        FileNotFoundError, CheckpointError, ValueError: a missing or foreign file, an unknown
            backend, or a task that cannot predict yet.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".onnx":
        runner, info = _load_onnx(path)
    elif backend == "onnx":
        runner, info = _load_onnx(_onnx_for_checkpoint(path))
    else:
        runner, info = _load_torch(path, device)
    try:
        cls = get_task_spec(info.task).predictor_class()
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return cls(runner, info)
