"""Apply only what changed to a MySQL table whose rows are replaced in groups: every row of one key
(user_id) carries the version (run_id) that wrote the group. A daily ML update rewrites the lists of
the users with new interactions and leaves everyone else's rows, and their run_id, untouched.

The plan: the versions in Delta that MySQL does not hold yet name the changed groups. In one
transaction their old rows are deleted and their new rows loaded straight into the table (no staging
copy: at the seed's month a day changes 8M rows), so a reader sees a user's old list or new list,
never a mix; the changed rows' column checksums are checked inside the same transaction. Before the commit the row count of every
version is checked against Delta's (MySQL's counts before, minus the rows deleted, plus the rows
inserted); a group that vanished from Delta, or anything else unexpected, rolls the transaction back
and the caller swaps the whole table instead. `_sync_versions` records each version's row count in
the same transaction as the change.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.faults import crash_point
from pipeline.mysql.connection import quote_identifier
from pipeline.sync import SyncError, checksum
from pipeline.sync.catalog import PartialSpec
from pipeline.sync.checksum import SourceProfile

log = logging.getLogger(__name__)

SYNC_VERSIONS = "_sync_versions"
# Past this share of changed rows, a full load and swap is cheaper than deletes and inserts.
MAX_CHANGED_SHARE = 0.5


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


def recorded_counts(cursor, target: str) -> dict[str, int]:
    cursor.execute(f"select version, rows_held from {SYNC_VERSIONS} where table_name = %s", (target,))
    return {str(v): int(n) for v, n in cursor.fetchall()}


def record_counts(cursor, target: str, counts: dict[str, int]) -> None:
    """Replace the table's recorded versions (inside the caller's transaction, when there is one)."""
    cursor.execute(f"delete from {SYNC_VERSIONS} where table_name = %s", (target,))
    if counts:
        cursor.executemany(f"insert into {SYNC_VERSIONS} (table_name, version, rows_held) values (%s, %s, %s)",
                           [(target, v, n) for v, n in sorted(counts.items())])


def version_counts(df: DataFrame, spec: PartialSpec) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in df.groupBy(spec.version).count().collect()}


def plan(df: DataFrame, spec: PartialSpec, held: dict[str, int]) -> Plan | None:
    """The changed groups, or None when a whole swap is the way (nothing recorded, too much changed)."""
    if not held:
        return None
    counts = version_counts(df, spec)
    new_versions = sorted(set(counts) - set(held))
    # The share of rows under new versions stands for the share of changed groups (lists of about one
    # length), read off the counts at hand instead of a distinct count over the whole table.
    changed_rows, total_rows = sum(counts[v] for v in new_versions), sum(counts.values())
    if total_rows and changed_rows > MAX_CHANGED_SHARE * total_rows:
        log.info("%d of %d rows changed: a whole load is cheaper", changed_rows, total_rows)
        return None
    return Plan(df.where(F.col(spec.version).isin(new_versions)), new_versions, counts)


@dataclass(frozen=True)
class Target:
    table: str  # the MySQL table that holds the rows
    keys_table: str  # the changed groups' keys
    rows_sql: str  # how many of Delta's rows one of its rows stands for: "1", or a packed list's length
    recorded_as: str  # the name its versions are recorded under (the table readers query)


def apply(conn, target: Target, spec: PartialSpec, held: dict[str, int], the_plan: Plan, changed_rows: int,
          frame: DataFrame, profile: SourceProfile, fill: Callable[[object], object]) -> bool:
    """In one transaction: delete the changed groups' rows, ``fill`` the table with their new rows
    (``frame``, profiled in ``profile``), check what arrived; False (rolled back) when the per-version row
    counts would not equal Delta's. Different column checksums raise SyncError (rolled back)."""
    cursor = conn.cursor()
    t, k = quote_identifier(target.table), quote_identifier(target.keys_table)
    key, version = quote_identifier(spec.key), quote_identifier(spec.version)
    changed = f"{t} join {k} using ({key})"
    conn.start_transaction()
    try:
        deleted = _counts(cursor, changed, version, target.rows_sql)
        cursor.execute(f"delete {t} from {changed}")
        fill(cursor)
        inserted = _counts(cursor, changed, version, target.rows_sql)
        if sum(inserted.values()) != changed_rows:
            raise SyncError(f"{target.table}: {sum(inserted.values())} changed rows arrived in MySQL but Delta has "
                            f"{changed_rows}; nothing applied")
        differ = checksum.same(profile.fingerprint, checksum.mysql_fingerprint(cursor, changed, frame))
        if differ:
            raise SyncError(f"{target.table}: column checksums of the changed rows differ for {differ}; "
                            "nothing applied")
        after = Counter(held)
        after.subtract(deleted)
        after.update(inserted)
        expected = {v: n for v, n in after.items() if n}
        if expected != the_plan.delta_counts:
            conn.rollback()
            log.warning("%s: the changed groups do not account for every difference (a group left Delta?); "
                        "loading the whole table instead", target.table)
            return False
        record_counts(cursor, target.recorded_as, the_plan.delta_counts)
        crash_point("sync.inside_partial_apply")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return True


def _counts(cursor, rows_sql: str, version: str, per_row: str) -> Counter:
    cursor.execute(f"select {version}, sum({per_row}) from {rows_sql} group by {version}")
    return Counter({str(v): int(n) for v, n in cursor.fetchall()})
