"""Engine tests run with one torch thread (on a loaded 2-core machine two threads can be much
slower); the in-test data source and run settings are in `engine_toy_data`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
