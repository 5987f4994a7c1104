"""Lists kept one row per group in MySQL: `<table>_packed` holds each key's rows as one JSON array (in the
order of a column, e.g. recommendation_rank), and a view `<table>` unpacks it with JSON_TABLE into the rows
and columns of the Delta table.

Why: a daily update rewrites a quarter of the seed month's lists, 8M rows. InnoDB changes about 100k rows a
second on this machine whatever its buffer pool (the clustered key, the secondary indexes, the undo log),
so deleting and loading them row by row took over 200 s; as 412k packed rows the same change is 20 times
fewer row operations. A reader still sees a user's old list or new list, never a mix, and a query for one
user reads one row by its primary key. The price: a query over every list parses every array (about 250k
rows a second), where Tableau's extract reads Delta instead (pipeline/tableau/extract.py).

Declared in dbt: ``config: {meta: {mysql_sync: {replace_by: user_id, version: run_id, packed_order:
recommendation_rank}}}``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.mysql.connection import quote_identifier
from pipeline.sync import SyncError
from pipeline.sync.catalog import PartialSpec, SyncTable, mysql_type, varchar_room

ITEMS = "items"  # the JSON array column of the packed table
ROWS_SQL = f"json_length({ITEMS})"  # how many of the Delta table's rows one packed row holds
# Each row of a list as a JSON object keyed by its column's position (c0, c1, ...): short keys, since
# at the seed month the arrays hold 33M rows.
_TIMESTAMP_TEXT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


def packed_table(table: SyncTable) -> SyncTable:
    """The MySQL table that holds ``table``'s rows packed: keyed by the group key alone."""
    return SyncTable(table.source, f"{table.target}_packed", (table.partial.key,), (), table.partial)


def _field_key(df: DataFrame, column: str) -> str:
    return f"c{df.columns.index(column)}"


def _listed_columns(df: DataFrame, spec: PartialSpec) -> list[str]:
    """The columns inside the arrays: all but the key and the version, the order column first (the arrays
    are sorted by it)."""
    inner = [c for c in df.columns if c not in (spec.key, spec.version)]
    if spec.packed_order not in inner:
        raise SyncError(f"packed_order {spec.packed_order!r} must be a column other than the key and the version")
    return [spec.packed_order] + [c for c in inner if c != spec.packed_order]


def _json_value(field: T.StructField) -> F.Column:
    """A value as JSON_TABLE reads it back exactly: timestamps as text with microseconds, booleans as 0/1."""
    c = F.col(field.name)
    if isinstance(field.dataType, T.TimestampType | T.TimestampNTZType):
        return F.date_format(c, _TIMESTAMP_TEXT)
    if isinstance(field.dataType, T.DateType):
        return F.date_format(c, "yyyy-MM-dd")
    if isinstance(field.dataType, T.BooleanType):
        return c.cast("int")
    if isinstance(field.dataType, T.StringType | T.NumericType):
        return c
    raise SyncError(f"column {field.name}: no packed form for Spark type {field.dataType.simpleString()}")


def pack(df: DataFrame, spec: PartialSpec) -> DataFrame:
    """One row per (key, version): the key, the version, and its rows as a JSON array in ``packed_order``
    (a null value is left out of its object and reads back as null)."""
    fields = [_json_value(df.schema[c]).alias(_field_key(df, c)) for c in _listed_columns(df, spec)]
    return (df.groupBy(spec.key, spec.version)
            .agg(F.to_json(F.sort_array(F.collect_list(F.struct(*fields)))).alias(ITEMS)))


def longest(df: DataFrame) -> dict[str, int]:
    """The longest value of each string column (the view's VARCHARs are sized from them)."""
    strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
    if not strings:
        return {}
    row = df.agg(*[F.max(F.length(c)) for c in strings]).first()
    return {c: int(row[i] or 0) for i, c in enumerate(strings)}


def view_lengths(cursor, view: str) -> dict[str, int]:
    """The VARCHAR lengths of an existing view's string columns (none when there is no view)."""
    cursor.execute("select column_name, character_maximum_length from information_schema.columns "
                   "where table_schema = database() and table_name = %s and character_maximum_length is not null",
                   (view,))
    return {c: int(n) for c, n in cursor.fetchall()}


def create_view(cursor, table: SyncTable, df: DataFrame, lengths: dict[str, int]) -> None:
    """(Re)create the view ``table.target`` over the packed table, its strings at least as wide as before
    (a string longer than its JSON_TABLE column would be cut), so a new longer value widens it first."""
    spec = table.partial
    held = view_lengths(cursor, table.target)
    columns = []
    for name in _listed_columns(df, spec):
        field = df.schema[name]
        sql_type = mysql_type(field.dataType, lengths.get(name))
        if isinstance(field.dataType, T.StringType) and sql_type.startswith("varchar"):
            wanted = max(held.get(name, 0), varchar_room(max(1, lengths.get(name, 1))))
            sql_type = f"varchar({wanted})"
        columns.append(f"{quote_identifier(name)} {sql_type} path '$.{_field_key(df, name)}'")
    select = ", ".join(f"packed.{quote_identifier(c)}" if c in (spec.key, spec.version) else f"lists.{quote_identifier(c)}"
                       for c in df.columns)
    if _is_base_table(cursor, table.target):  # the table a sync from before packing left
        cursor.execute(f"drop table {quote_identifier(table.target)}")
    cursor.execute(
        f"create or replace sql security invoker view {quote_identifier(table.target)} as select {select} "
        f"from {quote_identifier(packed_table(table).target)} as packed, "
        f"json_table(packed.{ITEMS}, '$[*]' columns ({', '.join(columns)})) as lists")


def _is_base_table(cursor, name: str) -> bool:
    cursor.execute("select count(*) from information_schema.tables where table_schema = database() "
                   "and table_name = %s and table_type = 'BASE TABLE'", (name,))
    return cursor.fetchone()[0] > 0
