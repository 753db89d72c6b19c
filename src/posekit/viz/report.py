"""A static HTML report: sections, text, tables and pictures in one self-contained folder.

Example:
    >>> report = Report("lift / martinez tiny")
    >>> report.add_section("Summary", "Trained 4000 steps on synthetic poses.")
    >>> report.add_table(evaluation.metrics)                    # metric -> value
    >>> report.add_image(plot_pck_curves(t, curves), "PCK on the validation set")
    >>> report.write("runs/mt/report")                          # -> runs/mt/report/index.html

Output layout::

    out_dir/index.html          the page: inline CSS, no JavaScript, no network resources
    out_dir/images/NNN-<hash>.png   the pictures, referenced relatively (images/...)

Every file is written with `posekit._io.atomic_write` (temporary file, then rename). Pictures
are encoded when added (a bad picture fails at ``add_image``, before anything is written) and
named by their position and content hash, and ``index.html`` is written last: a reader sees
the old report or the new one, never a page pointing at missing pictures. If writing fails,
the files this call created are removed again. After a rewrite, pictures of an earlier report
that the new page no longer references are deleted.

All text (titles, captions, cells) is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from posekit._checks import check_shape
from posekit._io import atomic_write
from posekit.skeletons import Skeleton, get_skeleton
from posekit.viz._figure import encode_png, figure_to_png
from posekit.viz.metric_plots import plot_per_joint_errors

__all__ = ["Report"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
_IMAGE_NAME = re.compile(r"^\d{3,}-[0-9a-f]{12}\.(png|jpg|jpeg|gif|webp)$")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       background: #fafafa; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff;
       min-height: 100vh; box-shadow: 0 0 12px rgba(0,0,0,0.06); }
h1 { font-size: 1.7em; margin: 0.2em 0 0.6em; border-bottom: 2px solid #2b6cb0;
     padding-bottom: 0.3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; color: #2b6cb0; }
nav ul { padding-left: 1.2em; margin: 0 0 1em; columns: 2; }
nav a, nav a:visited { color: #2b6cb0; text-decoration: none; }
p { line-height: 1.5; }
pre { background: #f3f4f6; padding: 10px 12px; overflow-x: auto; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0 1.4em; font-size: 0.92em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #d6d9de; padding: 4px 10px; }
th { background: #eef2f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #f8f9fb; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e4e8; }
figcaption { color: #555; font-size: 0.9em; margin-top: 4px; }
"""


@dataclass(frozen=True)
class _Image:
    data: bytes
    suffix: str
    caption: str


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _cell(value: Any, digits: int) -> tuple[str, bool]:
    """(escaped text, is_number) of a table cell."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # 0-d torch tensor or numpy scalar
    if isinstance(value, bool):
        return _esc(value), False
    if isinstance(value, int):
        return _esc(value), True
    if isinstance(value, float):
        return ("–" if math.isnan(value) else _esc(f"{value:.{digits}f}")), True
    return _esc(value), False


class Report:
    """An HTML report built piece by piece, then written with `write` (module docstring).

    Every ``add_*`` method returns the report, so calls can be chained.

    Args:
        title: the page title (first heading and ``<title>``).
    """

    def __init__(self, title: str) -> None:
        self.title = str(title)
        self._blocks: list[str | _Image] = []  # HTML fragments and pictures, in order
        self._sections: list[str] = []

    # --- content ---------------------------------------------------------------------------

    def add_section(self, title: str, text: str = "") -> Report:
        """A new section: a heading (listed in the page's contents) and optional text."""
        self._sections.append(str(title))
        n = len(self._sections)
        self._blocks.append(f'<h2 id="section-{n}">{_esc(title)}</h2>')
        return self.add_text(text) if text else self

    def add_text(self, text: str, *, preformatted: bool = False) -> Report:
        """Paragraphs (separated by blank lines), or one preformatted block (tables, configs)."""
        if preformatted:
            self._blocks.append(f"<pre>{_esc(text)}</pre>")
            return self
        for para in re.split(r"\n\s*\n", str(text).strip()):
            if para.strip():
                lines = [_esc(line.strip()) for line in para.strip().splitlines()]
                self._blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
        return self

    def add_table(
        self,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
        headers: Sequence[str] | None = None,
        *,
        caption: str = "",
        digits: int = 2,
    ) -> Report:
        """A table. Numbers are right-aligned; floats get ``digits`` decimals, NaN prints –.

        Args:
            rows: a mapping (e.g. a metrics dict: one row per key, headers default
                ("metric", "value")), a sequence of mappings (headers default to their keys,
                in order of appearance; missing cells are empty), or a sequence of rows.
            headers: column names; required length = row length when given.
            caption: shown above the table.

        Raises:
            ValueError: a row whose length differs from the headers' (or the first row's).
        """
        if isinstance(rows, Mapping):
            body = [[k, v] for k, v in rows.items()]
            headers = list(headers) if headers is not None else ["metric", "value"]
        elif rows and all(isinstance(r, Mapping) for r in rows):
            keys = list(headers) if headers is not None else []
            if headers is None:
                for r in rows:
                    keys += [k for k in r if k not in keys]
            body = [[r.get(k, "") for k in keys] for r in rows]
            headers = keys
        else:
            body = [list(r) for r in rows]
            headers = list(headers) if headers is not None else None
        width = len(headers) if headers is not None else (len(body[0]) if body else 0)
        for i, r in enumerate(body):
            if len(r) != width:
                raise ValueError(f"rows[{i}]: expected {width} cells, got {len(r)}")
        parts = ["<table>"]
        if caption:
            parts.append(f"<caption>{_esc(caption)}</caption>")
        if headers:
            parts.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in headers))
            parts.append("</tr></thead>")
        parts.append("<tbody>")
        for r in body:
            cells = []
            for v in r:
                text, num = _cell(v, digits)
                cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        self._blocks.append("\n".join(parts))
        return self

    def add_joint_table(
        self,
        columns: Mapping[str, Any],
        skeleton: str | Skeleton,
        *,
        caption: str = "",
        digits: int = 1,
    ) -> Report:
        """A per-joint table (as `posekit.metrics.format_joint_table`): one row per joint
        name, one column per metric, and a last row with the mean over joints (NaN skipped).

        Shapes:
            columns: each (J,), in the unit of the column's name.
        """
        sk = get_skeleton(skeleton)
        values = {}
        for k, v in columns.items():
            arr = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v, np.float64)
            check_shape(arr, f"columns[{k!r}]", str(sk.num_joints))
            values[k] = arr
        rows: list[list[Any]] = [
            [name, *(float(values[k][j]) for k in values)] for j, name in enumerate(sk.joints)
        ]
        means = [
            float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for v in values.values()
        ]
        rows.append(["mean", *means])
        return self.add_table(rows, ["joint", *values], caption=caption, digits=digits)

    def add_evaluation(
        self, evaluation: Any, title: str = "Evaluation", plot: bool = True
    ) -> Report:
        """A section for a `posekit.engine.base.TaskEvaluation`: its metrics, its per-joint
        table and (``plot``) the per-joint bar chart."""
        self.add_section(title)
        n = getattr(evaluation, "num_samples", 0)
        self.add_table(evaluation.metrics, caption=f"Metrics ({n} samples)" if n else "Metrics")
        if evaluation.per_joint and evaluation.skeleton:
            self.add_joint_table(evaluation.per_joint, evaluation.skeleton, caption="Per joint")
            if plot:
                self.add_image(
                    plot_per_joint_errors(evaluation), f"Per-joint errors ({evaluation.skeleton})"
                )
        return self

    def add_image(self, image: np.ndarray | str | os.PathLike[str], caption: str = "") -> Report:
        """A picture: an RGB (or grey) uint8 array, encoded as PNG now, or an image file
        (PNG, JPEG, GIF, WebP), read now and copied as it is.

        Shapes:
            image: (H, W, 3) or (H, W) uint8.
        """
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8:
                raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=-1)
            check_shape(image, "image", "H W 3")
            self._blocks.append(_Image(encode_png(image), ".png", str(caption)))
            return self
        path = Path(image)
        suffix = path.suffix.lower()
        if suffix not in _IMAGE_SUFFIXES:
            raise ValueError(
                f"image: expected a file ending in {', '.join(sorted(_IMAGE_SUFFIXES))}, "
                f"got {path.name!r}"
            )
        self._blocks.append(_Image(path.read_bytes(), suffix, str(caption)))
        return self

    def add_figure(self, figure: Figure, caption: str = "") -> Report:
        """A matplotlib figure, drawn now (Agg) and stored as PNG."""
        if not isinstance(figure, Figure):
            raise ValueError(f"figure: expected a matplotlib Figure, got {type(figure).__name__}")
        self._blocks.append(_Image(figure_to_png(figure), ".png", str(caption)))
        return self

    # --- output ----------------------------------------------------------------------------

    def _image_names(self) -> dict[int, str]:
        """Block index → file name under images/ (position and content hash)."""
        names, k = {}, 0
        for i, block in enumerate(self._blocks):
            if isinstance(block, _Image):
                k += 1
                digest = hashlib.sha256(block.data).hexdigest()[:12]
                names[i] = f"{k:03d}-{digest}{block.suffix}"
        return names

    def to_html(self) -> str:
        """The page (index.html) as a string; pictures are referenced as ``images/<name>``."""
        names = self._image_names()
        body = [f"<h1>{_esc(self.title)}</h1>"]
        if len(self._sections) > 1:
            items = "".join(
                f'<li><a href="#section-{n}">{_esc(t)}</a></li>'
                for n, t in enumerate(self._sections, start=1)
            )
            body.append(f"<nav><ul>{items}</ul></nav>")
        for i, block in enumerate(self._blocks):
            if isinstance(block, _Image):
                src = _esc(f"images/{names[i]}")
                cap = _esc(block.caption)
                fig = f'<figure><img src="{src}" alt="{cap}">'
                if block.caption:
                    fig += f"<figcaption>{cap}</figcaption>"
                body.append(fig + "</figure>")
            else:
                body.append(block)
        content = "\n".join(body)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{content}\n</main>\n</body>\n</html>\n"
        )

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``out_dir/index.html`` and ``out_dir/images/*`` (see the module docstring).

        Returns:
            The path of index.html.
        """
        out = Path(out_dir)
        page = self.to_html().encode("utf-8")  # everything is built before anything is written
        names = self._image_names()
        images = out / "images"
        made_dirs = [d for d in (out, images) if not d.exists()]
        created: list[Path] = []
        try:
            images.mkdir(parents=True, exist_ok=True)
            for i, name in names.items():
                target = images / name
                block = self._blocks[i]
                assert isinstance(block, _Image)
                if target.exists():
                    if target.read_bytes() == block.data:
                        continue
                else:
                    created.append(target)
                atomic_write(target, block.data)
            index = out / "index.html"
            if not index.exists():
                created.append(index)
            atomic_write(index, page)
        except BaseException:
            for path in reversed(created):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            for d in reversed(made_dirs):
                with contextlib.suppress(OSError):
                    d.rmdir()  # only if empty
            raise
        keep = set(names.values())
        for old in images.iterdir():
            if _IMAGE_NAME.match(old.name) and old.name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
        return out / "index.html"
