"""What the 2D → 3D lifting models share: input checks and normalization, root handling, the
[linear → BN → ReLU → dropout] layer, the residual block, and the max-norm constraint.

Shapes:
    B batch, J joints, C channels (features).

Convention (all lifting models):
    Input ``keypoints2d`` (B, J, 2) in the coordinate system named by the config's
    ``input_coords``; optional ``visibility`` (B, J), a joint is visible where > 0. Output
    ``joints3d`` (B, J, 3): root-relative joints in metres, camera axes (OpenCV: x right, y
    down, z forward). The root (joint 0 of the skeleton) is exactly 0: the network predicts the
    J - 1 other joints and `prepend_root` puts the zero root in front, as Martinez et al. do.

Input normalization:
    Normalizing inputs (subtracting a mean, dividing by a std) is the data pipeline's job. So
    that a checkpoint is self-contained, every lifting model also holds two buffers,
    ``input_mean`` and ``input_std`` (J, 2), applied first in ``forward`` as
    ``(keypoints2d - input_mean) / input_std``. They default to 0 and 1 (no-op); a trainer that
    wants the model to normalize calls `LiftingModel.set_input_normalization` once with
    statistics of the training inputs. Invisible joints are then set to 0, the mean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from posekit._checks import check_shape
from posekit.skeletons import Skeleton, get_skeleton

__all__ = [
    "INPUT_COORDS",
    "LiftingModel",
    "ResidualBlock",
    "check_lift_config",
    "clamp_row_norms_",
    "dense_layer",
    "prepend_root",
]

#: Input coordinate systems a lifting model can be trained on (stored in its config):
#: ``"pixel"``: image pixels scaled by the image width as in Martinez's public code,
#: ``x / W * 2 - (1, H / W)`` (`posekit.data.lifting.normalize_keypoints`);
#: ``"camera"``: normalized image-plane coordinates ``((u - cx) / fx, (v - cy) / fy)``.
INPUT_COORDS = ("pixel", "camera")


def check_lift_config(model: str, skeleton: str, input_coords: str, dropout: float) -> None:
    """Validate the config fields every lifting model has; ValueError / KeyError otherwise."""
    get_skeleton(skeleton)  # KeyError listing the known skeletons
    if input_coords not in INPUT_COORDS:
        raise ValueError(
            f"{model}: input_coords: expected one of {INPUT_COORDS}, got {input_coords!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{model}: dropout: expected a probability in [0, 1), got {dropout}")


def prepend_root(joints_nonroot: Tensor) -> Tensor:
    """Put a zero root joint in front of the J - 1 predicted joints.

    Shapes:
        joints_nonroot: (B, J - 1, 3).
        return: (B, J, 3) with ``return[:, 0] == 0``.
    """
    root = joints_nonroot.new_zeros(joints_nonroot.shape[0], 1, 3)  # (B, 1, 3)
    return torch.cat([root, joints_nonroot], dim=1)  # (B, J, 3)


def dense_layer(
    linear: nn.Module, features: int, batch_norm: bool, dropout: float
) -> nn.Sequential:
    """``linear → [BatchNorm1d] → ReLU → [Dropout]`` on (B, features) (BN / dropout optional).

    With ``batch_norm=False`` or ``dropout=0`` the module is left out (not an Identity), so
    the structure shows which ablation is built.
    """
    layers: list[nn.Module] = [linear]
    if batch_norm:
        layers.append(nn.BatchNorm1d(features))
    layers.append(nn.ReLU())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """Two dense layers with an optional residual connection (Martinez et al. 2017, Fig. 1).

    ``y = x + layer2(layer1(x))`` where each layer is ``linear → [BN] → ReLU → [dropout]``;
    without ``residual``, ``y = layer2(layer1(x))``.

    Shapes:
        x: (B, features) → (B, features).
    """

    def __init__(
        self,
        make_linear: Callable[[], nn.Module],
        features: int,
        batch_norm: bool,
        dropout: float,
        residual: bool,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.layer1 = dense_layer(make_linear(), features, batch_norm, dropout)
        self.layer2 = dense_layer(make_linear(), features, batch_norm, dropout)

    def forward(self, x: Tensor) -> Tensor:
        y = self.layer2(self.layer1(x))
        return x + y if self.residual else y


@torch.no_grad()
def clamp_row_norms_(weight: Tensor, max_norm: float = 1.0) -> Tensor:
    """Scale, in place, every row of a (C_out, C_in) weight whose L2 norm exceeds ``max_norm``.

    A row holds one output unit's incoming weights (``nn.Linear`` layout), the max-norm
    constraint of Srivastava et al. 2014 used by Martinez et al. Returns ``weight``.
    """
    norms = torch.linalg.vector_norm(weight, dim=1, keepdim=True)  # (C_out, 1)
    # clamp(min=max_norm) keeps the scale <= 1 and avoids 0/0 for an all-zero row.
    weight.mul_(max_norm / norms.clamp(min=max_norm))
    return weight


class LiftingModel(nn.Module):
    """Base of the lifting models: skeleton, input checks, normalization buffers, max-norm.

    Subclasses set ``self.config`` (with ``max_norm``) and implement ``forward``.

    Shapes:
        input_mean, input_std: (J, 2) buffers (see the module docstring).
    """

    config: object
    input_mean: Tensor
    input_std: Tensor

    def __init__(self, skeleton: str | Skeleton) -> None:
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.num_joints = self.skeleton.num_joints
        self.register_buffer("input_mean", torch.zeros(self.num_joints, 2))
        self.register_buffer("input_std", torch.ones(self.num_joints, 2))

    @torch.no_grad()
    def set_input_normalization(self, mean: Tensor, std: Tensor) -> None:
        """Store training-input statistics; ``forward`` then normalizes its input with them.

        Shapes:
            mean, std: (J, 2), in the units of ``keypoints2d``; ``std > 0``.
        """
        J = self.num_joints
        check_shape(mean, "mean", f"{J} 2")
        check_shape(std, "std", f"{J} 2")
        std = torch.as_tensor(std)
        if not bool((std > 0).all()):
            raise ValueError("std: expected every entry > 0")
        self.input_mean.copy_(torch.as_tensor(mean))
        self.input_std.copy_(std)

    def prepare_input(
        self, keypoints2d: Tensor, visibility: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Check shapes, normalize, and zero the invisible joints.

        Shapes:
            keypoints2d: (B, J, 2), any float dtype; NaN allowed at invisible joints.
            visibility: (B, J) or None (all visible).
            returns: x (B, J, 2) normalized, with 0 at invisible joints; visible (B, J) bool.
        """
        J = self.num_joints
        dims = check_shape(keypoints2d, "keypoints2d", f"B {J} 2")  # J literal: a clear message
        if not keypoints2d.is_floating_point():
            raise ValueError(f"keypoints2d: expected a float tensor, got {keypoints2d.dtype}")
        if visibility is None:
            visible = torch.ones(keypoints2d.shape[:2], dtype=torch.bool, device=keypoints2d.device)
        else:
            check_shape(visibility, "visibility", f"B {J}", dims)
            visible = visibility > 0  # (B, J)
        x = (keypoints2d - self.input_mean) / self.input_std  # (B, J, 2)
        # where, not a product: an invisible joint may hold NaN, and NaN * 0 is NaN.
        x = torch.where(visible[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        return x, visible

    def example_input(self, batch_size: int = 2) -> dict[str, Tensor]:
        """A deterministic dummy input for ``forward``: keypoints drawn around ``input_mean``.

        Shapes:
            returns: ``{"keypoints2d": (B, J, 2), "visibility": (B, J)}`` on the model's
            device, in the dtype of its parameters.
        """
        ref = next(self.parameters())
        gen = torch.Generator().manual_seed(0)
        noise = torch.randn(batch_size, self.num_joints, 2, generator=gen)
        keypoints2d = self.input_mean.cpu() + self.input_std.cpu() * noise  # (B, J, 2)
        return {
            "keypoints2d": keypoints2d.to(device=ref.device, dtype=ref.dtype),
            "visibility": torch.ones(
                batch_size, self.num_joints, device=ref.device, dtype=ref.dtype
            ),
        }

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of what ``forward`` returns: ``{"joints3d": (B, J, 3)}``."""
        return {"joints3d": (batch_size, self.num_joints, 3)}

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float = 1.0) -> None:
        """Project weights onto the max-norm ball; a no-op unless ``config.max_norm``.

        The training loop calls this after every optimizer step (Martinez et al.: every
        output unit's incoming weight vector has L2 norm <= 1). Applies to every
        ``nn.Linear`` and to every layer with a ``clamp_weight_norms_`` method (LCN's
        locally connected layers); biases and BN parameters are left alone.
        """
        if not getattr(self.config, "max_norm", False):
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                clamp_row_norms_(module.weight, max_norm)
            elif hasattr(module, "clamp_weight_norms_"):
                module.clamp_weight_norms_(max_norm)
