"""3D human pose from an RGB crop: per-joint volumes over (root-relative depth, crop y, crop x)
or normalised coordinates.

Models (registered names): ``volumetric`` (coarse-to-fine stacked hourglass, Pavlakos et al.
2017), ``integral`` (ResNet + deconvolution head, soft-argmax readout, Sun et al. 2018 /
Sárándi et al. 2018) and ``direct`` (pooled features → MLP → coordinates). Importing this
package imports (and so registers) the three.
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
