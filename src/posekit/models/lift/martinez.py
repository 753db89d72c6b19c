"""Martinez et al. 2017, "A simple yet effective baseline for 3d human pose estimation".

A residual MLP lifts 2D joints to root-relative 3D joints::

    (B, J, 2) → flatten (B, 2J) → linear to width → [BN] → ReLU → [dropout]
              → num_blocks × residual block (two [linear → BN → ReLU → dropout], + input)
              → linear to 3 (J - 1) → (B, J - 1, 3) → zero root prepended → (B, J, 3)

Every ablation of the paper's sensitivity table is a config switch: ``batch_norm``,
``dropout`` (0 disables), ``residual``, ``num_blocks`` (1 / 2 / 4) and ``max_norm``.

Max-norm: with ``max_norm=True`` the training loop calls ``model.apply_max_norm()`` after
every optimizer step; it rescales each output unit's incoming weights (a row of every
``nn.Linear.weight``, input and output layers included) to L2 norm <= 1. ``forward`` never
touches the weights.

See `posekit.models.lift._common` for the input / output convention and the optional
``input_mean`` / ``input_std`` normalization buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.lift._common import (
    LiftingModel,
    ResidualBlock,
    check_lift_config,
    dense_layer,
    prepend_root,
)
from posekit.models.registry import register_model

__all__ = ["Martinez", "MartinezConfig"]


@dataclass(frozen=True)
class MartinezConfig:
    """Configuration of `Martinez`; the defaults are the paper's model (the ``full`` preset).

    Attributes:
        skeleton: joint layout of input and output (a registered skeleton name); sets J.
        input_coords: what the data pipeline feeds: ``"pixel"`` (image / crop pixels) or
            ``"camera"`` (normalized image-plane coordinates ``(u - cx) / fx``). The model
            itself takes any (B, J, 2); the field records the convention in the checkpoint.
        width: features of every hidden layer (1024 in the paper).
        num_blocks: residual blocks (2 in the paper; the ablation tries 1 and 4). 0 leaves
            input layer → output layer.
        batch_norm: BatchNorm1d after every hidden linear layer (ablation: off).
        dropout: dropout probability after every hidden ReLU (0.5 in the paper; 0: no
            dropout modules at all).
        residual: residual connection around each block (ablation: off).
        max_norm: constrain every linear layer's rows to L2 norm <= 1 through
            ``apply_max_norm()``, which the training loop calls after each step.
    """

    skeleton: str = "h36m17"
    input_coords: str = "pixel"
    width: int = 1024
    num_blocks: int = 2
    batch_norm: bool = True
    dropout: float = 0.5
    residual: bool = True
    max_norm: bool = True

    def __post_init__(self) -> None:
        check_lift_config("martinez", self.skeleton, self.input_coords, self.dropout)
        if self.width < 1:
            raise ValueError(f"martinez: width: expected >= 1, got {self.width}")
        if self.num_blocks < 0:
            raise ValueError(f"martinez: num_blocks: expected >= 0, got {self.num_blocks}")


@register_model(
    "martinez",
    MartinezConfig,
    presets={
        # tiny: for tests and smoke runs; no dropout so that a tiny batch can be overfit.
        "tiny": {"width": 256, "num_blocks": 2, "dropout": 0.0},
        "full": {"width": 1024, "num_blocks": 2, "dropout": 0.5},
    },
)
class Martinez(LiftingModel):
    """Residual-MLP 2D → 3D lifting baseline (Martinez et al. 2017).

    Shapes:
        keypoints2d: (B, J, 2); visibility: (B, J) or None.
        returns: ``{"joints3d": (B, J, 3)}`` root-relative metres, root = 0.

    With ``batch_norm`` the model needs B > 1 in training mode (BatchNorm statistics).
    """

    def __init__(self, config: MartinezConfig) -> None:
        super().__init__(config.skeleton)
        self.config = config
        J, W = self.num_joints, config.width

        def hidden() -> nn.Linear:
            return nn.Linear(W, W)

        self.input_layer = dense_layer(nn.Linear(2 * J, W), W, config.batch_norm, config.dropout)
        self.blocks = nn.ModuleList(
            ResidualBlock(hidden, W, config.batch_norm, config.dropout, config.residual)
            for _ in range(config.num_blocks)
        )
        self.output_layer = nn.Linear(W, 3 * (J - 1))

    def forward(self, keypoints2d: Tensor, visibility: Tensor | None = None) -> dict[str, Tensor]:
        """Lift 2D joints to root-relative 3D joints.

        Args:
            keypoints2d: 2D joints in the config's ``input_coords``; NaN allowed where
                invisible.
            visibility: > 0 where visible; invisible joints are fed as the input mean.

        Shapes:
            keypoints2d: (B, J, 2); visibility: (B, J) or None.
            returns: ``{"joints3d": (B, J, 3)}`` metres, ``joints3d[:, 0] == 0``.
        """
        x, _ = self.prepare_input(keypoints2d, visibility)  # (B, J, 2)
        B, J, _ = x.shape
        h = self.input_layer(x.reshape(B, J * 2))  # (B, W)
        for block in self.blocks:
            h = block(h)  # (B, W)
        out = self.output_layer(h).reshape(B, J - 1, 3)  # (B, J - 1, 3)
        return {"joints3d": prepend_root(out)}  # (B, J, 3)
