"""Tests of posekit.models.registry, and of every registered model through it (tiny preset):
forward shapes, finiteness, gradients, overfitting a tiny batch; FLOP and parameter counts."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import posekit.models as models
from posekit.models import registry
from posekit.models.registry import (
    PRESETS,
    count_flops,
    count_parameters,
    create_model,
    get_model_spec,
    list_models,
    model_config,
    register_model,
)

ALL_MODELS = list_models()
MODELS_DIR = Path(models.__file__).parent


# ---------------------------------------------------------------- every registered model


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_has_documented_shapes_and_is_finite(name):
    torch.manual_seed(0)
    model = create_model(name)
    inputs = model.example_input(4)
    out = model(**inputs)
    assert isinstance(out, dict)
    assert {k: tuple(v.shape) for k, v in out.items()} == model.output_shapes(4)
    for key, value in out.items():
        assert value.isfinite().all(), key
    model.eval()
    out_eval = model(**model.example_input(1))  # batch of one in eval mode
    assert {k: tuple(v.shape) for k, v in out_eval.items()} == model.output_shapes(1)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_backward_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name)
    out = model(**model.example_input(4))
    loss = sum(v.square().mean() for v in out.values())
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} received no gradient"
        assert p.grad.isfinite().all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.fixture
def one_thread():
    """Tiny models: on a busy 2-core machine, intra-op thread hand-offs cost more than the
    arithmetic (10x slower steps were seen), so the overfit loop runs on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_overfits_a_tiny_batch(name, one_thread):
    # Targets from a second, independently initialized model of the same architecture:
    # reachable by construction, and model-agnostic (any output dict works). The tiny
    # lifters pass 10x within ~25 steps (~600x at 50): 60 steps leave a wide margin.
    torch.manual_seed(1)
    teacher = create_model(name).eval()
    torch.manual_seed(0)
    model = create_model(name)
    inputs = model.example_input(8)
    with torch.no_grad():
        targets = teacher(**inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        out = model(**inputs)
        loss = sum(nn.functional.mse_loss(out[k], targets[k]) for k in targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if hasattr(model, "apply_max_norm"):
            model.apply_max_norm()
        losses.append(loss.item())
    assert losses[0] > 0
    assert min(losses[-5:]) <= losses[0] / 10, (losses[0], losses[-5:])


@pytest.mark.parametrize("name", ALL_MODELS)
def test_presets_build_and_count(name):
    spec = get_model_spec(name)
    assert set(PRESETS) <= set(spec.presets)
    assert spec.description
    sizes = {}
    for preset in PRESETS:
        config = model_config(name, preset)
        assert isinstance(config, spec.config_cls)
        model = create_model(name, preset)
        assert model.config == config
        sizes[preset] = count_parameters(model)
        assert count_flops(model) > 0
    assert sizes["tiny"] < sizes["full"]


# ---------------------------------------------------------------- registry API


def test_list_models_has_the_lifting_models():
    assert {"martinez", "lcn", "smplr_dae"} <= set(list_models())
    assert list_models() == sorted(list_models())


def test_unknown_model_lists_the_known_names():
    with pytest.raises(KeyError, match=r"unknown model 'nope'; known models: .*martinez"):
        create_model("nope")


def test_unknown_override_lists_the_valid_fields():
    with pytest.raises(ValueError, match=r"unknown config field\(s\) widht; valid fields: .*width"):
        create_model("martinez", widht=3)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(KeyError, match=r"no preset 'huge'; presets: tiny, full"):
        create_model("martinez", "huge")


def test_overrides_are_applied_and_validated():
    config = model_config("martinez", "full", num_blocks=4, dropout=0.0)
    assert (config.num_blocks, config.dropout, config.width) == (4, 0.0, 1024)
    assert model_config("martinez", "full").num_blocks == 2  # the preset is unchanged
    model = create_model("martinez", "tiny", num_blocks=1)
    assert len(model.blocks) == 1
    with pytest.raises(ValueError, match="dropout"):
        create_model("martinez", dropout=1.5)


def test_import_is_lazy_and_create_model_resolves_the_module():
    code = (
        "import sys, posekit.models as m\n"
        "assert not [k for k in sys.modules if k.startswith('posekit.models.lift')], 'eager'\n"
        "m.create_model('martinez')\n"
        "assert 'posekit.models.lift.martinez' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_table_matches_the_decorators_in_the_package():
    # Every @register_model("name", ...) under posekit/models is in the lazy table, pointing to
    # the decorated class, so `list_models()` never misses a model that was not imported.
    pattern = re.compile(r'@register_model\(\s*"(\w+)".*?\)\nclass (\w+)', re.S)
    found = {}
    for path in MODELS_DIR.rglob("*.py"):
        module = ".".join(path.relative_to(MODELS_DIR.parent.parent).with_suffix("").parts)
        for name, cls in pattern.findall(path.read_text()):
            found[name] = f"{module}:{cls}"
    assert found == registry._LAZY_MODELS
    for name, target in registry._LAZY_MODELS.items():
        spec = get_model_spec(name)
        assert f"{spec.model_cls.__module__}:{spec.model_cls.__qualname__}" == target


@dataclasses.dataclass(frozen=True)
class _ToyConfig:
    """Toy config.

    Attributes:
        width: output features.
    """

    width: int = 4


class _Toy(nn.Module):
    """A toy linear model."""

    def __init__(self, config: _ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(3, config.width)

    def example_input(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, 3)

    def output_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        return {"y": (batch_size, self.config.width)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"y": self.linear(x)}


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_register_a_model_outside_the_package(clean_registry):
    register_model("toy", _ToyConfig, presets={"tiny": {"width": 2}, "full": _ToyConfig(8)})(_Toy)
    assert "toy" in list_models()
    model = create_model("toy", "full")
    assert model.linear.out_features == 8
    assert count_parameters(model) == 3 * 8 + 8
    assert count_flops(model, batch_size=4) == 2 * 3 * 8  # one multiply-add = 2 FLOPs
    assert get_model_spec("toy").description == "A toy linear model."
    register_model("toy", _ToyConfig, presets={"tiny": {}, "full": {}})(_Toy)  # same class: ok


def test_register_rejects_bad_registrations(clean_registry):
    with pytest.raises(ValueError, match="presets must include full"):
        register_model("toy", _ToyConfig, presets={"tiny": {}})
    with pytest.raises(ValueError, match="unknown config field"):
        register_model("toy", _ToyConfig, presets={"tiny": {"depth": 2}, "full": {}})(_Toy)
    with pytest.raises(ValueError, match="must be a dataclass"):
        register_model("toy", dict, presets={"tiny": {}, "full": {}})
    with pytest.raises(ValueError, match="a different model named 'martinez'"):
        get_model_spec("martinez")
        register_model("martinez", _ToyConfig, presets={"tiny": {}, "full": {}})(_Toy)


def test_count_parameters_trainable_only():
    model = create_model("martinez")
    total = count_parameters(model)
    assert total == sum(p.numel() for p in model.parameters())
    model.output_layer.requires_grad_(False)
    frozen = model.output_layer.weight.numel() + model.output_layer.bias.numel()
    assert count_parameters(model, trainable_only=True) == total - frozen


def test_count_flops_restores_training_mode_and_matches_the_linear_layers():
    model = create_model("martinez", batch_norm=False)
    assert model.training
    flops = count_flops(model)
    assert model.training
    linear = sum(
        2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear)
    )
    assert flops == linear
