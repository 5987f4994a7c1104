"""`make sync`: copy the dbt marts tagged `mysql_sync` to MySQL for Tableau.

Uses MYSQL_HOST / MYSQL_PORT / MYSQL_USER / MYSQL_PASSWORD / MYSQL_DATABASE when MYSQL_HOST
is set; otherwise starts (and leaves running) the project-private MariaDB.
"""

from __future__ import annotations

from pipeline.platform.cli import run_main, step_main
from pipeline.sync.marts import sync_marts

main = step_main(__doc__, sync_marts)


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
