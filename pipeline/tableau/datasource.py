"""Tableau data sources (.tds): one per synced mart on a live MySQL connection, and one per mart of
the Hyper extract.

Each file holds a federated connection with one named connection, one table relation and a
`<column>` per column with its Tableau type and role. The columns come from what Tableau will
find: the table MySQL holds after `make sync` (information_schema), or the extract's table.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# MySQL data types (information_schema.columns.data_type) as Tableau data types.
_FROM_MYSQL = {
    "tinyint": "integer", "smallint": "integer", "int": "integer", "bigint": "integer",
    "decimal": "real", "double": "real", "float": "real",
    "date": "date", "datetime": "datetime", "timestamp": "datetime",
    "varchar": "string", "char": "string", "text": "string", "mediumtext": "string", "longtext": "string",
}
# Numbers that identify or order things rather than measure them: dimensions in Tableau.
_KEY_SUFFIXES = ("_id", "_rank", "_hour", "_weekday", "_level")
_KEY_NAMES = {"rank", "k"}


# Hyper's type tags (tableauhyperapi TypeTag names) as Tableau data types.
_FROM_HYPER = {"BIG_INT": "integer", "INT": "integer", "SMALL_INT": "integer", "OID": "integer",
               "NUMERIC": "real", "DOUBLE": "real", "FLOAT": "real", "DATE": "date", "TIMESTAMP": "datetime",
               "TIMESTAMP_TZ": "datetime", "BOOL": "boolean", "TEXT": "string", "VARCHAR": "string", "CHAR": "string"}


@dataclass(frozen=True)
class Column:
    name: str
    datatype: str  # Tableau's: integer, real, date, datetime, string, boolean

    @classmethod
    def from_mysql(cls, name: str, data_type: str, column_type: str) -> Column:
        """From information_schema.columns (data_type bigint, column_type tinyint(1) for the sync's booleans)."""
        if column_type.lower() == "tinyint(1)":
            return cls(name, "boolean")
        return cls(name, _FROM_MYSQL.get(data_type.lower(), "string"))

    @classmethod
    def from_hyper(cls, name: str, type_tag: str) -> Column:
        return cls(name, _FROM_HYPER.get(type_tag, "string"))


@dataclass(frozen=True)
class LiveConnection:
    """A table of the marts database on MySQL, read as ``username``."""

    server: str
    port: int
    database: str
    username: str

    def attributes(self) -> dict[str, str]:
        return {"class": "mysql", "server": self.server, "port": str(self.port), "dbname": self.database,
                "username": self.username, "authentication": "username-password"}

    def relation(self, table: str) -> str:
        return f"[{table}]"


@dataclass(frozen=True)
class ExtractConnection:
    """A table of schema ``schema`` in a Hyper extract (``hyper_file`` absolute, or relative to the file)."""

    hyper_file: str
    schema: str

    def attributes(self) -> dict[str, str]:
        return {"class": "hyper", "dbname": self.hyper_file, "authentication": "auth-none",
                "username": "tableau_internal_user"}

    def relation(self, table: str) -> str:
        return f"[{self.schema}].[{table}]"


Connection = LiveConnection | ExtractConnection


def tableau_field(column: Column) -> tuple[str, str, str]:
    """(datatype, role, type) of a column in Tableau's terms."""
    is_key = column.name in _KEY_NAMES or column.name.endswith(_KEY_SUFFIXES)
    if column.datatype in ("integer", "real") and not is_key:
        return column.datatype, "measure", "quantitative"
    return column.datatype, "dimension", "nominal" if column.datatype in ("string", "boolean") else "ordinal"


def datasource_element(table: str, columns: list[Column], connection: Connection,
                       name: str | None = None) -> ET.Element:
    """One table as a Tableau data source: a federated connection, the table's relation, every column.
    ``name`` is the data source's id inside a workbook (a .tds file has none)."""
    identity = {"caption": table, "name": name} if name else {"formatted-name": table}
    root = ET.Element("datasource", {**identity, "inline": "true", "version": "18.1"})
    federated = ET.SubElement(root, "connection", {"class": "federated"})
    attributes = connection.attributes()
    named_connection = f"{attributes['class']}.recolake"
    named = ET.SubElement(ET.SubElement(federated, "named-connections"), "named-connection",
                          {"caption": attributes.get("server") or table, "name": named_connection})
    ET.SubElement(named, "connection", attributes)
    ET.SubElement(federated, "relation", {"connection": named_connection, "name": table,
                                          "table": connection.relation(table), "type": "table"})
    for column in columns:
        ET.SubElement(root, "column", column_attributes(column))
    return root


def column_attributes(column: Column) -> dict[str, str]:
    datatype, role, kind = tableau_field(column)
    return {"caption": column.name.replace("_", " ").capitalize(), "datatype": datatype,
            "name": f"[{column.name}]", "role": role, "type": kind}


def datasource_document(table: str, columns: list[Column], connection: Connection) -> ET.ElementTree:
    """The .tds document of one table."""
    root = datasource_element(table, columns, connection)
    ET.indent(root)
    return ET.ElementTree(root)


def write_atomically(document: ET.ElementTree, path: Path) -> Path:
    """Write the document next to ``path`` and rename it into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    document.write(partial, encoding="utf-8", xml_declaration=True)
    os.replace(partial, path)
    return path
