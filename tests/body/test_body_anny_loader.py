"""Loading anny: Warp's "no CUDA driver" line is silenced on CPU machines, nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NO_DRIVER = "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver."
OTHER = "Warp CUDA error: Failed to get function cuGetProcAddress"  # a real native error


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_loading_the_body_prints_no_warp_cuda_warning(anny_body):
    """A fresh process builds the body and the hand and runs them: no Warp CUDA warning and
    no Warp banner on stdout or stderr. (``anny_body`` fills anny's disk cache first, so the
    subprocess loads it in seconds.)"""
    code = (
        "import torch\n"
        "from posekit.body import AnnyBody\n"
        "from posekit.body.hand import AnnyHand\n"
        "print(AnnyBody()(torch.zeros(1, 24, 3)).vertices.shape[1])\n"
        "print(AnnyHand('R')(torch.zeros(1, 20)).vertices.shape[1])\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["13718", "1609"]
    assert "Warp CUDA warning" not in res.stdout + res.stderr, res.stderr
    assert "initialized:" not in res.stdout  # Warp's start-up banner
    # The check can see the line: Warp on its own prints it where there is no CUDA driver
    # (its banner says so).
    bare = _run("import warp\nwarp.init()\n")
    assert bare.returncode == 0, bare.stderr
    if "CUDA driver not available" in bare.stdout:
        assert NO_DRIVER in bare.stderr


def _fake_init(*lines: str, error: bool = False):
    def init() -> None:  # as Warp's native library does: fprintf(stderr, ...) on fd 2
        os.write(2, "".join(f"{ln}\n" for ln in lines).encode())
        if error:
            raise RuntimeError("Warp initialization failed")

    return init


def test_only_the_no_driver_line_is_dropped(monkeypatch, capfd):
    warp = pytest.importorskip("warp")
    from posekit.body._anny_loader import _init_warp_quietly

    quiet = _init_warp_quietly.__wrapped__  # the uncached function
    monkeypatch.setattr(warp.config, "log_level", warp.config.log_level)
    lines = (f"{NO_DRIVER} GPU execution will not be available.", OTHER)
    monkeypatch.setattr(warp, "init", _fake_init(*lines))
    quiet()
    captured = capfd.readouterr()
    assert captured.err == f"{OTHER}\n" and captured.out == ""
    # a failing init raises, and what it printed besides the driver line is still shown
    monkeypatch.setattr(warp, "init", _fake_init(*lines, error=True))
    with pytest.raises(RuntimeError, match="initialization failed"):
        quiet()
    assert capfd.readouterr().err == f"{OTHER}\n"
    # stderr works normally afterwards
    os.write(2, b"after\n")
    print("python", file=sys.stderr, flush=True)
    assert capfd.readouterr().err == "after\npython\n"
