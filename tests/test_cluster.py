"""Cluster mode end to end: `make cluster-up`, `make recommend` with LAKEHOUSE_ENGINE=cluster on
generated data, the marts compared row for row with an embedded build of the same files, an
analyst's dbt build through the Thrift Server while training runs, and `make cluster-down`.
With S3=1 (`make test-s3`) the cluster's warehouse is an s3a:// bucket on a local S3 (moto).

The cluster (master, 2 workers, Thrift Server, a metastore in a MariaDB of its own) runs on free
ports with its state under a temporary folder, and is stopped even when a test fails. Its Thrift
Server checks passwords (THRIFT_AUTH=ldap, against the cluster's own directory): every client of the
chain and the analyst pass one. The tests of this module are one chain and run in order."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.cluster import daemons, directory, lifecycle, master, thrift
from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.ingest.batch import ingest
from pipeline.mysql import local_server
from pipeline.mysql.connection import connect
from pipeline.platform.config import REPO_ROOT, ClusterSettings, load_cluster_settings, load_settings, mysql_env
from pipeline.platform.errors import UserError
from pipeline.platform.faults import PAUSE_DIR_ENV, PAUSE_ENV
from pipeline.platform.ports import port_open
from pipeline.transform.runner import run_dbt
from tests.clone import copy_project, dbt_artifact_env, module_argv, run_plain_dbt
from tests.sockets import descendants, is_loopback, listening

# What these tests need (a local cluster, its metastore in MariaDB): `make test-fast` skips them.
pytestmark = [pytest.mark.spark, pytest.mark.mysql, pytest.mark.cluster]

# Every table dbt builds from the events (the recommendation marts depend on the model's run;
# user_item_interactions is a view of user_item_days).
DBT_MARTS = ("cleaned.cleaned_events", "cleaned.quarantined_events", "marts.data_health_reasons",
             "marts.data_health_files", "marts.daily_revenue", "marts.daily_activity", "marts.weekday_averages",
             "marts.hourly_purchases", "marts.brand_rankings", "marts.top_customers", "marts.category_revenue",
             "marts.funnel_daily_category", "marts.dim_products", "marts.dim_users",
             "marts.user_item_days")
# Values that name a run rather than the data: batch ids and build times.
RUN_COLUMNS = {"ingest_batch_id", "loaded_at", "last_ingested_at", "ingested_at"}
# The revenue marts: what the fault tests rebuild (a downstream selection of a few seconds per node).
REVENUE_MARTS = ("marts.daily_revenue", "marts.daily_activity", "marts.weekday_averages", "marts.hourly_purchases",
                 "marts.brand_rankings", "marts.top_customers", "marts.category_revenue", "marts.funnel_daily_category")
ANALYST = "analyst"
ANALYST_PASSWORD = secrets.token_urlsafe(16)


@dataclass
class ClusterWorld:
    root: Path
    env: dict[str, str]

    @property
    def cluster(self) -> ClusterSettings:
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return load_cluster_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def run(self, *args: str, timeout: float = 900, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(module_argv(*args), capture_output=True, text=True, env=self.env, timeout=timeout,
                              input=stdin)

    @property
    def warehouse(self) -> str:
        return self.env.get("LAKEHOUSE_WAREHOUSE_DIR") or str(self.root / "lakehouse" / "warehouse")

    def table(self, spark, table: str) -> DataFrame:
        schema, name = table.split(".")
        return spark.read.format("delta").load(f"{self.warehouse}/{schema}.db/{name}")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[ClusterWorld]:
    root = tmp_path_factory.mktemp("cluster")
    # Nothing of this session's own lakehouse or servers may leak into the cluster's processes.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MYSQL_", "METASTORE_", "CLUSTER_", "SPARK_", "LAKEHOUSE_WAREHOUSE", "DBT_"))}
    env.update(LAKEHOUSE_ENGINE="cluster", LAKEHOUSE_DIR=str(root / "lakehouse"), RAW_DIR=str(root / "raw"),
               TRUTH_DIR=str(root / "truth"), REPORTS_DIR=str(root / "reports"), CLUSTER_DIR=str(root / "cluster"),
               MYSQL_LOCAL_DIR=str(root / "mysql"), MYSQL_LOCAL_PORT=str(local_server.free_port()),
               SPARK_MASTER_PORT=str(local_server.free_port()), SPARK_MASTER_WEBUI_PORT=str(local_server.free_port()),
               SPARK_THRIFT_PORT=str(local_server.free_port()),
               THRIFT_AUTH="ldap", SPARK_THRIFT_PASSWORD=secrets.token_urlsafe(16),
               LDAP_PORT=str(local_server.free_port()), **dbt_artifact_env(root))
    if os.environ.get("S3") == "1":  # `make test-s3`: the warehouse on the session's local S3 (conftest)
        from tests.s3 import BUCKET

        env["LAKEHOUSE_WAREHOUSE_DIR"] = f"s3a://{BUCKET}/{root.name}/warehouse"
    generate(GeneratorParams(rows=20_000, days=5, seed=23), root / "raw", root / "truth", progress=False)
    (root / "held_back").mkdir()  # the fifth day arrives later, to race an analyst
    day = sorted((root / "raw").glob("*.csv"))[-1]
    shutil.move(str(day), root / "held_back" / day.name)
    copy_project(root)  # for the analyst's plain dbt
    w = ClusterWorld(root, env)
    try:
        yield w
    finally:  # whatever happened, nothing this module started keeps running
        w.run("pipeline.cluster", "down", timeout=300)
        w.run("pipeline.mysql", "stop", timeout=120)


def _snapshot(df: DataFrame) -> list[tuple]:
    """Rows as sorted tuples without run-naming columns; doubles rounded (sums follow partition order)."""
    df = df.drop(*[c for c in df.columns if c in RUN_COLUMNS])
    rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in df.collect()]
    return sorted(rows, key=str)


class Paused:
    """An entry point of the world run until a pause point (pipeline/platform/faults.py): the test breaks a
    shared piece there, then lets it go on."""

    def __init__(self, world: ClusterWorld, point: str, *args: str) -> None:
        self.folder = world.root / "pauses" / f"{point}-{time.monotonic_ns()}"
        self.folder.mkdir(parents=True)
        self.point = point.partition("@")[0]
        self.output = self.folder / "output.txt"
        with self.output.open("w") as out:
            self.process = subprocess.Popen(module_argv(*args), stdout=out, stderr=subprocess.STDOUT, text=True,
                                            env={**world.env, PAUSE_ENV: point, PAUSE_DIR_ENV: str(self.folder)})

    def reached(self, timeout: float = 600) -> None:
        master.wait_until(lambda: (self.folder / f"{self.point}.reached").exists() or self.process.poll() is not None,
                          timeout, lambda: f"{self.point} not reached: {self.text()[-2000:]}")
        assert self.process.poll() is None, self.text()[-3000:]

    def go(self) -> None:
        (self.folder / f"{self.point}.go").touch()

    def finish(self, timeout: float = 900) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def _pids(cluster: ClusterSettings) -> dict[str, int | None]:
    pieces = [lifecycle.master_daemon(cluster), lifecycle.thrift_daemon(cluster),
              *(lifecycle.worker_daemon(cluster, n) for n in (1, 2))]
    return {d.label: daemons.running_pid(cluster, d) for d in pieces}


def _worker_running_executor_of(cluster: ClusterSettings, app_name: str) -> int:
    """The number of the worker whose executor serves the application called ``app_name``."""
    apps = [a["id"] for a in master.applications(master.master_state(cluster), "activeapps") if a["name"] == app_name]
    assert len(apps) == 1, apps
    for number in (1, 2):
        pid = daemons.running_pid(cluster, lifecycle.worker_daemon(cluster, number))
        for child in descendants([pid]) - {pid}:
            try:
                if apps[0].encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                    return number
            except OSError:
                continue
    raise AssertionError(f"no worker runs an executor of {app_name}")


def _kill(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def test_cluster_up_starts_every_piece_and_is_idempotent(world):
    first = world.run("pipeline.cluster", "up")
    assert first.returncode == 0, first.stderr[-2000:]
    lines = first.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith("ok") for line in lines), first.stdout
    assert "2 of 2 alive" in first.stdout and "schema 2.3.0" in first.stdout and "1 account(s)" in first.stdout
    cluster = world.cluster
    pids = {d.label: daemons.running_pid(cluster, d) for d in (lifecycle.master_daemon(cluster),
                                                                lifecycle.worker_daemon(cluster, 1))}
    again = world.run("pipeline.cluster", "up")
    assert again.returncode == 0, again.stderr[-2000:]
    assert pids == {d.label: daemons.running_pid(cluster, d) for d in (lifecycle.master_daemon(cluster),
                                                                       lifecycle.worker_daemon(cluster, 1))}
    assert port_open(cluster.thrift_host, cluster.thrift_port)


def test_the_thrift_server_loads_hives_function_registry_and_sessions_close_cleanly(world):
    """A session's close may load Hive's function registry on the server (when the closing thread has
    no Hive client yet); pyspark 4.0 ships without hive-llap-common, which the registry needs, and the
    close then fails in the client: an analyst's dbt build fails a node at random. The registry is
    loaded here on purpose, through the server's SQL, so its class path is checked every run."""
    cluster = world.cluster
    registry = "org.apache.hadoop.hive.ql.exec.FunctionRegistry"
    for _ in range(2):  # the second session meets whatever state the first one left
        connection = thrift.connect(cluster)
        cursor = connection.cursor()
        cursor.execute(f"select reflect('java.lang.Class', 'forName', '{registry}')")
        assert cursor.fetchall() == [(f"class {registry}",)]
        cursor.close()
        connection.close()


def test_the_thrift_server_admits_an_analysts_account_and_refuses_a_wrong_or_missing_password(world):
    """`recolake-cluster add-user` reads the password from standard input; a session needs the right one."""
    from pyhive import hive

    added = world.run("pipeline.cluster", "add-user", ANALYST, stdin=ANALYST_PASSWORD + "\n")
    assert added.returncode == 0 and f"account {ANALYST} set" in added.stderr, added.stderr
    assert ANALYST_PASSWORD not in json.dumps(directory.read_accounts(world.cluster))  # hashes only
    cluster = world.cluster
    analyst = replace(cluster, thrift_user=ANALYST, thrift_password=ANALYST_PASSWORD)
    assert thrift.query(analyst, "select 40 + 2 as answer")[0].answer == 42
    with pytest.raises(UserError, match=f"refused {ANALYST}'s password"):
        thrift.query(replace(analyst, thrift_password=ANALYST_PASSWORD + "x"), "select 1")
    with pytest.raises(Exception, match="validating"):  # no password at all (a client without auth)
        hive.connect(host=cluster.thrift_host, port=cluster.thrift_port, username=ANALYST).cursor().execute("select 1")


def test_every_port_of_the_cluster_listens_on_loopback_only(world):
    """Master, workers, their web UIs, the Thrift Server (a running application: its executors too), the
    directory: nothing of a one-machine cluster is reachable from the network unless CLUSTER_HOST says so."""
    cluster = world.cluster
    daemons_running = [lifecycle.master_daemon(cluster), lifecycle.thrift_daemon(cluster),
                       *(lifecycle.worker_daemon(cluster, n) for n in (1, 2))]
    pids = [daemons.running_pid(cluster, d) for d in daemons_running] + [directory.running_pid(cluster)]
    assert None not in pids
    ports = listening(descendants(pids))
    assert {cluster.master_port, cluster.master_ui_port, cluster.thrift_port,
            cluster.ldap_port} <= {port for _, port in ports}
    assert len(ports) >= 8 and all(is_loopback(address) for address, _ in ports), sorted(ports)


def test_make_recommend_in_cluster_mode_builds_the_marts_an_embedded_run_builds(spark, settings, world):
    # No evaluation here: the analyst test's refit evaluates on the cluster.
    result = subprocess.run(["make", "--no-print-directory", "recommend"], cwd=REPO_ROOT,
                            env={**world.env, "ML_ARGS": "--no-eval"}, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "recommend: done" in result.stdout

    # The same files, embedded: this test session's own lakehouse.
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    shutil.copytree(world.root / "raw", settings.raw_dir)
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(["build", "--full-refresh", "--exclude", "tag:recommendations"], load_settings())
    for table in DBT_MARTS:
        assert _snapshot(world.table(spark, table)) == _snapshot(spark.table(table)), table
    assert world.table(spark, "marts.daily_revenue").count() == 4
    if world.warehouse.startswith("s3a://"):  # make test-s3: the tables really are objects in the bucket
        from tests.s3 import bucket_keys

        keys = bucket_keys(world.warehouse)
        assert any(k.endswith(".parquet") for k in keys) and any("/_delta_log/" in k for k in keys)

    # The cluster engine fits ALS with Spark MLlib on its executors (embedded runs use implicit).
    runs = world.table(spark, "ml.model_runs").collect()
    assert len(runs) == 1 and runs[0].params["als.backend"] == "spark" and runs[0].params["model"] == "als"
    served = world.table(spark, "ml.recommendation_lists").count()
    assert served == world.table(spark, "marts.user_item_days").select("user_id").distinct().count()

    # The chain ran as one application of the cluster (dbt's SQL went to the Thrift Server), and finished.
    state = master.master_state(world.cluster)
    finished = [a["name"] for a in master.applications(state, "completedapps") if a["state"] == "FINISHED"]
    assert finished.count("recolake-recommend") == 1 and "recolake-ingest" not in finished, finished


def test_an_analysts_plain_dbt_build_runs_through_the_thrift_server_while_training_runs(world):
    """The analyst types `dbt build --target thrift` in dbt_project/ with nothing but the profile and the
    server's port: no wrapper, no lock (the metastore is shared), no --vars."""
    cluster = world.cluster
    # --full: a refit (Spark's ALS on the executors), long enough to overlap the build; without it the run
    # would be a quick update with no new data.
    training = subprocess.Popen(module_argv("ml", "run", "--quiet", "--full"), env=world.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        master.wait_until(lambda: any(a["name"] == "recolake-ml" for a in
                                      master.applications(master.master_state(cluster), "activeapps")),
                          180, lambda: "training never became a running application")
        training_when_build_started = training.poll() is None
        # A downstream selection, as an analyst rebuilds their area: the revenue marts and their tests.
        build = run_plain_dbt(world.root, "build", "--target", "thrift", "--select", "marts.revenue",
                              SPARK_THRIFT_PORT=str(cluster.thrift_port), SPARK_THRIFT_USER=ANALYST,
                              SPARK_THRIFT_PASSWORD=ANALYST_PASSWORD)
        output, _ = training.communicate(timeout=900)
    finally:
        if training.poll() is None:
            training.kill()
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    assert "Completed successfully" in build.stdout and "rules changed" not in build.stdout
    assert training.returncode == 0, output[-3000:]
    assert training_when_build_started


def _execute(cluster: ClusterSettings, sql: str) -> None:
    connection = thrift.connect(cluster)
    try:
        connection.cursor().execute(sql)
    finally:
        connection.close()


def _version(spark, world: ClusterWorld, table: str) -> int:
    schema, name = table.split(".")
    return spark.sql(f"describe history delta.`{world.warehouse}/{schema}.db/{name}` limit 1").first().version


def test_analysts_read_the_chains_schemas_and_cannot_write_them(spark, world):
    """The guard of the Thrift Server (jvm/recolake/ChainTablesGuard.java): raw, staging, intermediate, cleaned
    and ml are the chain's (its account writes them, as `make recommend` just did); an analyst reads them, and
    builds what they like in a schema of their own."""
    analyst = replace(world.cluster, thrift_user=ANALYST, thrift_password=ANALYST_PASSWORD)
    chains = ("cleaned.cleaned_events", "ml.model_runs", "raw.events")
    versions = {t: _version(spark, world, t) for t in chains}
    rows = world.table(spark, "cleaned.cleaned_events").count()
    assert thrift.query(analyst, "select count(*) as n from cleaned.cleaned_events")[0].n == rows
    for sql in ("insert into cleaned.cleaned_events select * from cleaned.cleaned_events limit 1",
                "alter table ml.model_runs set tblproperties ('analyst.note' = 'mine')",
                "delete from raw.events where event_date < date'2000-01-01'",
                "drop table raw.events",
                "create or replace table ml.mine using delta as select 1 as x"):
        with pytest.raises(Exception, match="is written by the chain only"):
            _execute(analyst, sql)
    assert {t: _version(spark, world, t) for t in chains} == versions
    _execute(analyst, "create schema if not exists sandbox_analyst")
    _execute(analyst, "create or replace table sandbox_analyst.revenue using delta as "
                      "select * from marts.daily_revenue")
    assert thrift.query(analyst, "select count(*) as n from sandbox_analyst.revenue")[0].n == 4


def test_the_chains_merge_racing_an_analysts_commits_is_retried_and_loses_nothing(spark, world):
    """A new day: the chain's incremental build merges it into the revenue marts while an analyst commits to
    daily_revenue through the Thrift Server again and again (a table property: one metadata commit each). The
    merge that loses the race is run again, with backoff, once the analyst stops; the marts then equal a
    serial full rebuild, row for row."""
    day = next((world.root / "held_back").glob("*.csv"))
    shutil.move(str(day), world.root / "raw" / day.name)
    ingested = world.run("pipeline.ingest", "--quiet")
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    output = world.root / "race.txt"
    with output.open("w") as out:
        build = subprocess.Popen(module_argv("pipeline.transform", "build", "--select", "+marts.revenue",
                                             "+marts.core"),
                                 env=world.env, stdout=out, stderr=subprocess.STDOUT, text=True)
    analyst = thrift.connect(replace(world.cluster, thrift_user=ANALYST, thrift_password=ANALYST_PASSWORD))
    cursor, commits = analyst.cursor(), 0
    try:
        while build.poll() is None and "lost a commit race" not in output.read_text():
            try:
                cursor.execute(f"alter table marts.daily_revenue set tblproperties ('analyst.note' = '{commits}')")
                commits += 1
            except Exception:  # noqa: BLE001 - the analyst's own commit lost a race: they try again
                continue
    finally:
        analyst.close()
    assert build.wait(timeout=900) == 0, output.read_text()[-3000:]
    assert commits > 0 and "daily_revenue lost a commit race with another writer" in output.read_text()
    raced = {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS}
    assert len(raced["marts.daily_revenue"]) == 5

    serial = world.run("pipeline.transform", "build", "--select", "marts.revenue", "--full-refresh")
    assert serial.returncode == 0, (serial.stdout + serial.stderr)[-3000:]
    assert {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS} == raced


def test_a_thrift_server_killed_mid_build_fails_in_one_line_and_cluster_up_restarts_only_it(spark, world):
    cluster = world.cluster
    before = {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS}
    build = Paused(world, "dbt.node_finished@2", "pipeline.transform", "build", "--select", "marts.revenue",
                   "--threads", "1")
    build.reached()
    _kill(daemons.running_pid(cluster, lifecycle.thrift_daemon(cluster)))
    build.go()
    assert build.finish() != 0
    errors = [line for line in build.text().splitlines() if line.startswith("error:")]
    assert errors == [f"error: the Thrift Server at {cluster.thrift_host}:{cluster.thrift_port} stopped during "
                      "`dbt build --select marts.revenue --threads 1`: run `make cluster-up` (it starts only what "
                      "is down), then rerun"], build.text()[-3000:]

    running = {k: v for k, v in _pids(cluster).items() if k != "Thrift Server"}
    up = world.run("pipeline.cluster", "up")
    assert up.returncode == 0, up.stderr[-2000:]
    after = _pids(cluster)
    assert after["Thrift Server"] is not None and {k: after[k] for k in running} == running
    rerun = world.run("pipeline.transform", "build", "--select", "marts.revenue")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS} == before


def test_a_worker_killed_mid_build_moves_its_executor_and_cluster_up_restarts_only_the_worker(spark, world):
    """The Thrift Server's executor dies with its worker; the server gets a new one on the other worker (no
    chain application holds its core now) and the build finishes; `make cluster-up` starts the worker again."""
    cluster = world.cluster
    before = {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS}
    build = Paused(world, "dbt.node_finished@2", "pipeline.transform", "build", "--select", "marts.revenue",
                   "--threads", "1", "--full-refresh")
    build.reached()
    number = _worker_running_executor_of(cluster, "recolake-thrift-server")
    killed = lifecycle.worker_daemon(cluster, number).label
    _kill(daemons.running_pid(cluster, lifecycle.worker_daemon(cluster, number)))
    build.go()
    assert build.finish() == 0, build.text()[-3000:]
    assert {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS} == before
    others = {k: v for k, v in _pids(cluster).items() if k != killed}
    up = world.run("pipeline.cluster", "up")
    assert up.returncode == 0 and "2 of 2 alive" in up.stdout, up.stdout + up.stderr[-2000:]
    after = _pids(cluster)
    assert after[killed] is not None and {k: after[k] for k in others} == others


def test_the_master_killed_while_applications_run_is_taken_back_by_cluster_up(spark, world):
    """Running applications (the Thrift Server, a build through it) keep their executors and finish; new ones
    are refused at once while the master is down; `make cluster-up` restarts it and it recovers its workers
    and applications from CLUSTER_DIR/recovery."""
    cluster = world.cluster
    before = {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS}
    build = Paused(world, "dbt.node_finished@2", "pipeline.transform", "build", "--select", "marts.revenue",
                   "--threads", "1", "--full-refresh")
    build.reached()
    _kill(daemons.running_pid(cluster, lifecycle.master_daemon(cluster)))
    build.go()
    assert build.finish() == 0, build.text()[-3000:]
    assert {t: _snapshot(world.table(spark, t)) for t in REVENUE_MARTS} == before

    refused = world.run("ml", "run", "--quiet")
    assert refused.returncode != 0 and "no Spark master listens" in refused.stderr, refused.stderr[-2000:]
    status = world.run("pipeline.cluster", "status")
    assert status.returncode == 1 and "not running" in status.stdout
    others = {k: v for k, v in _pids(cluster).items() if k != "Spark master"}
    up = world.run("pipeline.cluster", "up")
    assert up.returncode == 0, up.stderr[-2000:]
    assert {k: v for k, v in _pids(cluster).items() if k != "Spark master"} == others
    master.wait_until(lambda: master.alive_workers(master.master_state(cluster)) == 2 and any(
        a["name"] == "recolake-thrift-server" for a in master.applications(master.master_state(cluster), "activeapps")),
        120, lambda: f"not recovered: {master.master_state(cluster)}")
    assert thrift.query(cluster, "select count(*) as n from marts.daily_revenue")[0].n == 5


@pytest.mark.long_fault
def test_a_worker_killed_during_training_stalls_it_until_cluster_up_then_it_serves_everyone(spark, world):
    cluster = world.cluster
    runs = world.table(spark, "ml.model_runs").count()
    training = Paused(world, "ml.before_serving_fit", "ml", "run", "--quiet", "--full", "--no-eval")
    training.reached()
    _kill(daemons.running_pid(cluster, lifecycle.worker_daemon(cluster, _worker_running_executor_of(
        cluster, "recolake-ml"))))
    training.go()
    time.sleep(5)
    assert training.process.poll() is None, training.text()[-3000:]
    up = world.run("pipeline.cluster", "up")
    assert up.returncode == 0, up.stderr[-2000:]
    assert training.finish() == 0, training.text()[-3000:]
    newest = world.table(spark, "ml.model_runs").orderBy("finished_at", ascending=False).first()
    assert world.table(spark, "ml.model_runs").count() == runs + 1
    recs = world.table(spark, "ml.recommendation_lists")
    assert recs.select("run_id").distinct().collect()[0].run_id == newest.run_id
    assert recs.select("user_id").distinct().count() == \
        world.table(spark, "marts.user_item_days").select("user_id").distinct().count()


def test_a_mariadb_restart_during_the_sync_is_ridden_out_and_mysql_equals_delta(spark, world):
    """MariaDB holds the metastore and the marts. Restarted while the sync is between a table's load and its
    swap: the tables under way are tried again on new connections, the sync application's metastore client
    reconnects, and MySQL ends equal to Delta."""
    env = mysql_env(world.env)
    server = local_server.local_server(env)
    conn = connect(server.app_settings())
    conn.cursor().execute("delete from _sync_log")  # every table is loaded again
    conn.close()
    sync = Paused(world, "sync.before_swap", "pipeline.sync", "--quiet")
    sync.reached()
    assert local_server.stop(server)
    local_server.ensure_running(server)
    sync.go()
    assert sync.finish() == 0, sync.text()[-3000:]
    assert "MySQL went away" in sync.text()
    conn = connect(server.app_settings())
    cursor = conn.cursor()
    try:
        for table in ("daily_revenue", "dim_users", "top_customers"):
            cursor.execute(f"select count(*) from `{table}`")
            assert cursor.fetchone()[0] == world.table(spark, f"marts.{table}").count(), table
        cursor.execute("select count(*) from user_recommendations")  # a view of the stored lists in Delta
        lists = world.table(spark, "ml.recommendation_lists")
        assert cursor.fetchone()[0] == lists.select(F.sum(F.size("items"))).first()[0]
        cursor.execute("select event_date, revenue, purchases from daily_revenue")
        assert sorted(cursor.fetchall()) == sorted(
            (r.event_date, r.revenue, r.purchases) for r in world.table(spark, "marts.daily_revenue").collect())
        cursor.execute("show tables like '%\\_\\_new'")
        assert cursor.fetchall() == []
    finally:
        conn.close()


def test_no_secret_reaches_a_log_or_a_command_line_of_the_cluster(world):
    """After the cluster ran the chain and an analyst's build: the metastore's and the sync's passwords are
    in their 0600 files only, the Thrift Server's (the chain's, the analyst's) nowhere; none is in a
    daemon's, executor's, the directory's or dbt's log, nor on any command line."""
    cluster = world.cluster
    secrets = {json.loads(cluster.metastore_credentials.read_text())["password"],
               json.loads((world.root / "mysql" / "credentials.json").read_text())["password"],
               cluster.thrift_password, ANALYST_PASSWORD}
    assert all(len(s) >= 12 for s in secrets) and len(secrets) == 4
    holders = [cluster.metastore_credentials, world.root / "mysql" / "credentials.json",
               cluster.state_dir / "conf" / "thrift-server.properties", cluster.directory_dir / "accounts.json"]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in holders)
    logs = [p for folder in (cluster.state_dir, world.root / "lakehouse", world.root / "dbt_project" / "logs",
                             world.root / "dbt_artifacts")
            for p in folder.rglob("*") if p.is_file() and p not in holders
            and p.suffix in ("", ".log", ".out", ".conf", ".json", ".properties", ".mdb")]
    assert len(logs) >= 5 and any(p.name == "stderr" for p in logs)  # executors' logs are among them
    for path in logs:
        text = path.read_text(errors="replace")
        assert not any(s in text for s in secrets), path
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert not any(s in line for s in secrets), cmdline


def test_cluster_down_stops_every_daemon_it_started(world):
    cluster = world.cluster
    pieces = [lifecycle.master_daemon(cluster), lifecycle.worker_daemon(cluster, 1),
              lifecycle.worker_daemon(cluster, 2)]
    pids = [daemons.running_pid(cluster, d) for d in pieces]
    assert all(pids) and directory.running_pid(cluster)
    result = world.run("pipeline.cluster", "down")
    assert result.returncode == 0, result.stderr
    assert "Thrift Server" in result.stderr and "Spark master" in result.stderr and "directory" in result.stderr
    assert not any(daemons.alive(pid, d) for pid, d in zip(pids, pieces)) and directory.running_pid(cluster) is None
    assert not port_open(cluster.host, cluster.ldap_port)
    assert not port_open(cluster.host, cluster.master_port)
    assert not port_open(cluster.thrift_host, cluster.thrift_port)
    status = world.run("pipeline.cluster", "status")
    assert status.returncode == 1 and "not running" in status.stdout
