"""HTML report: files referenced relatively, text escaped, atomic and complete writes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import posekit.viz.report as report_mod
from posekit.viz._figure import new_figure
from posekit.viz.report import Report


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and tag in ("img", "link", "script"):
                self.srcs.append(v)

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)


def full_report(tmp_path) -> Report:
    png = tmp_path / "given.png"
    report_mod.atomic_write(png, report_mod.encode_png(picture(3)))
    fig = new_figure((120, 160))
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    ev = SimpleNamespace(
        metrics={"mpjpe_mm": 51.234, "num_samples": 8},
        per_joint={"MPJPE (mm)": torch.arange(17.0)},
        skeleton="h36m17",
        num_samples=8,
    )
    return (
        Report("run")
        .add_section("Summary", "one\n\ntwo")
        .add_image(picture(1), "array")
        .add_image(png, "file")
        .add_figure(fig, "figure")
        .add_evaluation(ev)
        .add_table([{"a": 1, "b": float("nan")}, {"a": 2, "c": "x"}], caption="dicts")
    )


def test_index_references_exactly_the_image_files(tmp_path):
    out = tmp_path / "report"
    index = full_report(tmp_path).write(out)
    assert index == out / "index.html"
    parsed = parse(index)
    files = {p.name for p in (out / "images").iterdir()}
    assert len(files) == 4  # array, file, figure, per-joint chart
    assert {s.removeprefix("images/") for s in parsed.srcs} == files
    assert all(s.startswith("images/") for s in parsed.srcs)  # relative, inside the folder
    assert "script" not in parsed.tags
    html_text = index.read_text()
    assert "http://" not in html_text and "https://" not in html_text
    assert "<style>" in html_text and "51.23" in html_text and "–" in html_text
    for name in files:
        assert (out / "images" / name).read_bytes()[:4] == b"\x89PNG"
    assert not list(out.rglob("*.tmp"))


def test_text_is_escaped(tmp_path):
    evil = "<script>alert(\"x\")</script> & 'q'"
    r = Report(evil).add_section(evil, evil).add_table({evil: evil}, caption=evil)
    r.add_image(picture(), evil).add_text(evil, preformatted=True)
    page = r.write(tmp_path / "r").read_text()
    assert "<script>" not in page and 'alert("x")' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in page
    assert "script" not in parse(tmp_path / "r" / "index.html").tags


def test_tables_check_rows():
    with pytest.raises(ValueError, match=r"rows\[1\]: expected 2 cells, got 3"):
        Report("t").add_table([[1, 2], [1, 2, 3]], ["a", "b"])
    with pytest.raises(ValueError, match="columns"):
        Report("t").add_joint_table({"e": np.zeros(3)}, "h36m17")


def test_bad_pictures_fail_when_added(tmp_path):
    r = Report("t")
    with pytest.raises(ValueError, match="uint8"):
        r.add_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="image"):
        r.add_image(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\.png"):
        r.add_image(tmp_path / "x.svg")
    with pytest.raises(FileNotFoundError):
        r.add_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="Figure"):
        r.add_figure(picture())  # type: ignore[arg-type]


def failing_on(name: str, monkeypatch) -> None:
    real = report_mod.atomic_write

    def fake(path, data):
        if path.name == name or re.match(name, path.name):
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(report_mod, "atomic_write", fake)


def test_no_partial_output_on_error(tmp_path, monkeypatch):
    out = tmp_path / "new"
    failing_on("index.html", monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        full_report(tmp_path).write(out)
    assert not out.exists()  # pictures written before the failure were removed again


def test_failed_rewrite_keeps_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "r"
    Report("old").add_image(picture(1)).write(out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    failing_on(r"002-", monkeypatch)  # the second picture of the new report cannot be written
    with pytest.raises(OSError):
        Report("new").add_image(picture(2)).add_image(picture(3)).write(out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_rewrite_removes_stale_pictures_only(tmp_path):
    out = tmp_path / "r"
    Report("a").add_image(picture(1)).add_image(picture(2)).write(out)
    (out / "images" / "notes.txt").write_text("mine")
    Report("b").add_image(picture(3)).write(out)
    names = sorted(p.name for p in (out / "images").iterdir())
    assert len(names) == 2 and "notes.txt" in names
    assert {s.removeprefix("images/") for s in parse(out / "index.html").srcs} == {
        n for n in names if n != "notes.txt"
    }
    # Writing the same report twice gives the same bytes.
    Report("b").add_image(picture(3)).write(tmp_path / "again")
    assert (tmp_path / "again" / "index.html").read_bytes() == (out / "index.html").read_bytes()
