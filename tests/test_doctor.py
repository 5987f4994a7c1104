"""`make doctor` names each missing piece and what to do about it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# What these tests need (`make doctor` starts a JVM): `make test-fast` skips them.
pytestmark = [pytest.mark.spark]


def _doctor(**env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "pipeline.doctor"], capture_output=True,
                          text=True, env=full, timeout=120)


def test_doctor_reports_busy_lakehouse_missing_jars_and_stopped_mysql(spark, settings, tmp_path):
    result = _doctor(LAKEHOUSE_DIR=str(settings.lakehouse_dir), LAKEHOUSE_JARS_DIR=str(tmp_path / "jars"),
                     MYSQL_LOCAL_DIR=str(tmp_path / "mysql"), MYSQL_LOCAL_PORT="33319")
    assert result.returncode == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith(("ok", "FIX"))}
    assert lines["java"].startswith("ok")
    assert lines["python"].startswith("ok")
    assert lines["jars"].startswith("FIX") and "run `make setup`" in lines["jars"]
    assert lines["lakehouse"].startswith("FIX") and f"in use by pid {os.getpid()}" in lines["lakehouse"]
    assert lines["mysql"].startswith("FIX") and "`make mysql-start`" in lines["mysql"]
    assert "Traceback" not in result.stderr


def test_doctor_names_an_unreachable_external_server(tmp_path):
    result = _doctor(LAKEHOUSE_DIR=str(tmp_path / "lh"), MYSQL_HOST="127.0.0.1", MYSQL_PORT="1",
                     MYSQL_USER="reporter", MYSQL_PASSWORD="s3cret-value")
    mysql = next(line for line in result.stdout.splitlines() if " mysql " in line)
    assert mysql.startswith("FIX") and "cannot reach MySQL at reporter@127.0.0.1:1" in mysql
    assert "s3cret-value" not in result.stdout + result.stderr
    lakehouse = next(line for line in result.stdout.splitlines() if " lakehouse lock " in line)
    assert lakehouse.startswith("ok")


def test_doctor_reports_the_data_health_of_the_last_build(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    missing = _doctor(LAKEHOUSE_DIR=str(tmp_path / "lh"), REPORTS_DIR=str(reports))
    line = next(x for x in missing.stdout.splitlines() if " data health " in x)
    assert line.startswith("FIX") and "no build has judged the data yet (`make transform`)" in line
    message = "data health: a.csv is more than 50% unusable: 9 of 10 lines; most often rejected 'bad event_time'"
    (reports / "data_health.json").write_text(json.dumps({
        "status": "error", "message": message, "checked_by": "dbt build", "checked_at": "2026-11-27T06:00:00+00:00",
        "files": 1, "lines_read": 10, "unusable_rows": 9}))
    failed = _doctor(LAKEHOUSE_DIR=str(tmp_path / "lh"), REPORTS_DIR=str(reports))
    line = next(x for x in failed.stdout.splitlines() if " data health " in x)
    assert line.startswith("FIX") and line.endswith(message)
    assert failed.returncode == 1


def test_doctor_in_cluster_mode_names_each_piece_that_is_not_running(tmp_path):
    result = _doctor(LAKEHOUSE_ENGINE="cluster", LAKEHOUSE_DIR=str(tmp_path / "lh"), CLUSTER_DIR=str(tmp_path / "c"),
                     MYSQL_LOCAL_DIR=str(tmp_path / "mysql"), MYSQL_LOCAL_PORT="33319", SPARK_MASTER_PORT="7390",
                     SPARK_MASTER_WEBUI_PORT="8390", SPARK_THRIFT_PORT="10390")
    lines = {line[5:27].strip(): line for line in result.stdout.splitlines() if line.startswith(("ok", "FIX"))}
    assert "lakehouse lock" not in lines  # no Derby, no lock
    for piece in ("cluster Spark master", "cluster Thrift Server"):
        assert lines[piece].startswith("FIX") and "run `make cluster-up`" in lines[piece], piece
    assert lines["cluster workers"].startswith("FIX") and "0 of 2 alive" in lines["cluster workers"]
    assert lines["cluster metastore"].startswith("FIX") and "not running" in lines["cluster metastore"]
    assert result.returncode == 1 and "Traceback" not in result.stderr
