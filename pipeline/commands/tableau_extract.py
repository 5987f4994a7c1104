"""`make tableau-extract`: the marts tagged mysql_sync in one Hyper extract, REPORTS_DIR/tableau/recolake_marts.hyper,
with a data source (.tds) that opens it (Tableau Public, offline). Holds the lakehouse lock while it reads."""

from __future__ import annotations

import argparse

from pipeline import lock
from pipeline.cli import configure_logging, run_main
from pipeline.config import load_settings
from pipeline.spark import get_spark
from pipeline.sync.catalog import tagged_tables
from pipeline.tableau.extract import write_extract


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    lock.hold(settings)
    tables = tagged_tables(settings.dbt_project_dir / "target" / "manifest.json")
    spark = get_spark("tableau-extract", settings)
    out = settings.reports_dir / "tableau"
    write_extract(spark, tables, out / "recolake_marts.hyper", settings.lakehouse_dir / "tmp" / "hyper",
                  progress=not args.quiet)
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
