"""Tableau data sources and the dashboard workbook read back with Tableau's own Document API (pure: no server)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from tableaudocumentapi import Datasource, Workbook

from pipeline.charts import load_charts
from pipeline.platform.config import REPO_ROOT
from pipeline.tableau.datasource import Column, LiveConnection, datasource_document, tableau_field, write_atomically
from pipeline.tableau.workbook import (
    DASHBOARD,
    MissingColumn,
    datasource_name,
    required_tables,
    workbook_document,
    workbook_sheets,
)

CHARTS = load_charts(REPO_ROOT / "dbt_project")
SHEETS = workbook_sheets(CHARTS)

COLUMNS = [Column.from_mysql(*c) for c in (
    ("event_date", "date", "date"), ("revenue", "decimal", "decimal(28,2)"), ("purchases", "bigint", "bigint"),
    ("user_id", "bigint", "bigint"), ("spend_rank", "int", "int"), ("brand", "varchar", "varchar(40)"),
    ("is_known_brand", "tinyint", "tinyint(1)"), ("last_ingested_at", "datetime", "datetime(6)"),
    ("avg_items_per_basket", "double", "double"))]


def test_columns_get_tableau_types_and_roles():
    got = {c.name: tableau_field(c) for c in COLUMNS}
    assert got == {
        "event_date": ("date", "dimension", "ordinal"),
        "revenue": ("real", "measure", "quantitative"),
        "purchases": ("integer", "measure", "quantitative"),
        "user_id": ("integer", "dimension", "ordinal"),  # an id is not something to sum
        "spend_rank": ("integer", "dimension", "ordinal"),
        "brand": ("string", "dimension", "nominal"),
        "is_known_brand": ("boolean", "dimension", "nominal"),
        "last_ingested_at": ("datetime", "dimension", "ordinal"),
        "avg_items_per_basket": ("real", "measure", "quantitative"),
    }


def test_a_data_source_reads_back_with_its_connection_table_and_every_column(tmp_path):
    path = write_atomically(datasource_document("daily_revenue", COLUMNS, LiveConnection("db.example", 3306,
                                                                                       "lakehouse_marts", "tableau")),
                            tmp_path / "daily_revenue.tds")
    assert [p.name for p in tmp_path.iterdir()] == ["daily_revenue.tds"]  # no partial file left behind
    source = Datasource.from_file(str(path))
    assert source.name == "daily_revenue"
    (connection,) = source.connections
    assert (connection.dbclass, connection.server, connection.port, connection.dbname, connection.username) == (
        "mysql", "db.example", "3306", "lakehouse_marts", "tableau")
    fields = {name.strip("[]"): field for name, field in source.fields.items()}
    assert set(fields) == {c.name for c in COLUMNS}
    for column in COLUMNS:
        datatype, role, kind = tableau_field(column)
        assert (fields[column.name].datatype, fields[column.name].role, fields[column.name].type) == (
            datatype, role, kind), column.name
    relation = source._datasourceXML.find(".//relation")  # the table Tableau opens
    assert (relation.get("table"), relation.get("connection")) == ("[daily_revenue]", "mysql.recolake")


def _mart_columns() -> dict[str, list[Column]]:
    """The charted marts' columns as information_schema describes them after `make sync`."""
    spec = {
        "daily_activity": [("event_date", "date"), ("active_users", "bigint"), ("sessions", "bigint")],
        "daily_revenue": [("event_date", "date"), ("revenue", "decimal"), ("purchases", "bigint")],
        "weekday_averages": [("event_weekday", "int"), ("event_weekday_name", "varchar"),
                             ("avg_active_users", "double"), ("avg_revenue", "double")],
        "hourly_purchases": [("event_hour", "int"), ("avg_purchases_per_day", "double")],
        "brand_rankings": [("brand", "varchar"), ("revenue", "decimal"), ("purchases", "bigint"),
                           ("revenue_rank", "int"), ("purchase_rank", "int")],
        "top_customers": [("user_id", "bigint"), ("spend", "decimal"), ("spend_rank", "int")],
        "customer_cohorts": [("cohort_grain", "varchar"), ("cohort_start", "date"), ("periods_since", "int"),
                             ("retention_share", "double")],
        "rfm_segments": [("segment", "varchar"), ("segment_order", "int"), ("buyers", "bigint")],
        "recommendation_outcomes_daily": [("event_date", "date"), ("list_source", "varchar"),
                                          ("hit_rate_at_10", "double")],
    }
    return {t: [Column.from_mysql(n, d, d) for n, d in cols] for t, cols in spec.items()}


def _declared_and_used(sheet: ET.Element) -> tuple[set[str], set[str]]:
    """Column instances a worksheet declares, and those its shelves, filters and sorts refer to."""
    view = sheet.find("table/view")
    ds = view.find("datasource-dependencies").get("datasource")
    declared = {f"[{ds}].{i.get('name')}" for i in view.iter("column-instance")}
    used = {sheet.findtext("table/rows"), sheet.findtext("table/cols")}
    used |= {f.get("column") for f in view.iter("filter")} | {s.text for s in view.iter("column") if s.text}
    used |= {c.get("column") for c in sheet.iter("color")}
    for sort in view.iter("computed-sort"):
        used |= {sort.get("column"), sort.get("using")}
    return declared, used


def test_the_dashboard_workbook_reads_back_with_a_worksheet_per_chart(tmp_path):
    columns = _mart_columns()
    connection = LiveConnection("db.example", 3306, "lakehouse_marts", "tableau")
    path = write_atomically(workbook_document(columns, connection, CHARTS), tmp_path / "dashboard.twb")
    book = Workbook(str(path))
    assert book.worksheets == [s.title for s in SHEETS] and book.dashboards == [DASHBOARD]
    sources = {s.name: s for s in book.datasources}
    assert set(sources) == {datasource_name(t) for t in required_tables(SHEETS)} and len(sources) == 9
    for sheet in SHEETS:
        source = sources[datasource_name(sheet.table)]
        assert source.connections[0].dbname == "lakehouse_marts" and source.caption == sheet.table
        assert {f.strip("[]") for f in source.fields} == {c.name for c in columns[sheet.table]}
        used_by_sheet = {name.strip("[]") for name, f in source.fields.items() if sheet.title in f.worksheets}
        assert {sheet.category, sheet.measure} <= used_by_sheet, sheet.title
    root = ET.parse(path).getroot()
    assert root.get("source-build")  # Tableau refuses a workbook without it
    for element in root.iter("worksheet"):
        declared, used = _declared_and_used(element)
        assert used <= declared, element.get("name")  # every field on a shelf is declared
    zones = {z.get("name") for z in root.iter("zone") if z.get("name")}
    viewpoints = {v.get("name") for v in root.find("windows").iter("viewpoint") if v.get("name")}
    assert zones == viewpoints == set(book.worksheets)
    tops = {e.get("name"): e.find(".//filter") for e in root.iter("worksheet")}
    assert tops["Top 10 brands by revenue"].findtext("max") == "10"
    assert "revenue_rank" in tops["Top 10 brands by revenue"].get("column")
    assert tops["Daily active users"] is None
    # The cohort heat map: weekly cohorts down the side, weeks since across, cells shaded by retention.
    heat = next(e for e in root.iter("worksheet") if e.get("name") == "Weekly cohort retention")
    assert heat.find(".//mark").get("class") == "Square"
    assert heat.findtext("table/rows").endswith("[mdy:cohort_start:ok]")
    assert heat.findtext("table/cols").endswith("[none:periods_since:ok]")
    assert heat.find(".//encodings/color").get("column").endswith("[sum:retention_share:qk]")
    member = heat.find(".//filter/groupfilter")
    assert (member.get("level"), member.get("member")) == ("[none:cohort_grain:nk]", '"week"')
    line = next(e for e in root.iter("worksheet") if e.get("name").startswith("Served recommendations"))
    assert line.find(".//encodings/color").get("column").endswith("[none:list_source:nk]")


def test_a_chart_on_a_column_the_mart_lacks_is_named():
    columns = _mart_columns()
    columns["top_customers"] = [c for c in columns["top_customers"] if c.name != "spend"]
    with pytest.raises(MissingColumn, match="Top 10 customers by amount spent.*top_customers.spend"):
        workbook_document(columns, LiveConnection("db.example", 3306, "lakehouse_marts", "tableau"), CHARTS)
