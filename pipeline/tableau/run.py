"""`make tableau`: a .tds per synced mart, from dbt's manifest and the tables MySQL holds."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.mysql.connection import MysqlSettings, connect
from pipeline.sync.catalog import tagged_tables
from pipeline.tableau.datasource import Column, LiveConnection, live_datasource, write_atomically

log = logging.getLogger(__name__)


def mysql_columns(mysql: MysqlSettings, table: str) -> list[Column]:
    """The table's columns in MySQL, in order; empty when the table has not been synced."""
    conn = connect(mysql)
    try:
        cur = conn.cursor()
        cur.execute("select column_name, data_type, column_type from information_schema.columns "
                    "where table_schema = %s and table_name = %s order by ordinal_position",
                    (mysql.database, table))
        return [Column.from_mysql(str(n), str(t), str(c)) for n, t, c in cur.fetchall()]
    finally:
        conn.close()


def write_datasources(manifest: Path, mysql: MysqlSettings, reporting_user: str, out_dir: Path) -> list[Path]:
    """One .tds per mart tagged mysql_sync that MySQL holds; Tableau logs in as ``reporting_user``."""
    connection = LiveConnection(mysql.host, mysql.port, mysql.database, reporting_user)
    written = []
    for table in tagged_tables(manifest):
        columns = mysql_columns(mysql, table.target)
        if not columns:
            log.warning("%s is not in MySQL yet (run `make sync`): no data source written", table.target)
            continue
        written.append(write_atomically(live_datasource(table.target, columns, connection),
                                        out_dir / f"{table.target}.tds"))
    log.info("%d Tableau data sources in %s", len(written), out_dir)
    return written
