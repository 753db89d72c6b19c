"""Data sources of the ``pose3d`` task: sequences of `Sample` with images, 3D joints in camera
metres and (for absolute 3D) the intrinsics.

Every factory is ``factory(split, seed, **params)``; the task wraps the result in
`posekit.data.pose3d.Pose3DCrops`.

- ``synthetic_body3d``: the engine's rendered anny bodies (`posekit.tasks.pose2d.sources.
  synthetic_body`) with the pose3d defaults: h36m17 joints, no occluders in the renders (the
  occlusion augmentation pastes them onto training crops; ``val_occluder_probability: 1`` with
  ``val_occluder_shapes: [blob, gift]`` gives the test set of unseen occluders), hair.
- ``h36m_images``: Human3.6M frames in MMPose's annotation npz with the cameras
  (`posekit.data.datasets.h36m_images.H36MImageDataset`).
- ``mpi_inf_3dhp``: the MPI-INF-3DHP test set (`posekit.data.datasets.mpi_inf_3dhp`).
"""

from __future__ import annotations

from typing import Any

from posekit.tasks.pose2d.sources import _require
from posekit.tasks.pose2d.sources import synthetic_body as _synthetic_body

__all__ = ["h36m_images", "mpi_inf_3dhp", "synthetic_body3d"]


def synthetic_body3d(
    split: str,
    seed: int,
    *,
    num: int = 8192,
    skeleton: str = "h36m17",
    occluder_probability: float = 0.0,
    hair_probability: float = 0.85,
    **params: Any,
) -> Any:
    """Rendered bodies with 3D ground truth; every parameter of
    `posekit.tasks.pose2d.sources.synthetic_body` passes through (the defaults differ: see the
    module docstring)."""
    return _synthetic_body(
        split,
        seed,
        num=num,
        skeleton=skeleton,
        occluder_probability=occluder_probability,
        hair_probability=hair_probability,
        **params,
    )


def h36m_images(
    split: str,
    seed: int,
    *,
    annotations: str | None = None,
    image_dir: str | None = None,
    cameras: str | None = None,
    **kw: Any,
) -> Any:
    """Human3.6M frames: MMPose's annotation npz (``annotations``), the images (``image_dir``,
    default the npz's folder) and ``cameras.pkl`` (``cameras``: the intrinsics; without it no
    absolute 3D). Other parameters (``subjects``, ``protocol``, ``stride``) pass through.

    Raises:
        ValueError: ``annotations`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets.h36m_images import H36MImageDataset

    what = "MMPose's Human3.6M annotation npz; images from image_dir, intrinsics from cameras"
    annotations = _require("h36m_images", split, "annotations", annotations, what)
    return H36MImageDataset(annotations, image_dir=image_dir, cameras=cameras, **kw)


def mpi_inf_3dhp(split: str, seed: int, *, root: str | None = None, **kw: Any) -> Any:
    """The MPI-INF-3DHP test set (``root``: the folder with TS1..TS6); other parameters
    (``sequences``, ``stride``, ...) pass through.

    Raises:
        ValueError: ``root`` missing (the message names the ``--set`` to give).
    """
    from posekit.data.datasets.mpi_inf_3dhp import MPIInf3DHPTest

    root = _require("mpi_inf_3dhp", split, "root", root, "the mpi_inf_3dhp_test_set folder")
    return MPIInf3DHPTest(root, **kw)
