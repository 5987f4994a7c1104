"""`make tableau`: a Tableau data source (.tds) per synced mart and the dashboard workbook
(recolake_dashboard.twb) in REPORTS_DIR/tableau, on a live MySQL connection as the reporting user
(MYSQL_REPORTING_USER, default tableau). Run after `make sync`."""

from __future__ import annotations

import argparse

from pipeline.cli import configure_logging, run_main
from pipeline.config import load_settings
from pipeline.mysql.grants import reporting_user
from pipeline.mysql.target import synced_marts
from pipeline.tableau.run import write_datasources


def main() -> int:
    argparse.ArgumentParser(description=__doc__).parse_args()
    configure_logging()
    settings = load_settings()
    write_datasources(settings.dbt_project_dir / "target" / "manifest.json", synced_marts(),
                      reporting_user(), settings.reports_dir / "tableau")
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
