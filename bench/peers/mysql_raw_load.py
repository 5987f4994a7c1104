"""The server's raw bulk-load rate, for comparison with the sync's end-to-end rate.

The rows of the synced `user_recommendations` table are written once to a TSV file; the
timed part is only one `LOAD DATA LOCAL INFILE` of that file into an empty table of the same
shape (same columns, types, keys and indexes), the best the sync could do on this server. A table
the sync keeps as a view over versioned rows has the shape of its rows table.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from pipeline.mysql.connection import MysqlSettings, connect, quote_identifier
from pipeline.sync.load import SYNC_LOG, is_view
from pipeline.sync.partial import rows_table

TABLE = "user_recommendations"


def _tsv_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text


def measure(mysql: MysqlSettings, work_dir: Path, table: str = TABLE) -> dict:
    """Raw load rows/s of ``table``'s rows, and the rate of its last sync from `_sync_log`."""
    source, copy = quote_identifier(table), quote_identifier(f"bench_raw_{table}"[:64])
    conn = connect(mysql)
    cur = conn.cursor()
    try:
        cur.execute(f"select * from {source}")
        path = work_dir / f"{table}.tsv"
        work_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            rows = 0
            for row in cur:
                out.write("\t".join(_tsv_value(v) for v in row) + "\n")
                rows += 1
        shape = quote_identifier(rows_table(table)) if is_view(cur, table) else source
        cur.execute(f"drop table if exists {copy}")
        cur.execute(f"create table {copy} like {shape}")
        started = time.perf_counter()
        cur.execute(f"load data local infile '{path}' into table {copy} character set utf8mb4 "
                    "fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n'")
        seconds = time.perf_counter() - started
        loaded = cur.rowcount
        cur.execute(f"drop table {copy}")
        cur.execute(f"select rows_loaded, seconds from {SYNC_LOG} where table_name = %s order by id desc limit 1",
                    (table,))
        synced_rows, sync_seconds = cur.fetchone()
        path.unlink()
    finally:
        conn.close()
    raw_rate = loaded / seconds if seconds else 0.0
    sync_rate = synced_rows / sync_seconds if sync_seconds else 0.0
    return {"table": table, "rows": loaded, "seconds": round(seconds, 2), "rows_per_second": round(raw_rate),
            "sync_rows": synced_rows,
            "sync_seconds": round(float(sync_seconds), 2), "sync_rows_per_second": round(sync_rate),
            "sync_vs_raw": round(sync_rate / raw_rate, 3) if raw_rate else None, "rows_in_file": rows}
