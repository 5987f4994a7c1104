"""`make mysql-start|mysql-stop|mysql-grant`: the project-private MariaDB and the reporting user.

grant creates (or updates) a read-only reporting user for Tableau: SELECT on the marts
database only. Its name is MYSQL_REPORTING_USER (default tableau), its password
MYSQL_REPORTING_PASSWORD (required). Against an external server (MYSQL_HOST set), the
MYSQL_USER account must be allowed to grant.
"""

from __future__ import annotations

import argparse
import logging
import os

from pipeline.cli import configure_logging, run_main
from pipeline.sync import local_server
from pipeline.sync.connection import SyncError, connect, external_settings, quote_identifier

log = logging.getLogger("mysql")


def grant_reporting_user() -> str:
    user = os.environ.get("MYSQL_REPORTING_USER", "tableau")
    password = os.environ.get("MYSQL_REPORTING_PASSWORD")
    if not password:
        raise SyncError("set MYSQL_REPORTING_PASSWORD to the password the reporting user should have")
    quote_identifier(user)
    admin = external_settings() or local_server.ensure_running().admin_settings()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "grant", "status"])
    args = parser.parse_args()
    configure_logging()
    server = local_server.local_server()
    if args.command == "start":
        local_server.ensure_running(server)
        log.info("private MariaDB running on 127.0.0.1:%d (credentials in %s)", server.port,
                 server.credentials_file)
    elif args.command == "stop":
        log.info("stopped" if local_server.stop(server) else "not running")
    elif args.command == "status":
        running = local_server.is_running(server)
        log.info("private MariaDB on 127.0.0.1:%d is %s", server.port, "running" if running else "stopped")
    else:
        log.info(grant_reporting_user())
    return 0


if __name__ == "__main__":
    run_main(main)
