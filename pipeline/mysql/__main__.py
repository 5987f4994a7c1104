"""`make mysql-start|mysql-stop|mysql-grant`: the project-private MariaDB and the reporting user.

grant creates (or updates) a read-only reporting user for Tableau (pipeline/mysql/grants.py).
"""

from __future__ import annotations

import argparse
import logging

from pipeline.mysql import local_server
from pipeline.mysql.grants import grant_reporting_user
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings

log = logging.getLogger("mysql")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "grant", "status"])
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    server = local_server.local_server(settings.mysql)
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
        log.info(grant_reporting_user(settings.mysql))
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
