"""Metric plots: sizes, not blank, inputs from metrics / TaskEvaluation / metrics.csv, errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from posekit.metrics import PCK_THRESHOLDS, SUCCESS_THRESHOLDS_M, success_rate_curve
from posekit.viz.metric_plots import (
    plot_pck_curves,
    plot_per_joint_errors,
    plot_success_curves,
    plot_training_curves,
    read_metrics_csv,
)


def not_blank(img: np.ndarray) -> bool:
    return img.dtype == np.uint8 and img.ndim == 3 and img.reshape(-1, 3).std(0).max() > 10


def test_pck_curves(tmp_path):
    t = np.asarray(PCK_THRESHOLDS)
    curves = {"a": 1 - np.exp(-t / 0.1), "b": torch.as_tensor(1 - np.exp(-t / 0.2))}
    img = plot_pck_curves(t, curves, size_px=(240, 320), path=tmp_path / "pck.png")
    assert img.shape == (240, 320, 3) and not_blank(img)
    assert (tmp_path / "pck.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"curves\['a'\]"):
        plot_pck_curves(t, {"a": t[:-1]})
    with pytest.raises(ValueError, match="at least one"):
        plot_pck_curves(t, {})


def test_success_curves_from_the_metric():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(50, 21, 3)) * 0.05
    pred = gt + rng.normal(size=gt.shape) * 0.01
    curve = success_rate_curve(pred, gt)
    img = plot_success_curves(SUCCESS_THRESHOLDS_M, {"noisy": curve}, size_px=(200, 300))
    assert img.shape == (200, 300, 3) and not_blank(img)


def test_per_joint_errors_from_an_evaluation_and_from_columns():
    J = 17
    ev = SimpleNamespace(  # duck-typed posekit.engine.base.TaskEvaluation
        metrics={"mpjpe_mm": 50.0},
        per_joint={"MPJPE (mm)": torch.linspace(20, 90, J), "PA-MPJPE (mm)": torch.ones(J)},
        skeleton="h36m17",
    )
    img = plot_per_joint_errors(ev)
    assert not_blank(img) and img.shape[1] == 760
    cols = {"PCK (%)": np.r_[np.full(15, 80.0), np.nan]}
    small = plot_per_joint_errors(cols, "mpii16", size_px=(300, 400))
    assert small.shape == (300, 400, 3) and not_blank(small)
    with pytest.raises(ValueError, match="skeleton"):
        plot_per_joint_errors(cols)
    with pytest.raises(ValueError, match="expected \\(17,\\)"):
        plot_per_joint_errors(cols, "h36m17")
    with pytest.raises(ValueError, match="no column 'x'"):
        plot_per_joint_errors(ev, columns=["x"])


CSV = """epoch,step,train/loss,train/lr,val/mpjpe_mm,val/auc3d
0,49,0.19,0.001,,
0,99,0.15,0.001,,
0,99,,,112.5,0.4
0,149,0.13,0.0009,,
0,199,0.12,0.0009,,
0,199,,,96.0,0.5
"""


def test_training_curves_from_a_lightning_csv(tmp_path):
    path = tmp_path / "run" / "csv" / "metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(CSV)
    cols = read_metrics_csv(path)
    assert np.isnan(cols["val/mpjpe_mm"][0]) and cols["val/mpjpe_mm"][2] == 112.5
    img = plot_training_curves(path)
    assert img.shape == (370, 1040, 3) and not_blank(img)  # train/loss and val/mpjpe_mm
    three = plot_training_curves(
        path, ["train/loss", "train/lr", "val/auc3d"], log_y=["train/loss"]
    )
    assert three.shape == (670, 1040, 3) and not_blank(three)
    with pytest.raises(ValueError, match="columns: epoch, step"):
        plot_training_curves(path, ["val/pck"])
