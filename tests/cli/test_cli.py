from __future__ import annotations

import subprocess
import sys

import pytest

from posekit import __version__
from posekit.cli.main import main


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("version", "skeletons", "demo"):
        assert cmd in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"posekit {__version__}")
    assert "torch" in out


def test_unknown_option_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["version", "--frobnicate"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["nosuchcommand"])
    assert exc.value.code == 2


def test_skeletons_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skeletons"]) == 0
    assert "mpii16" in capsys.readouterr().out
    assert main(["skeletons", "h36m17"]) == 0
    out = capsys.readouterr().out
    assert "l_wrist" in out and "r_wrist" in out
    assert main(["skeletons", "nope"]) == 2
    assert "unknown skeleton 'nope'" in capsys.readouterr().err


def test_console_script_runs() -> None:
    exe = [sys.executable, "-m", "posekit.cli.main", "version"]
    res = subprocess.run(exe, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "posekit" in res.stdout


def test_demo_runs_and_pa_mpjpe_sees_through_similarity(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from posekit.cli.demo import _metrics_table

    assert main(["demo", "--num", "340"]) == 0
    out = capsys.readouterr().out
    assert "PA-MPJPE" in out and "heatmap2d" in out
    rows = _metrics_table(500, torch.Generator().manual_seed(0))
    (_, plain), (_, similar) = rows[0], rows[1]
    assert similar["pa_mpjpe_mm"] == pytest.approx(plain["pa_mpjpe_mm"], rel=1e-9)
    assert similar["mpjpe_mm"] > 3 * plain["mpjpe_mm"]
