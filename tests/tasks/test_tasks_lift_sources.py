"""The built-in lift data sources plug the data package's readers into the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_toy_data import toy_overrides

from posekit.engine.config import load_config
from posekit.engine.run import train
from posekit.engine.sources import build_source
from posekit.tasks.lift.batches import lift_batch, materialize

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
POSES = SHARED / "h36m_poses"
CAMERAS = SHARED / "mmpose_samples" / "h36m" / "cameras.pkl"
needs_poses = pytest.mark.skipif(not POSES.is_dir(), reason=f"real H3.6M poses absent ({POSES})")
needs_cameras = pytest.mark.skipif(
    not CAMERAS.is_file(), reason=f"H3.6M cameras absent ({CAMERAS})"
)


def _keys_ok(source: object) -> None:
    batch = lift_batch(source.sample_batch(8, torch.Generator().manual_seed(0)))  # type: ignore[attr-defined]
    assert batch["keypoints2d"].shape == (8, 17, 2) and batch["joints3d"].shape == (8, 17, 3)
    assert torch.allclose(batch["joints3d"][:, 0], torch.zeros(8, 3))


@needs_poses
def test_real_h36m_poses_source_trains(tmp_path: Path) -> None:
    val = build_source("real_h36m_poses", "val", 0, {"stride": 100}, task="lift")
    assert set(val.pool.labels["subject"]) == {"S8"}
    _keys_ok(val)
    assert materialize(val, 0)["joints3d"].shape[0] == len(val)  # every pose once
    cfg = load_config(
        Path(__file__).resolve().parents[2] / "configs" / "lift_lcn_tiny.yaml",
        [
            *toy_overrides(tmp_path, **{"trainer.max_steps": 4}),
            "data.source=real_h36m_poses",
            "data.params={stride: 50}",
        ],
    )
    assert train(cfg).metrics["mpjpe_mm"] > 0


@needs_poses
def test_coordinates_must_match_the_model(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        [
            *toy_overrides(tmp_path, **{"trainer.max_steps": 2}),
            "data.source=real_h36m_poses",
            "data.params={stride: 50, coords: camera}",
        ],
    )
    with pytest.raises(ValueError, match="feeds 'camera' coordinates, but the model expects"):
        train(cfg)


@needs_cameras
def test_h36m_npz_source_reads_the_preprocessed_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 0.3, (1, 32, 3)) + np.array([0.0, 0.0, 1.0])
    takes = {s: {"Walking 1": base + rng.normal(0, 0.02, (20, 32, 3))} for s in ("S1", "S8")}
    data_3d = tmp_path / "data_3d_h36m.npz"
    np.savez(data_3d, positions_3d=np.array(takes, dtype=object))
    params = {
        "data_3d": str(data_3d),
        "cameras": str(CAMERAS),
        "train_subjects": ["S1"],
        "val_subjects": ["S8"],
        "val_stride": 2,
    }
    train_set = build_source("h36m_npz", "train", 0, params, task="lift")
    val_set = build_source("h36m_npz", "val", 0, params, task="lift")
    assert len(train_set) == 20 * 4 and len(val_set) == 10 * 4  # 4 cameras
    every = materialize(val_set, 0)
    assert every["keypoints2d"].shape == (40, 17, 2) and bool(every["visibility"].all())


def test_synthetic_lift_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anny", reason="the synthetic pose pool needs the 'anny' package")
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    src = build_source("synthetic_lift", "train", 0, {"num_poses": 32, "val_poses": 16}, "lift")
    assert len(src.pool) == 32 and src.coords == "pixel"
    _keys_ok(src)
    val = build_source("synthetic_lift", "val", 0, {"num_poses": 32, "val_poses": 16}, "lift")
    assert len(val.pool) == 16
    assert not torch.equal(val.pool.joints_rel_m[:16], src.pool.joints_rel_m[:16])
    # retargeted to Human3.6M's skeleton: its bone lengths exactly
    from posekit.data.lifting.retarget import H36M_BONE_LENGTHS_M, bone_lengths

    params = {"num_poses": 32, "val_poses": 16, "retarget": "h36m"}
    h36m = build_source("synthetic_lift", "train", 0, params, "lift")
    want = torch.tensor(list(H36M_BONE_LENGTHS_M.values()))
    got = bone_lengths(h36m.pool.joints_rel_m, "h36m17")[:, 1:]
    torch.testing.assert_close(got, want.expand_as(got), atol=1e-5, rtol=0)
    # family weights reach the pose sampler: only walking poses
    params = {"num_poses": 32, "val_poses": 16, "family_weights": {"walk": 1.0}}
    walk = build_source("synthetic_lift", "train", 0, params, "lift")
    assert set(walk.pool.labels["family"]) == {"walk"}
    with pytest.raises(ValueError, match="unknown families"):
        build_source("synthetic_lift", "train", 0, {"family_weights": {"fly": 1.0}}, "lift")
