"""The ingest ledger: which files are loaded, and recovery of a batch that was interrupted.

A batch first records its files as ``loading``, then appends their rows, then marks
them ``loaded``. Each step is one Delta commit, so after a crash the only possible
leftovers are rows tagged with a batch id whose ledger rows still say ``loading``;
those are deleted before anything new is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from pipeline.ingest.files import LandingFile
from pipeline.ingest.tables import EVENTS, LEDGER, REJECTED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedFile:
    size_bytes: int
    sha256: str
    finished_at: str


def loaded_files(spark: SparkSession) -> dict[str, LoadedFile]:
    rows = spark.sql(f"select source_file, size_bytes, sha256, finished_at from {LEDGER} where status = 'loaded'")
    return {r.source_file: LoadedFile(r.size_bytes, r.sha256, str(r.finished_at)) for r in rows.collect()}


def recover_interrupted(spark: SparkSession) -> list[str]:
    """Remove every trace of batches that never finished; return their ids."""
    batches = [r.ingest_batch_id for r in
               spark.sql(f"select distinct ingest_batch_id from {LEDGER} where status = 'loading'").collect()]
    for batch in batches:
        log.warning("ingest batch %s was interrupted: removing its partial rows before loading again", batch)
        for table in (EVENTS, REJECTED, LEDGER):
            spark.sql(f"delete from {table} where ingest_batch_id = :batch", args={"batch": batch})
    return batches


def start_batch(spark: SparkSession, batch_id: str, files: list[tuple[LandingFile, bool]]) -> None:
    rows = [(f.name, f.size_bytes, f.sha256, has_header, "loading", batch_id) for f, has_header in files]
    (spark.createDataFrame(rows, "source_file string, size_bytes bigint, sha256 string, has_header boolean, "
                                 "status string, ingest_batch_id string")
     .createOrReplaceTempView("ledger_start"))
    given = {"source_file", "size_bytes", "sha256", "has_header", "status", "ingest_batch_id"}
    # By name, in the table's own column order: the insert does not depend on how the DDL lists them.
    values = {name: name if name in given else "null" for name in spark.table(LEDGER).columns}
    values["started_at"] = "current_timestamp()"
    spark.sql(f"insert into {LEDGER} select {', '.join(f'{v} as {k}' for k, v in values.items())} from ledger_start")


def finish_batch(spark: SparkSession, batch_id: str, counts: list[tuple[str, int, int, int]]) -> None:
    """Mark the batch's files loaded with their (lines_read, accepted, rejected) counts: one commit."""
    (spark.createDataFrame(counts, "source_file string, lines_read bigint, rows_accepted bigint, rows_rejected bigint")
     .createOrReplaceTempView("ledger_finish"))
    spark.sql(f"""
        merge into {LEDGER} as l
        using ledger_finish as f
        on l.source_file = f.source_file and l.ingest_batch_id = :batch
        when matched then update set
            lines_read = f.lines_read, rows_accepted = f.rows_accepted, rows_rejected = f.rows_rejected,
            status = 'loaded', finished_at = current_timestamp()""", args={"batch": batch_id})
