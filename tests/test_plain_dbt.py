"""Analysts' dbt: the real `dbt` executable, typed as the README says (`cd dbt_project &&
../.venv/bin/dbt <command> --profiles-dir ../profiles`), in an environment stripped of everything
the project's wrapper sets (no --vars, no LAKEHOUSE_*), on the lakehouse `make recommend`'s chain
built in a clone of the project (tests/clone.py).

Every command of the README's analyst list must exit 0. A project-level config that needs
command-line vars again fails every one of them, starting with `dbt parse`. The fault chain
(tests/test_faults.py) re-runs a crashed build and builds the recommendation marts with plain
`dbt build` on the same clone; this module runs after it and reuses its chain's lakehouse."""

from __future__ import annotations

import json
import re
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests import reference
from tests.clone import Clone, analyst_env, module_argv, plain_dbt_argv

# What these tests need (dbt in subprocesses starts JVMs; the chain syncs to MariaDB): `make test-fast` skips them.
pytestmark = [pytest.mark.spark, pytest.mark.mysql]

# The tables that record the rules their rows were decided with (recorded_rules in dbt_project.yml).
STAMPED = ("cleaned_events", "cleaned_purchases", "quarantined_events", "data_health_reasons", "daily_revenue",
           "daily_activity", "funnel_daily_category", "int_user_sessions", "dim_users", "dim_products",
           "user_item_days", "recommendation_outcomes")
DEFAULT_RULES = "v3 max_price=100000 min_event_date=1990-01-01 known_event_types=view,cart,remove_from_cart,purchase"


@pytest.fixture(scope="module")
def built(clone: Clone) -> Clone:
    """The clone after `make recommend`'s whole chain (already there when the fault chain ran first)."""
    if not clone.chain_complete():
        result = clone.run("pipeline.chain", "--quiet", "--no-eval", "--max-iter", "4")
        assert result.returncode == 0, result.stderr[-3000:]
    return clone


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def _rules(spark, clone: Clone, table: str) -> str:
    detail = spark.sql(f"describe detail delta.`{clone.table_path(table)}`").first()
    return detail.properties["recolake.rules"]


def test_parse_ls_and_debug_need_nothing_but_the_profile(built):
    _ok(built.dbt("parse"))
    manifest = json.loads((built.dbt_project / "target" / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    listed = _ok(built.dbt("ls", "--resource-type", "model", "--output", "name", "--quiet")).split()
    assert set(listed) == models and "daily_revenue" in models
    assert "All checks passed!" in _ok(built.dbt("debug"))


def test_show_freshness_and_docs_work_on_the_chains_lakehouse(spark, built):
    shown = _ok(built.dbt("show", "--select", "daily_revenue", "--limit", "100", "--output", "json", "--quiet"))
    rows = json.loads(shown[shown.index("{"):])["show"]
    delta = spark.read.format("delta").load(built.table_path("marts.daily_revenue")).collect()
    assert {r["event_date"]: Decimal(str(r["revenue"])) for r in rows} == {
        r.event_date.isoformat(): r.revenue for r in delta}

    freshness = _ok(built.dbt("source", "freshness"))  # loaded minutes ago: fresh, though the events are old
    assert "PASS freshness of raw.events " in freshness and "PASS freshness of raw.ingest_ledger" in freshness

    _ok(built.dbt("docs", "generate"))
    catalog = json.loads((built.dbt_project / "target" / "catalog.json").read_text())
    assert "model.recolake.daily_revenue" in catalog["nodes"]


def test_run_a_selection_test_it_and_retry(built):
    selected = _ok(built.dbt("ls", "--select", "marts.revenue+", "--resource-type", "model", "--output", "name",
                             "--quiet")).split()
    out = _ok(built.dbt("run", "--select", "marts.revenue+"))
    assert "rules changed" not in out
    results = json.loads((built.dbt_project / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert ran == set(selected) and len(ran) == 8  # the revenue marts, nothing downstream of them
    assert all(r["status"] == "success" for r in results)
    out = _ok(built.dbt("test", "--select", "marts.revenue"))
    assert "Completed successfully" in out and "ERROR=0" in out
    _ok(built.dbt("retry"))  # nothing failed: nothing to re-run


def test_a_rule_change_through_vars_rebuilds_every_verdict_as_a_full_refresh_does(spark, built):
    assert _rules(spark, built, "cleaned.cleaned_events") == DEFAULT_RULES  # the chain's stamp, via the wrapper
    vars_ = "--vars", "{max_price: 300}"
    out = _ok(built.dbt("run", *vars_))
    rebuilt = {name.split(".")[-1] for name in re.findall(r"(\S+): rules changed", out)}
    assert rebuilt == set(STAMPED), out[-3000:]
    assert _rules(spark, built, "cleaned.cleaned_events") == DEFAULT_RULES.replace("100000", "300")

    events = reference.parse(sorted((built.root / "raw").glob("*.csv")))
    expected = reference.cleaned(events, max_price=Decimal(300))
    cleaned = spark.read.format("delta").load(built.table_path("cleaned.cleaned_events"))
    assert cleaned.count() == len(expected)
    quarantined = spark.read.format("delta").load(built.table_path("cleaned.quarantined_events")).count()
    assert quarantined == sum(reference.quarantined(e, Decimal(300)) for e in events) > 0

    def revenue() -> dict:
        rows = spark.read.format("delta").load(built.table_path("marts.daily_revenue")).collect()
        return {r.event_date: (r.revenue, r.purchases, r.buyers) for r in rows}

    incremental = revenue()
    assert incremental == reference.daily_revenue(expected)
    out = _ok(built.dbt("build", "--full-refresh", "--select", "marts.revenue", *vars_))
    assert "Completed successfully" in out
    assert revenue() == incremental


def test_plain_dbt_and_the_chain_refuse_each_other_while_one_runs(built):
    lock_file = built.root / "lakehouse" / ".lakehouse.lock"
    # The chain holds the lakehouse: an analyst's build stops at once, naming it.
    chain = subprocess.Popen(module_argv("pipeline.chain", "--steps", "ingest", "--quiet"),
                             env=built.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_holder(lock_file, "(python -m pipeline.chain --steps ingest")
        refused = built.dbt("build")
    finally:
        output, _ = chain.communicate(timeout=600)
    assert chain.returncode == 0, output[-3000:]
    assert refused.returncode == 2, refused.stdout[-3000:]
    assert "is in use by pid" in refused.stdout and "(python -m pipeline.chain --steps ingest" in refused.stdout

    # An analyst's build holds it: the chain's next step stops at once, naming the analyst's command.
    analyst = subprocess.Popen(plain_dbt_argv("run", "--select", "daily_revenue"), cwd=built.dbt_project,
                               env=analyst_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_holder(lock_file, "dbt run")
        ingest = built.run("pipeline.ingest", "--quiet")
    finally:
        output, _ = analyst.communicate(timeout=600)
    assert analyst.returncode == 0, output[-3000:]
    assert ingest.returncode == 3
    assert "is in use by pid" in ingest.stderr and "(dbt run --select daily_revenue" in ingest.stderr


def _wait_for_holder(lock_file: Path, command: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock_file.exists() and command in lock_file.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{command} never took {lock_file}")
