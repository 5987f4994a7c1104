"""`make ingest`: load every new CSV/CSV.gz file of the landing folder (RAW_DIR) into raw.events.

Exit 1 when a file was refused or more than HEALTH_ERROR_SHARE of a loaded file's lines
were rejected; the last line says which file, why, and what to change.
"""

from __future__ import annotations

from pipeline.ingest.batch import ingest_landing_folder
from pipeline.platform.cli import run_main, step_main

main = step_main(__doc__, ingest_landing_folder)


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
