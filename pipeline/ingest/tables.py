"""The raw layer's Delta tables: their names and DDL in one place."""

from __future__ import annotations

from pyspark.sql import SparkSession

from pipeline.rees46 import ddl_columns

RAW_SCHEMA = "raw"
EVENTS = f"{RAW_SCHEMA}.events"
REJECTED = f"{RAW_SCHEMA}.events_rejected"
LEDGER = f"{RAW_SCHEMA}.ingest_ledger"

_DDL = {
    EVENTS: ddl_columns() + """,
        invalid_attributes map<string, string>
            comment 'attribute -> its text, for unreadable attributes (set to null); null when all were read',
        source_file string comment 'file name relative to the landing folder',
        source_line bigint comment '1-based line number in the source file',
        ingest_batch_id string, ingested_at timestamp,
        event_date date comment 'UTC date of event_time; partition column'
    """,
    REJECTED: """
        source_file string, source_line bigint,
        raw_line string comment 'the line exactly as read, without its line ending',
        reason string comment 'why the line could not be parsed',
        ingest_batch_id string, ingested_at timestamp
    """,
    LEDGER: """
        source_file string, size_bytes bigint, sha256 string, has_header boolean,
        lines_read bigint comment 'data lines read, header excluded',
        rows_accepted bigint, rows_rejected bigint,
        status string comment 'loading while a batch runs, loaded once its rows are committed',
        ingest_batch_id string, started_at timestamp, finished_at timestamp
    """,
}


# Columns added since the first release: a lakehouse made before gets them on its next ingest.
_ADDED = {EVENTS: {"invalid_attributes": "map<string, string>"}}


def ensure_raw_tables(spark: SparkSession) -> None:
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    for table, columns in _DDL.items():
        partition = " partitioned by (event_date)" if table == EVENTS else ""
        spark.sql(f"create table if not exists {table} ({columns}) using delta{partition}")
    for table, added in _ADDED.items():
        present = set(spark.table(table).columns)
        for name, data_type in added.items():
            if name not in present:
                spark.sql(f"alter table {table} add columns ({name} {data_type})")
