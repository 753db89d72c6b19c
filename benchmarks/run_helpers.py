"""What the training benchmarks share: ``posekit`` as a subprocess, a config's validation data
parameters, and mean ± std cells of their tables."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "config_val_params", "mean_std", "run_posekit"]


def run_posekit(args: list[str], threads: int) -> str:
    """``python -m posekit.cli.main ARGS`` in the repository with ``threads`` OpenMP threads;
    its stdout. RuntimeError with the end of stderr when it fails."""
    cmd = [sys.executable, "-m", "posekit.cli.main", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"posekit {' '.join(args[:2])} failed:\n{res.stderr[-3000:]}")
    return res.stdout


def config_val_params(config: Path) -> dict:
    """The validation data parameters of a config file (``data.val_params``, else
    ``data.params``)."""
    import yaml

    data = yaml.safe_load(config.read_text())["data"]
    return dict(data.get("val_params") or data.get("params") or {})


def mean_std(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """``"m ± s"`` of the finite ``values`` times ``scale`` (sample std; "–" if none)."""
    v = [x * scale for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    m = sum(v) / len(v)
    s = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
    return f"{m:.{digits}f} ± {s:.{digits}f}"
