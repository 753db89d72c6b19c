"""Tests for posekit.metrics.table: per-joint reductions and the text table."""

from __future__ import annotations

import pytest
import torch

from posekit.metrics import format_joint_table, joint_errors, per_joint_mean


def test_per_joint_mean_ignores_nan() -> None:
    v = torch.tensor([[1.0, float("nan")], [3.0, float("nan")], [5.0, 2.0]])
    torch.testing.assert_close(per_joint_mean(v), torch.tensor([3.0, 2.0]))
    gen = torch.Generator().manual_seed(0)
    gt = torch.randn(4, 17, 3, generator=gen, dtype=torch.float64)
    pred = gt + 0.01 * torch.randn(4, 17, 3, generator=gen, dtype=torch.float64)
    per_joint = per_joint_mean(joint_errors(pred, gt))
    assert per_joint.shape == (17,) and per_joint[0] == 0  # the root, root-relative


def test_format_table() -> None:
    vals = torch.arange(14, dtype=torch.float64) * 10
    text = format_joint_table({"PCK@0.2 (%)": vals, "other": vals / 2}, "lsp14", digits=2)
    lines = text.splitlines()
    assert lines[0].split() == ["joint", "PCK@0.2", "(%)", "other"]
    assert lines[2].split() == ["neck", "0.00", "0.00"]
    assert lines[3].startswith("head_top")
    assert lines[-1].split() == ["mean", "65.00", "32.50"]
    with_total = format_joint_table({"x": [float("nan")] * 13 + [1.0]}, "lsp14", total={"x": 0.5})
    assert with_total.splitlines()[2].split() == ["neck", "-"]
    assert with_total.splitlines()[-1].split() == ["total", "0.5"]
    with pytest.raises(ValueError, match=r"columns\['x'\]: expected 14 values"):
        format_joint_table({"x": [1.0, 2.0]}, "lsp14")
