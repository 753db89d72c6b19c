"""Tests of posekit.losses.pose2d against naive per-element references: heatmap MSE over
stacks, per-stage L1, associative embedding pull / push, compositional multi-level loss."""

from __future__ import annotations

import itertools

import pytest
import torch

from posekit.losses import (
    associative_embedding_loss,
    compositional_heatmap_loss,
    heatmap_mse_loss,
    stage_l1_loss,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_heatmap_mse_matches_a_naive_reference_over_stacks():
    g = _gen()
    pred = torch.rand(3, 2, 4, 5, 6, generator=g, dtype=torch.float64)
    target = torch.rand(3, 4, 5, 6, generator=g, dtype=torch.float64)
    weights = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=torch.float64)
    per_stack = []
    for s in range(2):
        num, den = 0.0, 0.0
        for b, j in itertools.product(range(3), range(4)):
            num += weights[b, j] * ((pred[b, s, j] - target[b, j]) ** 2).mean()
            den += weights[b, j]
        per_stack.append(num / den)
    torch.testing.assert_close(heatmap_mse_loss(pred, target, weights), sum(per_stack) / 2)
    # no stack axis = one stack; None = all weights 1
    torch.testing.assert_close(
        heatmap_mse_loss(pred[:, 0], target), ((pred[:, 0] - target) ** 2).mean()
    )


def test_heatmap_mse_ignores_nan_targets_at_masked_joints_and_checks_shapes():
    pred = torch.rand(2, 3, 4, 4, requires_grad=True)
    target = torch.rand(2, 3, 4, 4)
    target[0, 1] = float("nan")
    weights = torch.ones(2, 3, dtype=torch.bool)
    weights[0, 1] = False
    loss = heatmap_mse_loss(pred, target, weights)
    loss.backward()
    assert loss.isfinite() and pred.grad.isfinite().all()
    assert heatmap_mse_loss(pred, target, torch.zeros(2, 3)) == 0
    with pytest.raises(ValueError, match=r"pred: expected \(B, S, J, h, w\)"):
        heatmap_mse_loss(pred, target[:, :2])


def test_stage_l1_matches_a_naive_reference():
    g = _gen(1)
    pred = torch.randn(2, 3, 5, 2, generator=g, dtype=torch.float64)
    target = torch.randn(2, 5, 2, generator=g, dtype=torch.float64)
    weights = torch.rand(2, 5, generator=g, dtype=torch.float64)
    expected = 0.0
    for s in range(3):
        num = sum(
            weights[b, j] * (pred[b, s, j] - target[b, j]).abs().mean()
            for b in range(2)
            for j in range(5)
        )
        expected += num / weights.sum() / 3
    torch.testing.assert_close(stage_l1_loss(pred, target, weights), expected)
    torch.testing.assert_close(
        stage_l1_loss(pred[:, -1], target), (pred[:, -1] - target).abs().mean()
    )


def _naive_ae(tags, index, D, sigma=1.0):
    """Pull and push per image with Python loops, then the batch mean."""
    B = tags.shape[0]
    P, J = index.shape[1:]
    pulls, pushes = [], []
    for b in range(B):
        means, pull_terms = [], []
        for p in range(P):
            vecs = [
                torch.stack([tags[b, j * D + d].flatten()[index[b, p, j]] for d in range(D)])
                for j in range(J)
                if index[b, p, j] >= 0
            ]
            if not vecs:
                continue
            m = torch.stack(vecs).mean(0)
            means.append(m)
            pull_terms.append(torch.stack([((v - m) ** 2).sum() for v in vecs]).mean())
        n = len(means)
        pulls.append(torch.stack(pull_terms).mean() if n else torch.tensor(0.0).double())
        push = torch.tensor(0.0).double()
        for a, c in itertools.permutations(range(n), 2):
            push = push + torch.exp(-((means[a] - means[c]) ** 2).sum() / (2 * sigma**2))
        pushes.append(push / (n * (n - 1)) if n > 1 else push)
    return torch.stack(pulls).mean(), torch.stack(pushes).mean()


@pytest.mark.parametrize("D", [1, 2])
def test_associative_embedding_loss_matches_a_naive_reference(D):
    g = _gen(2)
    B, P, J, h, w = 3, 4, 5, 6, 7
    tags = torch.randn(B, J * D, h, w, generator=g, dtype=torch.float64)
    index = torch.randint(0, h * w, (B, P, J), generator=g)
    index[torch.rand(B, P, J, generator=g) < 0.3] = -1
    index[0, 1:] = -1  # image 0: one person, push 0
    index[1] = -1  # image 1: nobody
    pull, push = associative_embedding_loss(tags, index, tag_dim=D, push_sigma=0.7)
    ref_pull, ref_push = _naive_ae(tags, index, D, sigma=0.7)
    torch.testing.assert_close(pull, ref_pull)
    torch.testing.assert_close(push, ref_push)
    # stacks: the mean over S
    stacked = torch.stack([tags, 2 * tags], dim=1)
    pull2, push2 = associative_embedding_loss(stacked, index, tag_dim=D, push_sigma=0.7)
    ref2 = _naive_ae(2 * tags, index, D, sigma=0.7)
    torch.testing.assert_close(pull2, (ref_pull + ref2[0]) / 2)
    torch.testing.assert_close(push2, (ref_push + ref2[1]) / 2)


def test_associative_embedding_loss_is_zero_pull_for_constant_tags_and_rejects_bad_index():
    tags = torch.zeros(1, 3, 4, 4)
    tags[:, :, :2] = 5.0  # person 0 in the top half, person 1 in the bottom half
    index = torch.tensor([[[0, 1, 2], [12, 13, -1]]])
    pull, push = associative_embedding_loss(tags, index)
    assert pull == 0
    torch.testing.assert_close(push, torch.exp(torch.tensor(-12.5)))
    with pytest.raises(ValueError, match="h \\* w"):
        associative_embedding_loss(tags, torch.full((1, 2, 3), 16))


def test_compositional_loss_is_the_weighted_sum_of_level_losses():
    g = _gen(3)
    sizes = [5, 3, 1]
    preds = [torch.rand(2, 2, p, 4, 4, generator=g) for p in sizes]
    targets = [torch.rand(2, p, 4, 4, generator=g) for p in sizes]
    weights = [torch.ones(2, p) for p in sizes]
    loss = compositional_heatmap_loss(preds, targets, weights, level_weights=[1.0, 0.5, 0.25])
    expected = sum(f * heatmap_mse_loss(p, t) for p, t, f in zip(preds, targets, [1.0, 0.5, 0.25]))
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match="levels"):
        compositional_heatmap_loss(preds, targets[:2])


def test_heatmap_foreground_weight_matches_a_naive_reference() -> None:
    from posekit.losses.pose2d import heatmap_mse_loss

    g = torch.Generator().manual_seed(5)
    pred = torch.rand(2, 3, 4, 6, 5, generator=g)
    target = torch.rand(2, 4, 6, 5, generator=g)
    w = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])
    assert torch.allclose(heatmap_mse_loss(pred, target, w, 0.0), heatmap_mse_loss(pred, target, w))
    a = 7.0
    ref = []
    for s in range(3):
        num = den = 0.0
        for b in range(2):
            for j in range(4):
                cell = (pred[b, s, j] - target[b, j]) ** 2 * (1 + a * target[b, j])
                num += w[b, j] * cell.mean()
                den += w[b, j]
        ref.append(num / den)
    torch.testing.assert_close(heatmap_mse_loss(pred, target, w, a), torch.stack(ref).mean())
