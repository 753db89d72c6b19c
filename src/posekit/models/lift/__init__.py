"""2D → 3D lifting: root-relative 3D joints (B, J, 3) from 2D joints (B, J, 2).

Models (registered names): ``martinez`` (residual MLP, Martinez et al. 2017), ``lcn`` (locally
connected network, Ci et al. 2019), ``smplr_dae`` (SMPLR's denoising autoencoder, Madadi et al.
2020); and the structured 2D noise model used to train and evaluate them (`structured_noise`).
Importing this package imports (and so registers) the three lifting models.
"""

from __future__ import annotations

from posekit.data.lifting.noise import NoiseConfig, StructuredNoise, structured_noise
from posekit.models.lift._common import INPUT_COORDS, LiftingModel
from posekit.models.lift.dae import DAE, DAEConfig
from posekit.models.lift.lcn import LCN, LCNConfig, LocallyConnected, lcn_adjacency
from posekit.models.lift.martinez import Martinez, MartinezConfig

__all__ = [
    "DAE",
    "INPUT_COORDS",
    "LCN",
    "DAEConfig",
    "LCNConfig",
    "LiftingModel",
    "LocallyConnected",
    "Martinez",
    "MartinezConfig",
    "NoiseConfig",
    "StructuredNoise",
    "lcn_adjacency",
    "structured_noise",
]
