"""A ``pose2d`` model on real annotated photos: COCO, MPII, CrowdPose and Human3.6M frames in an
MMPose-samples folder, scored with PCK@0.2 (torso) and PCKh@0.5 beside an untrained floor.

Sets (`REAL_IMAGE_SETS`, relative to the folder; a set is available when its file exists):
``coco`` (``coco/test_coco.json``, coco17), ``mpii`` (``mpii/test_mpii.json``, MMPose's json,
mpii16), ``crowdpose`` (``crowdpose/test_crowdpose.json``, read as lsp14) and ``h36m``
(``h36m/test_h36m_body3d.npz``, h36m17, person box: ``center`` +- 100 ``scale`` px).

Protocol (`evaluate_real_images`): every annotated person with at least one labelled joint is
cropped over its ground-truth box at the model's input size (`TopDownCrops`, ``train=False``,
padding 1.25), predicted (`Pose2DModule.predict_crops`, the flip test when the checkpoint's
``eval.flip_test`` says so) and mapped back to image pixels. Scoring (`score_across_layouts`)
is in the set's layout, over labelled joints (occluded ones included):

- joints are matched by name between the model's layout and the set's; set joints the model
  lacks are not scored and are listed (``unscored_joints``; a coco17 model on MPII scores 12 of
  its 16 joints, on CrowdPose 12 of 14, on Human3.6M 12 of 17);
- PCK@0.2: norm = the ground-truth right-shoulder to left-hip distance in the set's layout (the
  torso of `pose2d_evaluation`, LSP's protocol); a person missing either joint is not scored
  (``people_without_torso``); a layout without those joints gives NaN;
- PCKh@0.5: norm = MPII's head size (0.6 x head-box diagonal) where the set has head boxes,
  else the head length of `head_length` (MMPose's MPII json has no head boxes: head top to
  neck there).

`untrained_floor` gives the same numbers for the same architecture with random weights (mean
over seeds): what a model scores without learning anything.
`posekit.tasks.pose2d.real_pictures.write_real_image_pictures` draws the crops with their
predictions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch
from torch import Tensor

from posekit.data.datasets import COCODataset, MPIIDataset
from posekit.data.datasets.h36m import read_h36m_frames
from posekit.data.pose2d import TopDownCrops
from posekit.data.sample import Sample
from posekit.engine.config import ExperimentConfig, load_config
from posekit.engine.datamodule import collate_samples
from posekit.geometry.crops import apply_affine
from posekit.metrics.evaluation import TaskEvaluation
from posekit.metrics.pck import evaluate_pck, pck_per_joint, torso_size
from posekit.skeletons import get_skeleton, joint_map
from posekit.tasks.pose2d.evaluation import head_length

__all__ = [
    "REAL_IMAGE_SETS",
    "CropPoseModel",
    "H36MFrameImages",
    "RealImageScore",
    "evaluate_real_images",
    "load_real_image_set",
    "real_image_sets",
    "score_across_layouts",
    "untrained_floor",
]

REAL_IMAGE_SETS: dict[str, str] = {
    "coco": "coco/test_coco.json",
    "mpii": "mpii/test_mpii.json",
    "crowdpose": "crowdpose/test_crowdpose.json",
    "h36m": "h36m/test_h36m_body3d.npz",
}
"""Set name -> its annotation file, relative to an MMPose-samples folder."""

_TORSO = ("r_shoulder", "l_hip")


class CropPoseModel(Protocol):
    """What `evaluate_real_images` needs of a model (`Pose2DModule` has it)."""

    input_size: tuple[int, int]
    skeleton_name: str

    def predict_crops(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


class H36MFrameImages:
    """MMPose's Human3.6M frames npz as a source of `Sample`s (one person per frame, h36m17).

    The person box is the file's square ``center`` +- 100 ``scale`` pixels; images are read
    from ``image_dir`` (default: the npz's folder) by their ``imgname``.
    """

    skeleton = "h36m17"

    def __init__(
        self, path: str | os.PathLike[str], image_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.path = Path(path)
        self.image_dir = Path(image_dir) if image_dir is not None else self.path.parent
        self.frames = read_h36m_frames(self.path)

    def __len__(self) -> int:
        return len(self.frames)

    def num_people(self, index: int) -> int:
        return 1

    def sample(self, index: int) -> Sample:
        f = self.frames
        image_path = self.image_dir / str(f.image_names[index])
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.path}: frame {index}: cannot read image {image_path}")
        half = 100.0 * float(f.scale[index])
        cx, cy = (float(v) for v in f.center_px[index])
        kp = np.where(f.visibility2d[index, :, None], f.keypoints2d[index], np.nan)
        return Sample(
            keypoints2d=kp[None].astype(np.float32),
            visibility=f.visibility2d[index][None].copy(),
            skeleton=self.skeleton,
            image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
            bbox=np.array([[cx - half, cy - half, cx + half, cy + half]], np.float32),
            meta={"source": str(image_path), "index": index},
        )


def real_image_sets(root: str | os.PathLike[str]) -> list[str]:
    """The sets of `REAL_IMAGE_SETS` whose annotation file exists under ``root``, in order."""
    return [name for name, rel in REAL_IMAGE_SETS.items() if (Path(root) / rel).is_file()]


def load_real_image_set(root: str | os.PathLike[str], name: str) -> Any:
    """The dataset of set ``name`` under ``root`` (``sample(i)``, ``num_people(i)``,
    ``skeleton``); ValueError for an unknown or missing set."""
    _check_sets(Path(root), [name])
    path = Path(root) / REAL_IMAGE_SETS[name]
    if name == "mpii":
        return MPIIDataset(path)
    if name == "h36m":
        return H36MFrameImages(path)
    return COCODataset(path)


@dataclass(frozen=True)
class RealImageScore:
    """A model's scores on one real set (`evaluate_real_images`, `untrained_floor`).

    Attributes:
        name: the set; skeleton: its layout; model_skeleton: the model's layout.
        input_size_hw: the crop size.
        people: people scored (at least one labelled joint); people_annotated: all people.
        unscored_joints: joints of ``skeleton`` the model lacks (never scored).
        head_norm: what PCKh's head size was: ``"head box"``, ``"head length"`` or both.
        evaluation: ``pck_0.2``, ``pckh_0.5`` (fractions), ``auc`` (PCK@0..0.5, torso),
            ``mean_error_px``, ``joints_labelled``, ``joints_pck`` / ``joints_pckh`` (joints
            scored by each), ``people_without_torso``; per joint in ``skeleton`` order.
        pred_px: (N, J_model, 2) float32 image pixels; gt_px: (N, J, 2) float32, NaN where
            not labelled; people_index: (N, 2) int64 (image, person) of each row.
        seed_metrics: for a floor, each seed's metrics (``evaluation`` holds their mean and
            ``pred_px`` the first seed's predictions); empty otherwise.
    """

    name: str
    skeleton: str
    model_skeleton: str
    input_size_hw: tuple[int, int]
    people: int
    people_annotated: int
    unscored_joints: tuple[str, ...]
    head_norm: str
    evaluation: TaskEvaluation
    pred_px: np.ndarray
    gt_px: np.ndarray
    people_index: np.ndarray
    seed_metrics: tuple[dict[str, float | int], ...] = field(default=())

    @property
    def pck(self) -> float:
        """PCK@0.2 (torso), a fraction."""
        return float(self.evaluation.metrics["pck_0.2"])

    @property
    def pckh(self) -> float:
        """PCKh@0.5, a fraction."""
        return float(self.evaluation.metrics["pckh_0.5"])


def score_across_layouts(
    pred_px: Tensor,
    pred_skeleton: str,
    gt_px: Tensor,
    skeleton: str,
    head_px: Tensor | None = None,
) -> TaskEvaluation:
    """PCK@0.2 (torso), PCKh@0.5, AUC and pixel error of predictions in another layout.

    Scored in ``skeleton`` over its labelled joints that ``pred_skeleton`` has by name (module
    docstring for the norms). Counts in the metrics: ``joints_labelled``, ``joints_pck``,
    ``joints_pckh``, ``people_without_torso``, ``num_people``.

    Args:
        pred_px, gt_px: image pixels; NaN in ``gt_px`` = not labelled.
        pred_skeleton, skeleton: the layouts of ``pred_px`` and ``gt_px``.
        head_px: MPII head sizes (0.6 x head-box diagonal), NaN where unknown.

    Shapes:
        pred_px: (N, J_pred, 2); gt_px: (N, J, 2); head_px: (N,) or None.
    """
    sk, psk = get_skeleton(skeleton), get_skeleton(pred_skeleton)
    N = gt_px.shape[0]
    if pred_px.shape != (N, psk.num_joints, 2) or gt_px.shape != (N, sk.num_joints, 2):
        raise ValueError(
            f"pred_px, gt_px: expected ({N}, {psk.num_joints}, 2) and ({N}, {sk.num_joints}, 2), "
            f"got {tuple(pred_px.shape)} and {tuple(gt_px.shape)}"
        )
    if head_px is not None and head_px.shape != (N,):
        raise ValueError(f"head_px: expected ({N},), got {tuple(head_px.shape)}")
    gt = gt_px.double()
    src, dst = joint_map(psk, sk)
    pred = gt.new_zeros(gt.shape)  # joints the model lacks: never scored (mask below)
    pred[:, dst] = pred_px.double()[:, src]
    shared = torch.zeros(sk.num_joints, dtype=torch.bool)
    shared[dst] = True
    labelled = gt.isfinite().all(-1)
    scored = labelled & shared
    if all(j in sk.joints for j in _TORSO):
        torso = torso_size(gt, sk, _TORSO)
    else:
        torso = gt.new_full((N,), torch.nan)
    head = head_length(gt, sk.name)
    if head_px is not None:
        head = torch.where(head_px.double().isfinite(), head_px.double(), head)
    pck = evaluate_pck(pred, gt, scored, norm=torso, threshold=0.2)
    pckh = evaluate_pck(pred, gt, scored, norm=head, threshold=0.5)
    err = torch.where(scored, torch.linalg.vector_norm(pred - gt.nan_to_num(), dim=-1), torch.nan)
    has_torso = torso.isfinite() & (torso > 0)
    has_head = head.isfinite() & (head > 0)
    metrics: dict[str, float | int] = {
        "pck_0.2": pck["pck"],
        "pckh_0.5": pckh["pck"],
        "auc": pck["auc"],
        "mean_error_px": float(err.nanmean()) if scored.any() else float("nan"),
        "num_people": int(N),
        "joints_labelled": int(labelled.sum()),
        "joints_pck": int((scored & has_torso[:, None]).sum()),
        "joints_pckh": int((scored & has_head[:, None]).sum()),
        "people_without_torso": int((labelled.any(-1) & ~has_torso).sum()),
    }
    per_joint = {
        "PCK@0.2": pck_per_joint(pred, gt, scored, norm=torso, threshold=0.2).float(),
        "PCKh@0.5": pck_per_joint(pred, gt, scored, norm=head, threshold=0.5).float(),
        "error (px)": err.nanmean(0).float(),
    }
    return TaskEvaluation(metrics, per_joint, sk.name, int(N))


def _as_model(
    model: str | os.PathLike[str] | CropPoseModel, device: str | torch.device
) -> CropPoseModel:
    if isinstance(model, (str, os.PathLike)):
        from posekit.engine.evaluate import module_from_checkpoint

        module, _, _ = module_from_checkpoint(model)
        if module.task != "pose2d":
            raise ValueError(f"{model}: expected a pose2d checkpoint, got task {module.task!r}")
        model = module  # type: ignore[assignment]
    if isinstance(model, torch.nn.Module):
        model.to(device).eval()
    return model  # type: ignore[return-value]


def _crops(source: Any, model: CropPoseModel) -> TopDownCrops:
    """The people of a set, cropped for ``model`` (the same index in evaluation and pictures)."""
    return TopDownCrops(
        source,
        input_size_hw=tuple(model.input_size),
        skeleton=source.skeleton,
        train=False,
        min_labelled=1,
    )


def _model_device(model: CropPoseModel) -> torch.device:
    if isinstance(model, torch.nn.Module):
        return next(model.parameters()).device
    return torch.device("cpu")


@torch.no_grad()
def _evaluate_set(model: CropPoseModel, root: Path, name: str, batch_size: int) -> RealImageScore:
    from torch.utils.data import DataLoader

    source = load_real_image_set(root, name)
    crops = _crops(source, model)
    if len(crops) == 0:
        raise ValueError(f"set {name!r} under {root}: no person with a labelled joint")
    records = getattr(source, "records", None)
    loader = DataLoader(crops, batch_size=batch_size, collate_fn=collate_samples, shuffle=False)
    device = _model_device(model)
    preds, gts, heads, index = [], [], [], []
    for batch in loader:
        kp, _ = model.predict_crops(batch["image"].to(device))
        preds.append(apply_affine(kp.float().cpu(), batch["affine_inv"].float()))
        gts.append(batch["keypoints_image"].float())
        for i, p in zip(batch["sample_index"].tolist(), batch["person_index"].tolist()):
            size = records[i].meta.get("head_size_px") if records is not None else None
            heads.append(float(size[p]) if size is not None else float("nan"))
            index.append((i, p))
    pred, gt = torch.cat(preds), torch.cat(gts)
    head = torch.tensor(heads, dtype=torch.float64)
    skeleton = get_skeleton(source.skeleton).name
    model_skeleton = get_skeleton(model.skeleton_name).name
    ev = score_across_layouts(pred, model_skeleton, gt, skeleton, head)
    boxes = bool(head.isfinite().any())
    lengths = bool((~head.isfinite()).any())
    kinds = [k for k, used in (("head box", boxes), ("head length", lengths)) if used]
    missing = set(get_skeleton(skeleton).joints) - set(get_skeleton(model_skeleton).joints)
    return RealImageScore(
        name=name,
        skeleton=skeleton,
        model_skeleton=model_skeleton,
        input_size_hw=(int(model.input_size[0]), int(model.input_size[1])),
        people=len(crops),
        people_annotated=sum(int(source.num_people(i)) for i in range(len(source))),
        unscored_joints=tuple(j for j in get_skeleton(skeleton).joints if j in missing),
        head_norm=" + ".join(kinds),
        evaluation=ev,
        pred_px=pred.numpy(),
        gt_px=gt.numpy(),
        people_index=np.asarray(index, np.int64).reshape(-1, 2),
    )


def _check_sets(root: Path, sets: Sequence[str] | None) -> list[str]:
    if not root.is_dir():
        raise FileNotFoundError(f"real image folder {root} does not exist")
    available = real_image_sets(root)
    if sets is None:
        if not available:
            raise FileNotFoundError(
                f"{root}: none of the sets' files ({', '.join(REAL_IMAGE_SETS.values())})"
            )
        return available
    for name in sets:
        if name not in REAL_IMAGE_SETS:
            raise ValueError(f"set: expected one of {', '.join(REAL_IMAGE_SETS)}, got {name!r}")
        if name not in available:
            raise ValueError(f"set {name!r}: no annotation file {root / REAL_IMAGE_SETS[name]}")
    return list(sets)


def evaluate_real_images(
    model: str | os.PathLike[str] | CropPoseModel,
    root: str | os.PathLike[str],
    sets: Sequence[str] | None = None,
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> dict[str, RealImageScore]:
    """Score a ``pose2d`` model on the real sets under ``root`` (module docstring).

    Args:
        model: a ``pose2d`` checkpoint, or a loaded model (`CropPoseModel`, e.g. a
            `Pose2DModule`; an ``nn.Module`` is put in eval mode on ``device``).
        root: an MMPose-samples folder (`REAL_IMAGE_SETS`).
        sets: the sets to score (default: every available one).
        batch_size: crops per forward pass.
        device: where a checkpoint's model runs.

    Returns:
        Set name -> `RealImageScore`, in the order of ``sets``.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no set; ValueError: an unknown set, a
            set without its file, or a non-pose2d checkpoint.
    """
    root = Path(root)
    names = _check_sets(root, sets)
    m = _as_model(model, device)
    return {name: _evaluate_set(m, root, name, batch_size) for name in names}


def _floor_config(model: str | os.PathLike[str] | ExperimentConfig) -> ExperimentConfig:
    if isinstance(model, ExperimentConfig):
        return model
    if Path(model).suffix.lower() in (".yaml", ".yml"):
        return load_config(model)
    from posekit.engine.evaluate import module_from_checkpoint

    return module_from_checkpoint(model)[1]


def _mean_score(scores: list[RealImageScore]) -> RealImageScore:
    """One set's floor: every float metric and per-joint column averaged over seeds."""
    first = scores[0]
    metrics = dict(first.evaluation.metrics)
    for key, value in metrics.items():
        if isinstance(value, float):
            metrics[key] = float(np.mean([s.evaluation.metrics[key] for s in scores]))
    per_joint = {
        k: torch.stack([s.evaluation.per_joint[k] for s in scores]).mean(0)
        for k in first.evaluation.per_joint
    }
    ev = TaskEvaluation(metrics, per_joint, first.evaluation.skeleton, first.evaluation.num_samples)
    seeds = tuple(dict(s.evaluation.metrics) for s in scores)
    return replace(first, evaluation=ev, seed_metrics=seeds)


def untrained_floor(
    model: str | os.PathLike[str] | ExperimentConfig,
    root: str | os.PathLike[str],
    sets: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> dict[str, RealImageScore]:
    """`evaluate_real_images` of the same architecture with random weights, mean over seeds.

    The task module is built from the experiment (a config, a YAML file, or a checkpoint's
    stored experiment, whose weights are not used) after ``torch.manual_seed(seed)``, as
    training initialises it; torch's global RNG state is restored afterwards. The metrics
    are the mean over ``seeds`` (each seed's in ``seed_metrics``).

    Raises:
        ValueError: no seeds, or an experiment of another task than ``pose2d``.
    """
    from posekit.engine.base import get_task

    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    config = _floor_config(model)
    if config.task != "pose2d":
        raise ValueError(f"{model}: expected a pose2d experiment, got task {config.task!r}")
    root = Path(root)
    names = _check_sets(root, sets)
    per_seed = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(int(seed))
            module = get_task("pose2d")(config)
            scores = evaluate_real_images(module, root, names, batch_size=batch_size, device=device)
            per_seed.append(scores)
    return {n: _mean_score([s[n] for s in per_seed]) for n in names}
