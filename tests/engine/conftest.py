"""Engine tests run with one torch thread (`one_thread`); the in-test data source and run
settings are in `engine_toy_data`."""

from __future__ import annotations

from one_thread import one_thread

__all__ = ["one_thread"]
