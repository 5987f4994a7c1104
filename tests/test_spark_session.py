"""The session factory: same settings as dbt's profile, and one process per lakehouse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.platform.config import REPO_ROOT, Settings
from pipeline.platform.spark import render_profile, session_parameters
from pipeline.transform.plain_dbt import derby_lakehouse
from tests.sockets import is_loopback, listening

PYTHON = sys.executable


def test_profile_defaults_from_dbt_project_resolve_to_the_python_defaults():
    """An analyst running plain `dbt` in dbt_project/ opens the lakehouse `make` uses."""
    profile = render_profile(REPO_ROOT / "profiles", env={})
    params = session_parameters(profile)
    dbt_cwd = REPO_ROOT / "dbt_project"
    assert (dbt_cwd / params["spark.sql.warehouse.dir"]).resolve() == REPO_ROOT / "lakehouse" / "warehouse"
    local = profile["recolake"]["outputs"]["local"]
    assert derby_lakehouse(local, dbt_cwd) == REPO_ROOT / "lakehouse"  # where plain dbt takes the lock, too
    # A relative LAKEHOUSE_DIR puts the metastore and the tables in the same folder.
    relative = render_profile(REPO_ROOT / "profiles", env={"LAKEHOUSE_DIR": "lh"})["recolake"]["outputs"]["local"]
    assert derby_lakehouse(relative, dbt_cwd) == dbt_cwd / "lh"
    assert relative["server_side_parameters"]["spark.sql.warehouse.dir"] == "lh/warehouse"
    for jar in params["spark.jars"].split(","):
        assert (dbt_cwd / jar).resolve().parent == REPO_ROOT / ".jars"


def test_running_session_uses_the_profile_settings(spark, settings: Settings):
    conf = spark.sparkContext.getConf()
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.catalog.spark_catalog") == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "64"
    assert spark.conf.get("spark.sql.adaptive.advisoryPartitionSizeInBytes") == "256m"
    assert conf.get("spark.sql.catalogImplementation") == "hive"
    assert Path(conf.get("spark.sql.warehouse.dir").removeprefix("file:")) == settings.lakehouse_dir / "warehouse"
    assert conf.get("spark.ui.enabled") == "false"
    spark.sql("show databases").collect()  # the metastore opens lazily
    assert (settings.lakehouse_dir / "metastore_db").is_dir()
    # Timestamps are read as UTC whatever the machine's zone.
    epoch = spark.sql("select unix_timestamp(timestamp'2019-10-01 00:00:00') as s").first().s
    assert epoch == 1569888000


def test_the_embedded_driver_listens_on_loopback_only(spark):
    """Its RPC and block manager ports: Spark binds them to the machine's address unless told."""
    spark.range(10).count()  # the block manager is up
    ports = listening([spark.sparkContext._gateway.proc.pid])
    assert len(ports) >= 2  # py4j's gateway, the driver's RPC, its block manager
    assert all(is_loopback(address) for address, _ in ports), ports


def test_second_process_on_the_same_lakehouse_fails_at_once_with_a_clear_message(spark, settings: Settings):
    settings.raw_dir.mkdir(parents=True, exist_ok=True)  # so the lock, not a missing folder, is what stops it
    result = subprocess.run([PYTHON, "-m", "pipeline.ingest", "--quiet"],
                            capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert result.returncode == 3
    assert f"lakehouse {settings.lakehouse_dir} is in use by pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr and "derby" not in result.stderr.lower()


def test_lock_of_a_killed_process_is_not_stale(tmp_path: Path):
    lock_file = tmp_path / ".lakehouse.lock"
    holder = subprocess.Popen([PYTHON, "-c", (
        "import sys, time; from pathlib import Path; from pipeline.platform import lock; "
        f"lock.acquire(Path({str(lock_file)!r})); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    probe = [PYTHON, "-c",
             f"from pathlib import Path; from pipeline.platform import lock; lock.acquire(Path({str(lock_file)!r}))"]
    busy = subprocess.run(probe, capture_output=True, text=True)
    assert busy.returncode != 0 and "is in use by pid" in busy.stderr

    holder.send_signal(signal.SIGKILL)
    holder.wait()
    for _ in range(50):  # the kernel drops the flock as the process dies
        free = subprocess.run(probe, capture_output=True, text=True)
        if free.returncode == 0:
            break
        time.sleep(0.1)
    assert free.returncode == 0, free.stderr
