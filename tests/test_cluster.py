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
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from pipeline.cluster import daemons, directory, lifecycle, master, thrift
from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.ingest.batch import ingest
from pipeline.mysql import local_server
from pipeline.platform.config import REPO_ROOT, ClusterSettings, load_cluster_settings, load_settings
from pipeline.platform.errors import UserError
from pipeline.platform.ports import port_open
from pipeline.transform.runner import run_dbt
from tests.clone import copy_project, module_argv, run_plain_dbt
from tests.sockets import descendants, is_loopback, listening

# What these tests need (a local cluster, its metastore in MariaDB): `make test-fast` skips them.
pytestmark = [pytest.mark.spark, pytest.mark.mysql, pytest.mark.cluster]

# Every table dbt builds from the events (the recommendation marts depend on the model's run;
# user_item_interactions is a view of user_item_strength).
DBT_MARTS = ("cleaned.cleaned_events", "cleaned.quarantined_events", "marts.data_health_reasons",
             "marts.data_health_files", "marts.daily_revenue", "marts.daily_activity", "marts.weekday_averages",
             "marts.hourly_purchases", "marts.brand_rankings", "marts.top_customers", "marts.category_revenue",
             "marts.funnel_daily_category", "marts.dim_products", "marts.dim_users",
             "marts.user_item_strength")
# Values that name a run rather than the data: batch ids and build times.
RUN_COLUMNS = {"ingest_batch_id", "loaded_at", "last_ingested_at", "ingested_at"}
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
           if not k.startswith(("MYSQL_", "METASTORE_", "CLUSTER_", "SPARK_", "LAKEHOUSE_WAREHOUSE", "DBT_TARGET"))}
    env.update(LAKEHOUSE_ENGINE="cluster", LAKEHOUSE_DIR=str(root / "lakehouse"), RAW_DIR=str(root / "raw"),
               TRUTH_DIR=str(root / "truth"), REPORTS_DIR=str(root / "reports"), CLUSTER_DIR=str(root / "cluster"),
               MYSQL_LOCAL_DIR=str(root / "mysql"), MYSQL_LOCAL_PORT=str(local_server.free_port()),
               SPARK_MASTER_PORT=str(local_server.free_port()), SPARK_MASTER_WEBUI_PORT=str(local_server.free_port()),
               SPARK_THRIFT_PORT=str(local_server.free_port()),
               THRIFT_AUTH="ldap", SPARK_THRIFT_PASSWORD=secrets.token_urlsafe(16),
               LDAP_PORT=str(local_server.free_port()))
    if os.environ.get("S3") == "1":  # `make test-s3`: the warehouse on the session's local S3 (conftest)
        from tests.s3 import BUCKET

        env["LAKEHOUSE_WAREHOUSE_DIR"] = f"s3a://{BUCKET}/{root.name}/warehouse"
    generate(GeneratorParams(rows=20_000, days=4, seed=23), root / "raw", root / "truth", progress=False)
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
    served = world.table(spark, "marts.user_recommendations").select("user_id").distinct().count()
    assert served == world.table(spark, "marts.user_item_strength").select("user_id").distinct().count()

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
    logs = [p for folder in (cluster.state_dir, world.root / "lakehouse", world.root / "dbt_project" / "logs")
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
