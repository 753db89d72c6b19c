"""Tests of posekit.codecs.associative_embedding: multi-person encoding, the keypoint index the
AE loss reads, and grouping three synthetic people back from hand-made heatmaps and tags."""

from __future__ import annotations

import itertools

import pytest
import torch

from posekit.codecs import AssociativeEmbedding, Heatmap2D
from posekit.losses import associative_embedding_loss

H = W = 64
h = w = 16  # stride 4: cell k is centred on input pixel 4 k + 1.5


def _cells_to_px(cells: torch.Tensor) -> torch.Tensor:
    return 4.0 * cells + 1.5


def _three_people() -> torch.Tensor:
    """(3, 5, 2) keypoints at cell centres, in three well separated columns."""
    gen = torch.Generator().manual_seed(0)
    people = []
    for col in (2, 7, 12):
        x = col + torch.randint(-1, 2, (5,), generator=gen)
        y = torch.tensor([1, 4, 7, 10, 13])
        people.append(torch.stack([x, y], -1).float())
    return _cells_to_px(torch.stack(people))


def test_encode_is_the_max_of_single_person_targets_with_cell_indices():
    codec = AssociativeEmbedding((H, W), (h, w), sigma=1.5)
    kp = _three_people()[None]  # (1, 3, 5, 2)
    vis = torch.ones(1, 3, 5)
    vis[0, 1, 2] = 0
    heatmaps, weights, index = codec.encode(kp, vis)
    single, _ = Heatmap2D((H, W), (h, w), sigma=1.5).encode(kp[0], vis[0])  # (3, 5, h, w)
    torch.testing.assert_close(heatmaps[0], single.amax(0))
    assert weights.shape == (1, 5) and bool((weights == 1).all())
    cells = ((kp - 1.5) / 4).round().long()
    expected = cells[..., 1] * w + cells[..., 0]
    expected[0, 1, 2] = -1
    assert torch.equal(index, expected)
    # a joint off the map gets index -1
    far = kp.clone()
    far[0, 0, 0] = torch.tensor([-30.0, 10.0])
    assert codec.encode(far)[2][0, 0, 0] == -1


def _hand_made_tags(kp: torch.Tensor, person_tags: list[float]) -> torch.Tensor:
    """(J, h, w) tag maps: noise everywhere, each person's value around its joints."""
    gen = torch.Generator().manual_seed(1)
    P, J, _ = kp.shape
    tags = 10.0 * torch.randn(J, h, w, generator=gen)
    cells = ((kp - 1.5) / 4).round().long()
    for p, j in itertools.product(range(P), range(J)):
        x, y = cells[p, j].tolist()
        patch = tags[j, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
        patch.copy_(person_tags[p] + 0.05 * torch.randn(patch.shape, generator=gen))
    return tags


def test_decode_recovers_three_people_from_hand_made_maps():
    codec = AssociativeEmbedding((H, W), (h, w), sigma=1.0, max_people=5)
    kp = _three_people()
    heatmaps, _, index = codec.encode(kp[None])
    tags = _hand_made_tags(kp, [-3.0, 0.0, 3.0])
    pull, push = associative_embedding_loss(tags[None], index)
    assert pull < 0.01 and push < 0.02  # the maps are what a trained network aims at
    keypoints, scores, person_scores = codec.decode(heatmaps[0], tags)
    assert keypoints.shape == (3, 5, 2) and scores.shape == (3, 5) and person_scores.shape == (3,)
    assert bool((person_scores[:-1] >= person_scores[1:]).all())
    torch.testing.assert_close(scores, torch.ones(3, 5))
    # each decoded person is exactly one ground-truth person (in some order)
    order = [int(torch.cdist(p, kp[:, 0]).argmin()) for p in keypoints[:, :1]]
    assert sorted(order) == [0, 1, 2]
    torch.testing.assert_close(keypoints, kp[order])


def test_decode_groups_by_tags_not_by_position():
    # Two people whose joints interleave in x: only the tags can tell them apart.
    kp = _cells_to_px(
        torch.tensor(
            [[[3, 2], [10, 6], [3, 10], [10, 13]], [[10, 2], [3, 6], [10, 10], [3, 13]]]
        ).float()
    )
    codec = AssociativeEmbedding((H, W), (h, w), sigma=1.0)
    heatmaps, _, _ = codec.encode(kp[None])
    tags = _hand_made_tags(kp, [1.0, 5.0])
    keypoints, _, _ = codec.decode(heatmaps[0], tags)
    assert keypoints.shape[0] == 2
    order = [int(torch.cdist(p, kp[:, 0]).argmin()) for p in keypoints[:, :1]]
    torch.testing.assert_close(keypoints, kp[order])


def test_decode_fills_missing_joints_and_handles_empty_maps():
    kp = _three_people()[:1]  # one person
    codec = AssociativeEmbedding((H, W), (h, w), sigma=1.0, detection_threshold=0.5)
    heatmaps, _, _ = codec.encode(kp[None])
    heatmaps[0, 3] *= 0.3  # joint 3 below the detection threshold: filled from its tag
    tags = _hand_made_tags(kp, [2.0])
    keypoints, scores, _ = codec.decode(heatmaps[0], tags)
    assert keypoints.shape == (1, 5, 2)
    torch.testing.assert_close(keypoints[0], kp[0])
    torch.testing.assert_close(scores[0, 3], torch.tensor(0.3))
    no_fill = AssociativeEmbedding((H, W), (h, w), detection_threshold=0.5, fill_missing=False)
    keypoints, scores, _ = no_fill.decode(heatmaps[0], tags)
    assert keypoints[0, 3].isnan().all() and scores[0, 3] == 0
    empty = codec.decode(torch.zeros(5, h, w), tags)
    assert [tuple(t.shape) for t in empty] == [(0, 5, 2), (0, 5), (0,)]
    batch = codec.decode_batch(heatmaps.expand(2, -1, -1, -1), tags[None].expand(2, -1, -1, -1))
    assert len(batch) == 2


def test_decode_checks_shapes_and_multi_dimensional_tags():
    codec = AssociativeEmbedding((H, W), (h, w), tag_dim=2)
    with pytest.raises(ValueError, match="tags"):
        codec.decode(torch.zeros(5, h, w), torch.zeros(5, h, w))
    kp = _three_people()
    heatmaps, _, _ = codec.encode(kp[None])
    t0 = _hand_made_tags(kp, [-3.0, 0.0, 3.0])
    t1 = _hand_made_tags(kp, [1.0, 1.0, 1.0])  # second component carries no information
    tags = torch.stack([t0, t1], dim=1).reshape(10, h, w)  # channel j * D + d
    keypoints, _, _ = codec.decode(heatmaps[0], tags)
    assert keypoints.shape == (3, 5, 2)
