"""Run dbt in this process, on the lakehouse, holding the lakehouse lock.

dbt-spark's session method opens its SparkSession with ``getOrCreate``; running dbt
in-process lets it share the session (and JVM) that the rest of the process uses.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from pipeline import health
from pipeline.platform import lock
from pipeline.platform.cluster_conf import require_thrift_server
from pipeline.platform.config import Settings
from pipeline.platform.errors import UserError
from pipeline.platform.faults import crash_point
from pipeline.platform.spark import check_prerequisites

log = logging.getLogger(__name__)


class DbtFailure(RuntimeError):
    """dbt reported errors or failing tests."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


# Commands that take no --vars.
_NO_VARS = {"clean", "deps", "debug", "init", "--version", "--help"}


def dbt_args(settings: Settings, args: Sequence[str]) -> list[str]:
    """``args`` plus the project and profile folders and the effective vars (unless the caller gave them).

    The vars are always passed, so settings from the environment (MIN_EVENT_DATE=..., VARS=...)
    reach dbt exactly as the ML code sees them.
    """
    full = list(args)
    if "--project-dir" not in full:
        full += ["--project-dir", str(settings.dbt_project_dir)]
    if "--profiles-dir" not in full:
        full += ["--profiles-dir", str(settings.profiles_dir)]
    if "--vars" not in full and not (full and full[0] in _NO_VARS):
        full += ["--vars", json.dumps(dict(settings.rules))]
    return full


def ran_node(result: Any, name: str) -> bool:
    """Whether an invocation's results include the node called ``name``."""
    results = getattr(getattr(result, "result", None), "results", None) or []
    return any(getattr(getattr(r, "node", None), "name", None) == name for r in results)


def _crash_after_node(event) -> None:
    """Crash point ``dbt.after.<node name>`` once that node has finished (fault tests only)."""
    if event.info.name == "NodeFinished":
        crash_point(f"dbt.after.{event.data.node_info.unique_id.split('.')[-1]}")


def run_dbt(args: Sequence[str], settings: Settings) -> Any:
    """Invoke dbt (e.g. ``["build"]``) and return dbt's result; raise :class:`DbtFailure` if it fails."""
    from dbt.cli.main import dbtRunner  # imported late: dbt's import is slow

    check_prerequisites(settings)
    lock.hold(settings)
    if not settings.embedded:
        require_thrift_server(settings.cluster)
    os.environ.update(settings.exported_env())
    full = dbt_args(settings, args)
    log.info("dbt %s", " ".join(args))
    result = dbtRunner(callbacks=[_crash_after_node]).invoke(full)
    if not result.success:
        raise DbtFailure(f"dbt {' '.join(args)} failed" + (f": {result.exception}" if result.exception else ""),
                         result)
    return result


def _mart_query(settings: Settings) -> Callable[[str], list[Any]]:
    """SQL on the marts where dbt just built them: this process's Spark session, or the Thrift Server."""
    if not settings.embedded:
        from pipeline.cluster.thrift import query as thrift_query

        return lambda sql: thrift_query(settings.cluster, sql)
    from pipeline.platform.spark import get_spark

    spark = get_spark("dbt", settings)
    return lambda sql: spark.sql(sql).collect()


def run_dbt_checked(args: Sequence[str], settings: Settings) -> health.Assessment | None:
    """:func:`run_dbt`, then the data-health verdict when the health marts were part of the run.

    Raises :class:`UserError`: with the health verdict's one line (exit code 1) when a file
    crossed ``health_error_share`` (the verdict is also in ``REPORTS_DIR/data_health.json``),
    otherwise with dbt's failure. Returns the verdict, or None when the marts were not built.
    """
    rules = settings.rules
    failure: DbtFailure | None = None
    try:
        result = run_dbt(args, settings)
    except DbtFailure as exc:
        failure, result = exc, exc.result
    verdict = None
    if ran_node(result, "data_health_files"):
        query = _mart_query(settings)
        schema, table = health.FILES_TABLE.split(".")
        if query(f"show tables in {schema} like '{table}'"):
            verdict = health.from_marts(query, rules)
            health.report(verdict, settings.reports_dir / "data_health.json", "dbt " + " ".join(args))
            if verdict.status == "error":
                raise UserError(verdict.message, exit_code=1)
    if failure is not None:
        raise UserError(str(failure))
    return verdict
