"""`make dbt ARGS="build"`: run any dbt command on the lakehouse, holding the lakehouse lock.

Plain `cd dbt_project && dbt build --profiles-dir ../profiles` works too; this wrapper adds
the lock (a clear message instead of a Derby error when another run is active), the absolute
lakehouse paths and the settings from the environment (as --vars), and, when the data-health
marts were built, one line naming the reason, the count and the setting to change if the data
crossed a health threshold (reports/data_health.json keeps the verdict for `make doctor`).
"""

from __future__ import annotations

import sys

from pipeline import health
from pipeline.cli import UserError, configure_logging, run_main
from pipeline.config import dbt_vars, load_settings
from pipeline.dbt_runner import DbtFailure, ran_node, run_dbt
from pipeline.spark import get_spark


def main() -> int:
    configure_logging()
    settings = load_settings()
    args = sys.argv[1:] or ["build"]
    rules = dbt_vars(settings.dbt_project_dir)
    failure: DbtFailure | None = None
    try:
        result = run_dbt(args, settings)
    except DbtFailure as exc:
        failure, result = exc, exc.result
    if ran_node(result, "data_health_files"):
        spark = get_spark("dbt", settings)
        if spark.catalog.tableExists(health.FILES_TABLE):
            verdict = health.from_marts(spark, rules)
            health.report(verdict, settings.reports_dir / "data_health.json", "dbt " + " ".join(args))
            if verdict.status == "error":
                raise UserError(verdict.message, exit_code=1)
    if failure is not None:
        raise UserError(str(failure))
    return 0


if __name__ == "__main__":
    run_main(main)
