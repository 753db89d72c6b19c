"""The autouse fixture the engine, task and CLI tests share: one torch thread per test (on a
loaded 2-core machine two threads can be much slower). A conftest imports it to use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

__all__ = ["one_thread"]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
