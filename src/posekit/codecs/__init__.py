"""Codecs: keypoints → training targets (encode) and network outputs → keypoints (decode).

One codec object serves the dataset (``encode``) and the predictor (``decode``). All codecs are
batched torch, pure maths (no NaN scan, except that ``encode`` treats a NaN keypoint as
invisible), and share one coordinate convention.

Shapes:
    B batch, J joints, D depth bins, H/W map size, N points.

Convention:
    Pixel centres at integer coordinates; an axis of ``L`` pixels spans ``[-0.5, L - 0.5]``.
    Inputs and maps are aligned by these outer edges (the convention of
    ``torch.nn.functional.grid_sample(align_corners=False)``):
    ``u_map = (x_in + 0.5) * L_map / L_in - 0.5``. Sizes are (H, W) (and (D, H, W));
    coordinates are (x, y) and (x, y, z); 3D in metres.

Modules:
    heatmap2d: `Heatmap2D`, Gaussian heatmaps with DARK / quarter-offset / soft-argmax decoding.
    soft_argmax: `soft_argmax_2d`, `soft_argmax_3d`, differentiable integral regression.
    volumetric3d: `Volumetric3D`, (pixels, root-relative depth) volumes.
    regression: `Regression2D`, normalised coordinates for DeepPose, `ALIGN_CORNERS`.
    associative_embedding: `AssociativeEmbedding`, multi-person heatmaps + tags (Newell 2017).
    voxel: `VoxelCodec`, `depth_to_points`, V2V-PoseNet occupancy and per-voxel targets.
"""

from __future__ import annotations

from posekit.codecs.associative_embedding import AssociativeEmbedding
from posekit.codecs.heatmap2d import Decode2DMethod, Heatmap2D, gaussian_blur_2d, taylor_refine_2d
from posekit.codecs.regression import ALIGN_CORNERS, Regression2D
from posekit.codecs.soft_argmax import soft_argmax_2d, soft_argmax_3d
from posekit.codecs.volumetric3d import DecodeVolumeMethod, Volumetric3D
from posekit.codecs.voxel import VoxelCodec, depth_to_points

__all__ = [
    "ALIGN_CORNERS",
    "AssociativeEmbedding",
    "Decode2DMethod",
    "DecodeVolumeMethod",
    "Heatmap2D",
    "Regression2D",
    "Volumetric3D",
    "VoxelCodec",
    "depth_to_points",
    "gaussian_blur_2d",
    "soft_argmax_2d",
    "soft_argmax_3d",
    "taylor_refine_2d",
]
