from __future__ import annotations

import math

import pytest
import torch
from engine_toy_data import TOY_SOURCE, ToyLift, toy_lift
from torch.utils.data import DataLoader

from posekit.engine.config import OptimConfig
from posekit.engine.optim import LrSchedule, build_optimizer, build_scheduler
from posekit.engine.seeding import derive_seed
from posekit.engine.sources import (
    build_source,
    get_data_source,
    list_data_sources,
    register_data_source,
)
from posekit.tasks.lift.batches import (
    TensorBatches,
    TrainStream,
    input_statistics,
    lift_batch,
    materialize,
)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sources_by_name_and_by_import_path() -> None:
    assert {"synthetic_lift", "h36m_npz", "real_h36m_poses"} <= set(list_data_sources("lift"))
    src = build_source(TOY_SOURCE, "train", 0, {})
    assert isinstance(src, ToyLift)
    with pytest.raises(ValueError, match=r"unknown data source 'nope'; registered sources: "):
        get_data_source("nope")
    with pytest.raises(ValueError, match=r"has no attribute 'missing'"):
        get_data_source("engine_toy_data:missing")
    with pytest.raises(ValueError, match=r"bad parameters"):
        build_source(TOY_SOURCE, "train", 0, {"frobnicate": 1})
    with pytest.raises(ValueError, match=r"split: expected one of"):
        build_source(TOY_SOURCE, "test", 0, {})


def test_a_source_of_another_task_is_refused() -> None:
    register_data_source("toy_images_for_test", "pose2d", toy_lift)
    with pytest.raises(ValueError, match=r"yields 'pose2d' samples, not 'lift'"):
        build_source("toy_images_for_test", "val", 0, task="lift")


def test_builtin_sources_resolve_lazily() -> None:
    spec = get_data_source("real_h36m_poses")
    assert spec.task == "lift" and callable(spec.factory)


def test_train_stream_is_a_function_of_seed_rank_and_step() -> None:
    src = toy_lift("train", 0)
    stream = TrainStream(src, batch_size=8, seed=3)
    it = iter(stream)
    first = [next(it) for _ in range(4)]
    # Resuming at step 2 gives the batches of steps 2, 3 of the uninterrupted stream.
    resumed = iter(TrainStream(src, batch_size=8, seed=3, start_step=2))
    assert _same(next(resumed), first[2]) and _same(next(resumed), first[3])
    # Another rank, another seed: other data.
    assert not _same(TrainStream(src, 8, seed=3, rank=1).batch_at(0), first[0])
    assert not _same(TrainStream(src, 8, seed=4).batch_at(0), first[0])
    # Workers do not change the stream (in-order round robin over step-strided workers).
    loader = DataLoader(TrainStream(src, 8, seed=3), batch_size=None, num_workers=2)
    got = []
    for batch in loader:
        got.append(batch)
        if len(got) == 4:
            break
    assert all(_same(a, b) for a, b in zip(got, first))


def test_finite_sets_are_walked_by_epoch_permutations_split_over_ranks() -> None:
    src = toy_lift("train", 0, finite=64)
    assert not hasattr(src, "sample_batch")
    ranks = [TrainStream(src, batch_size=8, seed=0, rank=r, world_size=2) for r in range(2)]
    assert ranks[0].steps_per_epoch == 4
    seen = torch.cat([r.batch_at(s)["keypoints2d"] for r in ranks for s in range(4)])
    # One epoch over both ranks covers every sample exactly once.
    everything = src.get_batch(torch.arange(64))["keypoints2d"]
    assert torch.allclose(seen.sum(0), everything.sum(0), atol=1e-4)
    assert torch.unique(seen.reshape(64, -1), dim=0).shape[0] == 64
    with pytest.raises(ValueError, match=r"fewer than one global batch"):
        TrainStream(toy_lift("train", 0, finite=8), batch_size=8, seed=0, world_size=2)


def test_validation_set_is_fixed_and_independent_of_the_seed() -> None:
    src = toy_lift("val", 0)
    a, b = materialize(src, 100), materialize(src, 100)
    assert _same(a, b) and a["keypoints2d"].shape == (100, 17, 2)
    finite = toy_lift("val", 0, finite=50)
    every = materialize(finite, 0)
    assert every["joints3d"].shape[0] == 50
    spread = materialize(finite, 10)  # evenly spread, not the first 10
    assert torch.equal(spread["joints3d"], every["joints3d"][::5])
    both = ToyLift("val", finite=20)  # a sampler that also has a length
    assert _same(materialize(both, 0), lift_batch(both.get_batch(torch.arange(20)), camera=True))
    assert materialize(both, 5)["joints3d"].shape[0] == 5
    batches = TensorBatches(a, 32)
    assert len(batches) == 4 and batches[3]["joints3d"].shape[0] == 4


def test_input_statistics_ignore_invisible_joints() -> None:
    mean, std = input_statistics(toy_lift("train", 0), 2048, seed=0)
    assert mean.shape == (17, 2) and std.shape == (17, 2) and bool((std > 0).all())
    batch = lift_batch(toy_lift("train", 0).sample_batch(4096, torch.Generator().manual_seed(1)))
    assert torch.allclose(mean, batch["keypoints2d"].mean(0), atol=0.02)


def test_lift_batch_checks_keys_and_shapes() -> None:
    good = toy_lift("val", 0).sample_batch(2, torch.Generator().manual_seed(0))
    out = lift_batch(good)
    assert out["visibility"].dtype == torch.bool and out["joints3d"].dtype == torch.float32
    with pytest.raises(ValueError, match=r"missing key"):
        lift_batch({"keypoints2d": good["keypoints2d"]})
    with pytest.raises(ValueError, match=r"joints3d"):
        lift_batch({**good, "joints3d": good["joints3d"][:, :5]})


def test_schedules() -> None:
    exp = LrSchedule("exponential", max_steps=10, decay_rate=0.5, decay_steps=100)
    assert exp(0) == 1.0 and exp(100) == pytest.approx(0.5) and exp(200) == pytest.approx(0.25)
    cos = LrSchedule("cosine", max_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0)
    assert cos(60) == pytest.approx(0.1 + 0.9 * 0.5) and cos(110) == pytest.approx(0.1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = build_optimizer(model, OptimConfig(optimizer="adamw", weight_decay=0.1))
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]  # no decay on 1D
    sched = build_scheduler(opt, OptimConfig(scheduler="cosine"), max_steps=4)
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(derive_seed(1, 2, 3)) and derive_seed(1, 2, 3) != derive_seed(1, 2, 4)
