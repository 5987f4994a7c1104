"""Ingest every new landing file into raw.events in one batch, exactly once, with reconciled counts."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tqdm import tqdm

from pipeline import health
from pipeline.health import FileVerdict, Problem
from pipeline.ingest import ledger
from pipeline.ingest.files import LandingFile, check_file, discover
from pipeline.ingest.parse import parse_lines
from pipeline.ingest.tables import EVENTS, REJECTED, ensure_raw_tables
from pipeline.platform.config import Settings
from pipeline.platform.errors import UserError
from pipeline.platform.faults import fault_point
from pipeline.platform.spark import get_spark
from pipeline.platform.timing import StageTimer

log = logging.getLogger(__name__)

INGEST_STAGES = ("tables", "recovery", "plan", "ledger_start", "parse", "write_events", "write_rejects", "reconcile",
                 "ledger_finish")


@dataclass(frozen=True)
class FileResult:
    name: str
    status: str  # loaded | already_loaded | refused
    lines_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    message: str = ""


@dataclass
class IngestResult:
    batch_id: str
    files: list[FileResult] = field(default_factory=list)
    recovered_batches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # where the time went, for tuning

    def _loaded(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "loaded"]

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "refused"]

    @property
    def lines_read(self) -> int:
        return sum(f.lines_read for f in self._loaded())

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self._loaded())

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self._loaded())


class ReconciliationError(RuntimeError):
    """Lines read differ from rows accepted plus rows rejected: something was lost."""


def _plan(spark: SparkSession, raw_dir: Path, report: IngestResult) -> list[tuple[LandingFile, bool]]:
    """Files to load now with their header flag; the rest go into the report as skipped or refused."""
    loaded = ledger.loaded_files(spark)
    todo: list[tuple[LandingFile, bool]] = []
    for landing in discover(raw_dir):
        previous = loaded.get(landing.name)
        if previous is not None:
            if previous.sha256 == landing.sha256:
                report.files.append(FileResult(landing.name, "already_loaded"))
            else:
                report.files.append(FileResult(landing.name, "refused", message=(
                    f"changed since it was loaded at {previous.finished_at} (sha256 {previous.sha256[:12]}… -> "
                    f"{landing.sha256[:12]}…); give new data a new file name instead of editing a loaded file")))
            continue
        check = check_file(landing.path)
        if check.problem:
            report.files.append(FileResult(landing.name, "refused", message=check.problem))
        else:
            todo.append((landing, check.has_header))
    return todo


def _counts_by_file(spark: SparkSession, table: str, batch_id: str) -> dict[str, int]:
    rows = spark.table(table).where(F.col("ingest_batch_id") == batch_id).groupBy("source_file").count().collect()
    return {r.source_file: r["count"] for r in rows}


def ingest(spark: SparkSession, raw_dir: Path, progress: bool = True) -> IngestResult:
    """Load all new files under ``raw_dir``; raise :class:`ReconciliationError` if counts disagree."""
    started = time.perf_counter()
    report = IngestResult(batch_id=f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")
    bar = tqdm(total=len(INGEST_STAGES), desc="ingest", unit="stage", disable=not progress)
    timer = StageTimer(report.step_seconds, bar)
    try:
        with timer.stage("tables"):
            ensure_raw_tables(spark)
        with timer.stage("recovery"):
            report.recovered_batches = ledger.recover_interrupted(spark)
        with timer.stage("plan"):
            todo = _plan(spark, raw_dir, report)
        if todo:
            _load(spark, report, todo, timer)
    finally:
        bar.close()
    report.seconds = time.perf_counter() - started
    return report


def _load(spark: SparkSession, report: IngestResult, todo: list[tuple[LandingFile, bool]], timer: StageTimer) -> None:
    """Load the planned files as one batch: ledger entry, parse, append, reconcile, ledger finish."""
    batch_id = report.batch_id
    with timer.stage("ledger_start"):
        ledger.start_batch(spark, batch_id, todo)
    with timer.stage("parse"):
        parsed = parse_lines(spark, {f.path.resolve(): (f.name, has_header) for f, has_header in todo})
    stamp = [F.lit(batch_id).alias("ingest_batch_id"), F.current_timestamp().alias("ingested_at")]
    with timer.stage("write_events"):
        accepted = parsed.accepted.select(*[c for c in parsed.accepted.columns if c != "event_date"], *stamp,
                                          "event_date")
        accepted.write.format("delta").mode("append").saveAsTable(EVENTS)
        fault_point("ingest.after_events_append")
    with timer.stage("write_rejects"):
        parsed.rejected.select("*", *stamp).write.format("delta").mode("append").saveAsTable(REJECTED)
        parsed.release()
    with timer.stage("reconcile"):
        counts = _reconcile(spark, report, todo, parsed.lines_per_file)
    with timer.stage("ledger_finish"):
        ledger.finish_batch(spark, batch_id, counts)


def _reconcile(spark: SparkSession, report: IngestResult, todo: list[tuple[LandingFile, bool]],
               lines_per_file: dict[str, int]) -> list[tuple[str, int, int, int]]:
    """Lines read = rows accepted + rows rejected for every file, or :class:`ReconciliationError`."""
    accepted_n = _counts_by_file(spark, EVENTS, report.batch_id)
    rejected_n = _counts_by_file(spark, REJECTED, report.batch_id)
    counts = []
    for landing, _ in todo:
        read = lines_per_file[landing.name]
        ok, bad = accepted_n.get(landing.name, 0), rejected_n.get(landing.name, 0)
        if read != ok + bad:
            raise ReconciliationError(f"{landing.name}: {read} lines read but {ok} accepted + {bad} rejected; "
                                      f"batch {report.batch_id} left unfinished and will be rolled back on the "
                                      "next run")
        counts.append((landing.name, read, ok, bad))
        report.files.append(FileResult(landing.name, "loaded", read, ok, bad))
    return counts


def log_result(report: IngestResult) -> None:
    """One line per loaded or refused file (naming it), then the batch totals."""
    for f in report.files:
        if f.status == "loaded":
            log.info("loaded  %s: %d lines = %d accepted + %d rejected", f.name, f.lines_read, f.rows_accepted,
                     f.rows_rejected)
        elif f.status == "refused":
            log.error("refused %s: %s", f.name, f.message)
    skipped = sum(f.status == "already_loaded" for f in report.files)
    rate = report.lines_read / report.seconds if report.seconds else 0.0
    log.info("batch %s: %d lines read = %d accepted + %d rejected; %d files loaded, %d already loaded, "
             "%d refused; %.1fs (%.0f lines/s)", report.batch_id, report.lines_read, report.rows_accepted,
             report.rows_rejected, sum(f.status == "loaded" for f in report.files), skipped,
             len(report.refused), report.seconds, rate)
    log.info("ingest steps (s): %s", ", ".join(f"{k} {v}" for k, v in report.step_seconds.items()))


def health_inputs(spark: SparkSession, report: IngestResult) -> tuple[list[FileVerdict], list[Problem]]:
    """The batch's loaded files and its rejection reasons, for :func:`pipeline.health.assess`."""
    files = [FileVerdict(f.name, f.lines_read, f.rows_rejected) for f in report.files if f.status == "loaded"]
    if not any(f.unusable for f in files):
        return files, []
    rows = (spark.table(REJECTED).where(F.col("ingest_batch_id") == report.batch_id)
            .groupBy("reason").agg(F.count("*").alias("rows"), F.collect_set("source_file").alias("files"))
            .collect())
    return files, [Problem("rejected", r.reason, int(r.rows), None, frozenset(r.files)) for r in rows]


def ingest_landing_folder(settings: Settings, progress: bool = True) -> None:
    """Load the new files; raise :class:`UserError` (exit 1) on a refused file or an unhealthy one."""
    rules = settings.rules
    if not settings.raw_dir.is_dir():
        raise UserError(f"landing folder {settings.raw_dir} does not exist: set RAW_DIR, or run `make data`")
    spark = get_spark("ingest", settings)
    report = ingest(spark, settings.raw_dir, progress=progress)
    log_result(report)
    verdict = health.assess(*health_inputs(spark, report), rules)
    if verdict.status == "warn":
        log.warning("%s", verdict.message)
    if report.refused:
        names = ", ".join(f.name for f in report.refused)
        raise UserError(f"{len(report.refused)} file(s) refused ({names}): see the lines above; "
                        "the other files were loaded" + (f"; also {verdict.message}" if verdict.status == "error"
                                                         else ""), exit_code=1)
    if verdict.status == "error":
        raise UserError(verdict.message, exit_code=1)
