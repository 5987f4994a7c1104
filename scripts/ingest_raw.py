"""`make ingest`: load every new CSV/CSV.gz file of the landing folder (RAW_DIR) into raw.events."""

from __future__ import annotations

import argparse
import logging

from pipeline.cli import configure_logging, run_main
from pipeline.config import load_settings
from pipeline.ingest.run import IngestReport, ingest
from pipeline.spark import get_spark

log = logging.getLogger("ingest")


def _summary(report: IngestReport) -> None:
    for f in report.files:
        if f.status == "loaded":
            log.info("loaded  %s: %d lines = %d accepted + %d rejected", f.name, f.lines_read, f.rows_accepted,
                     f.rows_rejected)
        elif f.status == "refused":
            log.error("refused %s: %s", f.name, f.message)
    skipped = sum(f.status == "already_loaded" for f in report.files)
    rate = report.lines_read / report.seconds if report.seconds else 0.0
    log.info("batch %s: %d lines read = %d accepted + %d rejected; %d files loaded, %d already loaded, "
             "%d refused; %.1fs (%.0f lines/s)", report.batch_id, report.lines_read, report.rows_accepted,
             report.rows_rejected, sum(f.status == "loaded" for f in report.files), skipped,
             len(report.refused), report.seconds, rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    report = ingest(get_spark("ingest", settings), settings.raw_dir, progress=not args.quiet)
    _summary(report)
    return 1 if report.refused else 0


if __name__ == "__main__":
    run_main(main)
