"""Which tables to sync and how they look in MySQL: from dbt's manifest and the Delta schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from pipeline.mysql.connection import quote_identifier
from pipeline.sync import SyncError

SYNC_TAG = "mysql_sync"
INDEXED_COLUMNS = ("user_id", "product_id", "event_date")  # what Tableau filters on
MAX_VARCHAR = 4000  # longer strings become TEXT


def varchar_room(longest: int) -> int:
    """A VARCHAR's length for strings up to ``longest``: twice that, rounded up to a power of two (at least
    16, at most MAX_VARCHAR). The partial sync adds rows to the table in place; a value longer than the
    column would force a whole reload, so a new day's longer brand or category must usually still fit."""
    return min(MAX_VARCHAR, max(16, 1 << (2 * max(1, longest) - 1).bit_length()))


@dataclass(frozen=True)
class PartialSpec:
    """Rows replaced in groups: all rows of one ``key`` value carry the ``version`` that wrote them
    (dbt: ``config: {meta: {mysql_sync: {replace_by: user_id, version: run_id}}}``).

    ``lookup_columns`` hold one value per (version, ``lookup_by``) (``lookup: {by: product_id, columns:
    [brand, ...]}``: a run's product attributes): MySQL stores them once per version and value, beside the
    rows, instead of on every row (pipeline/sync/partial.py)."""

    key: str
    version: str
    lookup_by: str = ""
    lookup_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncTable:
    source: str  # Spark table, e.g. marts.daily_revenue
    target: str  # MySQL table name
    primary_key: tuple[str, ...] = ()
    indexes: tuple[str, ...] = field(default=())
    partial: PartialSpec | None = None  # changed groups only, when the versions allow (pipeline/sync/partial.py)
    # The Delta tables whose versions say whether ``source`` changed: itself, or for a view the tables
    # (models, seeds, sources) it reads, through other views (a view has no version of its own).
    versioned_by: tuple[str, ...] = ()
    # A column every write of a row moves forward: the changed rows are upserted (pipeline/sync/upsert.py).
    changed_by: str = ""

    @property
    def version_sources(self) -> tuple[str, ...]:
        return self.versioned_by or (self.source,)


KEY_TESTS = ("primary_key", "unique", "not_null")
COMPOSITE_KEY_TEST = "composite_key"  # dbt_project/tests/generic/composite_key.sql


def _key_tests(manifest: dict) -> tuple[dict[str, dict[str, set[str]]], dict[str, tuple[str, ...]]]:
    """Per model: its columns' key tests, and the columns of its composite key test (if any)."""
    tests: dict[str, dict[str, set[str]]] = {}
    composite: dict[str, tuple[str, ...]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test":
            continue
        model = node.get("attached_node") or (node["depends_on"]["nodes"] or [""])[0]
        if meta.get("name") in KEY_TESTS and node.get("column_name"):
            tests.setdefault(model, {}).setdefault(node["column_name"], set()).add(meta["name"])
        elif meta.get("name") == COMPOSITE_KEY_TEST:
            composite[model] = tuple((meta.get("kwargs") or {}).get("columns") or ())
    return tests, composite


def tagged_tables(manifest_path: Path) -> list[SyncTable]:
    """Models tagged mysql_sync in dbt's manifest; a column with a primary_key test (or unique + not_null)
    is the key, else the columns of a composite_key test (the rows then lie in MySQL in that order, so
    a partial sync finds a user's list in one range of the clustered index)."""
    if not manifest_path.exists():
        raise SyncError(f"{manifest_path} not found: run dbt first (make transform)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    tests, composite = _key_tests(manifest)
    tables = []
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] != "model" or SYNC_TAG not in node["config"].get("tags", []):
            continue
        keys = sorted(c for c, kinds in tests.get(unique_id, {}).items()
                      if "primary_key" in kinds or {"unique", "not_null"} <= kinds)
        primary = (keys[0],) if keys else composite.get(unique_id, ())
        columns = set(node.get("columns", {}))
        # the key's leading column is already indexed by the key
        indexes = tuple(c for c in INDEXED_COLUMNS if c in columns and primary[:1] != (c,))
        spec = _partial_spec(node, columns)
        if spec is not None and set(spec.lookup_columns) & set(primary):
            raise SyncError(f"{node['name']}: meta.{SYNC_TAG}.lookup columns cannot be part of the model's key")
        if spec is not None and spec.key not in primary:
            raise SyncError(f"{node['name']}: meta.{SYNC_TAG}.replace_by {spec.key} must be part of the model's key "
                            "(a primary_key or composite_key test): the rows are stored in MySQL by version and key")
        changed_by = _changed_by(node, columns, primary)
        versioned_by = _versioned_by(node, manifest)
        if changed_by and len(versioned_by) > 1:
            raise SyncError(f"{node['name']}: meta.{SYNC_TAG}.changed_by needs a table, or a view of one table "
                            f"(its merges are what the upsert follows); it reads {list(versioned_by)}")
        tables.append(SyncTable(f"{node['schema']}.{node['alias']}", node["alias"], primary, indexes, spec,
                                versioned_by, changed_by))
    return tables


def _changed_by(node: dict, columns: set[str], primary: tuple[str, ...]) -> str:
    column = ((node["config"].get("meta") or {}).get(SYNC_TAG) or {}).get("changed_by") or ""
    if column and (column not in columns or not primary):
        raise SyncError(f"{node['name']}: meta.{SYNC_TAG}.changed_by needs a documented column and a key "
                        f"(a primary_key or composite_key test); got {column!r}")
    return column


def _versioned_by(node: dict, manifest: dict) -> tuple[str, ...]:
    """For a view, the Delta tables it reads, found through the views it reads (their versions stand for
    the view's rows); () for a table."""
    if node["config"].get("materialized") != "view":
        return ()
    tables: set[str] = set()
    pending, seen = list(node["depends_on"]["nodes"]), set()
    while pending:
        unique_id = pending.pop()
        if unique_id in seen:
            continue
        seen.add(unique_id)
        if unique_id in manifest.get("sources", {}):
            source = manifest["sources"][unique_id]
            tables.add(f"{source['schema']}.{source['identifier']}")
            continue
        parent = manifest["nodes"].get(unique_id)
        if parent is None or parent["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        if parent["config"].get("materialized") in ("view", "ephemeral"):
            pending.extend(parent["depends_on"]["nodes"])
        else:
            tables.add(f"{parent['schema']}.{parent['alias']}")
    if not tables:
        raise SyncError(f"{node['name']}: a synced view must read at least one table (their Delta versions say "
                        "when the view changed); it reads none")
    return tuple(sorted(tables))


def _partial_spec(node: dict, columns: set[str]) -> PartialSpec | None:
    wanted = (node["config"].get("meta") or {}).get(SYNC_TAG) or {}
    if not {"replace_by", "version"} & set(wanted):
        return None
    key, version = wanted.get("replace_by"), wanted.get("version")
    if key not in columns or version not in columns:
        raise SyncError(f"{node['name']}: meta.{SYNC_TAG} needs replace_by and version naming documented columns "
                        f"(got {wanted})")
    lookup = wanted.get("lookup") or {}
    by, looked_up = lookup.get("by") or "", tuple(lookup.get("columns") or ())
    if lookup and (by not in columns or not looked_up or not set(looked_up) <= columns
                   or {key, version, by} & set(looked_up)):
        raise SyncError(f"{node['name']}: meta.{SYNC_TAG}.lookup needs `by` and `columns` naming documented columns "
                        f"other than {key}, {version} and the lookup key (got {lookup})")
    return PartialSpec(key, version, by, looked_up)


def _mysql_type(data_type: T.DataType, max_length: int | None) -> str:
    if isinstance(data_type, T.BooleanType):
        return "tinyint(1)"
    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType)):
        return "int"
    if isinstance(data_type, T.LongType):
        return "bigint"
    if isinstance(data_type, T.FloatType | T.DoubleType):
        return "double"
    if isinstance(data_type, T.DecimalType):
        return f"decimal({min(data_type.precision, 65)},{data_type.scale})"
    if isinstance(data_type, T.DateType):
        return "date"
    if isinstance(data_type, T.TimestampType | T.TimestampNTZType):
        return "datetime(6)"
    if isinstance(data_type, T.StringType):
        length = max(1, max_length or 0)
        return f"varchar({varchar_room(length)})" if length <= MAX_VARCHAR else "mediumtext"
    raise SyncError(f"no MySQL type for Spark type {data_type.simpleString()}")


def create_table_sql(table: SyncTable, name: str, df: DataFrame, lengths: dict[str, int]) -> str:
    columns = [f"{quote_identifier(f.name)} {_mysql_type(f.dataType, lengths.get(f.name))}"
               + (" not null" if f.name in table.primary_key else "")
               for f in df.schema.fields]
    if table.primary_key:
        columns.append(f"primary key ({', '.join(quote_identifier(c) for c in table.primary_key)})")
    columns += [f"key {quote_identifier('ix_' + c)} ({quote_identifier(c)})" for c in table.indexes]
    return (f"create table {quote_identifier(name)} (\n  " + ",\n  ".join(columns)
            + "\n) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin")
