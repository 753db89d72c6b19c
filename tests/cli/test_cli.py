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


def test_demo_quick_trains_evaluates_and_writes_a_report(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The main job end to end at smoke-test size: data, lifter, evaluation, report."""
    import re

    import torch

    before = torch.get_num_threads()
    try:
        assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    steps = re.findall(r"^\[(\d)/(\d)\]", out, flags=re.M)
    assert [int(a) for a, _ in steps] == [1, 2, 3, 4, 5, 6, 7, 8], out
    assert "MPJPE" in out
    index = tmp_path / "demo" / "report" / "index.html"
    assert f"Report: {index}" in out
    html = index.read_text()
    assert "2D → 3D lifting" in html and "mpjpe_mm" in html
    assert "2D pose: Stacked Hourglass" in html and "pck_0.2" in html
    assert "3D hands from depth: v2v tiny" in html and "mean_joint_error_mm" in html
    assert re.search(r"unseen hands: mean joint error \d+\.\d mm", out), out
    assert "3D pose from images: integral tiny" in html and "pa_mpjpe_mm" in html
    assert re.search(r"unseen people: MPJPE \d+ mm, PA-MPJPE \d+ mm", out), out
    for src in re.findall(r'src="([^"]+)"', html):
        assert (index.parent / src).is_file(), src
    assert len(re.findall(r"<img ", html)) >= 6
    assert (tmp_path / "demo" / "lift" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "demo" / "pose2d" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "demo" / "hand" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "demo" / "pose3d" / "checkpoints" / "best.ckpt").is_file()
    from posekit.data.lifting.pools import shared_data_dir

    if (shared_data_dir() / "real" / "mmpose_samples" / "coco").is_dir():
        # the 2D model and its untrained floor on the real photos, with a picture per set
        assert "The same model on real photos" in html and "untrained PCK@0.2" in html
        assert re.search(r"on real photos, PCK@0.2: coco \d+ % \(untrained \d+ %\)", out), out
        assert (tmp_path / "demo" / "pose2d" / "real_photos" / "coco.png").is_file()


def test_tasks_command_lists_each_family_and_its_sections(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "lift: 2D keypoints -> root-relative 3D joints" in out
    assert "sources:   coco, lsp, mpii, synthetic_body" in out
    assert "codec:     sigma=None, decode='dark', blur=True" in out
    assert "(the pose2d sources)" in out
    assert main(["tasks", "pose9d"]) == 2
    assert "unknown task 'pose9d'" in capsys.readouterr().err


def test_models_of_one_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--task", "lift", "--preset", "tiny"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == ["lcn", "martinez", "smplr_dae"]
