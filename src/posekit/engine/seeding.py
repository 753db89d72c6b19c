"""Seeds derived from (experiment seed, purpose, rank, step): a run's randomness, made explicit.

Every random draw of a training run depends only on the experiment seed and on *where* it is
made, never on how many draws came before:

- the training batch of step ``s`` on rank ``r``: ``generator(seed, STREAM_TRAIN, r, s)``;
- the input noise of that step (denoising models): ``generator(seed, STREAM_NOISE, r, s)``;
- dropout and any other use of torch's global RNG in that step: the global RNG is reseeded
  with ``derive_seed(seed, STREAM_STEP, r, s)`` before the step;
- the validation set and the input statistics: fixed streams that ignore rank and step.

So a run resumed from a checkpoint at step k draws exactly what the uninterrupted run drew
from step k on, whatever the number of data workers, and DDP ranks draw different batches.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "STREAM_NOISE",
    "STREAM_STATS",
    "STREAM_STEP",
    "STREAM_TRAIN",
    "STREAM_VAL",
    "derive_seed",
    "make_generator",
]

STREAM_TRAIN = 1
STREAM_VAL = 2
STREAM_STATS = 3
STREAM_NOISE = 4
STREAM_STEP = 5


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (NumPy's SeedSequence hashing).

    Distinct key tuples give independent-looking seeds; the same tuple always the same seed.
    """
    if any(int(k) < 0 for k in keys):
        raise ValueError(f"seed keys must be >= 0, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def make_generator(*keys: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``derive_seed(*keys)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(*keys))
