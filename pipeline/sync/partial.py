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


def apply(conn, target: str, keys_table: str, spec: PartialSpec, held: dict[str, int], the_plan: Plan,
          profile: SourceProfile, fill: Callable[[object], object]) -> bool:
    """In one transaction: delete the changed groups' rows (their keys are in ``keys_table``), ``fill``
    the target with their new rows, check what arrived; False (rolled back) when the per-version row
    counts would not equal Delta's. Different column checksums raise SyncError (rolled back)."""
    cursor = conn.cursor()
    t, k = quote_identifier(target), quote_identifier(keys_table)
    key, version = quote_identifier(spec.key), quote_identifier(spec.version)
    changed_rows = f"{t} join {k} using ({key})"
    conn.start_transaction()
    try:
        deleted = _counts(cursor, changed_rows, version)
        cursor.execute(f"delete {t} from {changed_rows}")
        fill(cursor)
        inserted = _counts(cursor, changed_rows, version)
        if sum(inserted.values()) != profile.rows:
            raise SyncError(f"{target}: {sum(inserted.values())} changed rows arrived in MySQL but Delta has "
                            f"{profile.rows}; nothing applied")
        differ = checksum.same(profile.fingerprint, checksum.mysql_fingerprint(cursor, changed_rows, the_plan.rows))
        if differ:
            raise SyncError(f"{target}: column checksums of the changed rows differ for {differ}; nothing applied")
        after = Counter(held)
        after.subtract(deleted)
        after.update(inserted)
        expected = {v: n for v, n in after.items() if n}
        if expected != the_plan.delta_counts:
            conn.rollback()
            log.warning("%s: the changed groups do not account for every difference (a group left Delta?); "
                        "loading the whole table instead", target)
            return False
        record_counts(cursor, target, the_plan.delta_counts)
        crash_point("sync.inside_partial_apply")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return True


def _counts(cursor, rows_sql: str, version: str) -> Counter:
    cursor.execute(f"select {version}, count(*) from {rows_sql} group by {version}")
    return Counter({str(v): int(n) for v, n in cursor.fetchall()})
