"""Session-wide anny body for the data tests (built once; anny caches its data on disk)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anny_body():
    """`AnnyBody` in float32 (the first build on a machine takes ~40 s, later ones ~0.4 s)."""
    pytest.importorskip("anny", reason="these tests need the 'anny' package")
    from posekit.body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def anny_body64(anny_body):
    """`AnnyBody` in float64, for exact comparisons."""
    import torch

    from posekit.body import AnnyBody

    return AnnyBody(dtype=torch.float64)
