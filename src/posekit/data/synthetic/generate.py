"""`BodySceneGenerator`: one synthetic RGB sample of one or several people, end to end.

Per sample (all randomness from the sample's own generator, so same seed → same bytes):
body shapes and poses from the engine's samplers → the anny body (`AnnyBody`) placed on the
ground with a random heading → a camera that frames the people (`CameraSampler`) → an EGL
render over a random background with per-person skin and clothing colours and a random light
→ occluders pasted over the people (Sárándi et al. 2018) → ground truth: 3D joints in camera
metres, their exact projection in pixels, visibility (in frame, not hidden by another surface
by the depth test, not under an occluder), boxes from the rendered person pixels, body
parameters in the camera frame, instance / part / occluder masks.

Convention: ``body_pose`` / ``body_transl`` are re-expressed in the camera frame: feeding them
to `AnnyBody` gives the person's vertices directly in camera coordinates (root orientation
``R_cam @ R_root``, pelvis ``R_cam @ transl + t_cam``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from posekit.data.sample import Sample
from posekit.data.synthetic.cameras import CameraSampler, project_points
from posekit.data.synthetic.occluders import (
    OCCLUDER_SHAPES,
    OccluderConfig,
    mask_box,
    paste_occluders,
    update_visibility,
    visibility_from_depth,
)
from posekit.data.synthetic.render import MeshInstance, Renderer, random_light_direction
from posekit.data.synthetic.textures import body_part_colors, random_background

__all__ = ["BodySceneGenerator", "camera_frame_body_params"]


def camera_frame_body_params(
    pose: np.ndarray, transl: np.ndarray, R: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Re-express world-frame body parameters in the camera frame (root rotates about pelvis).

    Shapes:
        pose: (P, 24, 3) axis-angle; transl: (P, 3) metres; R: (3, 3); t: (3,).
        returns: pose (P, 24, 3) with a new root rotation, transl (P, 3).
    """
    root = _rotvec_to_rotmat(pose[:, 0].astype(np.float64))  # (P, 3, 3)
    out = pose.copy()
    out[:, 0] = _rotmat_to_rotvec(np.asarray(R, np.float64) @ root)
    return out, transl @ R.T + t


# roma's conversions ported op for op to float64 numpy for a handful of rotations: the same
# formulas (Rodrigues with a first-order small-angle branch; Markley's quaternion, then the
# shortest-arc rotation vector), without ~40 torch calls' overhead (~0.8 ms a sample here).
_SINC_THRESHOLD = 2.0 * np.finfo(np.float64).eps ** (1 / 6)  # roma's inv_sinc switch


def _rotvec_to_rotmat(rotvec: np.ndarray, epsilon: float = 1e-6) -> np.ndarray:
    """(P, 3) axis-angle -> (P, 3, 3), as `roma.rotvec_to_rotmat`."""
    theta = np.linalg.norm(rotvec, axis=-1)
    k = rotvec / np.maximum(theta[:, None], epsilon)
    kx, ky, kz = k[:, 0], k[:, 1], k[:, 2]
    s, c = np.sin(theta), np.cos(theta)
    omc = 1 - c
    xs, ys, zs = kx * s, ky * s, kz * s
    xyc, xzc, yzc = kx * ky * omc, kx * kz * omc, ky * kz * omc
    xxc, yyc, zzc = kx**2 * omc, ky**2 * omc, kz**2 * omc
    rodrigues = [1 - yyc - zzc, xyc - zs, xzc + ys,
                 xyc + zs, 1 - xxc - zzc, -xs + yzc,
                 xzc - ys, xs + yzc, 1 - xxc - yyc]  # fmt: skip
    x, y, z = rotvec[:, 0], rotvec[:, 1], rotvec[:, 2]
    one = np.ones_like(x)
    first_order = [one, -z, y, z, one, -x, -y, x, one]
    R = np.stack(rodrigues, axis=-1).reshape(-1, 3, 3)
    return np.where(
        (theta < epsilon)[:, None, None], np.stack(first_order, -1).reshape(-1, 3, 3), R
    )


def _rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    """(P, 3, 3) -> (P, 3) axis-angle of norm <= pi, as `roma.rotmat_to_rotvec`."""
    A = np.swapaxes(R, -1, -2)  # Markley's attitude matrix
    a11, a12, a13, a21, a22, a23, a31, a32, a33 = A.reshape(-1, 9).T
    x = np.stack([1 + a11 - a22 - a33, a12 + a21, a13 + a31, a23 - a32,
                  a21 + a12, 1 + a22 - a33 - a11, a23 + a32, a31 - a13,
                  a31 + a13, a32 + a23, 1 + a33 - a11 - a22, a12 - a21,
                  a23 - a32, a31 - a13, a12 - a21, 1 + a11 + a22 + a33], axis=-1)  # fmt: skip
    x = x.reshape(-1, 4, 4)  # row i: 4 q_i q, XYZW
    i = np.argmax(np.diagonal(x, axis1=1, axis2=2), axis=1)
    q = x[np.arange(len(x)), i]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = q * ((q[:, 3] > 0).astype(q.dtype) * 2.0 - 1.0)[:, None]  # w > 0: angle <= pi
    half = np.arctan2(np.linalg.norm(q[:, :3], axis=1), q[:, 3])
    small = np.abs(half) < _SINC_THRESHOLD
    inv_sinc = np.where(
        small, 1 + half**2 / 6 + 7 * half**4 / 360, half / np.where(small, 1.0, np.sin(half))
    )
    return (2.0 * inv_sinc)[:, None] * q[:, :3]


class BodySceneGenerator:
    """Callable ``(index, rng) -> Sample`` making RGB person images (task ``body``).

    Args:
        size: (H, W) of the images.
        skeleton: joint layout stored in the samples: ``h36m17`` (default), ``coco17``,
            ``smpl24`` or ``anny24``.
        people: (min, max) number of people per image (default one).
        occluder_probability: chance that a sample gets occluders (default 0.5).
        occluder_shapes: the occluder shapes drawn (a subset of `OCCLUDER_SHAPES`; default
            all), e.g. shapes held out of a training augmentation for an unseen-occluder test.
        out_of_view: chance that the people are partly out of view (default 0).
        photo_probability: chance of a bundled-photo background instead of a procedural one.
        store_vertices: also store each person's vertices in camera metres (large).
        depth_tolerance_m: how far behind the rendered surface a joint may lie and still count
            as visible (joints are inside the body; see `visibility_from_depth`).
        hair_probability: chance that a person has hair (scalp in a hair colour) and, if
            > 0, every person gets dark eyebrows and eyes (`head_cue_regions`): the cues
            that tell a front view from a back view. 0 (default): bald, featureless heads,
            the renders of earlier versions.
    """

    def __init__(
        self,
        size: tuple[int, int] = (256, 256),
        skeleton: str = "h36m17",
        people: tuple[int, int] = (1, 1),
        occluder_probability: float = 0.5,
        occluder_shapes: tuple[str, ...] | list[str] | None = None,
        out_of_view: float = 0.0,
        photo_probability: float = 0.25,
        store_vertices: bool = False,
        depth_tolerance_m: float = 0.15,
        hair_probability: float = 0.0,
    ) -> None:
        from posekit.body import AnnyBody
        from posekit.data.synthetic.body_shapes import ShapeSampler
        from posekit.data.synthetic.poses import PoseSampler

        if skeleton not in ("h36m17", "coco17", "smpl24", "anny24"):
            raise ValueError(
                f"skeleton: expected h36m17, coco17, smpl24 or anny24, got {skeleton!r}"
            )
        if not 1 <= people[0] <= people[1]:
            raise ValueError(f"people: expected 1 <= min <= max, got {people}")
        self.size = (int(size[0]), int(size[1]))
        self.skeleton = skeleton
        self.people = (int(people[0]), int(people[1]))
        shapes = OCCLUDER_SHAPES if occluder_shapes is None else tuple(occluder_shapes)
        self.occluders = OccluderConfig(probability=occluder_probability, shapes=shapes)
        self.cameras = CameraSampler(image_size=self.size, out_of_view=out_of_view)
        self.photo_probability = photo_probability
        self.store_vertices = store_vertices
        self.depth_tolerance_m = depth_tolerance_m
        self.body = AnnyBody()
        self.poses = PoseSampler()
        self.shapes = ShapeSampler()
        self.faces = self.body.faces.cpu().numpy().astype(np.int32)
        self.part_ids = self.body.part_labels.cpu().numpy().astype(np.int32)
        self.part_index = {name: i for i, name in enumerate(self.body.part_names)}
        if not 0.0 <= hair_probability <= 1.0:
            raise ValueError(f"hair_probability: expected in [0, 1], got {hair_probability}")
        self.hair_probability = float(hair_probability)
        if self.hair_probability > 0:
            from posekit.data.synthetic.head_cues import head_cue_regions

            scalp, features = head_cue_regions(self.body)
            n = len(self.part_index)
            self.part_ids = self.part_ids.copy()
            self.part_ids[scalp] = n  # "hair": hair colour (or skin when bald)
            self.part_ids[features] = n + 1  # "hair_brows": always the hair colour
            self.part_index = {**self.part_index, "hair": n, "hair_brows": n + 1}
        self._renderer: Renderer | None = None  # made lazily: EGL contexts do not survive fork

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(*self.size)
        return self._renderer

    @staticmethod
    def _place(P: int, rng: np.random.Generator) -> np.ndarray:
        """Ground positions (x, y) of P people, about 0.8 m apart at least."""
        pos = np.zeros((P, 2))
        for p in range(1, P):
            for _ in range(50):  # keep ~0.8 m between people, within a few metres
                cand = rng.uniform(-1.8, 1.8, size=2)
                if np.linalg.norm(pos[:p] - cand, axis=1).min() > 0.8:
                    break
            pos[p] = cand
        return pos

    def _pose_bodies(
        self, P: int, shape: np.ndarray, rng: np.random.Generator, max_rounds: int = 20
    ) -> tuple[np.ndarray, Any]:
        """P world-frame poses (random heading) free of self-penetration, and their bodies.

        The body forward needed for the image also gives the h36m17 joints the penetration
        filter tests, so a pose costs one forward unless it is rejected (then all P are redrawn).
        """
        from posekit.data.synthetic.penetration import penetration_depth

        dt = self.body.dtype
        for _ in range(max_rounds):
            pose = self.poses.sample(P, rng).pose.astype(np.float64)  # (P, 24, 3)
            out = self.body(torch.from_numpy(pose).to(dt), torch.from_numpy(shape).to(dt))
            if bool((penetration_depth(out.joints["h36m17"].double()) <= 0).all()):
                return pose, out
        raise RuntimeError(f"no penetration-free poses for {P} people in {max_rounds} rounds")

    def _person_colors(self, rng: np.random.Generator) -> np.ndarray:
        """One person's albedo per part; bald (scalp in skin colour) with chance
        ``1 - hair_probability`` when the head cues are on (no extra draw when off)."""
        colors = body_part_colors(self.part_index, rng)
        if self.hair_probability > 0 and rng.random() >= self.hair_probability:
            colors[self.part_index["hair"]] = colors[self.part_index["head"]]
        return colors

    @torch.no_grad()
    def __call__(self, index: int, rng: np.random.Generator) -> Sample:
        H, W = self.size
        P = int(rng.integers(self.people[0], self.people[1] + 1))
        shape = self.shapes.sample(P, rng)  # (P, 6)
        ground = self._place(P, rng)
        pose, out = self._pose_bodies(P, shape, rng)
        verts = out.vertices.double().numpy()  # (P, V, 3), pelvis at the origin
        # Stand every person on the ground plane z = 0 at their spot.
        transl = np.concatenate([ground, -verts[:, :, 2].min(1, keepdims=True)], axis=1)
        verts = verts + transl[:, None]
        joints_w = out.joints[self.skeleton].double().numpy() + transl[:, None]

        cam = self.cameras.sample(verts[:, ::16].reshape(-1, 3), rng)
        R, t, K = cam.R, cam.t, cam.K.astype(np.float64)
        verts_c = verts @ R.T + t  # (P, V, 3)
        joints3d = (joints_w @ R.T + t).astype(np.float32)  # (P, J, 3)
        keypoints2d = project_points(joints3d.astype(np.float64), K).astype(np.float32)

        background = random_background(rng, H, W, photo_probability=self.photo_probability)
        meshes = [
            MeshInstance(
                vertices=verts_c[p].astype(np.float32),
                faces=self.faces,
                part_ids=self.part_ids,
                part_colors=self._person_colors(rng),
            )
            for p in range(P)
        ]
        light = random_light_direction(rng)
        r = self.renderer.render(meshes, cam.K, background=background, light_dir=light)

        visibility = np.zeros(keypoints2d.shape[:2], bool)
        bbox = np.zeros((P, 4), np.float32)
        for p in range(P):
            visibility[p] = visibility_from_depth(
                keypoints2d[p],
                joints3d[p, :, 2],
                r.depth,
                tolerance_m=self.depth_tolerance_m,
                instance_mask=r.instance_mask,
                instance_id=p,
            )
            box = mask_box(r.instance_mask == p)
            if box is not None:  # box of the rendered pixels (edges of the outermost pixels)
                bbox[p] = box
            else:  # hidden entirely: the projected body's box, clipped to the image
                uv = project_points(verts_c[p, ::16], K)
                lo = np.clip(uv.min(0), -0.5, [W - 0.5, H - 0.5])
                hi = np.clip(uv.max(0), -0.5, [W - 0.5, H - 0.5])
                bbox[p] = (*lo, *hi)
        image, occ = paste_occluders(r.rgb, rng, person_boxes=bbox, config=self.occluders)
        visibility = update_visibility(keypoints2d, visibility, occ)

        pose_c, transl_c = camera_frame_body_params(pose, transl, R, t)
        meta: dict[str, Any] = {
            "index": int(index),
            "source": "posekit-synthetic-body",
            "R_world_to_cam": R.tolist(),
            "t_world_to_cam_m": t.tolist(),
        }
        masks = {"instance": r.instance_mask, "part": r.part_mask, "occluder": occ}
        sample = Sample(
            image=image,
            keypoints2d=keypoints2d,
            visibility=visibility,
            joints3d=joints3d,
            K=cam.K,
            bbox=bbox,
            skeleton=self.skeleton,
            body_pose=pose_c.astype(np.float32),
            body_shape=shape.astype(np.float32),
            body_transl=transl_c.astype(np.float32),
            vertices=verts_c.astype(np.float32) if self.store_vertices else None,
            masks=masks,
            meta=meta,
        )
        return sample
