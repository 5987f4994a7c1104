"""Each dashboard chart is declared once (dbt_project/models/dashboard.yml, pipeline/charts.py): from that
block come the HTML card, the Tableau worksheet and the exposure dbt shows, and its columns are checked
against the manifest. No Spark: dbt only parses."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.charts import ChartError, check_columns, load_charts
from pipeline.dashboard.page import build_page
from pipeline.platform.config import REPO_ROOT
from pipeline.tableau.datasource import Column, LiveConnection
from pipeline.tableau.workbook import workbook_document, workbook_sheets
from tests.clone import analyst_env

NEW_CHART = """
  - name: daily_purchases
    label: Purchases per day
    type: dashboard
    maturity: medium
    owner: *analytics
    description: purchase events per UTC day
    depends_on: [ref('daily_revenue')]
    meta: {chart: {draw: line, category: event_date, measure: purchases, axis: purchases}}
"""


class Rows:
    """Marts as rows in memory: the page reads nothing else from a source."""

    name = "test rows"

    def __init__(self, marts: dict[str, list[dict]]) -> None:
        self.marts = marts

    def rows(self, table: str) -> list[dict]:
        return self.marts.get(table, [])

    def close(self) -> None:
        pass


def _copy_project(tmp_path: Path) -> Path:
    copy = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return copy


def _plain_dbt_parse(project: Path) -> dict:
    """`dbt parse` as an analyst runs it, from the project folder."""
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run([str(dbt), "parse", "--profiles-dir", str(REPO_ROOT / "profiles")], cwd=project,
                            capture_output=True, text=True, env=analyst_env(), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((project / "target" / "manifest.json").read_text())


def test_a_chart_declared_once_appears_in_the_page_the_workbook_and_dbt(tmp_path):
    project = _copy_project(tmp_path)
    with (project / "models" / "dashboard.yml").open("a", encoding="utf-8") as f:
        f.write(NEW_CHART)
    charts = load_charts(project)
    assert charts[-1].name == "daily_purchases"

    days = [dt.date(2019, 10, 1) + dt.timedelta(days=i) for i in range(3)]
    marts = {"daily_revenue": [{"event_date": d, "revenue": Decimal("10.5") * (i + 1), "purchases": 7 * (i + 1)}
                               for i, d in enumerate(reversed(days))]}
    page = build_page(Rows(marts), charts)
    section = page[page.index('id="daily-purchases"'):]
    section = section[:section.index("</section>")]
    assert "Purchases per day" in section and "daily_revenue · purchase events per UTC day" in section
    drawn = [float(v) for v in re.findall(r'data-value="([\d.]+)"', section)]
    assert drawn == [21.0, 14.0, 7.0]  # in date order, from the rows given newest first

    sheets = workbook_sheets(charts)
    assert sheets[-1].title == "Purchases per day"
    named: dict[str, dict[str, Column]] = {}  # every mart's columns the sheets name, as MySQL would type them
    for s in sheets:
        for c in s.columns():
            kind = "date" if c.endswith(("_date", "_start")) else "varchar" if c in ("brand", "segment") else "double"
            named.setdefault(s.table, {})[c] = Column.from_mysql(c, kind, kind)
    columns = {table: list(cols.values()) for table, cols in named.items()}
    root = workbook_document(columns, LiveConnection("db.example", 3306, "marts", "tableau"), charts).getroot()
    sheet = next(w for w in root.iter("worksheet") if w.get("name") == "Purchases per day")
    assert sheet.findtext("table/rows").endswith("[sum:purchases:qk]")
    assert sheet.find(".//mark").get("class") == "Line"
    assert "Purchases per day" in {z.get("name") for z in root.iter("zone")}

    manifest = _plain_dbt_parse(project)
    exposure = manifest["exposures"]["exposure.recolake.daily_purchases"]
    assert exposure["depends_on"]["nodes"] == ["model.recolake.daily_revenue"]
    assert exposure["label"] == "Purchases per day"
    assert check_columns(charts, project / "target" / "manifest.json") == []


def test_every_declared_chart_names_marts_and_columns_the_manifest_documents(tmp_path):
    project = _copy_project(tmp_path)
    charts = load_charts(project)
    manifest_path = project / "target" / "manifest.json"
    manifest = _plain_dbt_parse(project)
    assert {f"exposure.recolake.{c.name}" for c in charts} <= set(manifest["exposures"])
    assert check_columns(charts, manifest_path) == []
    with (project / "models" / "dashboard.yml").open("a", encoding="utf-8") as f:
        f.write(NEW_CHART.replace("measure: purchases", "measure: purchase_count"))
    assert check_columns(load_charts(project), manifest_path) == [
        "chart daily_purchases: daily_revenue documents no column purchase_count"]


@pytest.mark.parametrize("chart, message", [
    ("{draw: pie, category: a, measure: b}", "draw is 'pie'"),
    ("{draw: line, category: a}", "a line chart needs category and measure"),
    ("{draw: custom}", "a custom chart names its render"),
    ("{draw: bar, category: a, measure: b, colour: c}", "meta.chart keys colour are not chart fields"),
    ("{draw: heat, category: a, measure: b}", "a heat map needs heat_rows"),
    ("{draw: bar, category: a, measure: b, format: euros}", "format is 'euros'"),
])
def test_a_declaration_that_cannot_be_drawn_is_named(tmp_path, chart, message):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "dashboard.yml").write_text(
        "version: 2\nexposures:\n  - name: broken\n    depends_on: [ref('daily_revenue')]\n"
        f"    meta: {{chart: {chart}}}\n", encoding="utf-8")
    with pytest.raises(ChartError, match=f"chart broken: {message}"):
        load_charts(tmp_path)
