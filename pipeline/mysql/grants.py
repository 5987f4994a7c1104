"""The read-only reporting user Tableau logs in with: SELECT on the marts database only."""

from __future__ import annotations

from pipeline.mysql import local_server
from pipeline.mysql.connection import MysqlError, connect, external_settings, quote_identifier
from pipeline.platform.config import MysqlEnv


def grant_reporting_user(env: MysqlEnv) -> str:
    """Create or update MYSQL_REPORTING_USER (default tableau) with MYSQL_REPORTING_PASSWORD; return what was done.

    Against an external server (MYSQL_HOST set), the MYSQL_USER account must be allowed to grant."""
    user, password = env.reporting_user, env.reporting_password
    if not password:
        raise MysqlError("set MYSQL_REPORTING_PASSWORD to the password the reporting user should have")
    quote_identifier(user)
    admin = external_settings(env) or local_server.ensure_running(local_server.local_server(env)).admin_settings()
    database = quote_identifier(admin.database)
    conn = connect(admin, database=False)
    cur = conn.cursor()
    cur.execute(f"create database if not exists {database} character set utf8mb4 collate utf8mb4_bin")
    cur.execute(f"create user if not exists '{user}'@'%' identified by %s", (password,))
    cur.execute(f"alter user '{user}'@'%' identified by %s", (password,))
    cur.execute(f"revoke all privileges, grant option from '{user}'@'%'")
    cur.execute(f"grant select on {database}.* to '{user}'@'%'")
    conn.close()
    return f"read-only user {user} can now SELECT from {admin.database}"
