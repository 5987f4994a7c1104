"""SIGKILL at the worst moments of every stage, then a plain re-run: the lakehouse and MySQL must
hold exactly what a clean run gives. Each stage runs as its own process (the `make` entry
points, or plain `dbt` as an analyst re-runs a build) on a clone with a lakehouse of its own
(tests/clone.py); crashes are real SIGKILLs, placed either by watching the table folder
(mid-write) or by a named crash point (pipeline/platform/faults.py).

The tests of this module are one chain and run in order."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.ingest.batch import ingest
from pipeline.platform.config import REPO_ROOT
from pipeline.sync.catalog import tagged_tables
from pipeline.sync.marts import SYNC_THREADS
from tests import reference
from tests.clone import Clone, module_argv

# What these tests need (the chain runs in subprocesses: JVMs and a private MariaDB): `make test-fast` skips them.
pytestmark = [pytest.mark.spark, pytest.mark.mysql]

KILLED = -signal.SIGKILL
EVENT_COLUMNS = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price",
                 "user_id", "user_session", "source_file", "source_line", "event_date"]


def _delta(spark, clone: Clone, table: str) -> DataFrame:
    return spark.read.format("delta").load(clone.table_path(table))


def _recommendations(spark, clone: Clone) -> DataFrame:
    """marts.user_recommendations (a view, which a path cannot read): the lists it shows, one row per product."""
    return (_delta(spark, clone, "ml.recommendation_lists").select("user_id", "run_id", F.inline("items"))
            .withColumnRenamed("rank", "recommendation_rank"))


def _fingerprint(df: DataFrame, columns: list[str]) -> tuple[int, int]:
    """(rows, order-independent hash of the rows): equal fingerprints = the same multiset of rows."""
    row = df.select(F.count("*").alias("n"), F.sum(F.xxhash64(*columns).cast("decimal(38,0)")).alias("h")).first()
    return row.n, int(row.h or 0)


@pytest.fixture(scope="module")
def clean_raw(spark, settings, clone) -> tuple[int, int]:
    """Fingerprint of raw.events after one clean ingest of the same files, in the test session's lakehouse."""
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    shutil.copytree(clone.root / "raw", settings.raw_dir)
    ingest(spark, settings.raw_dir, progress=False)
    return _fingerprint(spark.table("raw.events"), EVENT_COLUMNS)


def _kill_when_files_appear(process: subprocess.Popen, folder: Path, timeout: float = 300) -> bool:
    """SIGKILL ``process`` as soon as a data file shows up under ``folder``; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.01)
    return False


def test_ingest_killed_mid_write_and_after_append_then_rerun_equals_a_clean_run(spark, clone, clean_raw):
    # 1. Killed while Spark writes the event files: Delta's commit never happened.
    process = subprocess.Popen(module_argv("pipeline.ingest", "--quiet"), env=clone.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _kill_when_files_appear(process, Path(clone.table_path("raw.events")))
    events_dir = Path(clone.table_path("raw.events"))
    on_disk = sum(1 for _ in events_dir.rglob("*.parquet"))
    visible = _delta(spark, clone, "raw.events")
    committed = visible.inputFiles()
    # All or nothing: written files without a commit are invisible, never half a batch.
    assert visible.count() in (0, clean_raw[0])
    assert on_disk >= len(committed)

    # 2. Killed after the append committed but before the ledger said 'loaded'.
    crashed = clone.run("pipeline.ingest", "--quiet", crash_at="ingest.after_events_append")
    assert crashed.returncode == KILLED, crashed.stderr[-2000:]
    assert _delta(spark, clone, "raw.events").count() == clean_raw[0]
    statuses = {r.status for r in _delta(spark, clone, "raw.ingest_ledger").collect()}
    assert statuses == {"loading"}

    # 3. A plain re-run rolls the unfinished batches back and loads everything once.
    rerun = clone.run("pipeline.ingest", "--quiet")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "was interrupted: removing its partial rows" in rerun.stderr
    assert _fingerprint(_delta(spark, clone, "raw.events"), EVENT_COLUMNS) == clean_raw
    ledger = _delta(spark, clone, "raw.ingest_ledger").collect()
    assert len(ledger) == 4 and {r.status for r in ledger} == {"loaded"}
    rejected = _delta(spark, clone, "raw.events_rejected")
    assert rejected.count() == sum(r.rows_rejected for r in ledger)
    assert rejected.count() == rejected.select("source_file", "source_line").distinct().count()


def test_dbt_build_killed_after_cleaning_then_rerun_matches_the_reference(spark, clone):
    crashed = clone.run("pipeline.transform", "build", "--exclude", "tag:recommendations",
                        crash_at="dbt.after.cleaned_events")
    assert crashed.returncode == KILLED, crashed.stdout[-3000:]
    assert not Path(clone.table_path("marts.top_customers")).exists()  # built after the crash point

    # An analyst re-runs it with plain dbt: no --vars, no wrapper. The cleaned layer the crashed run built
    # records the same rules plain dbt renders from dbt_project.yml, so it is not rebuilt.
    rerun = clone.dbt("build", "--exclude", "tag:recommendations")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert "Completed successfully" in rerun.stdout and "rules changed" not in rerun.stdout
    expected = reference.cleaned(reference.parse(sorted((clone.root / "raw").glob("*.csv"))))
    assert _delta(spark, clone, "cleaned.cleaned_events").count() == len(expected)
    got = {r.event_date: (r.revenue, r.purchases, r.buyers) for r in _delta(spark, clone, "marts.daily_revenue")
           .collect()}
    assert got == reference.daily_revenue(expected)


def test_training_killed_between_its_writes_then_rerun_leaves_one_consistent_run(spark, clone):
    args = ("ml", "run", "--quiet", "--no-eval", "--max-iter", "4")
    crashed = clone.run(*args, crash_at="ml.after_recommendations")
    assert crashed.returncode == KILLED, crashed.stderr[-2000:]
    half_run = {r.run_id for r in _delta(spark, clone, "ml.recommendation_lists").select("run_id").distinct()
                .collect()}
    assert len(half_run) == 1
    assert not Path(clone.table_path("ml.model_runs")).exists()

    rerun = clone.run(*args)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    runs = _delta(spark, clone, "ml.model_runs").collect()
    assert len(runs) == 1 and runs[0].run_id not in half_run
    recs = _delta(spark, clone, "ml.recommendation_lists").select("user_id", "run_id", F.inline("items"))
    assert {r.run_id for r in recs.select("run_id").distinct().collect()} == {runs[0].run_id}
    assert {r.run_id for r in _delta(spark, clone, "ml.popular_products").select("run_id").distinct().collect()} == {
        runs[0].run_id}
    assert recs.count() == recs.select("user_id", "rank").distinct().count() == runs[0].counts["recommendation_rows"]
    # The lists kept as served hold the rerun's alone: the killed run's rows of the same day were replaced.
    served = _delta(spark, clone, "ml.served_recommendations")
    assert {r.run_id for r in served.select("run_id").distinct().collect()} == {runs[0].run_id}
    assert served.select(F.inline("items")).count() == recs.count()
    report = json.loads((clone.root / "reports" / "last_run.json").read_text())
    assert report["run_id"] == runs[0].run_id


def test_sync_killed_before_and_after_a_swap_then_rerun_equals_delta(spark, clone):
    built = clone.dbt("build", "--select", "tag:recommendations")
    assert built.returncode == 0, built.stdout[-3000:]
    first = clone.run("pipeline.sync", "--quiet", crash_at="sync.before_swap@3")
    assert first.returncode == KILLED, first.stderr[-2000:]
    with clone.mysql() as cur:
        cur.execute("show tables")
        tables = {r[0] for r in cur.fetchall()}
        cur.execute("select table_name from _sync_log")
        logged = {r[0] for r in cur.fetchall()}
    # Killed at the third table's swap: two tables passed theirs (swapped and logged, or not yet: the
    # tables are synced SYNC_THREADS at a time); the killed one, and any other under way, left a `__new`
    # that readers never see (two for a versioned table: its rows and pointers), and no table half-renamed.
    staged = {t for t in tables if t.endswith("__new")}
    assert 1 <= len(staged) <= 2 * SYNC_THREADS and len(logged) <= 2 and logged <= tables
    assert not any(t.endswith("__old") for t in tables)

    second = clone.run("pipeline.sync", "--quiet", crash_at="sync.before_log@1")
    assert second.returncode == KILLED, second.stderr[-2000:]
    rerun = clone.run("pipeline.sync", "--quiet")
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    manifest_path = clone.dbt_target / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    synced = {n["name"]: f"{n['schema']}.{n['name']}" for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and "mysql_sync" in n["tags"]}
    with clone.mysql() as cur:
        cur.execute("show tables")
        tables = {r[0] for r in cur.fetchall()}
        # a table replaced in groups is a view over its versioned rows and pointers, and its lookup rows when it
        # declares lookup columns (pipeline/sync/partial.py)
        versioned = {f"{t.target}__{part}" for t in tagged_tables(manifest_path) if t.partial is not None
                     for part in ("rows", "current", *(("lookup",) if t.partial.lookup_columns else ()))}
        assert {"user_recommendations__rows", "user_recommendations__lookup", "similar_products__current"} <= versioned
        assert tables == set(synced) | versioned | {"_sync_log", "_sync_versions"}, "no __new or __old leftovers"
        for name, source in synced.items():
            cur.execute(f"select count(*) from `{name}`")
            # a view (user_recommendations) is read as the stored lists it shows
            rows = _recommendations(spark, clone) if name == "user_recommendations" else _delta(spark, clone, source)
            assert cur.fetchone()[0] == rows.count(), name
        cur.execute("select event_date, revenue, purchases, buyers from daily_revenue")
        assert {r[0]: tuple(r[1:]) for r in cur.fetchall()} == {
            r.event_date: (r.revenue, r.purchases, r.buyers) for r in _delta(spark, clone, "marts.daily_revenue")
            .collect()}
        cur.execute("select user_id, product_id, recommendation_rank from user_recommendations")
        in_mysql = sorted(cur.fetchall())
    in_delta = sorted(tuple(r) for r in _recommendations(spark, clone)
                      .select("user_id", "product_id", "recommendation_rank").collect())
    assert in_mysql == in_delta


def test_the_one_process_chain_takes_a_new_day_from_the_landing_folder_to_mysql(spark, clone):
    """`make recommend`'s chain (pipeline/chain/steps.py): every step in one process, on one SparkSession."""
    new_day = _land_day(clone, seed=12)
    # The generated day comes with a catalogue of its own (half as many items again): without the raised
    # growth limit the schedule would rightly refit.
    result = clone.run("pipeline.chain", "--quiet", "--no-eval", "--max-iter", "4", "--refit-growth", "10",
                       count_settings=True)
    assert result.returncode == 0, result.stderr[-3000:]
    # One run context: the settings are read once, dbt_project.yml's vars once, for the whole chain.
    assert result.stderr.strip().splitlines()[-1] == "settings loaded: {'load_settings': 1, 'var_defaults': 1}"
    chain = json.loads((clone.root / "reports" / "last_chain.json").read_text())
    assert list(chain["steps"]) == ["ingest", "transform", "train", "recommendations", "sync"] and chain["complete"]
    assert sum(chain["steps"].values()) <= chain["seconds"]

    expected = reference.daily_revenue(reference.cleaned(reference.parse(sorted((clone.root / "raw").glob("*.csv")))))
    assert new_day in expected
    runs = sorted(_delta(spark, clone, "ml.model_runs").collect(), key=lambda r: r.started_at)
    assert len(runs) == 2
    # The new day updated the first run's model: its users got new lists, everyone else kept theirs.
    assert (runs[-1].params["kind"], runs[-1].params["refit_run"]) == ("update", runs[0].run_id)
    new_day_users = {r.user_id for r in _delta(spark, clone, "cleaned.cleaned_events")
                     .where(f"event_date = '{new_day}'").select("user_id").distinct().collect()}
    with clone.mysql() as cur:
        cur.execute("select event_date, revenue, purchases, buyers from daily_revenue")
        assert {r[0]: tuple(r[1:]) for r in cur.fetchall()} == expected
        cur.execute("select user_id, run_id from user_recommendations")
        run_of = dict(cur.fetchall())
    assert {run_of[u] for u in new_day_users if u in run_of} == {runs[-1].run_id}
    assert {r for u, r in run_of.items() if u not in new_day_users} == {runs[0].run_id}


def _land_day(clone: Clone, seed: int, returning: int = 0) -> dt.date:
    """One generated day after the newest file of the clone's landing folder; its date. ``returning``:
    that many of its events go to users of the newest file (a generated day has new users only)."""
    day = max(p.name for p in (clone.root / "raw").glob("*.csv"))
    new_day = dt.date.fromisoformat(day.removeprefix("rees46_").removesuffix(".csv")) + dt.timedelta(days=1)
    generate(GeneratorParams(rows=3_000, days=1, start=new_day, seed=seed), clone.root / f"day_{seed}",
             clone.root / f"day_{seed}_truth", progress=False)
    with open(clone.root / "raw" / day, newline="") as handle:
        known = sorted({row["user_id"] for row in csv.DictReader(handle)})[:returning]
    for path in (clone.root / f"day_{seed}").glob("*.csv"):
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, list(reader)
        for row, user in zip(rows, known * 5):
            row["user_id"] = user
        with open(clone.root / "raw" / path.name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return new_day


def test_sync_killed_inside_the_partial_apply_then_rerun_equals_delta(spark, clone):
    """The next day's update reaches MySQL as a partial apply of the changed users; SIGKILL inside its
    transaction leaves every list as it was, and the rerun brings MySQL to Delta's lists."""
    with clone.mysql() as cur:
        cur.execute("select user_id, product_id, recommendation_rank, run_id from user_recommendations")
        before = sorted(cur.fetchall())
    _land_day(clone, seed=13, returning=20)
    crashed = clone.run("pipeline.chain", "--quiet", "--no-eval", "--max-iter", "4", "--refit-growth", "10",
                        crash_at="sync.inside_partial_apply")
    assert crashed.returncode == KILLED, crashed.stderr[-3000:]
    runs = sorted(_delta(spark, clone, "ml.model_runs").collect(), key=lambda r: r.started_at)
    assert runs[-1].params["kind"] == "update"
    with clone.mysql() as cur:
        cur.execute("select user_id, product_id, recommendation_rank, run_id from user_recommendations")
        assert sorted(cur.fetchall()) == before  # the transaction never committed

    rerun = clone.run("pipeline.sync", "--quiet")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    in_delta = sorted(tuple(r) for r in _recommendations(spark, clone)
                      .select("user_id", "product_id", "recommendation_rank", "run_id").collect())
    with clone.mysql() as cur:
        cur.execute("select user_id, product_id, recommendation_rank, run_id from user_recommendations")
        assert sorted(cur.fetchall()) == in_delta
        cur.execute("select load_path, rows_loaded from _sync_log where table_name = 'user_recommendations' "
                    "order by id desc limit 1")
        path, rows = cur.fetchone()
    fresh = [r for r in in_delta if r[3] == runs[-1].run_id]
    assert path == "partial_infile" and rows == len(fresh) > 0  # only the changed users' rows travelled
    assert set(before) - set(in_delta) and {r for r in before if r[0] not in {f[0] for f in fresh}} <= set(in_delta)


def test_no_secret_reaches_any_output_or_log_of_the_chain(clone):
    credentials = json.loads((clone.root / "mysql" / "credentials.json").read_text())
    assert oct((clone.root / "mysql" / "credentials.json").stat().st_mode & 0o777) == "0o600"
    password = credentials["password"]
    assert len(clone.outputs) >= 18 and not any(password in text for text in clone.outputs)
    logs = [*(clone.root / "lakehouse").rglob("*.log"), *Path(clone.env["DBT_LOG_PATH"]).glob("*.log"),
            *(clone.root / "dbt_project" / "logs").glob("*.log")]
    for path in logs:
        assert password not in path.read_text(errors="replace"), path
    ignored = subprocess.run(["git", "check-ignore", "-q", ".mysql/credentials.json"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, ".mysql/ must be git-ignored"
