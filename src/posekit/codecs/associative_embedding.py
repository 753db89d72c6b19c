"""Associative embedding (Newell, Huang & Deng 2017): multi-person heatmaps + tags ↔ people.

Shapes:
    B batch, P people (padded), J joints, D tag dimensions, K candidates per joint, N decoded
    people, H/W input size, h/w heatmap size.

A bottom-up network predicts, for the whole image, one heatmap per joint type holding the
joints of every person, and D tag maps per joint type; the joints of one person should carry
similar tags (`posekit.losses.associative_embedding_loss` pulls them together and pushes the
people's mean tags apart). Decoding groups detections into people:

1. candidates: the local maxima (3x3 non-maximum suppression) of every heatmap, the top K per
   joint (``K = max_people``) above ``detection_threshold``, with their tags;
2. grouping, joint by joint in ``joint_order``: the candidates of the next joint are matched to
   the people found so far by the Hungarian algorithm
   (``scipy.optimize.linear_sum_assignment``) on the cost ``||tag - person mean tag|| -
   value_weight * heatmap value``; a match farther than ``tag_threshold`` in tag space, or an
   unmatched candidate, starts a new person (up to ``max_people``);
3. each person's missing joints are filled, if ``fill_missing``, at the cell maximizing
   ``heatmap - ||tag - person mean tag||`` (Newell's refinement), scored by the heatmap there;
4. positions: the cell refined by a quarter cell towards the higher neighbour (Newell 2016),
   mapped to input pixels with the codecs' edge-aligned convention.

Person score: the mean of its J joint scores times ``exp(-s / 2)``, s the mean squared
distance of its grouped joints' tags to their mean (a person whose tags agree scores higher).
People are returned best first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from posekit._checks import check_shape
from posekit.codecs._common import (
    as_size,
    check_float,
    edge_scale,
    input_to_map,
    map_to_input,
    positive_float,
    visible_mask,
)
from posekit.codecs.heatmap2d import Heatmap2D

__all__ = ["AssociativeEmbedding"]


@dataclass(frozen=True)
class AssociativeEmbedding:
    """Multi-person heatmap + tag codec for bottom-up pose estimation (Newell 2017).

    Shapes:
        encode: keypoints (B, P, J, 2), visibility (B, P, J) → heatmaps (B, J, h, w), weights
        (B, J), keypoint_index (B, P, J).
        decode (one image): heatmaps (J, h, w), tags (J * D, h, w) → keypoints (N, J, 2),
        scores (N, J), person_scores (N,).

    Convention:
        Keypoints (x, y) in input pixels, pixel centres at integer coordinates; the heatmap is
        edge-aligned with the input (see `posekit.codecs`), ``sigma`` in heatmap cells. Tag
        channel ``j * D + d`` is component d of joint j's tag (the ``"tags"`` output of the
        ``hourglass`` model with ``tag_dim = D``).

    Attributes:
        input_size: (H, W) of the network input.
        heatmap_size: (h, w) of the heatmaps and tag maps (each >= 3).
        sigma: Gaussian standard deviation of the heatmap targets, in cells.
        tag_dim: D.
        max_people: most people decoded (and candidates kept per joint).
        detection_threshold: minimum heatmap value of a candidate.
        tag_threshold: largest tag distance at which a candidate joins a person.
        value_weight: weight of the heatmap value in the matching cost.
        joint_order: joint indices in grouping order (default 0..J-1; put reliable joints
            first).
        fill_missing: fill each person's undetected joints (see the module docstring).
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float = 2.0
    tag_dim: int = 1
    max_people: int = 30
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    value_weight: float = 0.1
    joint_order: tuple[int, ...] | None = None
    fill_missing: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", as_size(self.input_size, 2, "input_size"))
        object.__setattr__(
            self, "heatmap_size", as_size(self.heatmap_size, 2, "heatmap_size", minimum=3)
        )
        object.__setattr__(self, "sigma", positive_float(self.sigma, "sigma"))
        object.__setattr__(
            self, "tag_threshold", positive_float(self.tag_threshold, "tag_threshold")
        )
        if self.tag_dim < 1 or self.max_people < 1:
            raise ValueError(
                f"tag_dim and max_people: expected >= 1, got {self.tag_dim}, {self.max_people}"
            )
        if self.joint_order is not None:
            object.__setattr__(self, "joint_order", tuple(int(j) for j in self.joint_order))

    @property
    def heatmap_codec(self) -> Heatmap2D:
        """The single-person `Heatmap2D` whose targets are combined per joint type."""
        return Heatmap2D(self.input_size, self.heatmap_size, self.sigma)

    def _scale(self, like: Tensor) -> Tensor:
        (H, W), (h, w) = self.input_size, self.heatmap_size
        return edge_scale((w, h), (W, H), like)

    # ------------------------------------------------------------------ encode

    def encode(
        self, keypoints: Tensor, visibility: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Multi-person heatmap targets and the joint cell indices the AE loss reads tags at.

        Shapes:
            keypoints: (B, P, J, 2) input pixels; padded people have visibility 0 (or NaN).
            visibility: (B, P, J), used where > 0; None: all.
            returns: heatmaps (B, J, h, w), the pixel-wise max over people of their Gaussians;
            weights (B, J), all 1 (an empty map is a valid target: "no such joint here");
            keypoint_index (B, P, J) int64, the flat cell ``y * w + x`` of each used joint
            whose nearest cell lies on the map, -1 otherwise.
        """
        dims = check_shape(keypoints, "keypoints", "B P J 2")
        check_float(keypoints, "keypoints")
        B, P, J = dims["B"], dims["P"], dims["J"]
        flat_kp = keypoints.reshape(B * P, J, 2)
        flat_vis = None if visibility is None else visibility.reshape(B * P, J)
        if visibility is not None:
            check_shape(visibility, "visibility", "B P J", dims)
        maps, _ = self.heatmap_codec.encode(flat_kp, flat_vis)  # (B P, J, h, w)
        h, w = self.heatmap_size
        heatmaps = maps.reshape(B, P, J, h, w).amax(dim=1) if P > 0 else maps.new_zeros(B, J, h, w)
        used = visible_mask(flat_kp, flat_vis, {"B": B * P, "J": J}).reshape(B, P, J)
        cell = torch.round(
            input_to_map(torch.where(used[..., None], keypoints, 0.0), self._scale(keypoints))
        )
        inside = (
            (cell[..., 0] >= 0)
            & (cell[..., 0] <= w - 1)
            & (cell[..., 1] >= 0)
            & (cell[..., 1] <= h - 1)
        )
        index = (cell[..., 1] * w + cell[..., 0]).long()
        keypoint_index = torch.where(used & inside, index, torch.full_like(index, -1))
        weights = torch.ones(B, J, dtype=keypoints.dtype, device=keypoints.device)
        return heatmaps, weights, keypoint_index

    # ------------------------------------------------------------------ decode

    def decode(self, heatmaps: Tensor, tags: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Group one image's detections into people.

        Shapes:
            heatmaps: (J, h, w); tags: (J * D, h, w).
            returns: keypoints (N, J, 2) input pixels (x, y), scores (N, J) heatmap values,
            person_scores (N,), sorted by decreasing person score; N <= ``max_people``. In
            the dtype and on the device of ``heatmaps``.

        Convention:
            Joints neither grouped nor filled (``fill_missing=False``) have score 0 and NaN
            coordinates.
        """
        h, w = self.heatmap_size
        dims = check_shape(heatmaps, "heatmaps", f"J {h} {w}")
        check_shape(tags, "tags", f"{dims['J'] * self.tag_dim} {h} {w}")
        check_float(heatmaps, "heatmaps")
        check_float(tags, "tags")
        J, D = dims["J"], self.tag_dim
        order = self.joint_order if self.joint_order is not None else tuple(range(J))
        if sorted(order) != list(range(J)):
            raise ValueError(f"joint_order: expected a permutation of 0..{J - 1}, got {order}")
        hm = heatmaps.detach().float().cpu()
        tg = tags.detach().float().cpu().reshape(J, D, h * w)
        # 1. candidates: local maxima, top K per joint.
        pooled = F.max_pool2d(hm[None], 3, stride=1, padding=1)[0]
        peaks = torch.where(hm == pooled, hm, torch.zeros(())).reshape(J, h * w)
        K = min(self.max_people, h * w)
        values, cells = peaks.topk(K, dim=-1)  # (J, K)
        cand_tags = tg.gather(2, cells[:, None, :].expand(J, D, K)).permute(0, 2, 1)  # (J, K, D)
        values_np, cells_np, tags_np = values.numpy(), cells.numpy(), cand_tags.numpy()
        # 2. greedy joint-by-joint grouping.
        cell_of = np.full((0, J), -1, dtype=np.int64)  # (G, J) chosen cell per person
        value_of = np.zeros((0, J), dtype=np.float32)
        tag_sum = np.zeros((0, D), dtype=np.float64)
        tag_sq: list[list[np.ndarray]] = []
        for j in order:
            keep = values_np[j] > self.detection_threshold
            c_cells, c_vals, c_tags = cells_np[j][keep], values_np[j][keep], tags_np[j][keep]
            new_rows: list[int] = list(range(len(c_cells)))
            if len(cell_of) and len(c_cells):
                means = tag_sum / np.array([len(t) for t in tag_sq])[:, None]  # (G, D)
                dist = np.linalg.norm(c_tags[:, None, :] - means[None], axis=-1)  # (n, G)
                cost = dist - self.value_weight * c_vals[:, None]
                rows, cols = linear_sum_assignment(cost)
                new_rows = sorted(set(new_rows) - set(rows.tolist()))
                for r, g in zip(rows.tolist(), cols.tolist()):
                    if dist[r, g] < self.tag_threshold:
                        cell_of[g, j], value_of[g, j] = c_cells[r], c_vals[r]
                        tag_sum[g] += c_tags[r]
                        tag_sq[g].append(c_tags[r])
                    else:
                        new_rows.append(r)
            for r in sorted(new_rows, key=lambda r: -c_vals[r]):
                if len(cell_of) >= self.max_people:
                    break
                row = np.full((1, J), -1, dtype=np.int64)
                row[0, j] = c_cells[r]
                vrow = np.zeros((1, J), dtype=np.float32)
                vrow[0, j] = c_vals[r]
                cell_of, value_of = np.concatenate([cell_of, row]), np.concatenate([value_of, vrow])
                tag_sum = np.concatenate([tag_sum, c_tags[r][None].astype(np.float64)])
                tag_sq.append([c_tags[r]])
        G = len(cell_of)
        if G == 0:
            empty = heatmaps.new_zeros(0, J)
            return heatmaps.new_zeros(0, J, 2), empty, heatmaps.new_zeros(0)
        means = torch.from_numpy(tag_sum / np.array([len(t) for t in tag_sq])[:, None]).float()
        spread = torch.tensor(
            [
                float(np.mean(np.sum((np.stack(t) - m.numpy()) ** 2, -1)))
                for t, m in zip(tag_sq, means)
            ]
        )  # (G,)
        cell_t = torch.from_numpy(cell_of)  # (G, J)
        score_t = torch.from_numpy(value_of)  # (G, J)
        # 3. fill missing joints where heatmap - tag distance is highest.
        missing = cell_t < 0
        if self.fill_missing and bool(missing.any()):
            dist = torch.linalg.vector_norm(tg[None] - means[:, None, :, None], dim=2)  # (G, J, hw)
            best = (hm.reshape(1, J, h * w) - dist).argmax(dim=-1)  # (G, J)
            cell_t = torch.where(missing, best, cell_t)
            filled = hm.reshape(J, h * w).gather(1, best.T).T  # (G, J)
            score_t = torch.where(missing, filled, score_t)
        # 4. sub-cell positions and input pixels.
        located = cell_t >= 0
        safe = cell_t.clamp(min=0)
        coords = _quarter_refine(hm, safe % w, safe // w)  # (G, J, 2) map cells
        keypoints = map_to_input(coords, self._scale(coords))
        keypoints = torch.where(
            located[..., None], keypoints, torch.full_like(keypoints, float("nan"))
        )
        person = score_t.mean(dim=-1) * torch.exp(-0.5 * spread)  # (G,)
        rank = person.argsort(descending=True)
        out = dict(device=heatmaps.device, dtype=heatmaps.dtype)
        return keypoints[rank].to(**out), score_t[rank].to(**out), person[rank].to(**out)

    def decode_batch(self, heatmaps: Tensor, tags: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
        """`decode` of every image of a batch (grouping is sequential per image).

        Shapes:
            heatmaps: (B, J, h, w); tags: (B, J * D, h, w) → B tuples as `decode` returns.
        """
        dims = check_shape(heatmaps, "heatmaps", "B J h w")
        check_shape(tags, "tags", "B * h w", dims)
        return [self.decode(hm, tg) for hm, tg in zip(heatmaps, tags)]


def _quarter_refine(hm: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """Cells (ix, iy) moved a quarter cell towards the higher neighbour on each axis.

    Shapes:
        hm: (J, h, w); ix, iy: (G, J) → (G, J, 2) (x, y) in map cells. Border cells are not
        shifted along the axis that lacks a neighbour.
    """
    J, h, w = hm.shape
    flat = hm.reshape(J, h * w)

    def at(r: Tensor, c: Tensor) -> Tensor:  # value of joint j's map at (r, c), (G, J)
        index = (r.clamp(0, h - 1) * w + c.clamp(0, w - 1)).T  # (J, G)
        return flat.gather(1, index).T

    dx = torch.sign(at(iy, ix + 1) - at(iy, ix - 1)) * ((ix >= 1) & (ix <= w - 2))
    dy = torch.sign(at(iy + 1, ix) - at(iy - 1, ix)) * ((iy >= 1) & (iy <= h - 2))
    return torch.stack([ix + 0.25 * dx, iy + 0.25 * dy], dim=-1).to(hm.dtype)
