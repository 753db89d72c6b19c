"""3D human pose from an RGB crop: per-joint volumes over (root-relative depth, crop y, crop x)
or normalised coordinates.

Models (registered names): ``volumetric`` (coarse-to-fine stacked hourglass, Pavlakos et al.
2017), ``integral`` (ResNet + deconvolution head, soft-argmax readout, Sun et al. 2018 /
Sárándi et al. 2018) and ``direct`` (pooled features → MLP → coordinates). Importing this
package imports (and so registers) the three.

Sizes of the presets (h36m17; `count_parameters`, `count_flops`: FLOPs per sample of one
forward pass, a multiply-add counting 2)::

    model       preset  input      parameters   GFLOPs
    volumetric  tiny    128x128       391,432     0.38   (2 stacks of 64, 8 / 32 bins, 32x32)
    volumetric  full    256x256    13,170,231    32.0    (4 stacks of 256, 1/2/4/64 bins, 64x64)
    integral    tiny    128x128     1,659,200     0.29   (4-stage ResNet, 32 bins, 32x32)
    integral    full    256x256    15,651,968     9.97   (ResNet-18, 64 bins, 64x64)
    direct      tiny    128x128     1,387,987     0.17
    direct      full    256x256    11,754,099     4.74

At the CPU recipes' 64x64 input the tiny presets cost a quarter of these FLOPs.
"""

from __future__ import annotations

from posekit.models.pose3d.integral import DirectConfig, DirectPose3D, IntegralConfig, IntegralPose
from posekit.models.pose3d.volumetric import VolumetricConfig, VolumetricPose

__all__ = [
    "DirectConfig",
    "DirectPose3D",
    "IntegralConfig",
    "IntegralPose",
    "VolumetricConfig",
    "VolumetricPose",
]
