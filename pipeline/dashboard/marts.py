"""Read the marts the dashboard shows, from MySQL (what Tableau reads) or from Delta."""

from __future__ import annotations

from typing import Any, Protocol

from pipeline.mysql.connection import MysqlSettings, connect, quote_identifier

Row = dict[str, Any]


class MartSource(Protocol):
    name: str

    def rows(self, table: str) -> list[Row]:
        """All rows of a mart; [] when it is missing or empty."""
        ...


class MysqlMarts:
    def __init__(self, settings: MysqlSettings) -> None:
        self.name = f"MySQL {settings.describe()}/{settings.database}"
        self._conn = connect(settings)

    def rows(self, table: str) -> list[Row]:
        cur = self._conn.cursor(dictionary=True)
        cur.execute("select count(*) as n from information_schema.tables where table_schema = database() "
                    "and table_name = %s", (table,))
        if cur.fetchone()["n"] == 0:
            return []
        cur.execute(f"select * from {quote_identifier(table)}")
        return list(cur.fetchall())

    def close(self) -> None:
        self._conn.close()


class DeltaMarts:
    def __init__(self, spark, schema: str = "marts") -> None:
        self.name = f"Delta {schema}.*"
        self._spark = spark
        self._schema = schema

    def rows(self, table: str) -> list[Row]:
        name = f"{self._schema}.{quote_identifier(table)}"
        if not self._spark.catalog.tableExists(f"{self._schema}.{table}"):
            return []
        return [r.asDict() for r in self._spark.table(name).collect()]

    def close(self) -> None:
        pass
