"""The pose3d task: 2.5D → 3D geometry on poses with a known answer, each readout's targets read
back to the joints, crops whose depth targets follow the flip, the evaluation on exact and
perturbed predictions, and the whole path — train, evaluate, predict on a photo, export — on a
few rendered people."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.geometry.absolute import (
    backproject_2p5d,
    root_depth_from_bones,
    solve_root_translation,
)
from posekit.skeletons import get_skeleton
from posekit.tasks.pose3d.codec import Pose3DCodec
from posekit.tasks.pose3d.config import Pose3DCodecConfig, Pose3DLossConfig
from posekit.tasks.pose3d.evaluation import mean_bone_lengths, pose3d_evaluation

ROOT = Path(__file__).resolve().parents[2]
H36M = get_skeleton("h36m17")


def _pose(B: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Camera-frame h36m17-like poses (B, 17, 3) 3-5 m away, their pixels and K (B, 3, 3)."""
    g = torch.Generator().manual_seed(seed)
    rel = torch.zeros(B, 17, 3, dtype=torch.float64)
    for j, p in enumerate(H36M.parents):
        if p >= 0:
            d = torch.randn(B, 3, generator=g, dtype=torch.float64)
            rel[:, j] = rel[:, p] + 0.25 * d / d.norm(dim=-1, keepdim=True)
    t = torch.stack(
        [
            torch.rand(B, generator=g, dtype=torch.float64) - 0.5,
            torch.rand(B, generator=g, dtype=torch.float64) * 0.4 - 0.2,
            3 + 2 * torch.rand(B, generator=g, dtype=torch.float64),
        ],
        -1,
    )
    P = rel + t[:, None]
    K = torch.tensor([[1100.0, 0, 500], [0, 1000.0, 480], [0, 0, 1]], dtype=torch.float64)
    K = K.expand(B, 3, 3).clone()
    uv = torch.stack(
        [
            K[:, 0, 0, None] * P[..., 0] / P[..., 2] + K[:, 0, 2, None],
            K[:, 1, 1, None] * P[..., 1] / P[..., 2] + K[:, 1, 2, None],
        ],
        -1,
    )
    return P, uv, K


# --- geometry ---------------------------------------------------------------------------------


def test_backprojection_at_the_true_root_depth_is_the_pose() -> None:
    P, uv, K = _pose()
    dz = P[..., 2] - P[:, :1, 2]
    out = backproject_2p5d(uv, dz, K, P[:, 0, 2])
    assert torch.allclose(out, P, atol=1e-9)


def test_root_depth_from_the_true_bone_lengths_is_the_true_depth() -> None:
    P, uv, K = _pose(B=4, seed=1)
    dz = P[..., 2] - P[:, :1, 2]
    for b in range(4):  # each pose with its own bones: an exact fit exists
        bones = (P[b] - P[b, [max(p, 0) for p in H36M.parents]]).norm(dim=-1)
        z = root_depth_from_bones(uv[b : b + 1], dz[b : b + 1], K[b : b + 1], H36M.parents, bones)
        assert float(z[0]) == pytest.approx(float(P[b, 0, 2]), abs=1e-6)
    # bones 10 % longer put the person 10 % farther (the image extent scales with depth)
    bones = (P[0] - P[0, [max(p, 0) for p in H36M.parents]]).norm(dim=-1)
    z = root_depth_from_bones(uv[:1], dz[:1], K[:1], H36M.parents, 1.1 * bones)
    assert float(z[0]) > float(P[0, 0, 2]) * 1.05


def test_root_translation_of_exact_2d_is_the_true_translation() -> None:
    P, uv, K = _pose(B=3, seed=2)
    rel = P - P[:, :1]
    t = solve_root_translation(uv, rel, K)
    assert torch.allclose(t, P[:, 0], atol=1e-8)
    # a weight of 0 ignores a joint whose 2D is wrong
    bad = uv.clone()
    bad[:, 5] += 80.0
    w = torch.ones(3, 17, dtype=torch.float64)
    w[:, 5] = 0
    assert torch.allclose(solve_root_translation(bad, rel, K, w), P[:, 0], atol=1e-8)
    assert not torch.allclose(solve_root_translation(bad, rel, K), P[:, 0], atol=1e-3)


# --- codec ------------------------------------------------------------------------------------


def _codec(shapes: dict, readout: str = "auto", name: str = "") -> Pose3DCodec:
    cfg = Pose3DCodecConfig(readout=readout, sigma=1.0)
    return Pose3DCodec(cfg, shapes, (64, 64), "h36m17", name)


def _targets(B: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    kp = 8 + 48 * torch.rand(B, 17, 2, generator=g)
    dz = 0.8 * torch.rand(B, 17, generator=g) - 0.4
    return kp, dz, torch.ones(B, 17)


def test_volume_targets_read_back_within_the_refinement_bound() -> None:
    shapes = {"volumes_stack0": (1, 17, 4, 16, 16), "volumes": (1, 17, 32, 16, 16)}
    codec = _codec(shapes, name="volumetric")
    assert codec.readout == "heatmap" and codec.stack_keys == ["volumes_stack0", "volumes"]
    assert [c.heatmap_size[0] for c in codec.volume_codecs] == [4, 32]  # coarse to fine
    kp, dz, w = _targets()
    vol, _ = codec.volume_codecs[-1].encode(kp, dz, w)
    xy, z, _ = codec.decode({"volumes": vol})
    # 4 px per cell and 2 m / 32 bins: the 3-cell refinement stays under half a cell
    assert (xy - kp).abs().max() < 0.5 * 4
    assert (z - dz).abs().max() < 0.5 * 2.0 / 32
    assert (xy - kp).abs().mean() < 0.25 * 4  # and well under it on average


def test_the_loss_vanishes_at_the_targets_only() -> None:
    kp, dz, w = _targets()
    lc = Pose3DLossConfig(heatmap_foreground_weight=20)
    codec = _codec({"volumes": (1, 17, 16, 16, 16)}, "heatmap")
    vol, _ = codec.volume_codecs[-1].encode(kp, dz, w)
    assert float(codec.loss({"volumes": vol}, kp, dz, w, lc)["loss"]) == 0.0
    assert float(codec.loss({"volumes": vol.roll(1, 2)}, kp, dz, w, lc)["loss"]) > 0
    direct = _codec({"coords": (1, 17, 3)})
    coords = direct.normalise(kp, dz)
    xy, z = direct.denormalise(coords)
    assert torch.allclose(xy, kp, atol=1e-5) and torch.allclose(z, dz, atol=1e-6)
    assert float(direct.loss({"coords": coords}, kp, dz, w, lc)["loss"]) < 1e-7
    shifted = coords + torch.tensor([0.0, 0.0, 0.05])
    # the L1 of a depth offset of 0.05 cube on one of three coordinates
    assert float(direct.loss({"coords": shifted}, kp, dz, w, lc)["loss"]) == pytest.approx(
        0.05 / 3, rel=1e-4
    )


def test_integral_readout_of_log_targets_is_the_joints() -> None:
    codec = _codec({"volumes": (1, 17, 32, 16, 16)}, "integral")
    assert codec.readout == "integral"
    kp = torch.tensor([[[30.0, 28.0]] * 17])
    dz = torch.full((1, 17), 0.1)
    vol, _ = codec.volume_codecs[-1].encode(kp, dz, torch.ones(1, 17))
    xy, z, _ = codec.decode({"volumes": vol.clamp_min(1e-30).log()})
    assert torch.allclose(xy, kp, atol=1e-3) and torch.allclose(z, dz, atol=1e-4)


def test_unsupervised_joints_are_left_out_of_the_loss() -> None:
    kp, dz, w = _targets()
    codec = _codec({"coords": (1, 17, 3)})
    lc = Pose3DLossConfig()
    coords = codec.normalise(kp, dz)
    wrong = coords.clone()
    wrong[:, 4] += 1.0
    w0 = w.clone()
    w0[:, 4] = 0
    assert float(codec.loss({"coords": wrong}, kp, dz, w0, lc)["loss"]) < 1e-7
    assert float(codec.loss({"coords": wrong}, kp, dz, w, lc)["loss"]) > 0.01


# --- evaluation -------------------------------------------------------------------------------


def test_exact_predictions_score_zero_and_known_offsets_score_them() -> None:
    P, uv, K = _pose(B=4, seed=4)
    dz = P[..., 2] - P[:, :1, 2]
    bones = mean_bone_lengths(P, H36M.parents)
    ev = pose3d_evaluation(
        uv.float(), dz.float(), P.float(), uv.float(), K.float(), "h36m17", bones
    )
    m = ev.metrics
    assert m["mpjpe_gt_root_mm"] < 0.01 and m["depth_error_mm"] < 1e-3
    assert m["mean_error_px"] < 1e-3
    # the mean bones are not each pose's own: the placed depth, hence the scale, is off a bit
    assert 0 < m["mpjpe_mm"] < 60 and m["pa_mpjpe_mm"] < 0.1
    # a depth error of 100 mm on every non-root joint, at the true root depth
    dz_off = dz + 0.1 * (torch.arange(17) > 0)
    ev2 = pose3d_evaluation(
        uv.float(), dz_off.float(), P.float(), uv.float(), K.float(), "h36m17", bones
    )
    assert ev2.metrics["depth_error_mm"] == pytest.approx(100 * 16 / 17, rel=1e-3)
    assert ev2.per_joint["depth error (mm)"][0] == pytest.approx(0, abs=1e-3)
    # no intrinsics: 2D and depth figures only
    ev3 = pose3d_evaluation(
        uv.float(), dz.float(), P.float(), uv.float(), torch.full((4, 3, 3), torch.nan),
        "h36m17", bones,
    )  # fmt: skip
    assert "mpjpe_mm" not in ev3.metrics and ev3.metrics["depth_error_mm"] < 1e-3


# --- crops ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def body_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pose3d_bodies")
    return {"root": str(root), "num": 6, "val_num": 4, "size": [128, 128], "progress": False}


def _crops(body_params: dict, train: bool, **kw):
    from posekit.data.pose3d import Pose3DCrops
    from posekit.tasks.pose3d.sources import synthetic_body3d

    samples = synthetic_body3d("train", 0, **body_params)
    return samples, Pose3DCrops(samples, (64, 64), train=train, seed=0, **kw)


def test_crops_carry_root_relative_depth_that_follows_the_flip(body_params: dict) -> None:
    from posekit.data.transforms import flip_permutation

    samples, plain = _crops(body_params, train=False)
    s = samples[0]
    item = plain[0]
    true_dz = s.joints3d[0, :, 2] - s.joints3d[0, 0, 2]
    assert np.allclose(item["depth_rel_m"].numpy(), true_dz, atol=1e-6)
    assert np.allclose(item["joints3d"].numpy(), s.joints3d[0])
    assert np.allclose(item["K"].numpy(), s.K)
    _, aug = _crops(body_params, train=True)
    perm = flip_permutation("h36m17")
    flipped = [aug._params(i).flip for i in range(len(aug))]
    assert any(flipped) and not all(flipped)  # both cases exercised
    for i, f in enumerate(flipped):
        dz = samples[aug.index[i][0]].joints3d[0, :, 2]
        dz = dz - dz[0]
        expect = dz[perm] if f else dz
        assert np.allclose(aug[i]["depth_rel_m"].numpy(), expect, atol=1e-6)


def test_occlusion_augmentation_pastes_objects_on_training_crops_only(body_params: dict) -> None:
    from posekit.data.pose3d import OcclusionAugment

    occ = OcclusionAugment(probability=1.0)
    _, clean = _crops(body_params, train=True)
    _, occluded = _crops(body_params, train=True, occlusion=occ)
    _, val = _crops(body_params, train=False, occlusion=occ)
    _, plain = _crops(body_params, train=False)
    a, b = clean[1], occluded[1]
    changed = (a["image"] != b["image"]).any(0).float().mean()
    assert 0.01 < float(changed) < 0.9  # some pixels, not the whole crop
    assert torch.equal(a["depth_rel_m"], b["depth_rel_m"])  # targets untouched
    assert torch.equal(occluded[1]["image"], b["image"])  # deterministic
    assert torch.equal(val[1]["image"], plain[1]["image"])  # never on validation crops
    with pytest.raises(ValueError, match="shapes"):
        OcclusionAugment(shapes=("teapot",))


# --- the whole path ---------------------------------------------------------------------------


def _config(name: str, params: dict, extra: tuple[str, ...] = ()) -> object:
    from posekit.engine.config import load_config

    sets = [
        f"data.params={params}",
        "model.overrides.input_size=[64,64]",
        "trainer.max_steps=3",
        "trainer.batch_size=2",
        "trainer.val_every=3",
        "trainer.num_workers=0",
        "trainer.progress_bar=false",
        *extra,
    ]
    return load_config(ROOT / "configs" / name, sets)


@pytest.mark.parametrize(
    "name",
    ["pose3d_volumetric_cpu.yaml", "pose3d_integral_cpu.yaml", "pose3d_direct_cpu.yaml"],
)
def test_each_pose3d_model_trains_evaluates_and_exports(
    name: str, body_params: dict, tmp_path: Path, one_thread
) -> None:
    from posekit.engine.checkpoint import load_checkpoint
    from posekit.engine.evaluate import evaluate_checkpoint
    from posekit.engine.run import train

    result = train(_config(name, body_params), tmp_path / "run")
    assert result.global_step == 3
    meta = load_checkpoint(result.best_checkpoint)["posekit"]
    bones = meta["experiment"]["codec"]["bone_lengths_m"]
    assert len(bones) == 17 and bones[0] == 0 and all(0.03 < b < 0.7 for b in bones[1:])
    m = evaluate_checkpoint(result.best_checkpoint, progress=False).evaluation.metrics
    assert m["num_samples"] == 4
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "mpjpe_gt_root_mm", "root_error_mm", "abs_mpjpe_mm"):
        assert np.isfinite(m[key]) and m[key] > 0, key
    assert m["pa_mpjpe_mm"] <= m["mpjpe_mm"] + 1e-6
    from posekit.engine.predict import export_checkpoint_onnx

    diff = export_checkpoint_onnx(result.best_checkpoint, tmp_path / "model.onnx")
    assert diff <= 1e-4 and (tmp_path / "model.onnx").is_file()


@pytest.fixture(scope="module")
def volumetric_checkpoint(body_params: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from posekit.engine.run import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("volumetric_run")
    return Path(train(_config("pose3d_volumetric_cpu.yaml", body_params), out).best_checkpoint)


def _photo(body_params: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    from posekit.data.datasets import SyntheticDataset

    s = SyntheticDataset(Path(body_params["root"]) / "val")[0]
    cv2.imwrite(str(path), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
    return s.bbox[0], s.K


def test_predict_writes_3d_joints_for_a_photo(
    volumetric_checkpoint: Path, body_params: dict, tmp_path: Path
) -> None:
    from posekit.cli.main import main

    box, K = _photo(body_params, tmp_path / "person.png")
    (tmp_path / "boxes.json").write_text(json.dumps({"person.png": [box.tolist()]}))
    k = f"{K[0, 0]},{K[1, 1]},{K[0, 2]},{K[1, 2]}"
    out = tmp_path / "pred"
    args = ["predict", str(volumetric_checkpoint), str(tmp_path / "person.png"), "--out", str(out)]
    assert main([*args, "--boxes", str(tmp_path / "boxes.json"), "--K", k]) == 0
    doc = json.loads((out / "person.json").read_text())
    assert doc["skeleton"] == "h36m17" and doc["K_given"] is True
    (person,) = doc["people"]
    rel, cam = np.array(person["joints3d_rel_m"]), np.array(person["joints3d_cam_m"])
    assert rel.shape == cam.shape == (17, 3) and np.allclose(rel[0], 0)
    assert np.allclose(cam - cam[0], rel, atol=1e-3)  # one pose, placed
    # the placed pose projects onto its own 2D keypoints (least-squares translation)
    kp = np.array(person["keypoints2d_px"])
    proj = cam[:, :2] / cam[:, 2:] * np.diag(K)[:2] + K[:2, 2]
    assert np.median(np.linalg.norm(proj - kp, axis=1)) < 3.0
    assert cv2.imread(str(out / "person.png")) is not None
    # without --K: root-relative joints only
    out2 = tmp_path / "pred2"
    assert main(["predict", str(volumetric_checkpoint), str(tmp_path / "person.png"),
                 "--out", str(out2)]) == 0  # fmt: skip
    doc2 = json.loads((out2 / "person.json").read_text())
    assert doc2["K_given"] is False and "joints3d_cam_m" not in doc2["people"][0]


def test_predict_refuses_bad_photo_inputs(
    volumetric_checkpoint: Path, body_params: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from posekit.cli.main import main

    _photo(body_params, tmp_path / "person.png")
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / "pred"
    ckpt, photo = str(volumetric_checkpoint), str(tmp_path / "person.png")
    cases = [
        ([str(tiny)], [], "at least 16"),
        ([photo], ["--K", "0,500,64,64"], "--K"),
        ([photo], ["--K", "500,500,9000,64"], "principal point"),
        ([photo], ["--center", "3,4"], "--center"),
    ]
    for inputs, extra, match in cases:
        capsys.readouterr()
        assert main(["predict", ckpt, *inputs, "--out", str(out), *extra]) != 0
        err = capsys.readouterr().err
        assert re.search(match, err), err
        assert not out.exists() or not any(out.iterdir())


def test_volumetric_predicts_alike_in_torch_and_onnx_runtime(
    volumetric_checkpoint: Path, body_params: dict, tmp_path: Path
) -> None:
    from posekit.data.datasets import SyntheticDataset
    from posekit.engine.predict import export_checkpoint_onnx, load_predictor

    diff = export_checkpoint_onnx(volumetric_checkpoint, tmp_path / "vol.onnx")
    assert diff <= 1e-4
    s = SyntheticDataset(Path(body_params["root"]) / "val")[1]
    K = s.K.astype(np.float64)
    a = load_predictor(volumetric_checkpoint).predict(s.image, s.bbox[:1], K)
    b = load_predictor(tmp_path / "vol.onnx").predict(s.image, s.bbox[:1], K)
    # argmax readout: the same cells unless two are within 1e-4 of each other
    assert np.median(np.abs(a.joints3d_cam_m - b.joints3d_cam_m)) < 1e-4


@pytest.mark.parametrize("readout", ["heatmap", "integral"])
def test_the_flip_test_maps_the_mirrored_prediction_back(readout: str) -> None:
    from posekit.data.transforms import flip_image, flip_permutation

    codec = _codec({"volumes": (1, 17, 16, 16, 16)}, readout)
    vc = codec.volume_codecs[-1]
    kp, dz, w = _targets(B=1)
    perm = flip_permutation("h36m17")
    # the mirror image's joints, 4 px further right there (4 px left once mapped back)
    kp_m = torch.stack([63 - kp[..., 0] + 4, kp[..., 1]], -1)[:, perm]
    images = torch.randn(1, 3, 64, 64)

    def volumes(k: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        v, _ = vc.encode(k, z, w)
        return v if readout == "heatmap" else v.clamp_min(1e-30).log()

    def net(x: torch.Tensor) -> dict:
        mirrored = torch.equal(x, flip_image(images))
        return {"volumes": volumes(kp_m, dz[:, perm]) if mirrored else volumes(kp, dz)}

    xy, z, _ = codec.predict(net, images, flip_test=False)
    xy_f, z_f, _ = codec.predict(net, images, flip_test=True)
    # the mirrored crop's prediction, mapped back, is averaged with the crop's own: x moves
    # by half the 4 px, y and the depth stay (argmax + a 3-cell mean of the averaged volume:
    # within 1.5 px, 3/8 of a cell, of the midpoint of the two peaks one cell apart; soft-argmax
    # exactly, but for Gaussians cut by the volume's edge: 0.5 px; a flip mapped back wrongly
    # moves joints by tens of pixels)
    shift = xy_f - (xy if readout == "integral" else kp)
    tol = 1.5 if readout == "heatmap" else 0.5
    assert (shift[..., 0] + 2).abs().max() < tol, shift[..., 0]
    assert shift[..., 1].abs().max() < tol
    assert (z_f - z).abs().max() < 1e-3
