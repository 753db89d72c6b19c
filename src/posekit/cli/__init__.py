"""The ``posekit`` command line (`posekit.cli.main`), one module per subcommand.

Importing this package sets `OPENMP_DEFAULTS` for the process (unless the user set them),
before any subcommand imports torch: OpenMP threads that wait for work spin for about 0.1 ms
before they sleep instead of the runtimes' 3 ms (libgomp) or 200 ms (Intel). Under a competing
CPU load the long spin burnt the CPU share of the step's partner thread and made training
several times slower (benchmarks/under_load.py, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os

__all__ = ["OPENMP_DEFAULTS"]

#: OpenMP wait settings of posekit's processes (read by the OpenMP runtime when torch loads).
OPENMP_DEFAULTS = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}
for _name, _value in OPENMP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
