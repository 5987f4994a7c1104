"""Entry points facing a busy lakehouse or a missing dependency: one clear line, a non-zero exit,
no traceback, and nothing touched."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pipeline.platform.config import REPO_ROOT, Settings
from tests.clone import module_argv

# What these tests need (entry points in subprocesses start JVMs): `make test-fast` skips them.
pytestmark = [pytest.mark.spark]

ENTRY_POINTS = {
    "ingest": ["pipeline.ingest", "--quiet"],
    "dbt": ["pipeline.transform", "build"],
    "train": ["ml", "run", "--quiet"],
    "sync": ["pipeline.sync", "--quiet"],
    "recommend": ["pipeline.chain", "--quiet"],
}


def _run(args: list[str], **env: str | None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(module_argv(*args), capture_output=True, text=True, env=full_env, cwd=REPO_ROOT,
                          timeout=300)


def _last_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def _snapshot(spark) -> list[tuple]:
    return sorted((r.namespace, r.tableName) for db in spark.catalog.listDatabases()
                  for r in spark.sql(f"show tables in {db.name}").collect())


@pytest.mark.parametrize("stage", sorted(ENTRY_POINTS))
def test_each_stage_refuses_a_busy_lakehouse_and_leaves_it_alone(spark, settings: Settings, stage, tmp_path):
    before = _snapshot(spark)
    # MYSQL_HOST points nowhere: a sync that got past the lock would fail differently.
    result = _run(ENTRY_POINTS[stage], MYSQL_HOST="127.0.0.1", MYSQL_PORT="1", MYSQL_USER="x",
                  RAW_DIR=str(settings.raw_dir if settings.raw_dir.is_dir() else tmp_path))
    assert result.returncode == 3, result.stderr[-2000:]
    assert _last_line(result).startswith(f"error: lakehouse {settings.lakehouse_dir} is in use by pid {os.getpid()} ")
    assert _snapshot(spark) == before
    assert f"pid {os.getpid()}" in settings.lock_file.read_text()


def test_make_recommend_refuses_a_busy_lakehouse_before_its_first_step(spark, settings: Settings, tmp_path, real_slice):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(real_slice, raw / real_slice.name)
    env = {**os.environ, "RAW_DIR": str(raw), "MAKEFLAGS": ""}
    result = subprocess.run(["make", "--no-print-directory", "recommend"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "bin/recolake-recommend" in result.stdout  # the one-process chain ...
    assert "Traceback" not in result.stderr
    assert f"error: lakehouse {settings.lakehouse_dir} is in use by pid {os.getpid()} " in result.stderr
    assert "step ingest" not in result.stderr  # ... refused before its first step


def test_java_missing_or_broken_is_one_line(tmp_path):
    no_java = _run(ENTRY_POINTS["ingest"], PATH=str(tmp_path), JAVA_HOME=None, RAW_DIR=str(tmp_path))
    assert no_java.returncode == 2
    assert _last_line(no_java) == ("error: Java 17 is not installed: run `make setup` "
                                   "(it installs openjdk-17-jre-headless)")
    broken = _run(ENTRY_POINTS["train"], JAVA_HOME=str(tmp_path / "jdk"))
    assert broken.returncode == 2
    assert _last_line(broken) == (f"error: JAVA_HOME={tmp_path / 'jdk'} has no bin/java: "
                                  "point it at a Java 17 install or unset it")


def test_unwritable_folders_and_a_missing_landing_folder_are_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    lakehouse = _run(ENTRY_POINTS["dbt"], LAKEHOUSE_DIR=str(blocker / "lakehouse"))
    assert lakehouse.returncode == 2
    assert _last_line(lakehouse) == (f"error: {blocker / 'lakehouse'} is not writable (Not a directory): "
                                     "set LAKEHOUSE_DIR to a folder you can write to")
    for stage in ("train", "recommend"):  # before any step of the chain has run
        reports = _run(ENTRY_POINTS[stage], REPORTS_DIR=str(blocker / "reports"))
        assert reports.returncode == 2
        assert "set REPORTS_DIR to a folder you can write to" in _last_line(reports)
        assert "step ingest" not in reports.stderr
    missing = _run(ENTRY_POINTS["ingest"], RAW_DIR=str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert _last_line(missing) == (f"error: landing folder {tmp_path / 'nowhere'} does not exist: "
                                   "set RAW_DIR, or run `make data`")


# Errors a user causes with data or settings: one `error:` line with the fix, never a traceback.
# Each runs on a fresh, empty lakehouse of its own (the test session holds the shared one).
SETTINGS_AND_DATA_ERRORS = {
    "bad setting, before Spark": (
        ["pipeline.transform", "build"], {"MIN_EVENT_DATE": "yesterday"}, 2,
        "error: MIN_EVENT_DATE='yesterday' is not a date: write YYYY-MM-DD"),
    "unknown VARS name": (
        ["ml", "run", "--quiet"], {"VARS": "min_price=3"}, 2,
        "error: VARS names 'min_price', which is not a setting; known: "),
    "option out of range": (
        ["ml", "run", "--rank", "0"], {}, 2, "error: --rank must be at least 1, not 0"),
    "training before any build": (
        ["ml", "run", "--quiet"], {}, 2,
        "error: table cleaned.cleaned_events does not exist: run `make transform` first (or name another table)"),
}


@pytest.mark.parametrize("case", sorted(SETTINGS_AND_DATA_ERRORS))
def test_settings_and_data_errors_are_one_line(case, tmp_path):
    args, env, code, message = SETTINGS_AND_DATA_ERRORS[case]
    result = _run(args, LAKEHOUSE_DIR=str(tmp_path / "lakehouse"), REPORTS_DIR=str(tmp_path / "reports"), **env)
    assert result.returncode == code, result.stderr[-2000:]
    assert _last_line(result).startswith(message), _last_line(result)


def test_an_all_bad_file_fails_ingest_with_file_reason_and_fix(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.csv").write_text(
        "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
        + "".join(f"2019-10-01 00:00:0{i} UTC,view,1.00486E+06,2,,,1.00,7,s\n" for i in range(5)))
    result = _run(ENTRY_POINTS["ingest"], LAKEHOUSE_DIR=str(tmp_path / "lakehouse"), RAW_DIR=str(raw))
    assert result.returncode == 1, result.stderr[-2000:]
    assert _last_line(result) == (
        "error: data health: export.csv is more than 50% unusable: 5 of 5 lines; most often rejected "
        "'product_id in scientific notation (rounded by a spreadsheet?)' (5 rows); a spreadsheet rounded the ids: "
        "load the original file, or export the id columns as text; to accept such files, raise "
        "HEALTH_ERROR_SHARE (now 0.5)")


def test_a_reader_on_a_checkout_that_never_synced_says_so_and_creates_nothing(tmp_path):
    private = tmp_path / "mysql"
    for args in (["pipeline.dashboard"], ["pipeline.tableau"]):
        result = _run(args, MYSQL_HOST=None, MYSQL_LOCAL_DIR=str(private), REPORTS_DIR=str(tmp_path / "reports"))
        assert result.returncode == 2, result.stderr[-2000:]
        assert _last_line(result) == (f"error: no synced marts: the private MariaDB ({private}) was never set up; "
                                      "run `make sync` first, or set MYSQL_HOST to the server that holds them")
    assert not private.exists() and not (tmp_path / "reports").exists()
