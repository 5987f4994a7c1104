"""`make dbt ARGS="build"`: run any dbt command on the lakehouse, holding the lakehouse lock.

Plain `cd dbt_project && dbt build --profiles-dir ../profiles` works too; this wrapper adds
the lock (a clear message instead of a Derby error when another run is active) and the
absolute lakehouse paths from the environment.
"""

from __future__ import annotations

import sys

from pipeline.cli import UserError, configure_logging, run_main
from pipeline.dbt_runner import DbtFailure, run_dbt


def main() -> int:
    configure_logging()
    try:
        run_dbt(sys.argv[1:] or ["build"])
    except DbtFailure as exc:
        raise UserError(str(exc)) from None
    return 0


if __name__ == "__main__":
    run_main(main)
