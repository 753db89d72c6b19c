"""Evaluating a lifter: the same model input as ``posekit predict`` on any camera, a user's own
file of 2D + K + 3D, and what the real-pose source accepts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_toy_data import toy_lift, toy_overrides

from posekit.cli.main import main
from posekit.data.keypoints_json import KeypointsFrame
from posekit.data.lifting import normalize_keypoints
from posekit.engine.evaluate import evaluate_checkpoint, is_data_file
from posekit.engine.predict import load_predictor
from posekit.engine.sources import build_source, register_data_source
from posekit.tasks.lift.evaluation import lift_evaluation
from posekit.tasks.lift.inputs import TrainingCamera, lifter_inputs
from posekit.tasks.lift.keypoints_file import KeypointsFileSet

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "lift_martinez_tiny.yaml"
POSES = ROOT.parent / "shared" / "data" / "real" / "h36m_poses"
needs_poses = pytest.mark.skipif(not POSES.is_dir(), reason=f"real H3.6M poses absent ({POSES})")

# A camera unlike the training one (focal 1150 px, 1000 x 1000): focal 600 px, 480 x 640 image,
# principal point off the centre.
K600 = np.array([[600.0, 0.0, 301.0], [0.0, 600.0, 251.0], [0.0, 0.0, 1.0]])
HW = (480, 640)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lift_eval_train")
    args = ["train", str(CONFIG), "--quiet", "--set"]
    assert main([*args, *toy_overrides(out, **{"trainer.max_steps": 40})]) == 0
    return out / "toy" / "checkpoints" / "best.ckpt"


def _cases(n: int = 96) -> dict[str, torch.Tensor]:
    """Toy poses 5 m in front of the focal-600 camera (root on the optical axis, as in the
    toy training data): pixels, K, root-relative 3D."""
    joints = toy_lift("val", 0, finite=n).get_batch(torch.arange(n))["joints3d"].double()
    cam = joints + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)  # (N, J, 3) metres
    K = torch.from_numpy(K600)
    px = cam[..., :2] / cam[..., 2:] * K.diagonal()[:2] + K[:2, 2]  # (N, J, 2)
    return {
        "keypoints2d_px": px.float(),
        "K": K.float().expand(n, 3, 3).clone(),
        "visibility": torch.ones(n, 17, dtype=torch.bool),
        "joints3d": (cam - cam[:, :1]).float(),
    }


class _Cases:
    """A finite lifting source of `_cases`, its ``keypoints2d`` normalized by its own image
    size (what every source feeds and what eval used to give the model as it was)."""

    skeleton, coords = "h36m17", "pixel"

    def __init__(self) -> None:
        c = _cases()
        c["keypoints2d"] = normalize_keypoints(c["keypoints2d_px"], c["K"], HW, "pixel")
        self.data = c

    def __len__(self) -> int:
        return len(self.data["joints3d"])

    def get_batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.data.items()}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.data.items()}


def _predict_mpjpe(ckpt: Path, cases: dict[str, torch.Tensor]) -> tuple[float, torch.Tensor]:
    """MPJPE (mm) of `LiftPredictor.predict` (what ``posekit predict`` runs) on the cases."""
    pred = load_predictor(ckpt)
    frame = KeypointsFrame(
        "h36m17",
        cases["keypoints2d_px"].double().numpy(),
        cases["visibility"].double().numpy(),
        HW,
        K600,
        None,
        "cases",
    )
    joints = torch.from_numpy(pred.predict(frame).joints3d)
    return lift_evaluation(joints, cases["joints3d"], "h36m17").metrics["mpjpe_mm"], joints


def test_eval_and_predict_agree_on_a_camera_unlike_the_training_cameras(
    checkpoint: Path, tmp_path: Path
) -> None:
    register_data_source("lift_eval_test_cases", "lift", lambda split, seed: _Cases())
    cases = _cases()
    predicted, joints = _predict_mpjpe(checkpoint, cases)
    report = evaluate_checkpoint(
        checkpoint, "lift_eval_test_cases", ["data.val_size=0"], progress=False
    )
    assert report.evaluation.metrics["mpjpe_mm"] == pytest.approx(predicted, abs=1e-3)
    assert report.evaluation.num_samples == len(cases["joints3d"]) == report.num_available
    # The same cases from a file (posekit eval CKPT --data cases.npz) score the same.
    npz = tmp_path / "cases.npz"
    np.savez(npz, keypoints2d=cases["keypoints2d_px"].numpy(), K=K600,
             joints3d=cases["joints3d"].numpy())  # fmt: skip
    from_file = evaluate_checkpoint(checkpoint, str(npz), progress=False)
    assert from_file.data_source == "keypoints_file" and from_file.data_file == str(npz)
    assert from_file.evaluation.metrics["mpjpe_mm"] == pytest.approx(predicted, abs=1e-3)
    # The model input fed to the network without K (pixels normalized by the image size) is
    # another input, and another number: that was eval's, not predict's.
    module = load_predictor(checkpoint).runner
    naive = module(
        keypoints2d=_Cases().data["keypoints2d"].numpy(),
        visibility=np.ones((len(joints), 17), np.float32),
    )["joints3d"]
    assert np.abs(np.asarray(naive) - joints.numpy()).max() > 1e-3


def test_lifter_inputs_is_the_training_normalization_on_the_training_camera() -> None:
    camera = TrainingCamera.from_params({})
    assert camera.image_size == (1000, 1000) and camera.focal_px == 1150.0
    K = torch.from_numpy(camera.intrinsics()).float()
    px = torch.rand(4, 17, 2) * 1000.0
    vis = torch.ones(4, 17, dtype=torch.bool)
    vis[0, 3] = False
    for coords in ("pixel", "camera"):
        got = lifter_inputs(px, K, vis, coords, camera)
        want = normalize_keypoints(px, K.expand(4, 3, 3), (1000, 1000), coords)
        torch.testing.assert_close(got[vis], want[vis], rtol=0, atol=1e-6)
        assert torch.equal(got[0, 3], torch.zeros(2))  # invisible: 0, as predict feeds it
    # A camera twice as far away in focal length: the same input as its half-size picture.
    K2 = K.clone()
    K2[0, 0] = K2[1, 1] = 2 * 1150.0
    far = (px - K[:2, 2]) * 2 + K[:2, 2]
    torch.testing.assert_close(
        lifter_inputs(far, K2, vis, "pixel", camera), lifter_inputs(px, K, vis, "pixel", camera)
    )
    # h36m_npz names a cameras file, not sampler fields: the default camera is assumed.
    assert TrainingCamera.from_params({"cameras": "cameras.pkl"}) == camera
    with pytest.raises(ValueError, match="input_coords: expected one of"):
        lifter_inputs(px, K, vis, "metres", camera)


def _json_cases(path: Path, cases: dict[str, torch.Tensor], **frame: object) -> Path:
    people = [
        {"keypoints": kp.tolist(), "joints3d": j.tolist()}
        for kp, j in zip(cases["keypoints2d_px"].double(), cases["joints3d"].double(), strict=True)
    ]
    doc = {"skeleton": "h36m17", "image_size": list(HW), "K": K600.tolist(), "people": people}
    path.write_text(json.dumps({**doc, **frame}))
    return path


def test_keypoints_file_reads_json_and_npz(tmp_path: Path) -> None:
    cases = _cases(8)
    js = KeypointsFileSet(_json_cases(tmp_path / "c.json", cases))
    npz = tmp_path / "c.npz"
    vis = np.ones((8, 17))
    vis[2, 5] = 0
    j3d = cases["joints3d"].numpy().copy()
    j3d[1, 4] = np.nan  # no ground truth for that joint
    np.savez(npz, keypoints2d=cases["keypoints2d_px"].numpy(), K=np.broadcast_to(K600, (8, 3, 3)),
             joints3d=j3d + 1.0, visibility=vis)  # fmt: skip
    nz = KeypointsFileSet(npz, coords="camera")
    assert len(js) == len(nz) == 8 and js.skeleton == nz.skeleton == "h36m17"
    a, b = js.get_batch(torch.arange(8)), nz[2]
    torch.testing.assert_close(a["joints3d"][0], cases["joints3d"][0])
    assert not bool(b["visibility"][5]) and bool(b["visibility"][4])
    assert torch.isnan(nz[1]["joints3d"][4]).all() and torch.equal(
        nz[0]["joints3d"][0], torch.zeros(3)
    )
    centre = torch.tensor([301.0, 251.0])
    torch.testing.assert_close(b["keypoints2d"][4], (b["keypoints2d_px"][4] - centre) / 600.0)
    assert set(a) == {"keypoints2d", "keypoints2d_px", "visibility", "K", "joints3d"}
    # coco17 keypoints (from posekit predict of a 2D model) against h36m17 ground truth
    coco = {"skeleton": "coco17", "people": [{"keypoints": [[300.0, 200.0, 1.0]] * 17,
            "joints3d": cases["joints3d"][0].tolist()}]}  # fmt: skip
    (tmp_path / "coco.json").write_text(json.dumps({**coco, "K": K600.tolist()}))
    assert KeypointsFileSet(tmp_path / "coco.json").get_batch(torch.arange(1))["visibility"].all()


_KP, _J3 = [[1, 2]] * 17, np.zeros((3, 17, 3))
_JS = {"K": K600.tolist(), "skeleton": "h36m17"}
_NP = {"keypoints2d": np.zeros((3, 17, 2)), "K": K600}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("a.json", {"skeleton": "h36m17", "people": []}, r"a\.json: K: missing"),
        ("b.json", {**_JS, "people": [{"keypoints": _KP}]},
         r"b\.json: people\[0\]\.joints3d: missing"),
        ("c.json", {**_JS, "people": [{"keypoints": _KP, "joints3d": [[0, 0, 0]] * 16}]},
         r"c\.json: people\[0\]\.joints3d: expected 17 joints \(h36m17\), got 16"),
        ("d.json", {**_JS, "people": [{"keypoints": _KP, "joints3d": [[0, 0, "x"]] * 17}]},
         r"d\.json: people\[0\]\.joints3d\[0\]: expected \[x, y, z\]"),
        ("e.npz", _NP, r"e\.npz: joints3d: missing"),
        ("f.npz", {**_NP, "K": np.eye(4), "joints3d": _J3},
         r"f\.npz: K: expected \(3, 3, 3\) or \(3, 3\)"),
        ("g.npz", {**_NP, "joints3d": np.zeros((3, 16, 3))},
         r"g\.npz: joints3d: expected \(3, 17, 3\)"),
        ("h.npz", {**_NP, "joints3d": np.arange(3 * 17 * 3.0).reshape(3, 17, 3) * 100},
         r"h\.npz: joints3d: sample 0: a joint 4800 from the root: expected metres, not mm"),
        ("i.npz", {**_NP, "keypoints2d": np.zeros((3, 16, 2)), "joints3d": _J3},
         r"i\.npz: keypoints2d: expected \(N, 17, 2\)"),
        ("j.txt", "hello", r"j\.txt: expected a keypoints JSON \(\.json\) or an npz"),
        ("k.npz", b"not a zip", r"k\.npz: not a readable npz file"),
    ],
)  # fmt: skip
def test_bad_files_are_refused_naming_file_and_field(
    tmp_path: Path, name: str, content: object, match: str
) -> None:
    path = tmp_path / name
    if isinstance(content, dict) and name.endswith(".npz"):
        np.savez(path, **content)
    elif isinstance(content, dict):
        path.write_text(json.dumps(content))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(str(content))
    with pytest.raises(ValueError, match=match) as err:
        build_source("keypoints_file", "val", 0, {"path": str(path)}, task="lift")
    assert "\n" not in str(err.value)


def test_data_file_or_source_name() -> None:
    assert is_data_file("cases.npz") and is_data_file("dir/cases") and is_data_file("x.json")
    assert not is_data_file("real_h36m_poses") and not is_data_file("engine_toy_data:toy_lift")
    assert not is_data_file("pkg.mod:factory")
    with pytest.raises(
        ValueError, match=r"parameter path missing; give --set data.val_params.path=FILE"
    ):
        build_source("keypoints_file", "val", 0, {}, task="lift")


def test_eval_reports_how_much_it_scored(checkpoint: Path) -> None:
    drawn = evaluate_checkpoint(checkpoint, progress=False)
    assert drawn.drawn and drawn.num_available is None and drawn.evaluation.num_samples == 256
    over = ["data.val_params={finite: 300}"]
    spaced = evaluate_checkpoint(checkpoint, overrides=over, progress=False)
    assert not spaced.drawn and spaced.num_available == 300 and spaced.evaluation.num_samples == 256
    every = evaluate_checkpoint(checkpoint, overrides=[*over, "data.val_size=0"], progress=False)
    assert every.evaluation.num_samples == every.num_available == 300


# --- the real-pose source ---------------------------------------------------------------------


def test_parameters_of_another_source_are_refused_with_the_set_to_give() -> None:
    synthetic = {"num_poses": 20000, "val_poses": 2000, "coords": "pixel"}
    with pytest.raises(ValueError) as err:
        build_source("real_h36m_poses", "train", 0, synthetic, task="lift")
    msg = str(err.value)
    assert "unknown parameter(s) num_poses, val_poses" in msg
    assert "--set data.source=real_h36m_poses data.params={}" in msg
    assert "train_subjects, val_subjects" in msg
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) stride.*synthetic_lift"):
        build_source("synthetic_lift", "train", 0, {"stride": 2}, task="lift")
    with pytest.raises(
        ValueError, match=r"data_3d, cameras missing; give --set data.val_params.data_3d"
    ):
        build_source("h36m_npz", "val", 0, {}, task="lift")


@needs_poses
def test_readme_command_trains_on_real_poses(tmp_path: Path, capsys) -> None:
    """posekit train configs/lift_martinez_tiny.yaml --set data.source=real_h36m_poses
    data.params={} (the config's synthetic data.params replaced)."""
    fast = [
        o for o in toy_overrides(tmp_path, **{"trainer.max_steps": 2}) if not o.startswith("data.")
    ]
    args = [
        "train",
        str(CONFIG),
        "--quiet",
        "--set",
        *fast,
        "data.val_size=64",
        "data.stats_size=256",
    ]
    assert main([*args, "data.source=real_h36m_poses"]) == 2  # the config's num_poses, val_poses
    err = capsys.readouterr().err
    assert "unknown parameter(s) num_poses, val_poses" in err and "data.params={}" in err
    assert main([*args, "data.source=real_h36m_poses", "data.params={}"]) == 0
    ckpt = tmp_path / "toy" / "checkpoints" / "last.ckpt"
    report = evaluate_checkpoint(
        ckpt,
        "real_h36m_poses",
        ["data.val_params={val_subjects: [S7], stride: 20}"],
        progress=False,
    )
    assert report.drawn and report.num_available == len(
        build_source("real_h36m_poses", "val", 0, {"val_subjects": ["S7"], "stride": 20}, "lift")
    )


@needs_poses
def test_subjects_and_duplicated_takes() -> None:
    val = build_source("real_h36m_poses", "val", 0, {"stride": 10}, task="lift")
    assert set(val.pool.labels["subject"]) == {"S8"}
    assert "smoking" not in set(val.pool.labels["action"])  # S8 smoking is S5's: left out
    kept = build_source(
        "real_h36m_poses", "val", 0, {"stride": 10, "drop_duplicates": False}, "lift"
    )
    assert "smoking" in set(kept.pool.labels["action"]) and len(kept) > len(val)
    s7 = build_source("real_h36m_poses", "val", 0, {"val_subjects": ["S7"], "stride": 10}, "lift")
    from posekit.data.lifting import RealH36MPoses

    assert set(s7.pool.labels["subject"]) == {"S7"}
    assert len(s7) == len(RealH36MPoses(POSES, ("S7",), stride=10))  # no duplicate: none dropped
    train = build_source(
        "real_h36m_poses", "train", 0, {"train_subjects": ["S1"], "stride": 10}, "lift"
    )
    assert set(train.pool.labels["subject"]) == {"S1"}
