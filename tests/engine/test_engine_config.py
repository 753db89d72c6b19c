from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from posekit.engine.config import (
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    parse_value,
)
from posekit.models import model_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


#: What every experiment file must say (`REQUIRED_KEYS`).
REQUIRED = "task: lift\nmodel: {name: martinez}\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_yaml_loads_into_nested_dataclasses(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: a\ntask: lift\nmodel: {name: lcn, preset: full, overrides: {hops: 2}}\n"
        "optim: {lr: 1e-4, betas: [0.8, 0.99]}\ntrainer: {max_steps: 10, devices: auto}\n",
    )
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.model.name == "lcn" and cfg.model.overrides == {"hops": 2}
    assert cfg.optim.lr == pytest.approx(1e-4)  # "1e-4" is a float, unlike plain YAML 1.1
    assert cfg.optim.betas == (0.8, 0.99)
    assert cfg.trainer.devices == "auto"
    assert cfg.data.source == "synthetic_lift"  # defaults fill the rest
    assert cfg.run_dir == Path("runs") / "a"


def test_set_overrides_nested_and_free_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\n" + REQUIRED)
    cfg = load_config(
        path,
        [
            "model.overrides.num_blocks=4",
            "optim.lr=1e-3",
            "trainer.devices=2",
            "model.overrides.noise.jitter_sigma=0.02",
            "data.params={coords: camera, num_poses: 100}",
            "trainer.checkpoint_every=null",
        ],
    )
    assert cfg.model.overrides == {"num_blocks": 4, "noise": {"jitter_sigma": 0.02}}
    assert cfg.optim.lr == 1e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.trainer.devices == 2
    assert cfg.data.params == {"coords": "camera", "num_poses": 100}
    assert cfg.trainer.checkpoint_every is None


def test_unknown_key_lists_the_valid_keys_at_its_level(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\n" + REQUIRED)
    with pytest.raises(ValueError) as err:
        load_config(path, ["optim.lrr=1"])
    msg = str(err.value)
    assert "unknown key 'optim.lrr'; valid keys: optimizer, lr, weight_decay" in msg
    with pytest.raises(ValueError, match=r"unknown key 'modle'; valid keys: name, seed, task"):
        load_config(path, ["modle.name=x"])
    bad = _write(tmp_path, REQUIRED + "trainer:\n  max_step: 3\n")
    with pytest.raises(ValueError, match=r"exp.yaml: unknown key 'trainer.max_step'; valid keys"):
        load_config(bad)
    with pytest.raises(ValueError, match=r"'optim.lr' is a value, it has no key 'x'"):
        load_config(path, ["optim.lr.x=1"])


def test_bad_values_name_their_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\n" + REQUIRED)
    with pytest.raises(ValueError, match=r"optim.lr: expected a number, got 'fast'"):
        load_config(path, ["optim.lr=fast"])
    with pytest.raises(ValueError, match=r"optim.scheduler: expected one of none, exponential"):
        load_config(path, ["optim.scheduler=step"])
    with pytest.raises(ValueError, match=r"trainer.max_steps: expected an integer"):
        load_config(path, ["trainer.max_steps=1.5"])
    with pytest.raises(ValueError, match=r"expected KEY=VALUE"):
        load_config(path, ["optim.lr"])
    with pytest.raises(FileNotFoundError, match=r"config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_files_are_never_executed(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ValueError, match=r"invalid YAML"):
        load_config(path)
    assert parse_value("[1, 2]") == [1, 2] and parse_value("5E-2") == 0.05


def test_dump_and_load_round_trip() -> None:
    cfg = load_config(None, ["model.overrides.encoder_widths=[64, 32]", "optim.warmup_steps=5"])
    again = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert config_to_dict(again) == config_to_dict(cfg)
    assert apply_overrides({}, ["optim.lr=2", "data.params.x.y=[1]"]) == {
        "optim": {"lr": 2},
        "data": {"params": {"x": {"y": [1]}}},
    }


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load_and_build_their_model_config(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name == path.stem
    model_config(cfg.model.name, cfg.model.preset, **cfg.model.overrides)


def test_tiny_and_full_configs_come_in_pairs() -> None:
    stems = {p.stem for p in CONFIGS.glob("lift_*.yaml")}
    for model in ("martinez", "lcn", "smplr_dae"):
        assert {f"lift_{model}_tiny", f"lift_{model}_full"} <= stems
    dae = load_config(CONFIGS / "lift_smplr_dae_tiny.yaml")
    assert dae.model.overrides["noise"]["drop_prob"] > 0  # trains with structured noise


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "null\n"])
def test_an_empty_config_file_is_refused(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        load_config(path, ["trainer.max_steps=5"])
    assert str(err.value) == f"{path}: empty; expected at least task and model"


def test_a_config_file_must_name_its_task_and_model(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\nmodel: {name: martinez}\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: no 'task'; expected at"):
        load_config(path)
    path = _write(tmp_path, "name: a\ntask: lift\nmodel: {preset: tiny}\n")
    with pytest.raises(ValueError, match=r"exp\.yaml: no 'model\.name'; expected at least"):
        load_config(path)
    assert load_config(path, ["model.name=lcn"]).model.name == "lcn"  # or from --set
    assert load_config(None).task == "lift"  # no file: the defaults (programmatic use)


def test_a_bad_set_item_is_blamed_not_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\n" + REQUIRED + "loss: {name: mpjpe}\n")
    cases = {
        "trainer.max_steps=": "no value after '=' (write trainer.max_steps=null for none)",
        "trainer.max_steps=0": "trainer.max_steps: expected > 0, got 0",
        "trainer.max_steps=many": "trainer.max_steps: expected an integer, got 'many'",
        "optim.lr=.nan": "optim.lr: expected a finite number, got nan",
        "optim.betas=[1, 2": "cannot parse value '[1, 2': expected ',' or ']', but got",
        "=3": "expected KEY=VALUE with a dotted KEY (optim.lr=1e-3)",
        "task=pose2d": "unknown key 'loss.name'; valid keys: heatmap_weight",  # the file's
        "task=pose9d": "unknown task 'pose9d'",
    }
    for item, want in cases.items():
        with pytest.raises(ValueError) as err:
            load_config(path, ["optim.lr=1e-3", item, "trainer.val_every=2"])
        msg = str(err.value)
        assert msg.startswith(f"--set {item}: {want}"), msg
        assert str(path) not in msg and "\n" not in msg
    # A mistake in the file is still the file's, whatever --set says beside it ...
    bad = _write(tmp_path, "name: a\n" + REQUIRED + "trainer: {max_steps: 0}\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}: trainer\.max_steps: expected"):
        load_config(bad, ["optim.lr=1e-3"])
    # ... and a --set may mend it.
    assert load_config(bad, ["trainer.max_steps=3"]).trainer.max_steps == 3


def test_unreadable_config_files_give_one_line_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "name: a\n  task: [lift\n": "invalid YAML: ",
        "task: lift\nmodel: {name: martinez}\nname: a: b\n": "invalid YAML: mapping values",
        "- task\n- lift\n": "expected a mapping at the top level, got list",
        "\tname: a\n": "invalid YAML: found character '\\t' that cannot start any token",
    }
    for text, want in cases.items():
        path = _write(tmp_path, text)
        with pytest.raises(ValueError) as err:
            load_config(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: {want}") and "\n" not in msg, msg
        if "YAML" in want:
            assert re.search(r" at line \d+, column \d+$", msg), msg
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"task: lift\n\xff\xfe\x00")
    with pytest.raises(
        ValueError, match=r"binary\.yaml: not a text file \(invalid UTF-8 at byte 11"
    ):
        load_config(path)
