"""Sync every table tagged for MySQL, connecting (and failing) before Spark starts.

Tables are synced a few at a time, each on its own MySQL connection: a table's sync is mostly waiting
(Spark scheduling its export, MySQL's DDL and commits), so one table's waits overlap another's work.
Each table still swaps in alone and atomically; on a failure the tables under way finish, the rest are
not started, and the first error is raised.

A server that goes away in the middle (a MariaDB restart) costs the table under way a second try on a new
connection, once the server answers again: every step of a table's sync can be redone (staging tables are
recreated, a day's apply is one transaction and finds what a first try already switched).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path

from mysql.connector import Error as ConnectorError
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from pipeline.mysql.connection import MysqlError, MysqlSettings, MysqlUnreachable, connect
from pipeline.mysql.target import sync_target
from pipeline.platform import lock
from pipeline.platform.config import Settings
from pipeline.platform.spark import get_spark
from pipeline.sync.catalog import SyncTable, tagged_tables
from pipeline.sync.load import TableSync, ensure_sync_log, sync_table

log = logging.getLogger(__name__)

# Tables synced at once. At 10M events, a day's sync of 23 tables took 36 s one at a time.
SYNC_THREADS = 3
# Client errors of a connection the server dropped: gone away, lost during a query, lost.
CONNECTION_LOST = {2006, 2013, 2055}
# How long a table's sync waits for a server that went away to answer again.
RECONNECT_SECONDS = 120


def _reconnect(mysql: MysqlSettings, table: str):
    """A new connection once the server answers, or one line naming what happened."""
    deadline, pause = time.monotonic() + RECONNECT_SECONDS, 0.5
    while True:
        try:
            return connect(mysql)
        except MysqlUnreachable:
            if time.monotonic() > deadline:
                raise MysqlError(f"MySQL at {mysql.describe()} went away during the sync of {table} and did not "
                                 f"answer again within {RECONNECT_SECONDS} s; start it, then rerun the sync "
                                 "(it redoes only what is not there)") from None
            time.sleep(pause)
            pause = min(pause * 2, 5)


def _lost(conn, exc: ConnectorError) -> bool:
    """Whether ``exc`` came from a connection the server dropped (the client names it in several ways)."""
    if exc.errno in CONNECTION_LOST:
        return True
    try:
        return not conn.is_connected()
    except ConnectorError:
        return True


def _sync_one(spark: SparkSession, mysql: MysqlSettings, table: SyncTable, work_dir: Path, progress: bool,
              before_swap: Callable[[str], None] | None, shared_metastore: bool) -> TableSync:
    """One table; again, on a new connection, while MySQL (or, on the cluster, the metastore: a table of the
    manifest that is not found) is away, for at most RECONNECT_SECONDS."""
    deadline, pause = time.monotonic() + RECONNECT_SECONDS, 1.0
    while True:
        conn = _reconnect(mysql, table.target)  # a connection per table: connections are not shared by threads
        try:
            return sync_table(spark, conn, table, work_dir, progress, before_swap)
        except ConnectorError as exc:
            if not _lost(conn, exc) or time.monotonic() > deadline:
                raise
            log.warning("%s: MySQL went away (%s); trying the table again once it answers", table.target, exc.msg)
        except AnalysisException as exc:
            # A metastore that is restarting answers "no such table" for every table it is asked about.
            if not shared_metastore or "TABLE_OR_VIEW_NOT_FOUND" not in str(exc) or time.monotonic() > deadline:
                raise
            log.warning("%s: the metastore does not show %s (restarting?); asking again", table.target, table.source)
        finally:
            _close_quietly(conn)
        time.sleep(pause)
        pause = min(pause * 2, 10)


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except ConnectorError:  # the server dropped it already
        pass


def sync_all(spark: SparkSession, settings: Settings, mysql: MysqlSettings, tables: list[SyncTable],
             progress: bool = True, before_swap: Callable[[str], None] | None = None,
             threads: int = SYNC_THREADS) -> list[TableSync]:
    """Every table of ``tables`` synced; the results in their order."""
    conn = connect(mysql)
    try:
        ensure_sync_log(conn.cursor())
    finally:
        conn.close()
    work_dir = Path(settings.lakehouse_dir) / "tmp" / "mysql_sync"
    # The lists (replaced by group: the largest tables, a day's longest sync) start first, so the small
    # tables fill the other threads while they load instead of leaving them to finish alone.
    first = sorted(range(len(tables)), key=lambda i: tables[i].partial is None)
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="sync") as pool:
        started = {i: pool.submit(_sync_one, spark, mysql, tables[i], work_dir, progress, before_swap,
                                 not settings.embedded) for i in first}
        futures: list[Future[TableSync]] = [started[i] for i in range(len(tables))]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for future in pending:
                future.cancel()
            wait(pending)
            raise failed[0].exception()
    return [f.result() for f in futures]


def sync_marts(settings: Settings, progress: bool = True) -> None:
    """Copy the tagged marts to the sync target and log one line of totals."""
    lock.hold(settings)  # a busy lakehouse stops the sync before it touches MySQL
    mysql = sync_target(settings.mysql)
    connect(mysql).close()  # unreachable server or bad credentials: fail before Spark starts
    tables = tagged_tables(settings.dbt_target_dir / "manifest.json")
    results = sync_all(get_spark("sync", settings), settings, mysql, tables, progress=progress)
    total = sum(r.rows for r in results if r.path != "unchanged")
    seconds = sum(r.seconds for r in results)
    log.info("synced %d tables to %s/%s: %d rows loaded in %.1fs (%s)", len(results), mysql.describe(),
             mysql.database, total, seconds,
             ", ".join(sorted({r.path for r in results})) or "nothing to do")
