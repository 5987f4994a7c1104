"""The REES46 event file format, owned here: its columns in file order, and the type and comment
each gets in raw.events. The generator writes these names, ingest checks headers against them and
types the fields, and the raw table's DDL is built from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    raw_type: str  # Spark SQL type in raw.events
    comment: str = ""


COLUMNS = (
    Column("event_time", "timestamp", "when the event happened (UTC)"),
    Column("event_type", "string", "view, cart, purchase, remove_from_cart, ... as written in the file"),
    Column("product_id", "bigint"),
    Column("category_id", "bigint", "64-bit in the real data"),
    Column("category_code", "string", "dotted taxonomy, often empty"),
    Column("brand", "string", "often empty"),
    Column("price", "double", "as written in the file; typed to decimal in staging"),
    Column("user_id", "bigint"),
    Column("user_session", "string", "rarely empty"),
)
NAMES = tuple(c.name for c in COLUMNS)
HEADER_LINE = ",".join(NAMES)
# Event times as written: 'yyyy-MM-dd HH:mm:ss', optionally followed by ' UTC'.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
# Free-text attributes: unreadable bytes there drop the attribute, not the event.
DESCRIPTIVE_TEXT = ("category_code", "brand", "user_session")


def ddl_columns() -> str:
    """The file's columns as a DDL column list (name type comment ...)."""
    return ",\n".join(f"{c.name} {c.raw_type}" + (f" comment '{c.comment}'" if c.comment else "") for c in COLUMNS)
