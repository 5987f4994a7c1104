"""The HTML dashboard, opened in real headless Chromium: every chart drawn from the synced MySQL
marts, values equal to the marts, no console errors, and a clear page when the marts are empty."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from ml.params import EvalSpec, RefitPolicy, RunParams
from ml.training import run
from pipeline.charts import load_charts
from pipeline.dashboard import svg
from pipeline.dashboard.marts import DeltaMarts, MysqlMarts
from pipeline.dashboard.page import build_page
from pipeline.generate.params import GeneratorParams
from pipeline.mysql import local_server
from pipeline.mysql.connection import connect
from pipeline.platform.config import REPO_ROOT, load_settings
from pipeline.sync.catalog import tagged_tables
from pipeline.sync.marts import sync_all
from pipeline.transform.runner import run_dbt
from tests import browser
from tests.chain import land_generated, land_held_back

# What these tests need (the synced marts in MariaDB, rendered in headless Chromium): `make test-fast` skips them.
pytestmark = [pytest.mark.mysql, pytest.mark.browser]

CHARTS = {"data-health", "daily-active-users", "weekday-users", "daily-revenue", "weekday-revenue", "hourly-purchases",
          "top-brands-revenue", "top-brands-purchases", "top-customers", "funnel", "category-revenue",
          "model-quality", "quality-history", "sample-recommendations", "cohort-retention", "customer-segments",
          "repeat-purchases", "served-outcomes"}
DECLARED = load_charts(REPO_ROOT / "dbt_project")
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"  # git-ignored: look at them after a test run


class Charts(HTMLParser):
    """Each chart section's emptiness flag, plotted (label, value) pairs and table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "chart" in (a.get("class") or ""):
            self._current = a["id"]
            self.sections[a["id"]] = {"empty": a.get("data-empty") == "true", "data": [], "rows": 0, "heights": []}
        elif self._current and "datum" in (a.get("class") or "").split():
            self.sections[self._current]["data"].append((a["data-label"], float(a["data-value"])))
            if tag == "rect":
                self.sections[self._current]["heights"].append(float(a["height"]))
        elif self._current and tag == "tr":
            self.sections[self._current]["rows"] += 1


def _charts(dom: str) -> dict[str, dict]:
    parser = Charts()
    parser.feed(dom)
    return parser.sections


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = local_server.LocalServer(root=tmp_path_factory.mktemp("mysql_dash"), port=local_server.free_port())
    local_server.ensure_running(srv)
    yield srv
    local_server.stop(srv)


@pytest.fixture(scope="module")
def synced(spark, settings, server, tmp_path_factory):
    """A small full chain: generate, ingest, dbt, ALS on nine days, a tenth day and the model's update (so
    the served lists have an outcome), recommendation marts, MySQL sync."""
    land_generated(spark, settings, GeneratorParams(rows=40_000, days=10, seed=11), tmp_path_factory.mktemp("dash"),
                   hold_back=1)
    run_dbt(["run", "--full-refresh", "--exclude", "tag:recommendations"], load_settings())
    params = RunParams(evaluation=dataclasses.replace(EvalSpec(), holdout_days=3))
    run(spark, settings, dataclasses.replace(params, refit=RefitPolicy(force=True)), progress=False)
    land_held_back(spark, settings)
    run_dbt(["run", "--exclude", "tag:recommendations"], load_settings())
    run(spark, settings, params, progress=False)
    run_dbt(["run", "--select", "tag:recommendations"], load_settings())
    tables = tagged_tables(settings.dbt_target_dir / "manifest.json")
    sync_all(spark, settings, server.app_settings(), tables, progress=False)
    return server


def test_every_chart_renders_from_the_synced_marts_without_console_errors(synced, tmp_path):
    source = MysqlMarts(synced.app_settings())
    page = tmp_path / "dashboard.html"
    page.write_text(build_page(source, DECLARED), encoding="utf-8")
    source.close()
    assert "<script" not in page.read_text() and "http://" not in page.read_text().replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # self-contained: nothing to fetch
    loaded = browser.load(page, SCREENSHOTS / "dashboard.png")
    assert loaded.console == []
    charts = _charts(loaded.dom)
    assert set(charts) == CHARTS
    for name, chart in charts.items():
        assert not chart["empty"], name
        assert chart["data"] or chart["rows"] > 1, name
    assert (SCREENSHOTS / "dashboard.png").stat().st_size > 10_000

    conn = connect(synced.app_settings())
    cur = conn.cursor()
    cur.execute("select revenue from daily_revenue order by event_date")
    assert [v for _, v in charts["daily-revenue"]["data"]] == [float(r[0]) for r in cur.fetchall()]
    cur.execute("select brand, revenue from brand_rankings where revenue_rank <= 10 order by revenue_rank")
    assert charts["top-brands-revenue"]["data"] == [(b, float(r)) for b, r in cur.fetchall()]
    cur.execute("select user_id, spend from top_customers where spend_rank <= 10 order by spend_rank")
    assert charts["top-customers"]["data"] == [(f"user {u}", float(s)) for u, s in cur.fetchall()]
    cur.execute("select health_status, count(*) from data_health_files group by health_status")
    statuses = dict(cur.fetchall())
    assert charts["data-health"]["data"] == [(s, float(statuses.get(s, 0))) for s in ("ok", "warn", "error")]
    assert sum(statuses.values()) == 10  # one row per generated daily file
    cur.execute("select als from model_quality_latest where metric = 'ndcg' and k = 10")
    assert ("ndcg@10 ALS", pytest.approx(cur.fetchone()[0])) in charts["model-quality"]["data"]
    cur.execute("select sum(views), sum(carts), sum(purchases) from funnel_daily_category")
    assert charts["funnel"]["data"] == list(zip(("views", "carts", "purchases"), map(float, cur.fetchone())))
    cur.execute("select segment, buyers from rfm_segments order by segment_order")
    assert charts["customer-segments"]["data"] == [(seg, float(n)) for seg, n in cur.fetchall()]
    cur.execute("select event_date, list_source, hit_rate_at_10 from recommendation_outcomes_daily order by event_date")
    daily = cur.fetchall()
    assert daily and {source for _, source, _ in daily} == {"model", "popularity"}
    shown = dict(charts["served-outcomes"]["data"])
    labels = {"model": "personal lists", "popularity": "popular list"}
    assert {f"{svg.short_date(d)} {labels[src]}": pytest.approx(float(v or 0)) for d, src, v in daily} == shown
    cur.execute("select cohort_start, periods_since, retention_share from customer_cohorts where cohort_grain = 'week'")
    cells = {(f"{svg.short_date(d)}", str(p)): float(v) for d, p, v in cur.fetchall()}
    drawn = {(label.rsplit(" (", 1)[0], label.rsplit(" ", 1)[1]): v for label, v in charts["cohort-retention"]["data"]}
    assert drawn == cells
    conn.close()

    # Readable: on the funnel's log axis purchases (1.5 % of views here) stand at least a quarter as tall
    # as views, and the quality chart's axis ends near its largest score (scores around 0.1, not a 0-1 axis).
    funnel = charts["funnel"]["heights"]
    assert funnel[0] > funnel[1] > funnel[2] >= funnel[0] / 4
    quality = charts["model-quality"]["heights"]
    assert max(quality) >= 0.4 * (svg.HEIGHT - svg.MARGIN_TOP - svg.MARGIN_BOTTOM)


def test_delta_marts_give_the_same_page_as_mysql(spark, synced):
    mysql = MysqlMarts(synced.app_settings())
    from_mysql = _charts(build_page(mysql, DECLARED))
    mysql.close()
    from_delta = _charts(build_page(DeltaMarts(spark), DECLARED))
    assert {k: v["data"] for k, v in from_delta.items()} == {k: v["data"] for k, v in from_mysql.items()}


def test_empty_marts_give_a_page_that_says_so(server, tmp_path):
    admin = connect(server.admin_settings(), database=False)
    admin.cursor().execute("create database if not exists empty_marts")
    admin.close()
    empty = dataclasses.replace(server.app_settings(), user="root", password="", database="empty_marts",
                                unix_socket=str(server.socket))
    source = MysqlMarts(empty)
    page = tmp_path / "empty.html"
    page.write_text(build_page(source, DECLARED), encoding="utf-8")
    source.close()
    loaded = browser.load(page, SCREENSHOTS / "dashboard_empty.png")
    assert loaded.console == []
    charts = _charts(loaded.dom)
    assert set(charts) == CHARTS and all(c["empty"] and not c["data"] for c in charts.values())
    assert loaded.dom.count("No data yet") == len(CHARTS)
    assert "no data yet" in loaded.dom and "no model run yet" in loaded.dom


def test_each_synced_mart_gets_a_tableau_data_source_with_every_mysql_column(synced, settings, tmp_path):
    from tableaudocumentapi import Datasource, Workbook

    from pipeline.tableau.files import mysql_columns, write_datasources
    from pipeline.tableau.workbook import workbook_sheets

    sheets = workbook_sheets(DECLARED)

    mysql = synced.app_settings()
    manifest = settings.dbt_target_dir / "manifest.json"
    written = write_datasources(manifest, mysql, "tableau", tmp_path, DECLARED)
    tables = {t.target for t in tagged_tables(manifest)}
    held = mysql_columns(mysql)
    assert {p.name for p in written} == {f"{t}.tds" for t in tables} | {"recolake_dashboard.twb"}
    assert len(tables) >= 12
    for path in written:
        if path.suffix == ".tds":
            source = Datasource.from_file(str(path))
            assert source.connections[0].dbname == mysql.database
            assert sorted(f.strip("[]") for f in source.fields) == sorted(c.name for c in held[path.stem]), path
    book = Workbook(str(tmp_path / "recolake_dashboard.twb"))
    assert book.worksheets == [s.title for s in sheets]
    for sheet in sheets:  # every chart's fields exist in the table MySQL holds and are used by it
        (source,) = [s for s in book.datasources if s.caption == sheet.table]
        used = {n.strip("[]") for n, f in source.fields.items() if sheet.title in f.worksheets}
        assert {sheet.category, sheet.measure} <= used <= {c.name for c in held[sheet.table]}, sheet.title


def _profile_spark(df) -> dict[str, tuple]:
    """Per column: non-null count, and the sum (numbers) or min and max (everything else)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    aggs = []
    for f in df.schema.fields:
        aggs.append(F.count(f.name))
        numeric = isinstance(f.dataType, T.NumericType) and not isinstance(f.dataType, T.BooleanType)
        # Integers are summed as decimal(38, 0): category ids near 2e18 overflow a 64-bit sum.
        wide = F.col(f.name).cast("decimal(38,0)") if isinstance(f.dataType, T.IntegralType) else F.col(f.name)
        aggs += [F.sum(wide)] if numeric else [F.min(f.name), F.max(f.name)]
    row = df.agg(*aggs).first()
    out, i = {}, 0
    for f in df.schema.fields:
        width = 2 if isinstance(f.dataType, T.NumericType) else 3
        out[f.name] = tuple(row[i:i + width])
        i += width
    return out


def _plain(value):
    """Hyper's and Spark's values as plain Python ones (naive UTC datetimes) for comparison."""
    import datetime as dt

    for method in ("to_datetime", "to_date"):
        if hasattr(value, method):
            value = getattr(value, method)()
            break
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def test_the_hyper_extract_holds_every_synced_mart_exactly(synced, spark, settings, tmp_path):
    from pyspark.sql import types as T
    from tableaudocumentapi import Datasource, Workbook
    from tableauhyperapi import Connection, HyperProcess, Telemetry, escape_name

    from pipeline.tableau.extract import HYPER_PARAMETERS, SCHEMA, write_extract

    tables = tagged_tables(settings.dbt_target_dir / "manifest.json")
    path = tmp_path / "marts.hyper"
    rows = write_extract(spark, tables, path, tmp_path / "scratch", DECLARED, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".tds")) == ["marts.hyper", "marts.twb"]
    with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                      parameters={**HYPER_PARAMETERS, "log_dir": str(tmp_path)}) as hyper, \
            Connection(hyper.endpoint, str(path)) as conn:
        for table in tables:
            df = spark.table(table.source)
            assert rows[table.target] == df.count(), table.target
            expected = _profile_spark(df)
            integral = {f.name for f in df.schema.fields if isinstance(f.dataType, T.IntegralType)}
            for column, want in expected.items():
                c = escape_name(column)
                if len(want) == 2:
                    summed = f"cast({c} as numeric(38, 0))" if column in integral else c
                    got = conn.execute_list_query(
                        f"select count({c}), sum({summed}) from {SCHEMA}.{escape_name(table.target)}")[0]
                    assert got[0] == want[0], (table.target, column)
                    assert (got[1] is None) == (want[1] is None), (table.target, column)
                    if isinstance(want[1], float):  # doubles add up in another order
                        assert float(got[1]) == pytest.approx(want[1], rel=1e-12), (table.target, column)
                    elif want[1] is not None:  # decimals and integers: exactly
                        assert Decimal(str(got[1])) == Decimal(str(want[1])), (table.target, column)
                else:
                    got = conn.execute_list_query(
                        f"select count({c}), min({c}), max({c}) from {SCHEMA}.{escape_name(table.target)}")[0]
                    assert [_plain(v) for v in got] == [_plain(v) for v in want], (table.target, column)
            source = Datasource.from_file(str(tmp_path / f"marts.{table.target}.tds"))
            assert source.connections[0].dbclass == "hyper"
            assert sorted(f.strip("[]") for f in source.fields) == sorted(df.columns)
    book = Workbook(str(tmp_path / "marts.twb"))
    assert {s.connections[0].dbclass for s in book.datasources} == {"hyper"}
    assert {s.connections[0].dbname for s in book.datasources} == {str(path.resolve())}
