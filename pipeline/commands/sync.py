"""`make sync`: copy the dbt marts tagged `mysql_sync` to MySQL for Tableau.

Uses MYSQL_HOST / MYSQL_PORT / MYSQL_USER / MYSQL_PASSWORD / MYSQL_DATABASE when MYSQL_HOST
is set; otherwise starts (and leaves running) the project-private MariaDB.
"""

from __future__ import annotations

import logging

from pipeline import lock
from pipeline.cli import run_main, step_main
from pipeline.config import Settings
from pipeline.mysql.connection import connect
from pipeline.mysql.target import sync_target
from pipeline.spark import get_spark
from pipeline.sync.catalog import tagged_tables
from pipeline.sync.run import sync_all

log = logging.getLogger("sync")


def sync_marts(settings: Settings, progress: bool = True) -> None:
    """Copy the tagged marts to the sync target and log one line of totals."""
    lock.hold(settings)  # a busy lakehouse stops the sync before it touches MySQL
    mysql = sync_target()
    connect(mysql).close()  # unreachable server or bad credentials: fail before Spark starts
    tables = tagged_tables(settings.dbt_project_dir / "target" / "manifest.json")
    results = sync_all(get_spark("sync", settings), settings, mysql, tables, progress=progress)
    total = sum(r.rows for r in results if r.path != "unchanged")
    seconds = sum(r.seconds for r in results)
    log.info("synced %d tables to %s/%s: %d rows loaded in %.1fs (%s)", len(results), mysql.describe(),
             mysql.database, total, seconds,
             ", ".join(sorted({r.path for r in results})) or "nothing to do")


main = step_main(__doc__, sync_marts)


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
