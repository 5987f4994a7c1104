"""`make tableau` / `make tableau-extract`: Tableau files for the synced marts, in REPORTS_DIR/tableau.

files    (default) a data source (.tds) per synced mart and the dashboard workbook
         (recolake_dashboard.twb), on a live MySQL connection as the reporting user
         (MYSQL_REPORTING_USER, default tableau). Run after `make sync`.
extract  the marts tagged mysql_sync in one Hyper extract, recolake_marts.hyper, with a data source
         that opens it (Tableau Public, offline). Holds the lakehouse lock while it reads Delta.
"""

from __future__ import annotations

import argparse

from pipeline.charts import load_charts
from pipeline.mysql.target import synced_marts
from pipeline.platform import lock
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import Settings, load_settings
from pipeline.platform.spark import get_spark
from pipeline.sync.catalog import tagged_tables
from pipeline.tableau.extract import write_extract
from pipeline.tableau.files import write_datasources


def write_files(settings: Settings) -> None:
    write_datasources(settings.dbt_target_dir / "manifest.json", synced_marts(settings.mysql),
                      settings.mysql.reporting_user, settings.reports_dir / "tableau",
                      load_charts(settings.dbt_project_dir))


def write_hyper(settings: Settings, progress: bool) -> None:
    lock.hold(settings)
    tables = tagged_tables(settings.dbt_target_dir / "manifest.json")
    spark = get_spark("tableau-extract", settings)
    write_extract(spark, tables, settings.reports_dir / "tableau" / "recolake_marts.hyper",
                  settings.lakehouse_dir / "tmp" / "hyper", load_charts(settings.dbt_project_dir), progress=progress)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=["files", "extract"], default="files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    if args.what == "extract":
        write_hyper(settings, progress=not args.quiet)
    else:
        write_files(settings)
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
