"""`make tableau-extract`: the synced marts in one Hyper extract, for Tableau Public and offline use.

Each mart is written by Spark as Parquet into a scratch folder, and Hyper loads the files with
`create table ... as (select * from external(...))`: typed columns without a row-by-row insert.
The extract is built under a temporary name and renamed into place, so Tableau never opens half
of one. Hyper database version 3 is needed for the marts' decimal(28, 2) amounts (128-bit numerics).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from pyspark.sql import SparkSession
from tableauhyperapi import (
    Connection,
    CreateMode,
    HyperProcess,
    TableName,
    Telemetry,
    escape_name,
    escape_string_literal,
)
from tqdm import tqdm

from pipeline.charts import Chart
from pipeline.sync.catalog import SyncTable
from pipeline.tableau.datasource import Column, ExtractConnection, datasource_document, write_atomically
from pipeline.tableau.workbook import write_workbook

log = logging.getLogger(__name__)

SCHEMA = "marts"
HYPER_PARAMETERS = {"default_database_version": "3"}


def _parquet_files(spark: SparkSession, source: str, folder: Path) -> list[Path]:
    # Hyper reads Parquet timestamps as microseconds; Spark's default INT96 is a legacy encoding.
    previous = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        spark.table(source).write.mode("overwrite").parquet(str(folder))
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", previous)
    return sorted(folder.glob("*.parquet"))


def write_extract(spark: SparkSession, tables: list[SyncTable], path: Path, scratch: Path,
                  charts: tuple[Chart, ...], progress: bool = True) -> dict[str, int]:
    """Write every table into ``path`` (one Hyper table per mart in schema marts), a .tds per table
    next to it that opens it, and the dashboard workbook on it (``path`` with suffix .twb); return rows
    per table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    rows: dict[str, int] = {}
    columns: dict[str, list[Column]] = {}
    started = time.perf_counter()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                          parameters={**HYPER_PARAMETERS, "log_dir": str(scratch)}) as hyper, \
                Connection(hyper.endpoint, str(partial), CreateMode.CREATE_AND_REPLACE) as conn:
            conn.execute_command(f"create schema {escape_name(SCHEMA)}")
            for table in tqdm(tables, desc="extract", unit="table", disable=not progress):
                files = _parquet_files(spark, table.source, scratch / table.target)
                listed = ", ".join(escape_string_literal(str(f)) for f in files)
                name = f"{escape_name(SCHEMA)}.{escape_name(table.target)}"
                conn.execute_command(f"create table {name} as (select * from external(array[{listed}]))")
                rows[table.target] = int(conn.execute_scalar_query(f"select count(*) from {name}"))
                definition = conn.catalog.get_table_definition(TableName(SCHEMA, table.target))
                columns[table.target] = [Column.from_hyper(c.name.unescaped, c.type.tag.name)
                                         for c in definition.columns]
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    connection = ExtractConnection(str(path.resolve()), SCHEMA)
    for table, table_columns in columns.items():
        write_atomically(datasource_document(table, table_columns, connection),
                         path.with_name(f"{path.stem}.{table}.tds"))
    write_workbook(columns, connection, path.with_suffix(".twb"), charts)
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    log.info("%d rows of %d marts in %s in %.1f s (%.0f rows/s)", total, len(rows), path, seconds,
             total / seconds if seconds else 0)
    return rows
