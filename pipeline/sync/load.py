"""Load one Delta table into MySQL atomically: fill `<table>__new`, verify, swap with one RENAME.

A failure or kill before the RENAME leaves the previous table untouched and readable; the
next run drops the leftover `__new` and starts again. Every sync is recorded in `_sync_log`.
Tables replaced in groups (a user's list) are a view over versioned rows and pointers, and a day
applies only the changed groups (pipeline/sync/partial.py).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import mysql.connector
from mysql.connector import errorcode
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from tqdm import tqdm

from pipeline.mysql.connection import quote_identifier
from pipeline.platform.faults import fault_point
from pipeline.platform.timing import StageTimer
from pipeline.sync import SyncError, checksum, partial, upsert
from pipeline.sync.catalog import PartialSpec, SyncTable, create_table_sql

log = logging.getLogger(__name__)

SYNC_LOG = "_sync_log"
INSERT_BATCH = 5_000
# Sorted runs a key-ordered export may hold: each part file sorted, the files not merged. MariaDB loads
# 8M list rows in two interleaved sorted runs 7 % slower than in one, and in no order 9x slower, while
# Spark's global sort (a sampling pass and a shuffle) took 15.4 s of the 8M rows' export against 7.3 s.
SORTED_RUNS = 2
# Server or client forbids LOCAL: MySQL 1148 / 3948, MariaDB 4166, client-side 2068.
_LOCAL_INFILE_REFUSED = {errorcode.ER_NOT_ALLOWED_COMMAND, 3948, 4166, 2068}


@dataclass(frozen=True)
class TableSync:
    table: str
    rows: int
    seconds: float
    # local_infile | batched_insert | unchanged; partial_infile | partial_insert: changed groups only;
    # upsert_infile | upsert_insert: changed rows only
    path: str
    checksum: str
    source_version: str  # source_version()

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def ensure_sync_log(cursor) -> None:
    cursor.execute(f"""
        create table if not exists {SYNC_LOG} (
          id bigint auto_increment primary key,
          table_name varchar(64) not null,
          rows_loaded bigint not null,
          checksum char(32) not null,
          source_table varchar(200) not null,
          source_version varchar(1000) not null,
          load_path varchar(20) not null,
          seconds double not null,
          synced_at datetime(6) not null default current_timestamp(6),
          key ix_table (table_name, id)
        ) engine=InnoDB default charset=utf8mb4""")
    # A log from before views over several tables held one version number.
    cursor.execute("select data_type from information_schema.columns where table_schema = database() "
                   f"and table_name = '{SYNC_LOG}' and column_name = 'source_version'")
    if cursor.fetchone()[0].lower() != "varchar":
        cursor.execute(f"alter table {SYNC_LOG} modify source_version varchar(1000) not null")


def _as_text(df: DataFrame) -> list[F.Column]:
    """Every column as the text MySQL parses back to the same value (timestamps in UTC)."""
    out = []
    for f in df.schema.fields:
        c = F.col(f.name)
        if isinstance(f.dataType, T.TimestampType | T.TimestampNTZType):
            c = F.date_format(c, "yyyy-MM-dd HH:mm:ss.SSSSSS")
        elif isinstance(f.dataType, T.DateType):
            c = F.date_format(c, "yyyy-MM-dd")
        elif isinstance(f.dataType, T.BooleanType):
            c = c.cast("int")
        out.append(c.cast("string").alias(f.name))
    return out


def _escape(c: F.Column) -> F.Column:
    """LOAD DATA's default escaping: backslash, tab, newline and carriage return."""
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        c = F.replace(c, F.lit(raw), F.lit(escaped))
    return c


def _export(df: DataFrame, directory: Path) -> list[Path]:
    r"""Tab-separated part files, NULL as \N, written by Spark."""
    shutil.rmtree(directory, ignore_errors=True)
    text = df.select(*_as_text(df))
    # Numbers, booleans, times and dates print without anything to escape (escaping every column took a
    # third of an 8M-row export's time).
    plain = {f.name for f in df.schema.fields
             if isinstance(f.dataType, T.NumericType | T.BooleanType | T.DateType | T.TimestampType
                           | T.TimestampNTZType)}
    line = F.concat_ws("\t", *[F.coalesce(F.col(c) if c in plain else _escape(F.col(c)), F.lit("\\N"))
                               for c in text.columns])
    text.select(line.alias("value")).write.text(str(directory))
    return sorted(p for p in directory.glob("part-*") if p.stat().st_size > 0)


class LoadWarnings(SyncError):
    """LOAD DATA warned (a value changed, a duplicate key skipped): the rows are not as exported."""

    def __init__(self, table: str, file: str, warnings: list[tuple]):
        super().__init__(f"loading {table} from {file} gave warnings: {warnings}")
        self.codes = {int(code) for _, code, _ in warnings}


def _load_files(cursor, table: str, columns: list[str], files: list[Path], bar: tqdm) -> None:
    column_list = ", ".join(quote_identifier(c) for c in columns)
    for path in files:
        cursor.execute(
            f"load data local infile '{path}' into table {quote_identifier(table)} character set utf8mb4 "
            f"fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' ({column_list})")
        loaded = cursor.rowcount
        cursor.execute("show warnings limit 3")
        warnings = cursor.fetchall()
        if warnings:
            raise LoadWarnings(table, path.name, warnings)
        bar.update(loaded)


def _insert_batches(cursor, table: str, df: DataFrame, bar: tqdm) -> None:
    columns = df.columns
    sql = (f"insert into {quote_identifier(table)} ({', '.join(quote_identifier(c) for c in columns)}) "
           f"values ({', '.join(['%s'] * len(columns))})")
    batch: list[tuple] = []
    for row in df.select(*_as_text(df)).toLocalIterator():
        batch.append(tuple(row))
        if len(batch) >= INSERT_BATCH:
            cursor.executemany(sql, batch)
            bar.update(len(batch))
            batch = []
    if batch:
        cursor.executemany(sql, batch)
        bar.update(len(batch))


def _table_exists(cursor, name: str) -> bool:
    cursor.execute("select count(*) from information_schema.tables where table_schema = database() "
                   "and table_name = %s", (name,))
    return cursor.fetchone()[0] > 0


def _last_sync(cursor, table: str) -> tuple[str, str] | None:
    cursor.execute(f"select source_version, checksum from {SYNC_LOG} where table_name = %s order by id desc limit 1",
                   (table,))
    row = cursor.fetchone()
    return (str(row[0]), row[1]) if row else None


def delta_version(spark: SparkSession, source: str) -> int:
    return int(spark.sql(f"describe history {source} limit 1").first().version)


def source_version(spark: SparkSession, table: SyncTable) -> str:
    """What the sync log records of the Delta data behind ``table``: its version, or for a view over several
    tables ``name@version`` of each, so that a commit to any of them is a change."""
    versions = [(name, delta_version(spark, name)) for name in table.version_sources]
    if len(versions) == 1:
        return str(versions[0][1])
    return ",".join(f"{name}@{version}" for name, version in versions)


def sync_table(spark: SparkSession, conn, table: SyncTable, work_dir: Path, progress: bool = True,
               before_swap: Callable[[str], None] | None = None) -> TableSync:
    """Copy one table; skip it when its Delta version is the one synced last time."""
    started = time.perf_counter()
    cursor = conn.cursor()
    target = table.target
    version = source_version(spark, table)
    previous = _last_sync(cursor, target)
    if previous and previous[0] == version and _table_exists(cursor, target):
        log.info("%s: unchanged since Delta version %s, skipped", target, version)
        return TableSync(target, _rows_shown(cursor, table), time.perf_counter() - started, "unchanged",
                         previous[1], version)

    df = spark.table(table.source)
    if table.partial is None:
        timer = StageTimer()
        with timer.stage("profile"):
            whole = checksum.spark_profile(df)  # what either path checks MySQL against
        if table.changed_by and previous and _table_exists(cursor, target) and not is_view(cursor, target):
            upserted = _sync_upserts(conn, table, df, whole, work_dir, progress, version, previous[0], started, timer)
            if upserted is not None:
                return upserted
        return _swap_whole(cursor, table, df, whole, work_dir, progress, version, started, before_swap)
    if is_view(cursor, target) and all(_table_exists(cursor, t) for t in (partial.rows_table(target),
                                                                          partial.pointers_table(target))):
        changed = _sync_changes(conn, table, df, work_dir, progress, version, started)
        if changed is not None:
            return changed
    return _load_versioned(cursor, table, df, work_dir, progress, version, started, before_swap)


def _swap_whole(cursor, table: SyncTable, df: DataFrame, profile: checksum.SourceProfile, work_dir: Path,
                progress: bool, version: str, started: float, before_swap: Callable[[str], None] | None) -> TableSync:
    """Load ``<table>__new``, verify it against ``df``'s profile, and swap it in with one RENAME."""
    target, staging = table.target, f"{table.target}__new"
    path = _stage(cursor, table, staging, df, profile, work_dir, progress)
    if before_swap is not None:
        before_swap(target)
    fault_point("sync.before_swap")
    _rename_into_place(cursor, [(staging, target)])
    fault_point("sync.before_log")  # swapped but not logged: the next run reloads this table
    result = TableSync(target, profile.rows, time.perf_counter() - started, path,
                       checksum.digest(profile.fingerprint), version)
    _log_sync(cursor, table, result)
    return result


def _sync_upserts(conn, table: SyncTable, df: DataFrame, whole: checksum.SourceProfile, work_dir: Path,
                  progress: bool, version: str, synced_version: str, started: float,
                  timer: StageTimer) -> TableSync | None:
    """The rows changed since the last sync, upserted (pipeline/sync/upsert.py); None when the whole table
    must be loaded instead."""
    spark, target, cursor = df.sparkSession, table.target, conn.cursor()
    with timer.stage("plan"):
        if not upsert.only_merges_since(spark, table.version_sources[0], int(synced_version)):
            return None
        newest = upsert.newest_synced(cursor, target, table.changed_by)
    if newest is None:
        return None
    if not _fits(cursor, target, df, whole.string_lengths):
        log.info("%s: its columns changed or a value outgrew them: loading the whole table", target)
        return None
    changed = upsert.changed_rows(df, table.changed_by, newest).persist()
    try:
        return _upsert_changed(conn, table, df, changed, whole, work_dir, progress, version, started, timer)
    finally:
        changed.unpersist()


def _upsert_changed(conn, table: SyncTable, df: DataFrame, changed: DataFrame, whole: checksum.SourceProfile,
                    work_dir: Path, progress: bool, version: str, started: float,
                    timer: StageTimer) -> TableSync | None:
    target, cursor = table.target, conn.cursor()
    staging = upsert.staging_table(target)
    with timer.stage("changed"):
        profile = checksum.spark_profile(changed)
    if profile.rows > upsert.MAX_CHANGED_SHARE * whole.rows:
        log.info("%s: %d of %d rows changed: a whole load is as cheap", target, profile.rows, whole.rows)
        return None
    try:
        with timer.stage("rows"):  # export, load and check the changed rows
            path = _stage(cursor, table, staging, changed, profile, work_dir, progress)
        fault_point("sync.before_upsert")
        with timer.stage("apply"):
            if not upsert.apply(conn, target, staging, df, table.primary_key, whole):
                return None
    finally:
        cursor.execute(f"drop table if exists {quote_identifier(staging)}")
    path = {"local_infile": "upsert_infile", "batched_insert": "upsert_insert"}[path]
    result = TableSync(target, profile.rows, time.perf_counter() - started, path, checksum.digest(whole.fingerprint),
                       version)
    _log_sync(cursor, table, result)
    log.info("%s: seconds %s", target, timer.seconds)
    return result


def _rename_into_place(cursor, pairs: list[tuple[str, str]]) -> None:
    """Each ``(new, name)``: ``new`` becomes ``name``, all in one RENAME (readers see all old or all new);
    the replaced tables are dropped."""
    renames, replaced = [], []
    for new, name in pairs:
        if _table_exists(cursor, name):
            old = f"{name}__old"
            _drop(cursor, old)
            renames.append(f"{quote_identifier(name)} to {quote_identifier(old)}")
            replaced.append(old)
        renames.append(f"{quote_identifier(new)} to {quote_identifier(name)}")
    cursor.execute(f"rename table {', '.join(renames)}")
    for old in replaced:
        _drop(cursor, old)


def _drop(cursor, name: str) -> None:
    cursor.execute(f"drop {'view' if is_view(cursor, name) else 'table'} if exists {quote_identifier(name)}")


def _rows_shown(cursor, table: SyncTable) -> int:
    if table.partial is not None and is_view(cursor, table.target):  # the pointers hold the counts
        cursor.execute(f"select coalesce(sum(rows_held), 0) from "
                       f"{quote_identifier(partial.pointers_table(table.target))}")
    else:
        cursor.execute(f"select count(*) from {quote_identifier(table.target)}")
    return int(cursor.fetchone()[0])


def is_view(cursor, name: str) -> bool:
    cursor.execute("select table_type from information_schema.tables where table_schema = database() "
                   "and table_name = %s", (name,))
    found = cursor.fetchone()
    return bool(found) and found[0] == "VIEW"


def _log_sync(cursor, table: SyncTable, result: TableSync) -> None:
    cursor.execute(f"insert into {SYNC_LOG} (table_name, rows_loaded, checksum, source_table, source_version, "
                   "load_path, seconds) values (%s, %s, %s, %s, %s, %s, %s)",
                   (result.table, result.rows, result.checksum, table.source, result.source_version, result.path,
                    result.seconds))
    log.info("%s: %d rows via %s in %.1fs (%.0f rows/s)", result.table, result.rows, result.path, result.seconds,
             result.rows_per_second)


def _fill(cursor, table: str, df: DataFrame, work_dir: Path, bar: tqdm) -> str:
    """``df``'s rows into ``table``: LOAD DATA LOCAL INFILE from Spark's export, or batched inserts where
    LOCAL is refused (it is refused before any row arrives); the path taken."""
    try:
        _load_files(cursor, table, df.columns, _export(df, work_dir / table), bar)
        return "local_infile"
    except mysql.connector.Error as exc:
        if exc.errno not in _LOCAL_INFILE_REFUSED:
            raise
        log.warning("%s: LOAD DATA LOCAL INFILE refused (%s); using batched inserts", table, exc.errno)
        bar.reset()
        _insert_batches(cursor, table, df, bar)
        return "batched_insert"
    finally:
        shutil.rmtree(work_dir / table, ignore_errors=True)


def _stage(cursor, table: SyncTable, staging: str, df: DataFrame, profile: checksum.SourceProfile, work_dir: Path,
           progress: bool, fill: Callable[..., str] | None = None) -> str:
    """``df`` loaded into a fresh ``staging`` table (by ``fill(cursor, name, df, bar)``, default
    ``_fill``) and verified (rows, column checksums); the load path."""
    target = table.target
    cursor.execute(f"drop table if exists {quote_identifier(staging)}")
    cursor.execute(create_table_sql(table, staging, df, profile.string_lengths))
    with tqdm(total=profile.rows, desc=f"sync {staging}", unit="row", unit_scale=True, disable=not progress) as bar:
        if fill is None:
            path = _fill(cursor, staging, df, work_dir, bar)
        else:
            path = fill(cursor, staging, df, bar)
    cursor.execute(f"select count(*) from {quote_identifier(staging)}")
    loaded = cursor.fetchone()[0]
    if loaded != profile.rows:
        raise SyncError(f"{target}: {loaded} rows arrived in MySQL but the source has {profile.rows}; "
                        "previous table kept")
    differ = checksum.differing_columns(profile.fingerprint,
                                        checksum.mysql_fingerprint(cursor, quote_identifier(staging), df))
    if differ:
        raise SyncError(f"{target}: column checksums differ for {differ}; previous table kept")
    return path


def _columns(cursor, table: str) -> list[tuple[str, int | None]]:
    """(name, VARCHAR length or None) of each column of ``table`` in order; [] when it does not exist."""
    cursor.execute("select column_name, character_maximum_length from information_schema.columns "
                   "where table_schema = database() and table_name = %s order by ordinal_position", (table,))
    return [(str(c), n) for c, n in cursor.fetchall()]


def _fits(cursor, target: str, df: DataFrame, lengths: dict[str, int]) -> bool:
    """Whether rows of ``df`` go into the existing ``target`` as they are: same columns in the same order,
    strings no longer than its VARCHARs."""
    columns = _columns(cursor, target)
    if [c for c, _ in columns] != df.columns:
        return False
    room = {c: n for c, n in columns}
    return all(room.get(c) is None or length <= room[c] for c, length in lengths.items())


def _in_key_order(df: DataFrame, spec: SyncTable) -> DataFrame:
    """``df`` in at most SORTED_RUNS part files, each sorted by the primary key: a near-sequential load."""
    return df.coalesce(SORTED_RUNS).sortWithinPartitions(*spec.primary_key)


def _rows_spec(table: SyncTable) -> SyncTable:
    """``T__rows``: clustered by version first, so a new run's rows load at the end of the index."""
    return replace(table, primary_key=(table.partial.version, *table.primary_key), indexes=())


def _lookup_spec(table: SyncTable) -> SyncTable:
    """``T__lookup``: one row per version and lookup key."""
    return replace(table, primary_key=(table.partial.version, table.partial.lookup_by), indexes=())


def _fill_lookup(cursor, table: SyncTable, name: str, lookup: DataFrame, work_dir: Path, bar: tqdm) -> str:
    """The lookup rows into ``name``; a clear error when the model broke its promise of one value per
    version and lookup key (two rows for one key: MySQL's primary key refuses the second, which LOAD DATA
    LOCAL skips with a warning and an INSERT fails on). Other failures keep their own message."""
    spec = table.partial
    try:
        return _fill(cursor, name, lookup, work_dir, bar)
    except (LoadWarnings, mysql.connector.IntegrityError) as exc:
        duplicate = (errorcode.ER_DUP_ENTRY in exc.codes if isinstance(exc, LoadWarnings)
                     else exc.errno == errorcode.ER_DUP_ENTRY)
        if not duplicate:
            raise
        raise SyncError(f"{table.target}: {', '.join(spec.lookup_columns)} are not one value per ({spec.version}, "
                        f"{spec.lookup_by}) as meta.mysql_sync.lookup declares: {exc}") from exc


def _digest(profile: checksum.SourceProfile, lookup: checksum.SourceProfile | None) -> str:
    """The sync log's checksum of a table stored as rows (and lookup rows)."""
    if lookup is None:
        return checksum.digest(profile.fingerprint)
    return checksum.digest({**profile.fingerprint, **{f"lookup.{c}": v for c, v in lookup.fingerprint.items()}})


def _load_versioned(cursor, table: SyncTable, df: DataFrame, work_dir: Path, progress: bool, version: str,
                    started: float, before_swap: Callable[[str], None] | None) -> TableSync:
    """A table replaced in groups, whole: ``T__rows``, ``T__current`` (and ``T__lookup``) loaded afresh and
    verified, swapped in with one RENAME, and the view ``T`` over them (pipeline/sync/partial.py)."""
    spec, target = table.partial, table.target
    rows_t, pointers_t, lookup_t = (partial.rows_table(target), partial.pointers_table(target),
                                    partial.lookup_table(target))
    rows_new, pointers_new, lookup_new = f"{rows_t}__new", f"{pointers_t}__new", f"{lookup_t}__new"
    rows_spec = _rows_spec(table)
    thin = partial.row_part(df, spec)
    profile = checksum.spark_profile(thin)
    path = _stage(cursor, rows_spec, rows_new, _in_key_order(thin, rows_spec), profile, work_dir, progress)
    swaps = [(rows_new, rows_t), (pointers_new, pointers_t)]
    lookup_profile = None
    if spec.lookup_columns:
        lookup = partial.lookup_part(df, spec)
        lookup_profile = checksum.spark_profile(lookup)
        _stage(cursor, _lookup_spec(table), lookup_new, lookup, lookup_profile, work_dir, progress,
               fill=lambda cur, name, rows, bar: _fill_lookup(cur, table, name, rows, work_dir, bar))
        swaps.append((lookup_new, lookup_t))
    pointers = partial.pointers(df, spec)
    _create_pointers_table(cursor, pointers_new, rows_new, spec)
    with tqdm(desc=f"sync {target} (pointers)", unit="row", unit_scale=True, disable=not progress) as bar:
        _fill(cursor, pointers_new, pointers, work_dir, bar)
    cursor.execute(f"select count(*), coalesce(sum(rows_held), 0) from {quote_identifier(pointers_new)}")
    keys, rows = (int(x) for x in cursor.fetchone())
    if rows != profile.rows:
        raise SyncError(f"{target}: {keys} pointers account for {rows} rows but the source has {profile.rows} "
                        f"(a {spec.key} with rows of two {spec.version}s?); previous table kept")
    # The view names its tables' columns: when they change (a new column, lookup columns declared or
    # dropped), it is replaced right after the tables, and a reader may meet one failed query in between.
    # A run stopped between the two left the view broken (it shows no columns): replaced here too.
    reshaped = _reshaped(cursor, target, df, spec)
    if before_swap is not None:
        before_swap(target)
    fault_point("sync.before_swap")
    _rename_into_place(cursor, swaps)
    if not is_view(cursor, target):  # first versioned load: the table (if any) becomes the view
        view = f"{target}__view"
        _drop(cursor, view)
        cursor.execute(partial.view_sql(target, view, df.columns, spec))
        _rename_into_place(cursor, [(view, target)])
    elif reshaped:
        cursor.execute(partial.view_sql(target, target, df.columns, spec))
    if not spec.lookup_columns:
        _drop(cursor, lookup_t)
    fault_point("sync.before_log")  # swapped but not logged: the next run reloads this table
    partial.ensure_versions_table(cursor)
    # What the next apply starts from: after a whole load every stored row is live, and the pointers just
    # loaded hold the counts (no second pass of Spark over the table).
    partial.record_counts(cursor, target, partial.live_counts(cursor, target, spec))
    result = TableSync(target, profile.rows, time.perf_counter() - started, path, _digest(profile, lookup_profile),
                       version)
    _log_sync(cursor, table, result)
    return result


def _reshaped(cursor, target: str, df: DataFrame, spec: PartialSpec) -> bool:
    """Whether the stored columns or the view of a table replaced in groups differ from what ``df`` needs."""
    return ([c for c, _ in _columns(cursor, partial.rows_table(target))] != partial.row_part(df, spec).columns
            or _table_exists(cursor, partial.lookup_table(target)) != bool(spec.lookup_columns)
            or [c for c, _ in _columns(cursor, target)] != df.columns)


def _create_pointers_table(cursor, name: str, like_rows: str, spec: PartialSpec) -> None:
    """A ``T__current``-shaped table: the key (primary), its version and row count, typed as in ``like_rows``."""
    key, version = quote_identifier(spec.key), quote_identifier(spec.version)
    cursor.execute(f"drop table if exists {quote_identifier(name)}")
    cursor.execute(f"create table {quote_identifier(name)} (primary key ({key})) "
                   f"select {key}, {version}, cast(0 as signed) as rows_held from {quote_identifier(like_rows)} "
                   "where false")


def _sync_changes(conn, table: SyncTable, df: DataFrame, work_dir: Path, progress: bool, version: str,
                  started: float) -> TableSync | None:
    """Only the changed groups (pipeline/sync/partial.py), or None when the whole table must be loaded."""
    cursor = conn.cursor()
    timer = StageTimer()
    with timer.stage("plan"):
        partial.ensure_versions_table(cursor)
        live = partial.live_counts(cursor, table.target, table.partial)
        stored = partial.stored_counts(cursor, table.target)
        the_plan = partial.plan(df, table.partial, live, stored)
    if the_plan is None:
        return None
    # Each part is read for its profile, the pointers and the export. Cached apart: the rows without their
    # lookup columns, which a view that joins them in need not join for (user_recommendations), and the
    # few distinct lookup rows, instead of every row with its lookup columns.
    spec = table.partial
    thin = partial.row_part(the_plan.rows, spec).persist()
    lookup = partial.lookup_part(the_plan.rows, spec).persist() if spec.lookup_columns else None
    try:
        return _apply_changes(conn, table, df, the_plan, thin, lookup, live, stored, work_dir, progress, version,
                              started, timer)
    finally:
        thin.unpersist()
        if lookup is not None:
            lookup.unpersist()


def _apply_changes(conn, table: SyncTable, df: DataFrame, the_plan: partial.Plan, thin: DataFrame,
                   lookup: DataFrame | None, live: dict[str, int], stored: dict[str, int], work_dir: Path,
                   progress: bool, version: str, started: float, timer: StageTimer) -> TableSync | None:
    cursor = conn.cursor()
    spec, target = table.partial, table.target
    rows_t, lookup_t = partial.rows_table(target), partial.lookup_table(target)
    with timer.stage("profile"):
        profile = checksum.spark_profile(thin)
        lookup_profile = checksum.spark_profile(lookup) if lookup is not None else None
    fits = not _reshaped(cursor, target, df, spec) and _fits(cursor, rows_t, thin, profile.string_lengths) and (
        lookup is None or _fits(cursor, lookup_t, lookup, lookup_profile.string_lengths))
    if not fits:
        log.info("%s: its columns changed or a value outgrew them: loading the whole table", target)
        return None
    keys = f"{target}__keys"
    _create_pointers_table(cursor, keys, partial.pointers_table(target), spec)
    try:
        with tqdm(total=profile.rows, desc=f"sync {target} (changed)", unit="row", unit_scale=True,
                  disable=not progress) as bar:
            with timer.stage("keys"):
                path = _fill(cursor, keys, partial.pointers(thin, spec), work_dir, bar)
                cursor.execute(f"select count(*) from {quote_identifier(keys)}")
                changed_groups = cursor.fetchone()[0]
            bar.reset()
            in_order = _in_key_order(thin, _rows_spec(table))
            with timer.stage("rows"):  # export, load and check the new rows
                partial.load_new_rows(cursor, target, spec, the_plan, profile,
                                      lambda cur: _fill(cur, rows_t, in_order, work_dir, bar))
            with timer.stage("lookup"):
                partial.load_new_lookup(cursor, target, spec, the_plan, lookup, lookup_profile,
                                        lambda cur: _fill_lookup(cur, table, lookup_t, lookup, work_dir, bar))
        with timer.stage("switch"):
            applied = partial.switch(conn, target, keys, spec, live, stored, the_plan)
    finally:
        cursor.execute(f"drop table if exists {quote_identifier(keys)}")
    if not applied:
        return None
    with timer.stage("drop_dead"):
        removed = partial.drop_dead_versions(cursor, target, spec, partial.stored_after(stored, the_plan),
                                             the_plan.delta_counts)
    path = {"local_infile": "partial_infile", "batched_insert": "partial_insert"}[path]
    result = TableSync(target, profile.rows, time.perf_counter() - started, path, _digest(profile, lookup_profile),
                       version)
    _log_sync(cursor, table, result)
    log.info("%s: %d changed groups (%s = %s) switched; %d rows of versions no group uses removed; seconds %s",
             target, changed_groups, spec.version, ", ".join(the_plan.new_versions) or "none new", removed,
             timer.seconds)
    return result
