"""Geometry: rotations, cameras and projection, affine crops.

Pure, differentiable maths on torch tensors with any leading batch dims (image warping is
numpy/OpenCV). Conventions: metres and pixels, pixel centres at integer coordinates, camera
frame OpenCV (x right, y down, z forward) with ``x_cam = R @ x_world + t``, quaternions xyzw,
angles in radians.
"""

from __future__ import annotations

from posekit.geometry.camera import (
    Camera,
    camera_to_world,
    distort,
    intrinsics_matrix,
    perspective_transl_to_weak,
    project,
    unproject,
    weak_perspective_project,
    weak_to_perspective_transl,
    world_to_camera,
)
from posekit.geometry.crops import (
    apply_affine,
    bbox_to_center_scale,
    crop_matrix,
    invert_affine,
    normalized_to_pixels,
    pixels_to_normalized,
    warp_image,
)
from posekit.geometry.procrustes import Similarity, procrustes, procrustes_align, scale_align
from posekit.geometry.rotations import (
    euler_to_rotmat,
    quat_to_rotmat,
    quat_to_rotvec,
    rot6d_to_rotmat,
    rotmat_geodesic_distance,
    rotmat_to_euler,
    rotmat_to_quat,
    rotmat_to_rot6d,
    rotmat_to_rotvec,
    rotvec_to_quat,
    rotvec_to_rotmat,
)

__all__ = [
    "Camera",
    "Similarity",
    "apply_affine",
    "bbox_to_center_scale",
    "camera_to_world",
    "crop_matrix",
    "distort",
    "euler_to_rotmat",
    "intrinsics_matrix",
    "invert_affine",
    "normalized_to_pixels",
    "perspective_transl_to_weak",
    "pixels_to_normalized",
    "procrustes",
    "procrustes_align",
    "project",
    "quat_to_rotmat",
    "quat_to_rotvec",
    "rot6d_to_rotmat",
    "rotmat_geodesic_distance",
    "rotmat_to_euler",
    "rotmat_to_quat",
    "rotmat_to_rot6d",
    "rotmat_to_rotvec",
    "rotvec_to_quat",
    "rotvec_to_rotmat",
    "scale_align",
    "unproject",
    "warp_image",
    "weak_perspective_project",
    "weak_to_perspective_transl",
    "world_to_camera",
]
