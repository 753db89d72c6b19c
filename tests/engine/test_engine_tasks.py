"""The task registry: every family is one `TaskSpec`, the config sections are typed by it, and
checkpoints written before the task sections (format 1) still load."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from engine_toy_data import toy_overrides

from posekit.engine.config import ExperimentConfig, load_config, migrate_experiment
from posekit.engine.tasks import (
    TASK_SECTIONS,
    NoOptions,
    TaskSpec,
    get_task_spec,
    list_tasks,
    register_task,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_builtin_family_resolves_to_its_module_predictor_and_sources() -> None:
    from posekit.engine.base import TaskModule
    from posekit.engine.sources import get_data_source

    assert {"lift", "pose2d", "bottomup"} <= set(list_tasks())
    for name in ("lift", "pose2d", "bottomup"):
        spec = get_task_spec(name)
        module = spec.module_class()
        assert issubclass(module, TaskModule) and module.task == name
        assert module.monitor[0].removeprefix("val/") in module.logged_metrics
        assert spec.predictor_class().task == name
        for source in spec.sources:
            assert get_data_source(source).task == name
        for section in TASK_SECTIONS:
            assert dataclasses.is_dataclass(spec.section(section))
    assert get_task_spec("lift").quantize_output == "joints3d"


def test_an_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'pose9d'; tasks: .*bottomup.*lift"):
        get_task_spec("pose9d")
    with pytest.raises(ValueError, match=r"unknown task 'pose9d'"):
        load_config(None, ["task=pose9d"])


def test_a_users_family_registers_with_one_call() -> None:
    @dataclasses.dataclass
    class MyLoss:
        weight: float = 2.0

    spec = TaskSpec("toy_task_for_test", "a test family", "posekit.tasks.lift.module:LiftModule")
    spec = dataclasses.replace(spec, loss=MyLoss)
    register_task("toy_task_for_test", spec)
    config = load_config(None, ["task=toy_task_for_test", "loss.weight=3"])
    assert isinstance(config.loss, MyLoss) and config.loss.weight == 3.0
    assert isinstance(config.eval, NoOptions)
    with pytest.raises(ValueError, match=r"unknown key 'eval\.flip_test'; valid keys: $"):
        load_config(None, ["task=toy_task_for_test", "eval.flip_test=true"])
    with pytest.raises(ValueError, match="has no predictor yet"):
        spec.predictor_class()
    with pytest.raises(ValueError, match="the spec is named"):
        register_task("other_name", spec)


def test_sections_are_the_tasks_own() -> None:
    lift = load_config(ROOT / "configs" / "lift_martinez_tiny.yaml")
    assert type(lift.loss).__name__ == "LiftLossConfig" and lift.loss.name == "mpjpe"
    pose = load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml")
    assert pose.codec.sigma is None and pose.codec.sigma_for(32) == 1.0
    assert pose.codec.sigma_for(64) == 2.0 and pose.codec.sigma_for(128) == 4.0
    assert pose.eval.flip_test is False
    with pytest.raises(ValueError, match=r"codec\.decode: expected one of dark, quarter"):
        load_config(ROOT / "configs" / "pose2d_hourglass_tiny.yaml", ["codec.decode=mean"])
    with pytest.raises(ValueError, match=r"unknown key 'codec\.sigma'; valid keys: $"):
        load_config(ROOT / "configs" / "lift_martinez_tiny.yaml", ["codec.sigma=2"])
    # A section must be of the experiment's task.
    with pytest.raises(ValueError, match=r"loss: expected the 'lift' task's LiftLossConfig"):
        ExperimentConfig(task="lift", loss=pose.loss)


def test_format1_experiments_migrate_to_the_task_sections() -> None:
    shared = {
        "name": "auto",
        "heatmap_weight": 2.0,
        "coord_weight": 1.0,
        "flip_test": True,
        "intermediate_supervision": False,
        "tag_weight": 1e-3,
        "heatmap_foreground_weight": 0.0,
        "tag_push_sigma": 0.25,
    }
    pose2d = migrate_experiment({"task": "pose2d", "loss": shared})
    assert pose2d["eval"] == {"flip_test": True}
    assert pose2d["loss"] == {
        "heatmap_weight": 2.0,
        "coord_weight": 1.0,
        "intermediate_supervision": False,
        "heatmap_foreground_weight": 0.0,
    }
    bottomup = migrate_experiment({"task": "bottomup", "loss": shared})
    assert bottomup["loss"]["tag_push_sigma"] == 0.25 and "coord_weight" not in bottomup["loss"]
    assert bottomup["eval"] == {"flip_test": True}
    lift = migrate_experiment({"task": "lift", "loss": {**shared, "name": "l1"}})
    assert lift["loss"] == {"name": "l1"} and lift["eval"] == {}
    assert migrate_experiment({"task": "lift", "loss": shared})["loss"] == {}  # auto: default
    # Today's layout comes back unchanged; an unknown key stays so that loading names it.
    assert migrate_experiment(pose2d) == pose2d
    odd = migrate_experiment({"task": "lift", "loss": {"nonsense": 1}})
    with pytest.raises(ValueError, match=r"unknown key 'loss\.nonsense'"):
        load_config(base=odd)


def test_a_format1_checkpoint_loads_evaluates_and_predicts(tmp_path: Path) -> None:
    from posekit.engine.base import METADATA_KEY
    from posekit.engine.checkpoint import load_checkpoint
    from posekit.engine.evaluate import module_from_checkpoint
    from posekit.engine.run import train

    torch.set_num_threads(1)
    cfg = ROOT / "configs" / "lift_martinez_tiny.yaml"
    sets = toy_overrides(tmp_path, **{"trainer.max_steps": 4, "loss.name": "l1"})
    result = train(load_config(cfg, sets), progress=False)
    ckpt = torch.load(result.best_checkpoint, weights_only=True)
    meta = ckpt[METADATA_KEY]
    # What a session before the task sections wrote: format 1, one shared loss section.
    meta["format"] = 1
    meta["experiment"]["loss"] = {
        "name": "l1",
        "heatmap_weight": 1.0,
        "coord_weight": 1.0,
        "flip_test": False,
        "intermediate_supervision": True,
        "tag_weight": 1e-3,
        "heatmap_foreground_weight": 0.0,
        "tag_push_sigma": 1.0,
    }
    del meta["experiment"]["codec"], meta["experiment"]["eval"]
    old = tmp_path / "format1.ckpt"
    torch.save(ckpt, old)
    assert load_checkpoint(old)[METADATA_KEY]["experiment"]["loss"] == {"name": "l1"}
    module, config, _ = module_from_checkpoint(old)
    assert config.loss.name == "l1"
    new_module, _, _ = module_from_checkpoint(result.best_checkpoint)
    x = torch.randn(3, 17, 2)
    vis = torch.ones(3, 17, dtype=torch.bool)
    torch.testing.assert_close(
        module.model(x, vis)["joints3d"], new_module.model(x, vis)["joints3d"]
    )
