"""Fuzzing the experiment config: malformed files and ``--set`` items (hypothesis) give a
ValueError (``posekit train``: exit 2) whose message is one line naming the file, the
``--set`` item and the key; never another exception, never a traceback.

Families of malformed input (each case is drawn from one; the tests count the cases tried):

- ``unknown``: a key that is not a field, at the top level or in a section;
- ``wrong``: a value of the wrong type for a field (every typed field of the lift config);
- ``section``: a section that is not a mapping;
- ``empty``: an empty file, or one whose top level is not a mapping;
- ``set``: a ``--set`` item made of arbitrary text, or a field's key with an arbitrary text
  value (may be valid: then it loads);
- ``yaml``: a shipped config file with characters inserted (may stay valid: then it loads).

The first four put their mistake in the file or in a ``--set`` item and must fail; the last
two must either load or fail cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posekit.cli.main import main
from posekit.engine import run as run_module
from posekit.engine._dataclass_io import type_hints
from posekit.engine.config import ExperimentConfig, load_config, task_section

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "lift_martinez_tiny.yaml"
TEXT = CONFIG.read_text()
BASE: dict[str, Any] = yaml.safe_load(TEXT)
FREE = {"model.overrides", "data.params", "data.val_params"}  # any key goes


def _fields(cls: type = ExperimentConfig, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> annotation of every leaf field (the lift task's sections)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = type_hints(cls)[f.name]
        if cls is ExperimentConfig and f.name in ("loss", "codec", "eval"):
            tp = task_section("lift", f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(tp):
            out.update(_fields(tp, key + "."))
        else:
            out[key] = tp
    return out


FIELDS = _fields()
SECTIONS = sorted({k.rsplit(".", 1)[0] for k in FIELDS if "." in k} | {""})
SECTION_FIELDS = {
    s: {k.split(".")[-1] for k in FIELDS if k.rsplit(".", 1)[0] == s or (not s and "." not in k)}
    | {k.split(".")[0] for k in FIELDS if not s and "." in k}
    for s in SECTIONS
}


def _accepts(tp: Any) -> set[str]:
    """The kinds of YAML value a field's annotation accepts."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, typing.get_origin(int | None)):
        return set().union(*(_accepts(a) for a in args))
    if tp is type(None):
        return {"null"}
    if tp is bool:
        return {"bool"}
    if tp is int:
        return {"int"}
    if tp is float:
        return {"int", "float"}
    if tp is str:
        return {"str", "int", "float"}
    if origin is dict:
        return {"dict"}
    if origin in (tuple, list):
        return {"list"}
    return {"str", "int", "float", "bool", "list", "dict", "null"}


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": st.sampled_from(["fast", "x", "1e-3x", "", "lift lift"]),
    "float": st.sampled_from([1.5, -0.25, 3.75]),
    "bool": st.booleans(),
    "list": st.lists(st.integers(-3, 3), max_size=3),
    "dict": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
    "null": st.none(),
}


@st.composite
def wrong_value(draw: st.DrawFn) -> tuple[str, Any]:
    key = draw(st.sampled_from(sorted(k for k in FIELDS if k not in FREE)))
    ok = _accepts(FIELDS[key])
    kind = draw(st.sampled_from(sorted(k for k in VALUES if k not in ok)))
    return key, draw(VALUES[kind])


IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def malformed(draw: st.DrawFn) -> dict[str, Any]:
    """One case: ``family``, file ``text``, ``sets`` (--set items), ``key`` it must name."""
    family = draw(st.sampled_from(["unknown", "wrong", "section", "empty", "set", "yaml"]))
    data = json.loads(json.dumps(BASE))
    sets: list[str] = ["data.params.fuzz=1"]  # a free-form key: never mends a mistake
    key = ""
    where = draw(st.sampled_from(["file", "set"]))
    if family == "unknown":
        section = draw(st.sampled_from(SECTIONS))
        name = draw(IDENT.filter(lambda n: n not in SECTION_FIELDS[section]))
        key = f"{section}.{name}" if section else name
        value = draw(st.integers(0, 9))
    elif family == "wrong":
        key, value = draw(wrong_value())
    elif family == "section":
        key = draw(st.sampled_from(["model", "data", "optim", "trainer", "loss"]))
        value = draw(st.one_of(st.integers(0, 5), st.lists(st.integers(0, 2), max_size=2)))
    if family in ("unknown", "wrong", "section"):
        if where == "set":
            sets.append(f"{key}={json.dumps(value)}")
        else:
            node = data
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        text = yaml.safe_dump(data, sort_keys=False)
    elif family == "empty":
        text = draw(st.sampled_from(["", "# nothing\n", "---\n", "[1, 2]\n", "lift\n", "3\n"]))
    elif family == "set":
        text = TEXT
        item = draw(st.text(st.characters(codec="utf-8"), max_size=30))
        if draw(st.booleans()):
            item = f"{draw(st.sampled_from(sorted(FIELDS)))}={item}"
        sets.append(item)
    else:  # yaml: characters inserted into the shipped file
        text = TEXT
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(text)))
            bit = draw(
                st.sampled_from(
                    [
                        ":",
                        "[",
                        "{",
                        "\t",
                        "&x",
                        "*y",
                        "!!python/name:os.system",
                        "- ",
                        "'",
                        '"',
                        "\n  ",
                        "%",
                        "@",
                        "\x00",
                    ]
                )
            )
            text = text[:at] + bit + text[at:]
    return {"family": family, "text": text, "sets": sets, "key": key, "where": where}


class _Reached(Exception):
    """Raised by the stand-in for `train`: the input was valid (no training in this test)."""


def _check_message(case: dict[str, Any], msg: str, path: Path) -> None:
    assert msg and "\n" not in msg, repr(msg)
    if case["family"] in ("unknown", "wrong", "section"):
        if case["where"] == "set":
            assert msg.startswith(f"--set {case['sets'][-1]}: "), (case, msg)
        else:
            assert msg.startswith(f"{path}: "), (case, msg)
        assert case["key"] in msg, (case, msg)
    elif case["family"] == "empty":
        assert msg.startswith(f"{path}: "), msg
    else:  # or, from `posekit train`'s checks of the loaded config, the key (data.source: ...)
        keys = tuple(f"{k}: " for k in [*FIELDS, "model"])
        assert msg.startswith((f"{path}: ", "--set ", *keys)), (case, msg)


MUST_FAIL = ("unknown", "wrong", "section", "empty")


def test_malformed_configs_raise_one_line_value_errors(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    tried: Counter[str] = Counter()

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(case=malformed())
    def check(case: dict[str, Any]) -> None:
        tried[case["family"]] += 1
        path.write_text(case["text"])
        try:
            load_config(path, case["sets"])
        except ValueError as err:
            _check_message(case, str(err), path)
        else:
            assert case["family"] not in MUST_FAIL, case

    check()
    print(f"config fuzz: {sum(tried.values())} cases {dict(tried)}")
    assert sum(tried.values()) >= 300 and set(tried) == {*MUST_FAIL, "set", "yaml"}


def test_posekit_train_exits_2_with_one_line_on_malformed_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def reached(*args: Any, **kwargs: Any) -> None:
        raise _Reached

    monkeypatch.setattr(run_module, "train", reached)
    path = tmp_path / "fuzz.yaml"
    tried: Counter[str] = Counter()

    @settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
    @given(case=malformed())
    def check(case: dict[str, Any]) -> None:
        tried[case["family"]] += 1
        path.write_text(case["text"])
        capsys.readouterr()
        try:
            code = main(["train", str(path), "--quiet", "--set", *case["sets"]])
        except _Reached:  # valid: training would start
            assert case["family"] not in MUST_FAIL, case
            return
        except SystemExit as exit_:  # argparse's own: an item that looks like an option
            assert exit_.code == 2 and any(i.startswith("-") for i in case["sets"]), case
            return
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("posekit train: error: "), (case, err)
        _check_message(case, err.removeprefix("posekit train: error: ").rstrip("\n"), path)

    check()
    print(f"posekit train fuzz: {sum(tried.values())} cases {dict(tried)}")
    assert sum(tried.values()) >= 100 and set(tried) == {*MUST_FAIL, "set", "yaml"}
