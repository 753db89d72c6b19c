"""Top-down crops and bottom-up images over Samples: the item contract, mapping back, skeleton
conversion, determinism; on hand-made samples, a COCO file and a tiny synthetic shard set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posekit.data.pose2d import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BottomUpImages,
    TopDownCrops,
    convert_skeleton,
)
from posekit.data.sample import Sample
from posekit.geometry.crops import apply_affine
from posekit.skeletons import COCO17, MPII16

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "mmpose_samples"
TOPDOWN_KEYS = {
    "image", "keypoints", "visibility", "target_weight", "keypoints_image", "affine",
    "affine_inv", "bbox", "norm_length_px", "norm_kind", "sample_index", "person_index",
}  # fmt: skip


def _samples(n: int = 4, seed: int = 0) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        P = 1 + i % 3
        H, W = 90 + 10 * i, 120
        kp = rng.uniform(10, 80, size=(P, 17, 2)).astype(np.float32)
        vis = rng.uniform(size=(P, 17)) > 0.2
        kp[0, 3] = np.nan  # one unlabelled joint
        vis[0, 3] = False
        lo, hi = np.nanmin(kp, 1), np.nanmax(kp, 1)
        out.append(
            Sample(
                keypoints2d=kp,
                visibility=vis,
                skeleton="coco17",
                image=rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8),
                bbox=np.concatenate([lo, hi], 1).astype(np.float32),
            )
        )
    return out


def _unflip(item: dict) -> np.ndarray:
    """apply_affine(keypoints_image, affine), with the flip's left/right swap undone."""
    kp = apply_affine(item["keypoints_image"].double(), item["affine"].double()).numpy()
    if torch.linalg.det(item["affine"][:, :2].double()) < 0:  # mirrored
        kp = kp[COCO17.flip_permutation]
    return kp


@pytest.mark.parametrize("train", [False, True])
def test_topdown_item_contract_and_round_trip(train: bool) -> None:
    samples = _samples()
    ds = TopDownCrops(samples, input_size_hw=(64, 48), train=train, seed=3)
    assert len(ds) == sum(s.num_people for s in samples)
    for n in range(len(ds)):
        it = ds[n]
        assert set(it) == TOPDOWN_KEYS
        assert it["image"].shape == (3, 64, 48) and it["image"].dtype == torch.float32
        assert it["keypoints"].shape == (17, 2) and it["visibility"].dtype == torch.bool
        assert it["affine"].shape == it["affine_inv"].shape == (2, 3)
        i, p = int(it["sample_index"]), int(it["person_index"])
        src = samples[i]
        np.testing.assert_allclose(it["keypoints_image"], src.keypoints2d[p])
        np.testing.assert_allclose(_unflip(it), it["keypoints"].double(), atol=1e-3)
        # predictions in the crop map back to image pixels through affine_inv
        back = apply_affine(it["keypoints"].double(), it["affine_inv"].double())
        if torch.linalg.det(it["affine"][:, :2].double()) < 0:
            back = back[COCO17.flip_permutation]
        np.testing.assert_allclose(back, src.keypoints2d[p], atol=1e-3)
        kp = it["keypoints"].numpy()
        inside = np.isfinite(kp).all(-1) & (kp >= -0.5).all(-1) & (kp[:, 0] < 47.5)
        inside &= kp[:, 1] < 63.5
        np.testing.assert_array_equal(it["target_weight"].numpy() > 0, inside)
        assert (it["visibility"].numpy() <= inside).all()
        w = max(src.bbox[p, 2] - src.bbox[p, 0], src.bbox[p, 3] - src.bbox[p, 1])
        assert it["norm_kind"] == "bbox" and float(it["norm_length_px"]) == pytest.approx(w)
    if not train:  # without augmentation the crop is centred on the padded box
        it = ds[0]
        box = it["bbox"].double()
        c = apply_affine(((box[:2] + box[2:]) / 2)[None], it["affine"].double())[0]
        torch.testing.assert_close(c, torch.tensor([23.5, 31.5], dtype=torch.float64))
    # image normalization: mean / std of ImageNet
    s = samples[0]
    ds_id = TopDownCrops([s], input_size_hw=(64, 48))
    raw = ds_id[0]["image"] * torch.tensor(IMAGENET_STD).view(3, 1, 1)
    raw = raw + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5


def test_topdown_is_deterministic_per_seed_and_epoch() -> None:
    samples = _samples()
    a = TopDownCrops(samples, (64, 48), train=True, seed=5)
    b = TopDownCrops(samples, (64, 48), train=True, seed=5)
    for k in ("image", "keypoints", "affine"):
        assert torch.equal(a[2][k], b[2][k])
    b.set_epoch(1)
    assert not torch.equal(a[2]["affine"], b[2]["affine"])
    batch = next(iter(DataLoader(a, batch_size=3)))
    assert batch["image"].shape == (3, 3, 64, 48) and batch["norm_kind"] == ["bbox"] * 3


def test_skeleton_conversion_marks_missing_joints() -> None:
    samples = _samples(2)
    kp, vis = convert_skeleton(samples[0].keypoints2d, samples[0].visibility, "coco17", "mpii16")
    assert kp.shape == (1, 16, 2) and vis.shape == (1, 16)
    for name in ("pelvis", "thorax", "neck", "head_top"):
        assert np.isnan(kp[0, MPII16.index(name)]).all() and not vis[0, MPII16.index(name)]
    j = MPII16.index("l_knee")
    np.testing.assert_array_equal(kp[0, j], samples[0].keypoints2d[0, COCO17.index("l_knee")])
    ds = TopDownCrops(samples, (64, 48), skeleton="mpii16", train=True)
    it = ds[0]
    assert it["keypoints"].shape == (16, 2)
    assert it["target_weight"][MPII16.index("pelvis")] == 0


def test_bottomup_items() -> None:
    samples = _samples(3)
    ds = BottomUpImages(samples, input_size_hw=(64, 64), max_people=2, train=True, seed=1)
    for i in range(3):
        it = ds[i]
        P = min(samples[i].num_people, 2)
        assert int(it["num_people"]) == P
        assert it["keypoints"].shape == (2, 17, 2) and it["visibility"].shape == (2, 17)
        assert torch.isnan(it["keypoints"][P:]).all() and not it["visibility"][P:].any()
        assert it["image_size_hw"].tolist() == list(samples[i].image.shape[:2])
        A = it["affine"][:, :2].double()
        sx, sy = torch.linalg.norm(A, dim=0)  # letterbox: same scale on both axes
        assert float(sx) == pytest.approx(float(sy), rel=1e-5)
    plain = BottomUpImages(samples, input_size_hw=(64, 64))[1]  # 100 x 120 image, no augment
    np.testing.assert_allclose(plain["affine"][0, 0], 64 / 120, rtol=1e-6)
    back = apply_affine(plain["keypoints"][:2].double(), plain["affine_inv"].double())
    np.testing.assert_allclose(back, samples[1].keypoints2d, atol=1e-3)


def test_topdown_on_coco_real_sample_maps_back_to_ap_one() -> None:
    path = REAL / "coco" / "test_coco.json"
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    from posekit.data.datasets import COCODataset
    from posekit.metrics.coco import coco_keypoint_ap

    coco = COCODataset(path)
    ds = TopDownCrops(coco, (128, 96))
    items = [ds[n] for n in range(len(ds))]
    assert {it["norm_kind"] for it in items} == {"bbox"}
    # the crop-frame ground truth, mapped back, is evaluated against the file: AP = 1
    gt, flags, ids = [], [], []
    for i in range(len(coco)):
        r = coco.records[i]
        gt.append(r.keypoints2d)
        flags.append(r.meta["keypoint_flags"])
        ids += [r.meta["image_id"]] * len(r.keypoints2d)
    dt = np.stack(
        [apply_affine(it["keypoints"].double(), it["affine_inv"].double()).numpy() for it in items]
    )
    dt_ids = [coco.records[int(it["sample_index"])].meta["image_id"] for it in items]
    areas = np.concatenate([r.meta["area"] for r in coco.records])
    res = coco_keypoint_ap(
        np.concatenate(gt),
        np.concatenate(flags),
        np.nan_to_num(dt),
        gt_image_ids=ids,
        dt_image_ids=dt_ids,
        gt_areas=areas,
    )
    assert res["ap"] == pytest.approx(1.0)


def test_topdown_on_mpii_real_sample_uses_head_or_bbox() -> None:
    path = REAL / "mpii" / "test_mpii.json"
    if not path.exists():
        pytest.skip(f"real sample data not present at {path} (../shared/data is not shipped)")
    from posekit.data.datasets import MPIIDataset

    ds = TopDownCrops(MPIIDataset(path), (64, 64), train=True)
    it = ds[0]
    assert it["keypoints"].shape == (16, 2) and it["norm_kind"] == "bbox"  # json: no head box
    assert TopDownCrops(MPIIDataset(path), (64, 64), norm="head")[0]["norm_kind"] == "head"


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 96 x 96 body samples (1-2 people, coco17) in two shards (~10 s with anny)."""
    pytest.importorskip("anny", reason="the synthetic engine needs the 'anny' package")
    pytest.importorskip("moderngl", reason="rendering needs moderngl (EGL)")
    from posekit.data.synthetic.writer import synthesize

    root = tmp_path_factory.mktemp("synth2d")
    options = {"people": (1, 2), "skeleton": "coco17"}
    synthesize(root, "body", num=4, seed=3, size=(96, 96), shard_size=3, options=options,
               progress=False)  # fmt: skip
    return root


def test_datasets_on_synthetic_shards(synthetic_root: Path) -> None:
    from posekit.data.datasets import SyntheticDataset
    from posekit.data.pose2d import _people_counts, _synthetic_people_counts

    src = SyntheticDataset(synthetic_root)
    counts = [src.sample(i).num_people for i in range(len(src))]
    assert _synthetic_people_counts(src) == counts == _people_counts(src)
    td = TopDownCrops(src, (64, 48), skeleton="mpii16", train=True)
    assert len(td) == sum(counts)
    it = td[len(td) - 1]
    assert it["keypoints"].shape == (16, 2) and it["norm_kind"] == "bbox"
    assert it["target_weight"][MPII16.index("pelvis")] == 0  # coco17 has no pelvis
    assert it["target_weight"][MPII16.index("l_knee")] in (0.0, 1.0)
    assert torch.isfinite(it["keypoints"][MPII16.index("l_knee")]).all()
    torso = TopDownCrops(src, (64, 48), norm="torso")[0]
    assert torso["norm_kind"] == "torso" and float(torso["norm_length_px"]) > 0
    bu = BottomUpImages(src, (64, 64), max_people=3)
    b = next(iter(DataLoader(bu, batch_size=2)))
    assert b["keypoints"].shape == (2, 3, 17, 2) and b["num_people"].tolist() == counts[:2]
