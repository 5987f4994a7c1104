"""`make dbt ARGS="build"`: run any dbt command on the lakehouse, holding the lakehouse lock.

Plain `cd dbt_project && dbt build --profiles-dir ../profiles` works too; this wrapper adds
the lock (a clear message instead of a Derby error when another run is active), the absolute
lakehouse paths and the settings from the environment (as --vars), and, when the data-health
marts were built, one line naming the reason, the count and the setting to change if the data
crossed a health threshold (reports/data_health.json keeps the verdict for `make doctor`).
"""

from __future__ import annotations

import sys

from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings
from pipeline.transform.runner import run_dbt_checked


def main() -> int:
    configure_logging()
    run_dbt_checked(sys.argv[1:] or ["build"], load_settings())
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
