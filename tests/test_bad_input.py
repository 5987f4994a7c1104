"""The bad-input matrix: every kind of broken landing file in one batch. Each file is either
refused whole with a message naming it, or loaded with every bad line rejected with its reason;
the good files still load, and lines read = accepted + rejected for every loaded file."""

from __future__ import annotations

import gzip
import logging

import pytest
from pyspark.sql import functions as F

from pipeline.ingest.batch import ingest, log_result
from pipeline.ingest.tables import EVENTS, LEDGER, REJECTED
from pipeline.rees46 import HEADER_LINE

GOOD = "2019-10-01 00:00:00 UTC,view,1,2053013555631882655,electronics.audio,acme,1.50,7,s1"
UNICODE_BRANDS = ["café", "日本ブランド", "🎧 audio", "Ünïcödé", "zero\u200bwidth"]


def _lines(*lines: str, final_newline: bool = True) -> bytes:
    return ("\n".join(lines) + ("\n" if final_newline else "")).encode("utf-8")


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


REORDERED = "event_type,event_time,product_id,category_id,category_code,brand,price,user_id,user_session"
FILES: dict[str, bytes] = {
    "empty.csv": b"",
    "header_only.csv": _lines(HEADER_LINE),
    "reordered_header.csv": _lines(REORDERED, "view,2019-10-01 00:00:00 UTC,1,2,,,1.0,7,s"),
    "other_schema.csv": _lines("order_id,customer,amount", "1,alice,2.50"),
    "non_utf8.csv": _lines(HEADER_LINE, GOOD) + b"2019-10-01 00:00:00 UTC,view,1,2,,caf\xe9,1.00,7,s\n",  # latin-1
    "corrupt.csv.gz": _gz(_lines(HEADER_LINE, *[GOOD] * 2000))[:300],
    "not_gzip.csv.gz": _lines(HEADER_LINE, GOOD),
    "truncated_last_line.csv": _lines(HEADER_LINE, GOOD, "2019-10-01 00:00:05 UTC,view,1,2", final_newline=False),
    "no_final_newline.csv": _lines(HEADER_LINE, GOOD, GOOD.replace("s1", "s2"), final_newline=False),
    "crlf_headerless.csv": _lines(GOOD, GOOD.replace("s1", "s3")).replace(b"\n", b"\r\n"),
    "bad_values.csv": _lines(
        HEADER_LINE, GOOD,
        "2019-13-45 99:00:00 UTC,view,1,2,,,1.00,7,s",  # impossible timestamp
        "2019-10-01T00:00:00Z,view,1,2,,,1.00,7,s",  # another timestamp format
        "2019-10-01 00:00:00 UTC,view,1.5,2,,,1.00,7,s",  # fractional id
        "2019-10-01 00:00:00 UTC,view,1,2,,,1.0.0,7,s",  # not a number
        "2019-10-01 00:00:00 UTC,view,1,2,,,Infinity,7,s",
        "2019-10-01 00:00:00 UTC,view,1,99999999999999999999,,,1.00,7,s",  # beyond 64 bits
        "2019-10-01 00:00:00 UTC,view,1,2,,,1.00,7",  # a field short
        '2019-10-01 00:00:00 UTC,view,1,2,,"unclosed,1.00,7,s',
    ),
    "absurd_values.csv": _lines(
        HEADER_LINE,
        "2019-10-01 00:00:00 UTC,purchase,1,2,,,1000000000000,7,s",  # 1e12: raw keeps it, dbt quarantines
        "1970-01-01 00:00:00 UTC,view,1,2,,,1.00,7,s",  # dbt quarantines: before min_event_date
        "2999-12-31 23:59:59 UTC,view,1,2,,,1.00,7,s",  # dbt quarantines: in the future
        "2019-10-01 00:00:00 UTC,view,1,2,,,1e20,7,s",  # beyond decimal(18,2): rejected here
    ),
    "unicode_brands.csv": _lines(HEADER_LINE, *[
        f'2019-10-01 00:00:0{i} UTC,view,1,2,,"{brand}",1.00,7,s' for i, brand in enumerate(UNICODE_BRANDS)]),
    # A spreadsheet rounds 19-digit category ids (and would round any long id) to scientific notation.
    "excel_resaved.csv": _lines(
        HEADER_LINE,
        "2019-10-01 00:00:00 UTC,purchase,1004856,2.05301E+18,electronics.smartphone,samsung,130.76,543272936,s",
        "2019-10-01 00:00:01 UTC,remove_from_cart,1004856,2.05301E+18,,samsung,130.76,543272936,s",
        "2019-10-01 00:00:02 UTC,view,1.00486E+06,2.05301E+18,,samsung,130.76,543272936,s",
    ).replace(b"\n", b"\r\n"),
    "semicolons.csv": _lines(HEADER_LINE.replace(",", ";"), GOOD.replace(",", ";")),
    "bom_headerless.csv": "\ufeff".encode() + _lines(GOOD),
}

# name -> (lines read, accepted, {reason: count}) for files that load; refused files -> message fragment.
LOADED = {
    "empty.csv": (0, 0, {}),
    "header_only.csv": (0, 0, {}),
    "non_utf8.csv": (2, 2, {}),  # the latin-1 byte is in the brand: brand dropped, event kept
    "truncated_last_line.csv": (2, 1, {"wrong field count: 4, expected 9": 1}),
    "no_final_newline.csv": (2, 2, {}),
    "crlf_headerless.csv": (2, 2, {}),
    # Unreadable prices and category ids are dropped from their event, not the event.
    "bad_values.csv": (9, 4, {"bad event_time": 2, "bad product_id": 1,
                              "wrong field count: 8, expected 9": 1, "unbalanced double quotes": 1}),
    "absurd_values.csv": (4, 4, {}),
    "unicode_brands.csv": (5, 5, {}),
    "excel_resaved.csv": (3, 2, {"product_id in scientific notation (rounded by a spreadsheet?)": 1}),
    "bom_headerless.csv": (1, 1, {}),
}
# file -> {source_line: invalid_attributes} for the rows that kept their event but dropped an attribute
DROPPED = {
    "non_utf8.csv": {3: {"brand": "caf\ufffd"}},
    "bad_values.csv": {6: {"price": "1.0.0"}, 7: {"price": "Infinity"}, 8: {"category_id": "99999999999999999999"}},
    "absurd_values.csv": {5: {"price": "1e20"}},
    "excel_resaved.csv": {2: {"category_id": "2.05301E+18"}, 3: {"category_id": "2.05301E+18"}},
}
REFUSED = {
    "reordered_header.csv": "columns are in a different order than REES46",
    "other_schema.csv": "neither the REES46 header nor an event row",
    "corrupt.csv.gz": "is not a valid gzip file",
    "not_gzip.csv.gz": "is not a valid gzip file",
    "semicolons.csv": "separated by semicolons, not commas",
}


@pytest.fixture(scope="module")
def batch(spark, settings):
    spark.sql("drop database if exists raw cascade")
    raw_dir = settings.raw_dir
    if raw_dir.exists():
        for old in raw_dir.rglob("*"):
            if old.is_file():
                old.unlink()
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.items():
        (raw_dir / name).write_bytes(data)
    return ingest(spark, raw_dir, progress=False)


def test_every_file_is_loaded_or_refused_as_expected(batch):
    assert set(FILES) == set(LOADED) | set(REFUSED)
    status = {f.name: f.status for f in batch.files}
    assert status == {**{n: "loaded" for n in LOADED}, **{n: "refused" for n in REFUSED}}
    for f in batch.refused:
        assert REFUSED[f.name] in f.message, (f.name, f.message)


def test_counts_and_reasons_reconcile_per_file(spark, batch):
    got = {f.name: (f.lines_read, f.rows_accepted, f.rows_rejected) for f in batch.files if f.status == "loaded"}
    assert got == {n: (read, ok, sum(reasons.values())) for n, (read, ok, reasons) in LOADED.items()}
    for read, ok, bad in got.values():
        assert read == ok + bad
    rejected = spark.table(REJECTED).groupBy("source_file", "reason").count().collect()
    reasons: dict[str, dict[str, int]] = {}
    for r in rejected:
        reasons.setdefault(r.source_file, {})[r.reason] = r["count"]
    assert reasons == {n: want for n, (_, _, want) in LOADED.items() if want}
    # The table holds exactly what the report says; refused files left nothing anywhere.
    per_file = {r.source_file: r["count"] for r in spark.table(EVENTS).groupBy("source_file").count().collect()}
    assert per_file == {n: ok for n, (_, ok, _) in LOADED.items() if ok}
    ledger = {r.source_file: (r.status, r.lines_read) for r in spark.table(LEDGER).collect()}
    assert ledger == {n: ("loaded", read) for n, (read, _, _) in LOADED.items()}


def test_rejected_lines_keep_their_text_and_line_number(spark, batch, settings):
    for r in spark.table(REJECTED).collect():
        lines = (settings.raw_dir / r.source_file).read_bytes().decode("utf-8", errors="replace").split("\n")
        assert lines[r.source_line - 1].rstrip("\r") == r.raw_line, (r.source_file, r.source_line)


def test_values_arrive_exactly_including_unicode_and_absurd_ones(spark, batch):
    brands = [r.brand for r in spark.table(EVENTS).where("source_file = 'unicode_brands.csv'")
              .orderBy("source_line").collect()]
    assert brands == UNICODE_BRANDS
    absurd = spark.table(EVENTS).where("source_file = 'absurd_values.csv'").orderBy("source_line").collect()
    assert [(r.price, r.event_time.year) for r in absurd] == [(1e12, 2019), (1.0, 1970), (1.0, 2999), (None, 2019)]
    assert spark.table(EVENTS).where(F.col("user_session").contains("\r")).count() == 0


def test_unreadable_attributes_are_dropped_and_the_events_kept(spark, batch):
    rows = spark.table(EVENTS).where(F.col("invalid_attributes").isNotNull()).collect()
    got: dict[str, dict[int, dict[str, str]]] = {}
    for r in rows:
        got.setdefault(r.source_file, {})[r.source_line] = dict(r.invalid_attributes)
        for name in r.invalid_attributes:
            assert r[name] is None, (r.source_file, r.source_line, name)  # the attribute itself is null
    assert got == DROPPED
    excel = spark.table(EVENTS).where("source_file = 'excel_resaved.csv'").orderBy("source_line").collect()
    assert [(r.event_type, r.product_id, r.price, r.user_id) for r in excel] == [
        ("purchase", 1004856, 130.76, 543272936), ("remove_from_cart", 1004856, 130.76, 543272936)]
    assert spark.table(EVENTS).where("source_file = 'bom_headerless.csv'").first().event_type == "view"


def test_summary_names_each_refused_file(batch, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.ingest.batch"):
        log_result(batch)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(m.split(":")[0] for m in errors) == sorted(f"refused {n}" for n in REFUSED)
