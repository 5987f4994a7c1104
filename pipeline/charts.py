"""The dashboard's charts, each declared once: one dbt exposure per chart in
``dbt_project/models/dashboard.yml``.

An exposure's ``label`` is the chart's title, its ``depends_on`` the marts it reads (the first is the one
charted), its ``description`` the subtitle, and ``meta.chart`` how to draw it. From that one block come the
HTML card (`make dashboard`, pipeline/dashboard/page.py), the Tableau worksheet (`make tableau`,
pipeline/tableau/workbook.py) and the chart's lineage in `dbt docs`; :func:`check_columns` checks every
named column against the mart's documented columns in dbt's manifest.

``meta.chart`` keys:

- ``draw``: ``line``, ``bar``, ``hbar`` (horizontal bars), ``heat`` (a heat map), ``custom`` (HTML only,
  drawn by ``render``) or ``header`` (the page header's facts);
- ``category`` / ``measure``: the axis and the summed value; ``format``: ``number``, ``money`` or ``ratio``;
  ``axis``: the value axis title;
- ``top``: a rank column, keeping ranks 1-10 in rank order; ``order_by``: the sort column (else the category);
  ``keep``: ``{column: value}`` rows kept; ``color``: one series per value; ``heat_rows``: a heat map's rows;
  ``label``: a Python format for the category's labels (``"user {}"``, ``"{:02d}"``);
- ``render``: a bespoke HTML drawing (a function in page.py's ``RENDERERS``); the fields above still make
  its Tableau worksheet; ``tableau: false`` leaves the chart out of the workbook (``custom`` always is).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from pipeline.platform.errors import UserError

CHARTS_FILE = Path("models") / "dashboard.yml"
# Drawings made from the declaration alone, in the page and in Tableau.
FIELD_DRAWS = ("line", "bar", "hbar", "heat")
DRAWS = (*FIELD_DRAWS, "custom", "header")
FORMATS = ("number", "money", "ratio")
TOP_N = 10
_REF = re.compile(r"""^\s*ref\(\s*['"](\w+)['"]\s*\)\s*$""")


class ChartError(UserError):
    """A chart declaration that cannot be drawn: names the exposure and what to fix."""


@dataclass(frozen=True)
class Chart:
    name: str  # the exposure's name; the HTML section id is it with dashes
    title: str
    tables: tuple[str, ...]  # the marts it reads; the first is charted
    description: str
    draw: str
    category: str | None = None
    measure: str | None = None
    format: str = "number"
    axis: str = ""
    top: str | None = None
    order_by: str | None = None
    keep: tuple[tuple[str, str], ...] = ()
    color: str | None = None
    heat_rows: str | None = None
    label: str | None = None
    render: str | None = None
    tableau: bool = True

    @property
    def table(self) -> str:
        return self.tables[0]

    @property
    def html_id(self) -> str:
        return self.name.replace("_", "-")

    @property
    def subtitle(self) -> str:
        return f"{self.table} · {self.description}" if self.description else self.table

    @property
    def in_workbook(self) -> bool:
        return self.tableau and self.draw in FIELD_DRAWS

    def columns(self) -> list[str]:
        """Every column of the charted mart the declaration names."""
        named = [self.category, self.measure, self.top, self.order_by, self.color, self.heat_rows,
                 *(column for column, _ in self.keep)]
        return [c for c in named if c]


# The meta.chart keys that map one to one onto Chart fields (the others come from the exposure, or are
# read apart: draw, and keep's mapping).
DRAWN_BY = tuple(f.name for f in fields(Chart) if f.name not in ("name", "title", "tables", "description", "draw",
                                                                   "keep"))


def _ref(text: str, name: str) -> str:
    match = _REF.match(text)
    if not match:
        raise ChartError(f"chart {name}: depends_on entry {text!r} is not ref('<model>')")
    return match.group(1)


def _chart(exposure: dict[str, Any]) -> Chart:
    name = exposure["name"]
    spec = dict((exposure.get("meta") or {}).get("chart") or {})
    if not spec:
        raise ChartError(f"chart {name}: meta.chart is missing")
    tables = tuple(_ref(d, name) for d in exposure.get("depends_on") or [])
    if not tables:
        raise ChartError(f"chart {name}: depends_on names no mart")
    draw = spec.pop("draw", None)
    if draw not in DRAWS:
        raise ChartError(f"chart {name}: draw is {draw!r}; choose one of {', '.join(DRAWS)}")
    keep = tuple((str(k), str(v)) for k, v in (spec.pop("keep", None) or {}).items())
    unknown = sorted(set(spec) - set(DRAWN_BY))
    if unknown:
        raise ChartError(f"chart {name}: meta.chart keys {', '.join(unknown)} are not chart fields; "
                         f"known: draw, keep, {', '.join(DRAWN_BY)}")
    description = " ".join(str(exposure.get("description") or "").split())
    chart = Chart(name, exposure.get("label") or name, tables, description, draw, keep=keep, **spec)
    if chart.format not in FORMATS:
        raise ChartError(f"chart {name}: format is {chart.format!r}; choose one of {', '.join(FORMATS)}")
    if draw == "custom" and not chart.render:
        raise ChartError(f"chart {name}: a custom chart names its render")
    if draw in FIELD_DRAWS and not (chart.category and chart.measure):
        raise ChartError(f"chart {name}: a {draw} chart needs category and measure")
    if draw == "heat" and not chart.heat_rows:
        raise ChartError(f"chart {name}: a heat map needs heat_rows")
    return chart


def load_charts(dbt_project_dir: Path) -> tuple[Chart, ...]:
    """The charts in page order."""
    path = dbt_project_dir / CHARTS_FILE
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    charts = tuple(_chart(e) for e in document.get("exposures") or [])
    names = [c.name for c in charts]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ChartError(f"{path}: charts named twice: {', '.join(duplicated)}")
    return charts


def tables_read(charts: tuple[Chart, ...]) -> list[str]:
    """Every mart the page reads, in first-use order."""
    return list(dict.fromkeys(t for c in charts for t in c.tables))


def check_columns(charts: tuple[Chart, ...], manifest: Path) -> list[str]:
    """What the charts name that dbt's manifest does not document: missing marts or columns (empty: all there)."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    documented = {n["name"]: set(n.get("columns") or {}) for n in nodes if n["resource_type"] == "model"}
    problems = []
    for chart in charts:
        for table in chart.tables:
            if table not in documented:
                problems.append(f"chart {chart.name}: no model {table}")
        missing = [c for c in chart.columns() if chart.table in documented and c not in documented[chart.table]]
        problems += [f"chart {chart.name}: {chart.table} documents no column {c}" for c in missing]
    return problems
