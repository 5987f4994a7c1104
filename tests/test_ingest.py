"""Raw ingest on real Spark + Delta: exact loads, reconciliation, idempotence and rejects."""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

from pyspark.sql import functions as F

from pipeline.ingest import ledger
from pipeline.ingest.batch import ingest
from pipeline.ingest.files import LandingFile, sha256_of
from pipeline.ingest.tables import EVENTS, LEDGER, REJECTED, ensure_raw_tables


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[1:]


def test_real_slice_loads_exactly(spark, raw_dir, real_slice):
    shutil.copy(real_slice, raw_dir / real_slice.name)
    report = ingest(spark, raw_dir, progress=False)
    assert (report.lines_read, report.rows_accepted, report.rows_rejected) == (5019, 5019, 0)

    expected = _csv_rows(real_slice)
    events = spark.table(EVENTS)
    assert events.count() == len(expected) == 5019
    # Values against an independent parse of the same file.
    got = {r.source_line: r for r in events.collect()}
    for line_no, row in enumerate(expected, start=2):
        e = got[line_no]
        assert e.event_time.strftime("%Y-%m-%d %H:%M:%S UTC") == row[0]
        assert (e.event_type, e.product_id, e.category_id) == (row[1], int(row[2]), int(row[3]))
        assert (e.category_code or "", e.brand or "", e.user_id, e.user_session or "") == (
            row[4], row[5], int(row[7]), row[8])
        assert e.price == float(row[6])
        assert e.event_date.isoformat() == row[0][:10]
    assert spark.table(LEDGER).where("status = 'loaded'").count() == 1


def test_generated_batch_reconciles_and_rejects_with_reasons(spark, raw_dir, small_dataset):
    source, _, manifest = small_dataset
    for path in source.glob("*.csv"):
        shutil.copy(path, raw_dir / path.name)
    report = ingest(spark, raw_dir, progress=False)

    malformed = {k: sum(f["dirty"]["malformed"][k] for f in manifest["files"].values())
                 for k in ("field_count", "bad_number", "bad_timestamp")}
    assert report.lines_read == manifest["rows"] == 40_000
    assert report.rows_rejected == sum(malformed.values())
    assert report.rows_accepted + report.rows_rejected == report.lines_read
    assert spark.table(EVENTS).count() == report.rows_accepted

    reasons = {r.reason: r["count"] for r in spark.table(REJECTED).groupBy("reason").count().collect()}
    assert reasons == {"wrong field count: 8, expected 9": malformed["field_count"],
                       "bad product_id": malformed["bad_number"], "bad event_time": malformed["bad_timestamp"]}
    # Every reject points at its exact line in its file.
    for r in spark.table(REJECTED).limit(20).collect():
        lines = (source / r.source_file).read_text(encoding="utf-8").split("\n")
        assert lines[r.source_line - 1] == r.raw_line
    ledger_rows = spark.table(LEDGER).collect()
    assert len(ledger_rows) == 4
    assert all(r.lines_read == r.rows_accepted + r.rows_rejected and r.status == "loaded" for r in ledger_rows)


def test_rerun_loads_nothing_twice_and_changed_file_is_refused(spark, raw_dir, small_dataset):
    source = small_dataset[0]
    day1, day2 = sorted(source.glob("*.csv"))[:2]
    shutil.copy(day1, raw_dir / day1.name)
    first = ingest(spark, raw_dir, progress=False)
    count = spark.table(EVENTS).count()
    assert count == first.rows_accepted > 0

    again = ingest(spark, raw_dir, progress=False)
    assert again.lines_read == 0 and [f.status for f in again.files] == ["already_loaded"]
    assert spark.table(EVENTS).count() == count

    # A later day arrives: only it is loaded.
    shutil.copy(day2, raw_dir / day2.name)
    later = ingest(spark, raw_dir, progress=False)
    assert [f.name for f in later.files if f.status == "loaded"] == [day2.name]
    assert spark.table(EVENTS).count() == count + later.rows_accepted
    assert spark.table(EVENTS).where(F.col("source_file") == day2.name).count() == later.rows_accepted

    # Editing a loaded file is an error, and adds nothing.
    with open(raw_dir / day1.name, "a", encoding="utf-8") as handle:
        handle.write("2019-10-01 23:59:59 UTC,view,1,2,,,1.00,3,s\n")
    changed = ingest(spark, raw_dir, progress=False)
    assert [f.name for f in changed.refused] == [day1.name]
    assert "changed since it was loaded" in changed.refused[0].message
    assert spark.table(EVENTS).count() == count + later.rows_accepted


def test_crlf_gzip_and_headerless_files_load_like_the_original(spark, raw_dir, real_slice):
    text = real_slice.read_text(encoding="utf-8")
    header, body = text.split("\n", 1)
    (raw_dir / "crlf.csv").write_bytes(text.replace("\n", "\r\n").encode())
    with gzip.open(raw_dir / "zipped.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(text)
    (raw_dir / "headerless.csv").write_text(body, encoding="utf-8")
    report = ingest(spark, raw_dir, progress=False)
    assert {f.name: (f.lines_read, f.rows_accepted) for f in report.files} == {
        "crlf.csv": (5019, 5019), "zipped.csv.gz": (5019, 5019), "headerless.csv": (5019, 5019)}
    events = spark.table(EVENTS)
    assert events.where(F.col("user_session").contains("\r")).count() == 0
    # The three copies hold identical events; headerless lines are numbered from 1.
    per_file = events.groupBy("source_file").agg(F.sum("price").alias("p"), F.countDistinct("user_session").alias("s"))
    assert len({(round(r.p, 2), r.s) for r in per_file.collect()}) == 1
    assert events.where("source_file = 'headerless.csv'").agg(F.min("source_line")).first()[0] == 1
    assert events.where("source_file = 'crlf.csv'").agg(F.min("source_line")).first()[0] == 2


def test_file_with_a_foreign_header_is_refused_and_others_still_load(spark, raw_dir, real_slice):
    shutil.copy(real_slice, raw_dir / "good.csv")
    (raw_dir / "other.csv").write_text("order_id,amount\n1,2.50\n", encoding="utf-8")
    report = ingest(spark, raw_dir, progress=False)
    assert [f.name for f in report.refused] == ["other.csv"]
    assert "neither the REES46 header" in report.refused[0].message
    assert report.rows_accepted == spark.table(EVENTS).count() == 5019


def test_interrupted_batch_is_rolled_back_before_the_next_load(spark, raw_dir, real_slice):
    path = raw_dir / real_slice.name
    shutil.copy(real_slice, path)
    # Simulate a crash after the rows were appended but before the ledger said 'loaded'.
    ensure_raw_tables(spark)
    landing = LandingFile(path.name, path, path.stat().st_size, sha256_of(path))
    ledger.start_batch(spark, "crashed", [(landing, True)])
    partial = spark.range(100).select(
        F.to_timestamp(F.lit("2019-10-01 00:00:00")).alias("event_time"), F.lit("view").alias("event_type"),
        F.col("id").alias("product_id"), F.lit(1).cast("bigint").alias("category_id"),
        F.lit(None).cast("string").alias("category_code"), F.lit(None).cast("string").alias("brand"),
        F.lit(1.0).alias("price"), F.lit(1).cast("bigint").alias("user_id"),
        F.lit("s").alias("user_session"), F.lit(path.name).alias("source_file"),
        (F.col("id") + 2).alias("source_line"), F.lit("crashed").alias("ingest_batch_id"),
        F.current_timestamp().alias("ingested_at"), F.to_date(F.lit("2019-10-01")).alias("event_date"))
    partial.write.format("delta").mode("append").saveAsTable(EVENTS)

    report = ingest(spark, raw_dir, progress=False)
    assert report.recovered_batches == ["crashed"]
    assert report.rows_accepted == 5019
    assert spark.table(EVENTS).count() == 5019
    assert spark.table(EVENTS).where("ingest_batch_id = 'crashed'").count() == 0
    assert [r.status for r in spark.table(LEDGER).collect()] == ["loaded"]


BAD_LINES = {
    "2019-10-01 00:00:00 UTC,view,abc,1,,,1.00,2,s": "bad product_id",
    "2019-10-01 00:00:00 UTC,view,1,1,,,1.00,5.12E+08,s": "user_id in scientific notation (rounded by a spreadsheet?)",
    ",view,1,1,,,1.00,2,s": "missing event_time",
    "2019-10-01 00:00:00 UTC,view,1,1,,,1.00,x,s,extra": "wrong field count: 10, expected 9",
    "2019-10-01 00:00:00,view,1,x,,,1.0,x,s": "bad user_id",  # the bad category id alone would be dropped
    "": "empty line",
}


def test_each_bad_line_is_rejected_with_its_reason_and_line_number(spark, raw_dir):
    good = '2019-10-01 00:00:00 UTC,view,1,1,,"brand, with comma",1.00,2,s'
    lines = ["event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session",
             good, *BAD_LINES]
    (raw_dir / "bad.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(spark, raw_dir, progress=False)
    assert (report.lines_read, report.rows_accepted, report.rows_rejected) == (7, 1, 6)
    got = {r.source_line: (r.raw_line, r.reason) for r in spark.table(REJECTED).collect()}
    assert got == {n: (line, reason) for n, (line, reason) in enumerate(BAD_LINES.items(), start=3)}
    assert spark.table(EVENTS).first().brand == "brand, with comma"
