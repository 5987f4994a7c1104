"""MySQL sync against a real, private MariaDB: exact values, atomic swap, no-op re-sync,
read-only reporting user, clear connection errors, manifest-driven table list."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from pipeline.mysql import local_server
from pipeline.mysql.connection import MysqlError, connect, quote_identifier
from pipeline.platform.config import load_settings, mysql_env
from pipeline.sync import SyncError, partial
from pipeline.sync.catalog import PartialSpec, SyncTable, tagged_tables, varchar_room
from pipeline.sync.load import ensure_sync_log, sync_table
from pipeline.sync.marts import sync_all
from pipeline.transform.runner import run_dbt

# What these tests need (a private MariaDB): `make test-fast` skips them.
pytestmark = [pytest.mark.mysql]

PORT = local_server.free_port()
TABLE = SyncTable("synctest.sample", "sample", primary_key=("id",), indexes=("user_id",))
ROWS = [
    (1, 2**40 + 1, Decimal("12.30"), dt.datetime(2019, 10, 1, 0, 0, 0, 123456), dt.date(2019, 10, 1),
     "plain", True, 0.1),
    (2, None, Decimal("-0.01"), dt.datetime(2019, 10, 31, 23, 59, 59, 999999), None,
     "tab\there, newline\nthere, backslash \\ and \\N", False, None),
    (3, 7, None, None, dt.date(2020, 2, 29), "ünïcødé 品牌 🛒", None, -1e-7),
    (4, 8, Decimal("99999999.99"), dt.datetime(1970, 1, 1), dt.date(1970, 1, 1), "", False, 1e20),
]
SCHEMA = ("id int, user_id bigint, price decimal(18,2), seen_at timestamp, day date, label string, "
          "flag boolean, ratio double")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    os.environ["MYSQL_LOCAL_DIR"] = str(tmp_path_factory.mktemp("mysql"))
    os.environ["MYSQL_LOCAL_PORT"] = str(PORT)
    srv = local_server.ensure_running(local_server.local_server(mysql_env()))
    yield srv
    local_server.stop(srv)


@pytest.fixture()
def source(spark):
    spark.sql("create database if not exists synctest")
    spark.sql("drop table if exists synctest.sample")
    spark.createDataFrame(ROWS, SCHEMA).write.format("delta").saveAsTable("synctest.sample")
    conn = connect(local_server.local_server(mysql_env()).app_settings())
    conn.cursor().execute("drop table if exists sample")
    conn.cursor().execute("drop table if exists _sync_log")
    conn.close()
    return "synctest.sample"


def _mysql_rows(server, table="sample"):
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute(f"select * from {table} order by id")
    rows = cur.fetchall()
    conn.close()
    return rows


def _expected():
    return [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in ROWS]


def test_values_types_and_keys_survive_exactly(spark, settings, server, source):
    [result] = sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)
    assert (result.rows, result.path) == (4, "local_infile")
    got = _mysql_rows(server)
    assert [tuple(r[:7]) for r in got] == [row[:7] for row in _expected()]
    assert [r[7] for r in got] == [0.1, None, -1e-7, 1e20]
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute("select column_name, column_type from information_schema.columns "
                "where table_schema = database() and table_name = 'sample' order by ordinal_position")
    assert dict(cur.fetchall()) == {"id": "int(11)", "user_id": "bigint(20)", "price": "decimal(18,2)",
                                    "seen_at": "datetime(6)", "day": "date",
                                    "label": f"varchar({varchar_room(max(len(r[5]) for r in ROWS))})",
                                    "flag": "tinyint(1)", "ratio": "double"}
    cur.execute("show index from sample")
    assert {(r[2], r[4]) for r in cur.fetchall()} == {("PRIMARY", "id"), ("ix_user_id", "user_id")}
    cur.execute("select table_name, rows_loaded, source_table, load_path from _sync_log")
    assert cur.fetchall() == [("sample", 4, "synctest.sample", "local_infile")]


def test_resync_without_change_is_a_noop_and_a_new_version_reloads(spark, settings, server, source):
    first = sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)[0]
    again = sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)[0]
    assert again.path == "unchanged" and again.checksum == first.checksum
    assert _mysql_rows(server)[0][:7] == _expected()[0][:7]
    spark.sql("insert into synctest.sample values (5, 9, 1.50, null, null, 'new', true, 2.0)")
    later = sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)[0]
    assert later.path == "local_infile" and later.rows == 5 and later.checksum != first.checksum
    assert len(_mysql_rows(server)) == 5


def test_a_view_over_two_tables_is_synced_again_when_either_changes(spark, settings, server, source):
    """A view has no Delta version: the versions of the tables under it decide. The log of an older sync,
    which held one version number, is widened in place."""
    spark.sql("drop table if exists synctest.labels")
    spark.createDataFrame([(1, "one"), (2, "two")], "id int, name string").write.format("delta") \
        .saveAsTable("synctest.labels")
    spark.sql("create or replace view synctest.labelled as select s.id, s.user_id, l.name from synctest.sample s "
              "left join synctest.labels l on s.id = l.id")
    view = SyncTable("synctest.labelled", "labelled", ("id",), versioned_by=("synctest.labels", "synctest.sample"))
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute("drop table if exists labelled")
    cur.execute("create table _sync_log (id bigint auto_increment primary key, table_name varchar(64) not null, "
                "rows_loaded bigint not null, checksum char(32) not null, source_table varchar(200) not null, "
                "source_version bigint not null, load_path varchar(20) not null, seconds double not null, "
                "synced_at datetime(6) not null default current_timestamp(6), key ix_table (table_name, id))")
    cur.execute("insert into _sync_log (table_name, rows_loaded, checksum, source_table, source_version, load_path, "
                "seconds) values ('older', 1, repeat('0', 32), 'marts.older', 7, 'local_infile', 0.1)")
    conn.close()

    def synced() -> str:
        return sync_all(spark, settings, server.app_settings(), [view], progress=False)[0].path

    assert synced() == "local_infile"
    assert synced() == "unchanged"
    spark.sql("update synctest.labels set name = 'uno' where id = 1")
    assert synced() == "local_infile"
    assert [r[2] for r in _mysql_rows(server, "labelled")] == ["uno", "two", None, None]
    spark.sql("delete from synctest.sample where id = 4")
    assert synced() == "local_infile" and len(_mysql_rows(server, "labelled")) == 3
    assert synced() == "unchanged"
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute("select source_version from _sync_log order by id")
    versions = [r[0] for r in cur.fetchall()]
    conn.close()
    sample, labels = (int(spark.sql(f"describe history synctest.{t} limit 1").first().version)
                      for t in ("sample", "labels"))
    assert versions[0] == "7" and versions[-1] == f"synctest.labels@{labels},synctest.sample@{sample}"


def test_batched_insert_fallback_when_local_infile_is_refused(spark, settings, server, source, tmp_path):
    conn = connect(server.app_settings(), allow_local_infile=False)
    ensure_sync_log(conn.cursor())
    result = sync_table(spark, conn, TABLE, tmp_path, progress=False)
    conn.close()
    assert result.path == "batched_insert"
    assert [tuple(r[:7]) for r in _mysql_rows(server)] == [row[:7] for row in _expected()]


def test_failure_before_the_swap_keeps_the_previous_table(spark, settings, server, source):
    sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)
    spark.sql("delete from synctest.sample where id = 1")

    def crash(_table: str) -> None:
        raise RuntimeError("killed between load and swap")

    with pytest.raises(RuntimeError):
        sync_all(spark, settings, server.app_settings(), [TABLE], progress=False, before_swap=crash)
    assert len(_mysql_rows(server)) == 4  # the old table still serves the old rows
    assert len(_mysql_rows(server, "sample__new")) == 3  # the half-done load sits aside
    result = sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)[0]
    assert result.rows == 3 and [r[0] for r in _mysql_rows(server)] == [2, 3, 4]
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute("show tables like 'sample\\_\\_%'")
    assert cur.fetchall() == []


def _run(module: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def test_reporting_user_can_read_but_not_write(spark, settings, server, source):
    sync_all(spark, settings, server.app_settings(), [TABLE], progress=False)
    granted = _run("pipeline.mysql", "grant", MYSQL_REPORTING_USER="reporter", MYSQL_REPORTING_PASSWORD="r3ad-only")
    assert granted.returncode == 0, granted.stderr
    reporter = local_server.local_server(mysql_env()).app_settings()
    reporter = type(reporter)(reporter.host, reporter.port, "reporter", "r3ad-only", reporter.database)
    conn = connect(reporter)
    cur = conn.cursor()
    cur.execute("select count(*) from sample")
    assert cur.fetchone()[0] == 4
    for statement in ("insert into sample (id) values (99)", "update sample set label = 'x'",
                      "delete from sample", "drop table sample", "create table t (a int)",
                      "alter table sample add column z int"):
        with pytest.raises(Exception) as denied:
            cur.execute(statement)
        assert getattr(denied.value, "errno", None) in (1142, 1044), statement
    conn.close()


def test_wrong_password_and_unreachable_server_fail_with_one_clear_line(server, tmp_path):
    secret = "not-the-password-8731"
    free = str(tmp_path)  # a lakehouse nobody holds: these runs must get as far as MySQL
    wrong = _run("pipeline.sync", "--quiet", MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(PORT), MYSQL_USER="lakehouse",
                 MYSQL_PASSWORD=secret, LAKEHOUSE_DIR=free)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1] == (
        f"error: MySQL refused the credentials for lakehouse@127.0.0.1:{PORT}: check MYSQL_USER and MYSQL_PASSWORD")
    assert secret not in wrong.stderr + wrong.stdout and "Traceback" not in wrong.stderr
    down = _run("pipeline.sync", "--quiet", MYSQL_HOST="127.0.0.1", MYSQL_PORT="1", MYSQL_USER="x",
                MYSQL_PASSWORD=secret, LAKEHOUSE_DIR=free)
    assert down.returncode == 2 and "cannot reach MySQL at x@127.0.0.1:1" in down.stderr
    assert secret not in down.stderr
    quoted = _run("pipeline.sync", "--quiet", MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(PORT), MYSQL_USER="x",
                  MYSQL_DATABASE="marts`; drop database mysql; --", LAKEHOUSE_DIR=free)
    assert quoted.returncode == 2
    assert quoted.stderr.strip().splitlines()[-1].startswith("error: refusing SQL identifier 'marts`; drop")


def test_identifiers_with_quotes_or_backticks_are_refused():
    for bad in ("a`b", "x'; drop table t; --", "name with space", ""):
        with pytest.raises(MysqlError):
            quote_identifier(bad)
    assert quote_identifier("daily_revenue") == "`daily_revenue`"


def test_synced_tables_come_from_the_dbt_manifest(settings):
    run_dbt(["parse"], load_settings())
    tables = {t.target: t for t in tagged_tables(settings.dbt_target_dir / "manifest.json")}
    assert {"daily_revenue", "brand_rankings", "top_customers", "dim_products", "dim_users",
            "user_recommendations", "model_quality_latest"} <= set(tables)
    assert not {"stg_raw__events", "user_item_interactions", "int_recommended_products"} & set(tables)
    assert tables["daily_revenue"].primary_key == ("event_date",)
    assert tables["daily_revenue"].source == "marts.daily_revenue"
    assert tables["user_recommendations"].primary_key == ("user_id", "recommendation_rank")
    assert tables["user_recommendations"].indexes == ("product_id",)  # user_id leads the key
    assert tables["user_recommendations"].partial == PartialSpec(
        "user_id", "run_id", "product_id", ("brand", "category_code", "category_l1", "price", "generated_at"))
    # a view: whether it changed is read off the Delta versions of the tables under it, through views
    assert tables["user_recommendations"].version_sources == ("intermediate.int_recommended_products",
                                                              "ml.recommendation_lists")
    assert tables["daily_revenue"].version_sources == ("marts.daily_revenue",)
    assert tables["daily_revenue"].partial is None


LISTS = SyncTable("synctest.lists", "lists", ("user_id", "list_rank"), partial=PartialSpec("user_id", "run_id"))
LISTS_SCHEMA = "user_id bigint, list_rank int, product_id bigint, score double, run_id string"


def _lists(runs: dict[int, tuple[str, list[int]]]) -> list[tuple]:
    """user -> (run, products) as rows; scores make every row distinct."""
    return [(user, rank, product, user + rank / 100, run) for user, (run, products) in runs.items()
            for rank, product in enumerate(products, start=1)]


def _write_lists(spark, rows: list[tuple]) -> None:
    spark.createDataFrame(rows, LISTS_SCHEMA).write.format("delta").mode("overwrite").saveAsTable("synctest.lists")


def _mysql_query(server, sql: str) -> list[tuple]:
    conn = connect(server.app_settings())
    cur = conn.cursor()
    cur.execute(sql)
    rows = [tuple(r) for r in cur.fetchall()]
    conn.close()
    return rows


def _mysql_lists(server) -> list[tuple]:
    return _mysql_query(server, "select user_id, list_rank, product_id, score, run_id from lists "
                                "order by user_id, list_rank")


def _empty_mysql(spark, server, *tables: str) -> None:
    spark.sql("create database if not exists synctest")
    conn = connect(server.app_settings())
    cur = conn.cursor()
    for table in tables:
        cur.execute("select table_type from information_schema.tables where table_schema = database() "
                    "and table_name = %s", (table,))
        found = cur.fetchone()
        if found:
            cur.execute(f"drop {'view' if found[0] == 'VIEW' else 'table'} {table}")
    conn.close()


@pytest.fixture()
def lists_source(spark, server):
    _empty_mysql(spark, server, "lists", "lists__rows", "lists__current", "_sync_log", "_sync_versions")
    refit = {user: ("r1", [user * 10 + i for i in range(5)]) for user in range(1, 41)}
    _write_lists(spark, _lists(refit))
    return refit


def _stored(server) -> list[tuple]:
    return _mysql_query(server, "select version, rows_held from _sync_versions where table_name = 'lists' "
                                "order by version")


def test_an_update_appends_the_changed_users_lists_and_switches_their_pointers(spark, settings, server,
                                                                                lists_source):
    first = sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0]
    assert first.path == "local_infile" and first.rows == 200
    assert _mysql_query(server, "select table_name, table_type from information_schema.tables where "
                                "table_schema = database() and table_name like 'lists%' order by 1") == [
        ("lists", "VIEW"), ("lists__current", "BASE TABLE"), ("lists__rows", "BASE TABLE")]
    update = {**lists_source, 3: ("r2", [7, 8, 9]), 17: ("r2", [1, 2, 3, 4, 5, 6]), 99: ("r2", [42])}
    _write_lists(spark, _lists(update))
    second = sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0]
    assert second.path == "partial_infile" and second.rows == 3 + 6 + 1  # only the changed users' rows
    assert _mysql_lists(server) == sorted(_lists(update))
    # The superseded rows of users 3 and 17 stay stored under r1, out of the view.
    assert _stored(server) == [("r1", 200), ("r2", 10)]
    assert _mysql_query(server, "select run_id, count(*) from lists__rows group by run_id order by 1") == [
        ("r1", 200), ("r2", 10)]
    assert _mysql_query(server, "select run_id, count(*), sum(rows_held) from lists__current group by run_id "
                                "order by 1") == [("r1", 38, 190), ("r2", 3, 10)]

    # The same users again: no key points at r2 any more, so its rows go; r1's superseded rows stay.
    again = {**update, 3: ("r3", [5]), 17: ("r3", [6]), 99: ("r3", [7, 8])}
    _write_lists(spark, _lists(again))
    third = sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0]
    assert third.path == "partial_infile" and third.rows == 4
    assert _mysql_lists(server) == sorted(_lists(again))
    assert _stored(server) == [("r1", 200), ("r3", 4)]
    assert _mysql_query(server, "select count(*) from lists__rows where run_id = 'r2'") == [(0,)]
    assert _mysql_query(server, "show tables like 'lists\\_\\_%'") == [("lists__current",), ("lists__rows",)]


def test_rows_of_a_run_that_was_never_switched_to_are_removed_by_the_next_apply(spark, settings, server,
                                                                              lists_source, monkeypatch):
    sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    _write_lists(spark, _lists({**lists_source, 4: ("r2", [1, 2])}))

    def stopped(*args, **kwargs):
        raise RuntimeError("stopped before the switch")

    with monkeypatch.context() as patched:
        patched.setattr(partial, "switch", stopped)
        with pytest.raises(RuntimeError, match="before the switch"):
            sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    assert _mysql_lists(server) == sorted(_lists(lists_source))  # readers never saw r2
    assert _mysql_query(server, "select count(*) from lists__rows where run_id = 'r2'") == [(2,)]

    update = {**lists_source, 9: ("r3", [5])}  # r2 never reaches MySQL: the next run wrote r3
    _write_lists(spark, _lists(update))
    result = sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0]
    assert result.path == "partial_infile" and result.rows == 1
    assert _mysql_lists(server) == sorted(_lists(update))
    assert _mysql_query(server, "select run_id, count(*) from lists__rows group by run_id order by 1") == [
        ("r1", 200), ("r3", 1)]


def test_too_many_superseded_rows_make_the_next_sync_load_the_whole_table(spark, settings, server, lists_source,
                                                                          monkeypatch):
    sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    monkeypatch.setattr(partial, "MAX_GARBAGE_SHARE", 0.1)  # of the live rows
    update = {**lists_source, **{u: ("r2", [1]) for u in range(1, 4)}}  # 15 superseded of 188 live: an apply
    _write_lists(spark, _lists(update))
    assert sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0].path == "partial_infile"
    update = {**update, **{u: ("r3", [2]) for u in range(4, 6)}}  # 25 of 180: a whole load, none kept
    _write_lists(spark, _lists(update))
    assert sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0].path == "local_infile"
    assert _mysql_lists(server) == sorted(_lists(update))
    assert _stored(server) == [("r1", 175), ("r2", 3), ("r3", 2)]
    assert _mysql_query(server, "select count(*) from lists__rows") == [(180,)]


def test_a_group_that_left_delta_makes_the_sync_load_the_whole_table(spark, settings, server, lists_source):
    sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    update = {u: v for u, v in lists_source.items() if u != 5}  # user 5's list is gone, no new run says so
    update[6] = ("r2", [1])
    _write_lists(spark, _lists(update))
    result = sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)[0]
    assert result.path == "local_infile" and result.rows == len(_lists(update))
    assert _mysql_lists(server) == sorted(_lists(update))


LABELLED = SyncTable("synctest.lists", "lists", ("user_id", "list_rank"),
                     partial=PartialSpec("user_id", "run_id", "product_id", ("label", "made_at")))


def _labelled(runs: dict[int, tuple[str, list[int]]]) -> list[tuple]:
    """The lists with two lookup columns, one value per (run, product)."""
    return [(*row, f"{row[4]}:{row[2]}", dt.datetime(2026, 1, int(row[4][1:]))) for row in _lists(runs)]


def _products(runs: dict[int, tuple[str, list[int]]]) -> set[tuple[str, int]]:
    return {(run, product) for run, products in runs.values() for product in products}


def _write_labelled(spark, rows: list) -> None:
    spark.createDataFrame(rows, LISTS_SCHEMA + ", label string, made_at timestamp").write.format("delta") \
        .mode("overwrite").option("overwriteSchema", "true").saveAsTable("synctest.lists")


def test_lookup_columns_are_stored_once_per_version_and_key_and_shown_on_every_row(spark, settings, server,
                                                                                    lists_source):
    """A list synced without lookup columns, then with them: the whole load reshapes the view. The labels
    (one per run and product) are stored once each; a day's apply adds its run's; a run that breaks the
    promise of one value per (run, product) fails the sync and leaves MySQL as it was."""
    sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    _write_labelled(spark, _labelled(lists_source))
    whole = sync_all(spark, settings, server.app_settings(), [LABELLED], progress=False)[0]
    assert whole.path == "local_infile" and whole.rows == 200

    def shown() -> list[tuple]:
        return _mysql_query(server, "select user_id, list_rank, product_id, score, run_id, label, made_at from lists "
                                    "order by user_id, list_rank")

    assert shown() == sorted(_labelled(lists_source))
    assert [c for c, in _mysql_query(server, "select column_name from information_schema.columns where table_schema "
                                             "= database() and table_name = 'lists__rows' order by ordinal_position")] \
        == ["user_id", "list_rank", "product_id", "score", "run_id"]
    assert _mysql_query(server, "select count(*) from lists__lookup") == [(len(_products(lists_source)),)]

    update = {**lists_source, 3: ("r2", [7, 8, 9]), 17: ("r2", [11, 12]), 99: ("r2", [42])}
    _write_labelled(spark, _labelled(update))
    day = sync_all(spark, settings, server.app_settings(), [LABELLED], progress=False)[0]
    assert day.path == "partial_infile" and day.rows == 6
    assert shown() == sorted(_labelled(update))
    assert _mysql_query(server, "select run_id, count(*) from lists__lookup group by run_id order by 1") == [
        ("r1", len(_products(lists_source))), ("r2", 6)]

    broken = {**update, 5: ("r3", [1, 2]), 6: ("r3", [1])}  # product 1 of r3 labelled twice
    _write_labelled(spark, [(*r[:5], "other", r[6]) if (r[0], r[2]) == (6, 1) else r for r in _labelled(broken)])
    with pytest.raises(SyncError, match=r"label, made_at are not one value per \(run_id, product_id\)"):
        sync_all(spark, settings, server.app_settings(), [LABELLED], progress=False)
    assert shown() == sorted(_labelled(update))


def test_a_taken_port_fails_at_once_naming_its_holder_and_the_setting(tmp_path):
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")}
        env.update(MYSQL_LOCAL_DIR=str(tmp_path / "mysql"), MYSQL_LOCAL_PORT=str(port))
        result = subprocess.run([sys.executable, "-m", "pipeline.mysql", "start"],
                                capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: the private MariaDB cannot start: port {port} is already in use by "
                           f"pid {os.getpid()} (")  # this test process holds it
    assert line.endswith("): stop that process or set MYSQL_LOCAL_PORT")
    assert not (tmp_path / "mysql").exists()  # it failed before initialising anything


def test_a_partial_apply_falls_back_to_batched_inserts_when_local_infile_is_refused(spark, settings, server,
                                                                                     lists_source, tmp_path):
    sync_all(spark, settings, server.app_settings(), [LISTS], progress=False)
    update = {**lists_source, 8: ("r2", [5, 6]), 30: ("r2", [1, 2, 3, 4, 5, 6, 7])}
    _write_lists(spark, _lists(update))
    conn = connect(server.app_settings(), allow_local_infile=False)
    result = sync_table(spark, conn, LISTS, tmp_path, progress=False)
    conn.close()
    assert result.path == "partial_insert" and result.rows == 2 + 7
    assert _mysql_lists(server) == sorted(_lists(update))


USERS = SyncTable("synctest.users", "users", ("user_id",), changed_by="last_ingested_at")
USERS_SCHEMA = "user_id bigint, spend decimal(12,2), segment string, last_ingested_at timestamp"


def _users(spark, rows: list[tuple]) -> None:
    """The rows merged into synctest.users by user_id, as dbt merges dim_users (created when missing)."""
    new = spark.createDataFrame(rows, USERS_SCHEMA)
    if not spark.catalog.tableExists("synctest.users"):
        new.write.format("delta").mode("overwrite").saveAsTable("synctest.users")
        return
    new.createOrReplaceTempView("users_day")
    spark.sql("merge into synctest.users t using users_day s on t.user_id = s.user_id "
              "when matched then update set * when not matched then insert *")


def test_a_merged_table_is_synced_as_the_rows_it_changed_and_reloaded_when_a_row_moved_silently(
        spark, settings, server):
    _empty_mysql(spark, server, "users", "_sync_log")
    spark.sql("drop table if exists synctest.users")
    day1, day2 = dt.datetime(2026, 1, 1, 3), dt.datetime(2026, 1, 2, 3, 0, 0, 250)
    _users(spark, [(u, Decimal(f"{u}.50"), "new", day1) for u in range(1, 101)])
    first = sync_all(spark, settings, server.app_settings(), [USERS], progress=False)[0]
    assert first.path == "local_infile" and first.rows == 100

    # A day's merge: 3 users change, 2 arrive; only those 5 rows travel.
    _users(spark, [(5, Decimal("99.00"), "loyal", day2), (50, Decimal("1.25"), "loyal", day2),
            (77, Decimal("0.00"), "lapsed", day2), (101, Decimal("3.00"), "new", day2),
            (102, Decimal("4.00"), "new", day2)])
    second = sync_all(spark, settings, server.app_settings(), [USERS], progress=False)[0]
    assert second.path == "upsert_infile" and second.rows == 5

    def in_mysql() -> list[tuple]:
        return _mysql_query(server, "select user_id, spend, segment, last_ingested_at from users order by user_id")

    def in_delta() -> list[tuple]:
        return sorted(tuple(r) for r in spark.table("synctest.users").collect())

    assert in_mysql() == in_delta() and len(in_mysql()) == 102
    assert _mysql_query(server, "show tables like 'users\\_\\_%'") == []

    # A row rewritten without a newer change column: the upsert's whole-table check refuses it, and the
    # table is reloaded whole.
    spark.sql("update synctest.users set segment = 'vip' where user_id = 9")
    spark.sql("delete from synctest.users where user_id = 8")  # and a delete: no longer merges only
    third = sync_all(spark, settings, server.app_settings(), [USERS], progress=False)[0]
    assert third.path == "local_infile" and in_mysql() == in_delta() and len(in_mysql()) == 101

    # A merge that moves nothing forward but changes a row: the check catches it.
    _users(spark, [(12, Decimal("7.00"), "sneaky", day1)])
    fourth = sync_all(spark, settings, server.app_settings(), [USERS], progress=False)[0]
    assert fourth.path == "local_infile" and in_mysql() == in_delta()
    assert ("sneaky",) in _mysql_query(server, "select segment from users where user_id = 12")
