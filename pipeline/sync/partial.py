"""Tables replaced in groups, kept in MySQL as versions plus pointers, so a day applies only what changed.

Every row of one key (user_id) carries the version (run_id) that wrote the group; a daily ML update
writes new lists for the users with new interactions under a new run and leaves everyone else's rows.
In MySQL such a table ``T`` is three objects:

- ``T__rows``: every stored version's rows, clustered by (version, key, ...): a new run's rows go to
  the end of the index in key order, a sequential load;
- ``T__current``: one row per key, its current version and row count;
- ``T__lookup`` (when the model declares lookup columns, one value per version and lookup key, such as a
  run's product attributes): those columns once per (version, lookup key) instead of on every row;
- ``T``: a view of the rows whose version is their key's current one (with their lookup columns). Readers
  use it like the table.

A day's apply loads the new versions' rows (invisible: no pointer names them yet), checks them (row
count per version, column checksums), then switches the changed keys' pointers in one short
transaction, so a reader sees a key's old rows or its new rows, never a mix. Inside it the row count of
every live version is checked against Delta's (before, minus the superseded, plus the new); a group that
vanished from Delta, or anything else unexpected, rolls back and the caller loads the whole table.

Superseded rows stay in ``T__rows`` until their version has no live key (then its range is deleted) or
the next whole load (a refit changes every list); ``_sync_versions`` holds the rows stored per version,
so the garbage is known without counting, and past ``MAX_GARBAGE_SHARE`` a whole load is taken instead.
Deleting superseded rows one by one costs what the old in-place apply cost (InnoDB changes about 100k
scattered rows a second here); appending costs a sequential load.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.mysql.connection import quote_identifier
from pipeline.platform.faults import fault_point
from pipeline.sync import SyncError, checksum
from pipeline.sync.catalog import PartialSpec
from pipeline.sync.checksum import SourceProfile

log = logging.getLogger(__name__)

SYNC_VERSIONS = "_sync_versions"
# Past this share of changed rows, a whole load is cheaper than an apply.
MAX_CHANGED_SHARE = 0.5
# Superseded rows allowed in T__rows, as a share of the live rows: a week of daily updates between
# refits (about 15 % of the lists each) stays under it.
MAX_GARBAGE_SHARE = 2.0


def rows_table(target: str) -> str:
    return f"{target}__rows"


def pointers_table(target: str) -> str:
    return f"{target}__current"


def lookup_table(target: str) -> str:
    return f"{target}__lookup"


def row_columns(columns: list[str], spec: PartialSpec) -> list[str]:
    """The columns ``T__rows`` holds: all but the lookup columns."""
    return [c for c in columns if c not in spec.lookup_columns]


def row_part(df: DataFrame, spec: PartialSpec) -> DataFrame:
    return df.select(*row_columns(df.columns, spec))


def lookup_part(df: DataFrame, spec: PartialSpec) -> DataFrame:
    """The rows of ``T__lookup``: each (version, lookup key) once with its lookup columns, in one partition
    (a run's products: cached, the distinct kept its 64 shuffle partitions, and 508 rows took 64 LOADs)."""
    return df.select(spec.version, spec.lookup_by, *spec.lookup_columns).distinct().coalesce(1)


@dataclass(frozen=True)
class Plan:
    rows: DataFrame  # the new rows of the changed groups
    new_versions: list[str]
    delta_counts: dict[str, int]  # rows per version in Delta, after


def ensure_versions_table(cursor) -> None:
    cursor.execute(f"""
        create table if not exists {SYNC_VERSIONS} (
          table_name varchar(64) not null,
          version varchar(200) not null,
          rows_held bigint not null,
          primary key (table_name, version)
        ) engine=InnoDB default charset=utf8mb4""")


def stored_counts(cursor, target: str) -> dict[str, int]:
    """Rows per version in ``T__rows``, superseded ones included."""
    cursor.execute(f"select version, rows_held from {SYNC_VERSIONS} where table_name = %s", (target,))
    return {str(v): int(n) for v, n in cursor.fetchall()}


def record_counts(cursor, target: str, counts: dict[str, int]) -> None:
    """Replace the table's stored versions (inside the caller's transaction, when there is one)."""
    cursor.execute(f"delete from {SYNC_VERSIONS} where table_name = %s", (target,))
    if counts:
        cursor.executemany(f"insert into {SYNC_VERSIONS} (table_name, version, rows_held) values (%s, %s, %s)",
                           [(target, v, n) for v, n in sorted(counts.items())])


def live_counts(cursor, target: str, spec: PartialSpec) -> dict[str, int]:
    """Rows per version that the view shows (from the pointers: no scan of the rows)."""
    version = quote_identifier(spec.version)
    cursor.execute(f"select {version}, sum(rows_held) from {quote_identifier(pointers_table(target))} "
                   f"group by {version}")
    return {str(v): int(n) for v, n in cursor.fetchall()}


def version_counts(df: DataFrame, spec: PartialSpec) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in df.groupBy(spec.version).count().collect()}


def pointers(df: DataFrame, spec: PartialSpec) -> DataFrame:
    """One row per key: its version and row count (the columns of ``T__current``)."""
    return df.groupBy(spec.key, spec.version).agg(F.count(F.lit(1)).alias("rows_held"))


def view_sql(target: str, name: str, columns: list[str], spec: PartialSpec) -> str:
    r, c = quote_identifier(rows_table(target)), quote_identifier(pointers_table(target))
    key, version = quote_identifier(spec.key), quote_identifier(spec.version)
    selected = ", ".join(f"{'l' if col in spec.lookup_columns else 'r'}.{quote_identifier(col)}" for col in columns)
    sql = (f"create or replace view {quote_identifier(name)} as select {selected} from {r} r "
           f"join {c} c on c.{key} = r.{key} and c.{version} = r.{version}")
    if spec.lookup_columns:
        by = quote_identifier(spec.lookup_by)
        sql += (f" left join {quote_identifier(lookup_table(target))} l on l.{version} = r.{version} "
                f"and l.{by} = r.{by}")
    return sql


def plan(df: DataFrame, spec: PartialSpec, live: dict[str, int], stored: dict[str, int]) -> Plan | None:
    """The changed groups, or None when a whole load is the way (nothing held, too much changed, or too
    many superseded rows stored)."""
    if not live:
        return None
    counts = version_counts(df, spec)
    new_versions = sorted(set(counts) - set(live))
    # The share of rows under new versions stands for the share of changed groups (lists of about one
    # length), read off the counts at hand instead of a distinct count over the whole table.
    changed_rows, total_rows = sum(counts[v] for v in new_versions), sum(counts.values())
    if total_rows and changed_rows > MAX_CHANGED_SHARE * total_rows:
        log.info("%d of %d rows changed: a whole load is cheaper", changed_rows, total_rows)
        return None
    garbage = sum(stored.values()) + changed_rows - total_rows
    if garbage > MAX_GARBAGE_SHARE * total_rows:
        log.info("%d superseded rows would be stored for %d live ones: loading the whole table", garbage, total_rows)
        return None
    return Plan(df.where(F.col(spec.version).isin(new_versions)), new_versions, counts)


def _versions_in(spec: PartialSpec, versions: list[str]) -> str:
    """A where clause for rows of ``versions`` (the caller passes them as parameters)."""
    return f"{quote_identifier(spec.version)} in ({', '.join(['%s'] * len(versions))})"


def load_new_rows(cursor, target: str, spec: PartialSpec, the_plan: Plan, profile: SourceProfile,
                  fill: Callable[[object], object]) -> None:
    """The new versions' rows into ``T__rows``, checked. Each statement commits (the connection
    autocommits): no pointer names these rows yet. Rows a killed run left under the same versions go first."""
    if not the_plan.new_versions:
        return
    rows, versions = quote_identifier(rows_table(target)), the_plan.new_versions
    where = _versions_in(spec, versions)
    cursor.execute(f"delete from {rows} where {where}", versions)
    if cursor.rowcount:
        log.info("%s: removed %d rows a stopped sync had loaded", target, cursor.rowcount)
    fill(cursor)
    arrived, in_mysql = checksum.mysql_counts_and_fingerprint(cursor, f"{rows} where {where}",
                                                              row_part(the_plan.rows, spec), spec.version, versions)
    expected = {v: the_plan.delta_counts[v] for v in versions}
    if arrived != expected:
        raise SyncError(f"{target}: rows per new version in MySQL {arrived} but Delta has {expected}; "
                        "no list switched")
    differ = checksum.differing_columns(profile.fingerprint, in_mysql)
    if differ:
        raise SyncError(f"{target}: column checksums of the new rows differ for {differ}; no list switched")


def load_new_lookup(cursor, target: str, spec: PartialSpec, the_plan: Plan, lookup: DataFrame,
                    profile: SourceProfile, fill: Callable[[object], object]) -> None:
    """The new versions' lookup rows into ``T__lookup``, checked (before any pointer names them)."""
    if not spec.lookup_columns or not the_plan.new_versions:
        return
    table, versions = quote_identifier(lookup_table(target)), the_plan.new_versions
    where = _versions_in(spec, versions)
    cursor.execute(f"delete from {table} where {where}", versions)
    fill(cursor)
    counts, in_mysql = checksum.mysql_counts_and_fingerprint(cursor, f"{table} where {where}", lookup, spec.version,
                                                             versions)
    arrived = sum(counts.values())
    if arrived != profile.rows:
        raise SyncError(f"{target}: {arrived} lookup rows of the new versions in MySQL but Delta has {profile.rows}; "
                        "no list switched")
    differ = checksum.differing_columns(profile.fingerprint, in_mysql)
    if differ:
        raise SyncError(f"{target}: column checksums of the new lookup rows differ for {differ}; no list switched")


def stored_after(stored: dict[str, int], the_plan: Plan) -> dict[str, int]:
    """Rows per version in ``T__rows`` once the plan's new versions are loaded."""
    return {**stored, **{v: the_plan.delta_counts[v] for v in the_plan.new_versions}}


def switch(conn, target: str, keys_table: str, spec: PartialSpec, live: dict[str, int], stored: dict[str, int],
           the_plan: Plan) -> bool:
    """In one transaction: point the changed keys (their new pointers are in ``keys_table``) at their new
    versions and record the stored rows; False (rolled back) when the live rows per version would not
    equal Delta's."""
    cursor = conn.cursor()
    c, k = quote_identifier(pointers_table(target)), quote_identifier(keys_table)
    key, version = quote_identifier(spec.key), quote_identifier(spec.version)
    conn.start_transaction()
    try:
        cursor.execute(f"select c.{version}, sum(c.rows_held) from {c} c join {k} k on k.{key} = c.{key} "
                       f"group by c.{version}")
        superseded = Counter({str(v): int(n) for v, n in cursor.fetchall()})
        cursor.execute(f"select {version}, sum(rows_held) from {k} group by {version}")
        switched = Counter({str(v): int(n) for v, n in cursor.fetchall()})
        cursor.execute(f"insert into {c} ({key}, {version}, rows_held) select {key}, {version}, rows_held from {k} "
                       f"on duplicate key update {version} = values({version}), rows_held = values(rows_held)")
        after = Counter(live)
        after.subtract(superseded)
        after.update(switched)
        expected = {v: n for v, n in after.items() if n}
        if expected != the_plan.delta_counts:
            conn.rollback()
            log.warning("%s: the changed groups do not account for every difference (a group left Delta?); "
                        "loading the whole table instead", target)
            return False
        record_counts(cursor, target, stored_after(stored, the_plan))
        fault_point("sync.inside_partial_apply")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return True


def drop_dead_versions(cursor, target: str, spec: PartialSpec, stored: dict[str, int], live: dict[str, int]) -> int:
    """Delete the stored versions no key points at any more (``live``: rows per version the view shows), and
    rows a stopped sync loaded under a version that was never switched to (one range of the index each);
    rows removed."""
    rows, version = quote_identifier(rows_table(target)), quote_identifier(spec.version)
    lookup = quote_identifier(lookup_table(target)) if spec.lookup_columns else None
    # GROUP BY on the index's first column: MariaDB reads one entry per version, not every row.
    present = set()
    for table in filter(None, (rows, lookup)):
        cursor.execute(f"select {version} from {table} group by {version}")
        present |= {str(v) for (v,) in cursor.fetchall()}
    dead = sorted((present | set(stored)) - set(live))
    removed = 0
    for dead_version in dead:
        cursor.execute(f"delete from {rows} where {version} = %s", (dead_version,))
        removed += cursor.rowcount
        if lookup:
            cursor.execute(f"delete from {lookup} where {version} = %s", (dead_version,))
        cursor.execute(f"delete from {SYNC_VERSIONS} where table_name = %s and version = %s", (target, dead_version))
    return removed
