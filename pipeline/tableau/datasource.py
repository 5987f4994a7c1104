"""One Tableau data source (.tds) per synced mart, for a live MySQL connection.

Each file holds a federated connection with one named MySQL connection, one table relation and a
`<column>` per column with its Tableau type and role. The columns come from the table MySQL holds
after `make sync` (information_schema), so the file describes exactly what Tableau will find.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# MySQL data types (information_schema.columns.data_type) as Tableau data types.
_TABLEAU_TYPES = {
    "tinyint": "integer", "smallint": "integer", "int": "integer", "bigint": "integer",
    "decimal": "real", "double": "real", "float": "real",
    "date": "date", "datetime": "datetime", "timestamp": "datetime",
    "varchar": "string", "char": "string", "text": "string", "mediumtext": "string", "longtext": "string",
}
# Numbers that identify or order things rather than measure them: dimensions in Tableau.
_KEY_SUFFIXES = ("_id", "_rank", "_hour", "_weekday", "_level")
_KEY_NAMES = {"rank", "k"}


@dataclass(frozen=True)
class Column:
    name: str
    mysql_type: str  # information_schema data_type, e.g. bigint
    column_type: str = ""  # information_schema column_type, e.g. tinyint(1)


@dataclass(frozen=True)
class LiveConnection:
    server: str
    port: int
    database: str
    username: str


def tableau_field(column: Column) -> tuple[str, str, str]:
    """(datatype, role, type) of a column in Tableau's terms."""
    if column.column_type == "tinyint(1)":  # the sync's booleans
        return "boolean", "dimension", "nominal"
    datatype = _TABLEAU_TYPES.get(column.mysql_type.lower(), "string")
    is_key = column.name in _KEY_NAMES or column.name.endswith(_KEY_SUFFIXES)
    if datatype in ("integer", "real") and not is_key:
        return datatype, "measure", "quantitative"
    return datatype, "dimension", "nominal" if datatype in ("string", "boolean") else "ordinal"


def live_datasource(table: str, columns: list[Column], connection: LiveConnection) -> ET.ElementTree:
    """The .tds document of one MySQL table."""
    root = ET.Element("datasource", {"formatted-name": table, "inline": "true", "version": "18.1"})
    federated = ET.SubElement(root, "connection", {"class": "federated"})
    named = ET.SubElement(ET.SubElement(federated, "named-connections"), "named-connection",
                          {"caption": connection.server, "name": "mysql.recolake"})
    ET.SubElement(named, "connection", {
        "class": "mysql", "server": connection.server, "port": str(connection.port),
        "dbname": connection.database, "username": connection.username, "authentication": "username-password",
    })
    ET.SubElement(federated, "relation", {"connection": "mysql.recolake", "name": table,
                                          "table": f"[{table}]", "type": "table"})
    for column in columns:
        datatype, role, kind = tableau_field(column)
        ET.SubElement(root, "column", {"caption": column.name.replace("_", " ").capitalize(),
                                       "datatype": datatype, "name": f"[{column.name}]", "role": role,
                                       "type": kind})
    ET.indent(root)
    return ET.ElementTree(root)


def write_atomically(document: ET.ElementTree, path: Path) -> Path:
    """Write the document next to ``path`` and rename it into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    document.write(partial, encoding="utf-8", xml_declaration=True)
    os.replace(partial, path)
    return path
