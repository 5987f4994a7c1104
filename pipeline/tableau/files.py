"""`make tableau`: a .tds per synced mart, from dbt's manifest and the tables MySQL holds, and the
seed's dashboard as a workbook on the same live connection."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.charts import Chart
from pipeline.mysql.connection import MysqlSettings, connect
from pipeline.sync.catalog import tagged_tables
from pipeline.tableau.datasource import Column, LiveConnection, datasource_document, write_atomically
from pipeline.tableau.workbook import write_workbook

log = logging.getLogger(__name__)


def mysql_columns(mysql: MysqlSettings) -> dict[str, list[Column]]:
    """Every table's columns in the marts database, in order: one query for all of them."""
    conn = connect(mysql)
    try:
        cur = conn.cursor()
        cur.execute("select table_name, column_name, data_type, column_type from information_schema.columns "
                    "where table_schema = %s order by table_name, ordinal_position", (mysql.database,))
        columns: dict[str, list[Column]] = {}
        for table, name, data_type, column_type in cur.fetchall():
            columns.setdefault(str(table), []).append(Column.from_mysql(str(name), str(data_type), str(column_type)))
        return columns
    finally:
        conn.close()


def write_datasources(manifest: Path, mysql: MysqlSettings, reporting_user: str, out_dir: Path,
                      charts: tuple[Chart, ...]) -> list[Path]:
    """One .tds per mart tagged mysql_sync that MySQL holds, and the dashboard workbook; Tableau logs in
    as ``reporting_user``."""
    connection = LiveConnection(mysql.host, mysql.port, mysql.database, reporting_user)
    held = mysql_columns(mysql)
    written = []
    for table in tagged_tables(manifest):
        if table.target not in held:
            log.warning("%s is not in MySQL yet (run `make sync`): no data source written", table.target)
            continue
        written.append(write_atomically(datasource_document(table.target, held[table.target], connection),
                                        out_dir / f"{table.target}.tds"))
    log.info("%d Tableau data sources in %s", len(written), out_dir)
    dashboard = write_workbook(held, connection, out_dir / "recolake_dashboard.twb", charts)
    return written + ([dashboard] if dashboard else [])

