"""End-to-end training on the tiny config with the in-test source: loss, files, metadata,
evaluation, max-norm, resume equality (weights and logs), and progress reporting."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch
from engine_toy_data import toy_overrides
from lightning.pytorch.callbacks import Callback

from posekit import __version__
from posekit.engine import progress as progress_module
from posekit.engine.checkpoint import CheckpointError, load_checkpoint
from posekit.engine.config import load_config
from posekit.engine.evaluate import evaluate_checkpoint, module_from_checkpoint
from posekit.engine.run import find_resume, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _config(tmp_path: Path, model: str = "martinez", *extra: str):
    return load_config(CONFIGS / f"lift_{model}_tiny.yaml", [*toy_overrides(tmp_path), *extra])


class _Kill(Callback):
    """Raises at a given step, like a killed process (the step's checkpoint is not written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"killed at step {self.step}")


def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "martinez", "trainer.max_steps=40", "trainer.val_every=20")
    result = train(cfg)
    run = tmp_path / "toy"
    assert result.run_dir == run and result.global_step == 40
    assert Path(result.best_checkpoint) == run / "checkpoints" / "best.ckpt"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert not list((run / "checkpoints").glob(".*tmp"))  # no temporary file left behind
    # The loss goes down (CSV log, one row per step).
    with open(run / "csv" / "metrics.csv") as fh:
        losses = [float(r["train/loss"]) for r in csv.DictReader(fh) if r["train/loss"]]
    assert len(losses) == 40
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])
    assert set(result.metrics) >= {"mpjpe_mm", "pa_mpjpe_mm", "n_mpjpe_mm", "auc3d"}
    assert result.evaluation is not None and "MPJPE (mm)" in result.evaluation.per_joint

    # The checkpoint is self-contained: task, model, config, version, input normalization.
    ckpt = load_checkpoint(run / "checkpoints" / "last.ckpt")
    meta = ckpt["posekit"]
    assert meta["task"] == "lift" and meta["version"] == __version__
    assert meta["model"]["name"] == "martinez" and meta["model"]["preset"] == "tiny"
    assert meta["model"]["config"]["width"] == 256
    assert meta["experiment"]["trainer"]["max_steps"] == 40
    assert not torch.equal(ckpt["state_dict"]["model.input_std"], torch.ones(17, 2))

    # Max-norm was applied after the optimizer steps.
    module, _, _ = module_from_checkpoint(run / "checkpoints" / "last.ckpt")
    for m in module.model.modules():
        if isinstance(m, torch.nn.Linear):
            assert float(m.weight.detach().norm(dim=1).max()) <= 1.0 + 1e-5

    # Evaluation from the checkpoint alone reproduces the last validation.
    report = evaluate_checkpoint(run / "checkpoints" / "last.ckpt", progress=False)
    assert report.evaluation.metrics["mpjpe_mm"] == pytest.approx(result.metrics["mpjpe_mm"])
    assert report.step == 40 and report.evaluation.per_joint["MPJPE (mm)"].shape == (17,)

    # The run directory is not overwritten by accident.
    with pytest.raises(ValueError, match=r"already holds a run"):
        train(cfg)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("model", ["martinez", "smplr_dae"])
def test_killed_run_resumes_to_the_same_weights(
    tmp_path: Path, model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ("model.overrides.dropout=0.2", "optim.scheduler=cosine", "optim.warmup_steps=3")
    whole = train(_config(tmp_path / "a", model, *extra))
    cfg = _config(tmp_path / "b", model, *extra)
    with pytest.raises(RuntimeError, match=r"killed at step 10"):
        train(cfg, callbacks=[_Kill(10)])
    run = tmp_path / "b" / "toy"
    last = run / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["global_step"] == 8  # checkpoint_every=4: step 8 survived
    # The killed run logged steps after the checkpoint (CSV step 8 = global step 9).
    assert max(int(r["step"]) for r in _rows(run)) == 8
    capsys.readouterr()
    resumed = train(cfg, resume=True, progress=True)
    assert resumed.resumed_from == last and resumed.global_step == 12
    # The bar counts steps of the whole run from the restored step: 9/12 ... 12/12, no "/?".
    bars = re.findall(r"train:[^\r\n]*?(\d+)/(\S+) ", capsys.readouterr().out)
    assert bars and {total for _, total in bars} == {"12"}
    assert int(bars[0][0]) >= 8 and bars[-1] == ("12", "12")
    # The logs survive like the checkpoint: the CSV holds every row of the uninterrupted run,
    # once each (the rows logged after step 8 by the killed run were dropped and redone).
    assert _rows(run) == _rows(tmp_path / "a" / "toy")
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == 2  # one per launch

    a = load_checkpoint(whole.last_checkpoint)
    b = load_checkpoint(resumed.last_checkpoint)
    assert a["global_step"] == b["global_step"] == 12
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key  # bitwise equal on CPU
    for sa, sb in zip(
        a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()
    ):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == 12
    assert whole.metrics == resumed.metrics
    assert a["callbacks"] == b["callbacks"]  # the same best score and step


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path: Path) -> None:
    train(_config(tmp_path, "martinez", "trainer.max_steps=4"))
    with pytest.raises(CheckpointError, match=r"holds a 'lift' checkpoint of model 'martinez'"):
        train(_config(tmp_path, "lcn", "trainer.max_steps=8"), resume=True)


def test_resume_refuses_other_model_settings_and_lists_other_changes(tmp_path: Path) -> None:
    train(_config(tmp_path, "martinez", "trainer.max_steps=4"))
    other = _config(tmp_path, "martinez", "trainer.max_steps=8", "model.overrides.num_blocks=1")
    with pytest.raises(CheckpointError, match=r"other martinez settings \(num_blocks: 2 -> 1\)"):
        train(other, resume=True)
    info = find_resume(
        _config(tmp_path, "martinez", "trainer.max_steps=8", "optim.lr=1e-4"), tmp_path / "toy"
    )
    assert info is not None and info.step == 4
    assert info.changes == ["optim.lr: 0.001 -> 0.0001", "trainer.max_steps: 4 -> 8"]


def test_resume_without_a_checkpoint_starts_fresh(tmp_path: Path) -> None:
    result = train(_config(tmp_path, "lcn", "trainer.max_steps=4"), resume=True)
    assert result.resumed_from is None and result.global_step == 4


class _FakeClock:
    """Monotonic seconds that advance ``tick`` per reading."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_without_a_bar_a_slow_run_prints_a_progress_line_a_minute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the demo does: train(progress=False). A quick run prints nothing ...
    cfg = _config(tmp_path, "martinez", "trainer.log_every=4")
    train(cfg, progress=False)
    assert "train: step" not in capsys.readouterr().out
    # ... a slow one a line when log_every steps *and* 30 s have passed, or after 60 s: with
    # 20 s per step the 60 s rule (every 3 steps), with 5 s per step the 30 s one (6 steps);
    # each line with step/total, the loss and the elapsed time.
    for tick, want in ((20.0, [3, 6, 9, 12]), (5.0, [6, 12])):
        monkeypatch.setattr(progress_module.StepProgressLog, "clock", _FakeClock(tick))
        cfg = _config(tmp_path / f"slow{tick:.0f}", "martinez", "trainer.log_every=4")
        train(cfg, progress=False)
        lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("train: step")]
        assert [int(re.match(r"train: step (\d+)/12 ", x)[1]) for x in lines] == want
        assert all("train/loss" in x and "s/step" in x for x in lines)
        assert f"elapsed {progress_module.format_duration(tick * want[0])}," in lines[0]
    # log_progress=False (``posekit train --quiet``) prints nothing, however slow.
    train(_config(tmp_path / "quiet", "martinez"), progress=False, log_progress=False)
    assert "train: step" not in capsys.readouterr().out
