"""CLI tests run with one torch thread (`one_thread`) and can import the engine tests' in-test
data source `engine_toy_data`."""

from __future__ import annotations

import sys
from pathlib import Path

from one_thread import one_thread

__all__ = ["one_thread"]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
