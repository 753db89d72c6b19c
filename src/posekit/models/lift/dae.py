"""SMPLR's denoising autoencoder (Madadi et al. 2020, "SMPLR: Deep learning based SMPL reverse
for 3D human pose and shape recovery"): an MLP encoder–decoder that lifts noisy 2D joints to
3D joints.

In SMPLR the DAE sits between the 2D detector and the body-model regressor. It is trained on
2D inputs corrupted with structured, detector-like noise (jitter, left/right swaps, missing
joints, outliers) to output clean 3D joints, so it learns to lift and to repair at once; its
training needs only 3D poses (2D inputs are their projections), not images paired with 3D.

    (B, J, 2) [+ visibility (B, J, 1)] → flatten (B, J (2 + v))
        → encoder: [linear → BN → ReLU → dropout] per width of ``encoder_widths``
        → bottleneck: the same layer to ``latent`` features
        → decoder: the same layer per width of ``decoder_widths``
        → linear to 3 (J - 1) → (B, J - 1, 3) → zero root prepended → (B, J, 3)

The noise is NOT applied in ``forward``: the training pipeline corrupts the inputs with
`posekit.data.lifting.noise.structured_noise` using ``config.noise`` (stored in the config so
that a checkpoint records how it was trained), and the same function serves evaluation under
noise. The layer sizes here are this implementation's choice (the tiny / full presets).

See `posekit.models.lift._common` for the input / output convention and the optional
``input_mean`` / ``input_std`` normalization buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from posekit.data.lifting.noise import NoiseConfig
from posekit.models.lift._common import LiftingModel, check_lift_config, dense_layer, prepend_root
from posekit.models.registry import register_model

__all__ = ["DAE", "DAEConfig"]


def _widths(name: str, value: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in value)
    if any(w < 1 for w in widths):
        raise ValueError(f"smplr_dae: {name}: expected widths >= 1, got {widths}")
    return widths


@dataclass(frozen=True)
class DAEConfig:
    """Configuration of `DAE` (defaults: the ``full`` preset).

    Attributes:
        skeleton: joint layout (a registered skeleton name); sets J and the flip pairs the
            noise model swaps.
        input_coords: ``"pixel"`` or ``"camera"`` (normalized image plane), what the data
            pipeline feeds; recorded for the checkpoint (see `MartinezConfig`).
        use_visibility: feed visibility as a third input channel per joint (invisible joints'
            coordinates are 0, the input mean, either way).
        encoder_widths: widths of the encoder's hidden layers, input side first.
        latent: width of the bottleneck layer.
        decoder_widths: widths of the decoder's hidden layers, bottleneck side first.
        batch_norm: BatchNorm1d after every hidden linear layer.
        dropout: dropout probability after every hidden ReLU (0: no dropout modules).
        max_norm: max-norm (<= 1) on every linear layer's rows via ``apply_max_norm()``.
        noise: the structured noise the trainer applies to the 2D inputs (a `NoiseConfig`,
            or a dict of its fields); not used by ``forward``.
    """

    skeleton: str = "h36m17"
    input_coords: str = "pixel"
    use_visibility: bool = True
    encoder_widths: tuple[int, ...] = (1024, 512)
    latent: int = 256
    decoder_widths: tuple[int, ...] = (512, 1024)
    batch_norm: bool = True
    dropout: float = 0.2
    max_norm: bool = False
    noise: NoiseConfig = field(
        default_factory=lambda: NoiseConfig(
            jitter_sigma=0.01, swap_prob=0.05, drop_prob=0.1, outlier_prob=0.05
        )
    )

    def __post_init__(self) -> None:
        check_lift_config("smplr_dae", self.skeleton, self.input_coords, self.dropout)
        object.__setattr__(self, "encoder_widths", _widths("encoder_widths", self.encoder_widths))
        object.__setattr__(self, "decoder_widths", _widths("decoder_widths", self.decoder_widths))
        if self.latent < 1:
            raise ValueError(f"smplr_dae: latent: expected >= 1, got {self.latent}")
        object.__setattr__(self, "noise", NoiseConfig.coerce(self.noise))


@register_model(
    "smplr_dae",
    DAEConfig,
    presets={
        # tiny: for tests and smoke runs; no dropout so that a tiny batch can be overfit.
        "tiny": {"encoder_widths": (128,), "latent": 64, "decoder_widths": (128,), "dropout": 0.0},
        "full": {
            "encoder_widths": (1024, 512),
            "latent": 256,
            "decoder_widths": (512, 1024),
            "dropout": 0.2,
        },
    },
)
class DAE(LiftingModel):
    """SMPLR's denoising autoencoder: noisy 2D joints (+ visibility) → 3D joints.

    Shapes:
        keypoints2d: (B, J, 2); visibility: (B, J) or None (all visible).
        returns: ``{"joints3d": (B, J, 3)}`` root-relative metres, root = 0.
    """

    def __init__(self, config: DAEConfig) -> None:
        super().__init__(config.skeleton)
        self.config = config
        J = self.num_joints
        in_features = J * (3 if config.use_visibility else 2)
        widths = [*config.encoder_widths, config.latent, *config.decoder_widths]
        layers: list[nn.Module] = []
        for w_in, w_out in zip([in_features, *widths[:-1]], widths):
            layers.append(
                dense_layer(nn.Linear(w_in, w_out), w_out, config.batch_norm, config.dropout)
            )
        n_enc = len(config.encoder_widths) + 1  # encoder layers + bottleneck
        self.encoder = nn.Sequential(*layers[:n_enc])
        self.decoder = nn.Sequential(*layers[n_enc:])
        self.output_layer = nn.Linear(widths[-1], 3 * (J - 1))

    def encode(self, keypoints2d: Tensor, visibility: Tensor | None = None) -> Tensor:
        """The bottleneck code of a 2D pose.

        Shapes:
            keypoints2d: (B, J, 2); visibility: (B, J) or None → (B, latent).
        """
        x, visible = self.prepare_input(keypoints2d, visibility)  # (B, J, 2), (B, J)
        B, J, _ = x.shape
        if self.config.use_visibility:
            x = torch.cat([x, visible.to(x.dtype)[..., None]], dim=-1)  # (B, J, 3)
        return self.encoder(x.reshape(B, J * x.shape[-1]))  # (B, latent)

    def forward(self, keypoints2d: Tensor, visibility: Tensor | None = None) -> dict[str, Tensor]:
        """Lift (noisy) 2D joints to root-relative 3D joints.

        Shapes:
            keypoints2d: (B, J, 2); visibility: (B, J) or None.
            returns: ``{"joints3d": (B, J, 3)}`` metres, ``joints3d[:, 0] == 0``.
        """
        z = self.encode(keypoints2d, visibility)  # (B, latent)
        out = self.output_layer(self.decoder(z))  # (B, 3 (J - 1))
        return {"joints3d": prepend_root(out.reshape(out.shape[0], -1, 3))}  # (B, J, 3)
