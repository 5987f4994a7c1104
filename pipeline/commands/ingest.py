"""`make ingest`: load every new CSV/CSV.gz file of the landing folder (RAW_DIR) into raw.events.

Exit 1 when a file was refused or more than HEALTH_ERROR_SHARE of a loaded file's lines
were rejected; the last line says which file, why, and what to change.
"""

from __future__ import annotations

import logging

from pipeline import health
from pipeline.cli import UserError, run_main, step_main
from pipeline.config import Settings, dbt_vars
from pipeline.ingest.run import health_inputs, ingest, log_result
from pipeline.spark import get_spark


def ingest_landing_folder(settings: Settings, progress: bool = True) -> None:
    """Load the new files; raise :class:`UserError` (exit 1) on a refused file or an unhealthy one."""
    rules = dbt_vars(settings.dbt_project_dir)
    if not settings.raw_dir.is_dir():
        raise UserError(f"landing folder {settings.raw_dir} does not exist: set RAW_DIR, or run `make data`")
    spark = get_spark("ingest", settings)
    report = ingest(spark, settings.raw_dir, progress=progress)
    log_result(report)
    verdict = health.assess(*health_inputs(spark, report), rules)
    if verdict.status == "warn":
        logging.getLogger("ingest").warning("%s", verdict.message)
    if report.refused:
        names = ", ".join(f.name for f in report.refused)
        raise UserError(f"{len(report.refused)} file(s) refused ({names}): see the lines above; "
                        "the other files were loaded" + (f"; also {verdict.message}" if verdict.status == "error"
                                                         else ""), exit_code=1)
    if verdict.status == "error":
        raise UserError(verdict.message, exit_code=1)


main = step_main(__doc__, ingest_landing_folder)


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
