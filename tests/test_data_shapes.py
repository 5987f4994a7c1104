"""Data of other shapes, as a new user brings it: a 1990s log, a spreadsheet-resaved file, a file
that is all bad, a rule change on an existing lakehouse, a small window for the ML. Each is loud
(one line naming the reason, the count and the setting), never silently empty, and a rule change
re-decides every row exactly as a fresh build would."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pytest

from ml.data import MlDataError, load_feedback
from ml.evaluation.metrics_table import format_metrics
from ml.params import InputSpec, RefitPolicy, RunParams
from ml.training import run
from pipeline import health
from pipeline.charts import load_charts
from pipeline.dashboard.marts import DeltaMarts
from pipeline.dashboard.page import build_page
from pipeline.doctor.checks import check_data_health
from pipeline.generate.dataset import generate
from pipeline.generate.params import DirtyMix, GeneratorParams
from pipeline.ingest.batch import IngestResult, health_inputs, ingest
from pipeline.platform.config import Settings, dbt_vars, load_settings
from pipeline.platform.errors import UserError
from pipeline.rees46 import HEADER_LINE
from pipeline.transform.runner import run_dbt, run_dbt_checked
from tests import reference

BUILT_TABLES = ("cleaned.cleaned_events", "cleaned.quarantined_events", "marts.data_health_reasons",
                "marts.data_health_files", "marts.daily_revenue", "marts.daily_activity", "marts.weekday_averages",
                "marts.hourly_purchases", "marts.brand_rankings", "marts.top_customers", "marts.category_revenue",
                "marts.funnel_daily_category", "marts.dim_products", "marts.dim_users",
                "marts.user_item_days", "marts.user_item_interactions")


def _assert_status_twins_agree(spark, rules) -> int:
    """The file status rule lives twice: pipeline/health.py ``file_status`` (Python, `make ingest`) and
    ``health_status`` in models/marts/health/data_health_files.sql (SQL, the marts). They agree on every file."""
    verdicts = {v.name: v for v in health.file_verdicts(lambda sql: spark.sql(sql).collect())}
    marts = {r.source_file: r.health_status for r in spark.table(health.FILES_TABLE).collect()}
    assert marts.keys() == verdicts.keys()
    assert {name: health.file_status(v, rules) for name, v in verdicts.items()} == marts
    return len(marts)


def _land(spark, settings: Settings, files: dict[str, Path | bytes]) -> IngestResult:
    """Replace the landing folder and every built layer with these files, ingested."""
    for schema in ("raw", "cleaned", "marts", "ml"):
        spark.sql(f"drop database if exists {schema} cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    settings.raw_dir.mkdir(parents=True)
    for name, content in files.items():
        target = settings.raw_dir / name
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_bytes(content)
    return ingest(spark, settings.raw_dir, progress=False)


def _snapshot(spark, table: str) -> list[tuple]:
    """Rows as sorted tuples, without build timestamps; doubles rounded (Spark sums in partition order)."""
    df = spark.table(table)
    df = df.drop(*[c for c in df.columns if c in ("last_ingested_at", "loaded_at")])
    rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in df.collect()]
    return sorted(rows, key=str)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(scope="module")
def nineties(spark, settings, tmp_path_factory, monkeypatch_module) -> tuple[list[Path], Settings]:
    """Three days of a 1997 log, landed on a lakehouse whose rules say events start in 2000;
    and settings pointing at that log's ground truth."""
    root = tmp_path_factory.mktemp("nineties")
    generate(GeneratorParams(rows=9_000, days=3, seed=11, start=dt.date(1997, 3, 1), dirty=DirtyMix(share=0.0)),
             root / "raw", root / "truth", progress=False)
    files = sorted((root / "raw").glob("*.csv"))
    _land(spark, settings, {p.name: p for p in files})
    monkeypatch_module.setenv("MIN_EVENT_DATE", "2000-01-01")
    return files, dataclasses.replace(settings, truth_dir=root / "truth")


def test_a_log_before_min_event_date_fails_the_build_with_the_setting_to_change(spark, settings, nineties):
    with pytest.raises(UserError) as failed:
        run_dbt_checked(["build", "--exclude", "tag:recommendations"], load_settings())
    message = str(failed.value)
    assert failed.value.exit_code == 1
    assert message.startswith("data health: 3 of 3 files (e.g. rees46_1997-03-0")
    assert "more than 50% unusable: 9,000 of 9,000 lines" in message
    assert "quarantined 'event_time before 2000-01-01' (9,000 rows)" in message
    assert "set MIN_EVENT_DATE=1997-03-01" in message and "HEALTH_ERROR_SHARE (now 0.5)" in message
    files = spark.table(health.FILES_TABLE).collect()
    assert len(files) == 3 and all(r.health_status == "error" and r.quarantined_rows == r.lines_read for r in files)
    assert _assert_status_twins_agree(spark, load_settings().rules) == 3
    assert spark.table("cleaned.cleaned_events").count() == 0
    report = json.loads((settings.reports_dir / "data_health.json").read_text())
    assert report["status"] == "error" and report["message"] == message


def test_a_rule_change_rebuilds_to_exactly_what_a_fresh_build_gives(spark, nineties, monkeypatch_module, caplog):
    monkeypatch_module.setenv("MIN_EVENT_DATE", "1997-01-01")
    with caplog.at_level(logging.INFO):
        verdict = run_dbt_checked(["build", "--exclude", "tag:recommendations"], load_settings())
    assert verdict is not None and verdict.status == "ok"
    events = reference.parse(nineties[0])
    assert spark.table("cleaned.cleaned_events").count() == len(reference.cleaned(events)) > 8000
    assert spark.table("cleaned.quarantined_events").count() == 0  # the old verdicts are gone
    incremental = {t: _snapshot(spark, t) for t in BUILT_TABLES}
    run_dbt(["build", "--full-refresh", "--exclude", "tag:recommendations"], load_settings())
    for table in BUILT_TABLES:
        assert _snapshot(spark, table) == incremental[table], table


def test_a_small_window_is_evaluated_on_a_shorter_holdout_and_says_how_many_users(spark, nineties, caplog):
    with caplog.at_level(logging.WARNING, logger="ml"):
        report = run(spark, nineties[1], RunParams(refit=RefitPolicy(force=True)), progress=False)
    assert report["window"]["holdout_days"] == 1  # 7 asked, the data spans 3 days
    users = report["counts"]["eval_users"]
    assert 0 < users < 200
    table = format_metrics(report)
    assert f"evaluated users: {users:,}" in table
    assert f"warning: only {users:,} evaluated users" in table
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "holding out 1 instead of 7" in warnings and "too noisy" in warnings


def test_one_day_of_real_data_trains_without_evaluation_and_says_why(spark, settings, real_slice, caplog,
                                                                    tmp_path):
    _land(spark, settings, {real_slice.name: real_slice})
    run_dbt(["build", "--exclude", "tag:recommendations"], load_settings())
    with caplog.at_level(logging.WARNING, logger="ml"):
        report = run(spark, dataclasses.replace(settings, truth_dir=tmp_path / "no-truth"),
                     RunParams(refit=RefitPolicy(force=True)),
                     progress=False)
    assert report["metrics"] == {}
    assert report["counts"]["recommendation_rows"] > 0
    assert any("evaluation skipped: the events span 1 day" in r.getMessage() for r in caplog.records)
    assert "(evaluation skipped" in format_metrics(report)


EXCEL_ROWS = [
    "2019-10-01 00:00:00 UTC,purchase,1004856,2.05301E+18,electronics.smartphone,samsung,130.76,543272936,s1",
    "2019-10-01 00:00:05 UTC,remove_from_cart,1004856,2.05301E+18,electronics.smartphone,samsung,130.76,543272936,s1",
    "2019-10-01 00:01:00 UTC,view,1005115,2.05301E+18,,apple,-5.00,543272936,s1",
    "2019-10-01 00:02:00 UTC,purchase,1005115,2.05301E+18,,apple,915.69,512475445,s2",
]


def test_a_spreadsheet_resaved_file_keeps_every_event_and_drops_only_the_rounded_ids(spark, settings, caplog):
    _land(spark, settings, {"excel.csv": ("\r\n".join([HEADER_LINE, *EXCEL_ROWS]) + "\r\n").encode()})
    with caplog.at_level(logging.WARNING, logger="pipeline.health"):
        verdict = run_dbt_checked(["build", "--exclude", "tag:recommendations"], load_settings())
    # Every event is kept, but the file lost category_id on every line: a warning naming the column,
    # its share and the likely cause, in the log, the verdict file, the health mart, the doctor and the dashboard.
    assert verdict is not None and verdict.status == "warn"
    assert verdict.message.startswith(
        "data health: excel.csv is losing category_id on more than 1% of lines (events kept): "
        "'category_id unreadable' on 4 of 4 lines (100%); as after a spreadsheet re-save")
    assert "the category marts show these events as unknown" in verdict.message
    assert verdict.message in caplog.text
    assert json.loads((settings.reports_dir / "data_health.json").read_text())["message"] == verdict.message
    assert "losing category_id" in check_data_health(settings).detail
    (file,) = spark.table(health.FILES_TABLE).collect()
    assert (file.health_status, file.dropped_attribute, file.dropped_attribute_share, file.unusable_share) == (
        "warn", "category_id", 1.0, 0.0)
    assert file.main_problem == "attribute dropped: category_id unreadable on 100.0 % of lines"
    assert _assert_status_twins_agree(spark, settings.rules) == 1
    page = build_page(DeltaMarts(spark), load_charts(settings.dbt_project_dir))
    assert "category_id 100.0%" in page
    assert "attribute dropped: category_id unreadable on 100.0 % of lines: as after" in page
    cleaned = {(r.event_type, r.product_id): r for r in spark.table("cleaned.cleaned_events").collect()}
    assert set(cleaned) == {("purchase", 1004856), ("remove_from_cart", 1004856), ("view", 1005115),
                            ("purchase", 1005115)}
    assert all(r.category_id is None for r in cleaned.values())
    assert cleaned[("purchase", 1004856)].dropped_attributes == "category_id unreadable"
    assert cleaned[("view", 1005115)].dropped_attributes == "category_id unreadable; price dropped: negative price"
    assert cleaned[("view", 1005115)].price is None
    revenue = spark.table("marts.daily_revenue").first()
    assert (str(revenue.revenue), revenue.purchases) == ("1046.45", 2)
    reasons = {(r.outcome, r.reason): r.row_count for r in spark.table(health.REASONS_TABLE).collect()}
    assert reasons == {("parsed", "parsed into an event"): 4, ("attribute dropped", "category_id unreadable"): 4,
                       ("attribute dropped", "price dropped: negative price"): 1}


def test_a_file_that_is_all_bad_fails_ingest_naming_file_reason_and_fix(spark, settings):
    bad = [row.replace("2019-10-01 ", "01/10/2019 ", 1) for row in EXCEL_ROWS]  # a spreadsheet's date format
    good = "2019-10-01 00:00:00 UTC,view,1,2,,,1.00,7,s"
    report = _land(spark, settings, {"all_bad.csv": "\n".join([HEADER_LINE, *bad, ""]).encode(),
                                     "fine.csv": "\n".join([HEADER_LINE, good, ""]).encode()})
    verdict = health.assess(*health_inputs(spark, report), dbt_vars())
    assert verdict.status == "error"
    assert verdict.message == (
        "data health: all_bad.csv is more than 50% unusable: 4 of 4 lines; most often rejected 'bad event_time' "
        "(4 rows); event_time must read like 2019-10-01 00:00:00 UTC: fix the export; to accept such files, "
        "raise HEALTH_ERROR_SHARE (now 0.5)")


def test_a_table_without_the_named_columns_is_one_clear_error(spark, settings):
    with pytest.raises(MlDataError) as failed:
        load_feedback(spark, InputSpec(table="raw.ingest_ledger"))
    assert str(failed.value).startswith("raw.ingest_ledger has no column user_id, product_id, strength, purchases "
                                        "(it has source_file, ")
