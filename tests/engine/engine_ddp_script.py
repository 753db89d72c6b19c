"""``python engine_ddp_script.py WRITES_LOG posekit-train-args...``: `posekit train`, with every
checkpoint write logged as ``rank step path`` to WRITES_LOG (a DDP test checks who writes).

Lightning's DDP launcher re-runs this script once per extra device, so every rank runs the
same patched code.
"""

from __future__ import annotations

import sys

import torch

from posekit.cli.main import main
from posekit.engine.checkpoint import AtomicCheckpointIO

_save = AtomicCheckpointIO.save_checkpoint


def _logged_save(self, checkpoint, path, storage_options=None):  # type: ignore[no-untyped-def]
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else -1
    with open(sys.argv[1], "a") as fh:
        fh.write(f"{rank} {checkpoint['global_step']} {path}\n")
    _save(self, checkpoint, path, storage_options)


if __name__ == "__main__":
    torch.set_num_threads(1)
    AtomicCheckpointIO.save_checkpoint = _logged_save  # type: ignore[method-assign]
    sys.exit(main(sys.argv[2:]))
