"""Session-wide anny models shared by every test directory (built once per session; anny
caches its data on disk)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

# Property tests must not flake on a loaded 2-core CI machine: no per-example deadline, and a
# fixed example sequence (derandomize) so a failure reproduces run after run.
settings.register_profile("posekit", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("posekit")


@pytest.fixture(scope="session")
def anny_body():
    """`AnnyBody` in float32 (the first build on a machine takes ~40 s, later ones ~0.4 s)."""
    pytest.importorskip("anny", reason="these tests need the 'anny' package")
    from posekit.body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def anny_body64(anny_body):
    """`AnnyBody` in float64, for exact comparisons and the landmark rule."""
    from posekit.body import AnnyBody

    return AnnyBody(dtype=torch.float64)


@pytest.fixture(scope="session")
def anny_hand(anny_body):
    """The right `AnnyHand` in float64 (built after the body, from its cached source data)."""
    from posekit.body.hand import AnnyHand

    return AnnyHand("R", dtype=torch.float64)
