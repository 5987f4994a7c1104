"""Sync every table tagged for MySQL, connecting (and failing) before Spark starts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from pipeline.config import Settings
from pipeline.mysql.connection import MysqlSettings, connect
from pipeline.sync.catalog import SyncTable
from pipeline.sync.load import TableSync, ensure_sync_log, sync_table

log = logging.getLogger(__name__)


def sync_all(spark: SparkSession, settings: Settings, mysql: MysqlSettings, tables: list[SyncTable],
             progress: bool = True, before_swap: Callable[[str], None] | None = None) -> list[TableSync]:
    conn = connect(mysql)
    try:
        ensure_sync_log(conn.cursor())
        work_dir = Path(settings.lakehouse_dir) / "tmp" / "mysql_sync"
        return [sync_table(spark, conn, t, work_dir, progress, before_swap) for t in tables]
    finally:
        conn.close()
