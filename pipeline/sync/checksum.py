"""Per-column fingerprints computed the same way in Spark and in MySQL.

For every column: the count of non-null values, and a sum that any change of value
alters: the value itself for integers and decimals (exact), epoch microseconds or days
for timestamps and dates (exact), CRC-32 of the UTF-8 bytes for strings (exact), and
the value for doubles (compared with a relative tolerance: the engines add in different
orders).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.mysql.connection import quote_identifier

Fingerprint = dict[str, tuple[int, Decimal | float | None]]


def _spark_sum(field: T.StructField) -> F.Column:
    c = F.col(field.name)
    t = field.dataType
    if isinstance(t, T.StringType):
        return F.sum(F.crc32(F.encode(c, "UTF-8")).cast("decimal(38,0)"))
    if isinstance(t, T.TimestampType | T.TimestampNTZType):
        return F.sum(F.unix_micros(c.cast("timestamp")).cast("decimal(38,0)"))
    if isinstance(t, T.DateType):
        return F.sum(F.datediff(c, F.lit("1970-01-01").cast("date")).cast("decimal(38,0)"))
    if isinstance(t, T.BooleanType):
        return F.sum(c.cast("int").cast("decimal(38,0)"))
    if isinstance(t, T.FloatType | T.DoubleType):
        return F.sum(c)
    return F.sum(c.cast("decimal(38,10)"))


def _mysql_sum(field: T.StructField) -> str:
    c = quote_identifier(field.name)
    t = field.dataType
    if isinstance(t, T.StringType):
        return f"sum(crc32({c}))"
    if isinstance(t, T.TimestampType | T.TimestampNTZType):
        return f"sum(timestampdiff(microsecond, '1970-01-01 00:00:00', {c}))"
    if isinstance(t, T.DateType):
        return f"sum(datediff({c}, '1970-01-01'))"
    return f"sum({c})"


@dataclass(frozen=True)
class SourceProfile:
    rows: int
    fingerprint: Fingerprint
    string_lengths: dict[str, int]  # longest value of each string column, to size VARCHARs


def spark_profile(df: DataFrame) -> SourceProfile:
    """Row count, fingerprint and string lengths of a table in one Spark aggregation."""
    fields = df.schema.fields
    strings = [f.name for f in fields if isinstance(f.dataType, T.StringType)]
    row = df.agg(F.count(F.lit(1)), *[x for f in fields for x in (F.count(f.name), _spark_sum(f))],
                 *[F.max(F.length(c)) for c in strings]).first()
    n = len(fields)
    fingerprint = {f.name: (int(row[1 + 2 * i]), _normalise(row[2 + 2 * i])) for i, f in enumerate(fields)}
    lengths = {c: int(row[1 + 2 * n + j] or 0) for j, c in enumerate(strings)}
    return SourceProfile(int(row[0]), fingerprint, lengths)


def mysql_fingerprint(cursor, rows_sql: str, df: DataFrame, params: tuple | list = ()) -> Fingerprint:
    """The fingerprint of the rows ``rows_sql`` names (a quoted table, with a where clause whose
    placeholders ``params`` fill)."""
    fields = df.schema.fields
    parts = ", ".join(f"count({quote_identifier(f.name)}), {_mysql_sum(f)}" for f in fields)
    cursor.execute(f"select {parts} from {rows_sql}", tuple(params) or None)
    row = cursor.fetchone()
    return {f.name: (int(row[2 * i]), _normalise(row[2 * i + 1])) for i, f in enumerate(fields)}


def mysql_counts_and_fingerprint(cursor, rows_sql: str, df: DataFrame, group_by: str,
                                 params: tuple | list = ()) -> tuple[dict[str, int], Fingerprint]:
    """Rows per value of ``group_by`` and the fingerprint of all the rows ``rows_sql`` names, in one scan
    (a day's 8M list rows take seconds to read in MariaDB)."""
    fields = df.schema.fields
    parts = ", ".join(f"count({quote_identifier(f.name)}), {_mysql_sum(f)}" for f in fields)
    group = quote_identifier(group_by)
    cursor.execute(f"select {group}, count(*), {parts} from {rows_sql} group by {group}", tuple(params) or None)
    counts: dict[str, int] = {}
    fingerprint: Fingerprint = {f.name: (0, None) for f in fields}
    for row in cursor.fetchall():
        counts[str(row[0])] = int(row[1])
        for i, f in enumerate(fields):
            count, total = fingerprint[f.name]
            part = _normalise(row[3 + 2 * i])
            total = part if total is None else total if part is None else total + part
            fingerprint[f.name] = (count + int(row[2 + 2 * i]), total)
    return counts, fingerprint


def _normalise(value) -> Decimal | float | None:
    if value is None:
        return None
    if isinstance(value, float):
        return value
    return Decimal(value).normalize()


def differing_columns(a: Fingerprint, b: Fingerprint) -> list[str]:
    """Columns whose fingerprints differ."""
    differ = []
    for column, (count, total) in a.items():
        other_count, other_total = b.get(column, (None, None))
        if count != other_count:
            differ.append(column)
        elif isinstance(total, float) or isinstance(other_total, float):
            if not math.isclose(float(total or 0), float(other_total or 0), rel_tol=1e-9, abs_tol=1e-9):
                differ.append(column)
        elif total != other_total:
            differ.append(column)
    return differ


def digest(fingerprint: Fingerprint) -> str:
    """A short stable summary for the sync log (doubles rounded to 9 significant digits)."""
    text = "|".join(f"{c}:{n}:{(f'{s:.9g}' if isinstance(s, float) else s)}"
                    for c, (n, s) in sorted(fingerprint.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
