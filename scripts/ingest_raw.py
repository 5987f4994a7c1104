"""`make ingest`: load every new CSV/CSV.gz file of the landing folder (RAW_DIR) into raw.events."""

from __future__ import annotations

import argparse

from pipeline.cli import UserError, configure_logging, run_main
from pipeline.config import load_settings
from pipeline.ingest.run import ingest, log_report
from pipeline.spark import get_spark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    if not settings.raw_dir.is_dir():
        raise UserError(f"landing folder {settings.raw_dir} does not exist: set RAW_DIR, or run `make data`")
    report = ingest(get_spark("ingest", settings), settings.raw_dir, progress=not args.quiet)
    log_report(report)
    return 1 if report.refused else 0


if __name__ == "__main__":
    run_main(main)
