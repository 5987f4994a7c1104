"""Run dbt in this process, on the lakehouse, holding the lakehouse lock.

dbt-spark's session method opens its SparkSession with ``getOrCreate``; running dbt
in-process lets it share the session (and JVM) that the rest of the process uses.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from pipeline import health
from pipeline.platform import lock
from pipeline.platform.cluster_conf import require_thrift_server
from pipeline.platform.config import Settings
from pipeline.platform.errors import UserError
from pipeline.platform.faults import fault_point
from pipeline.platform.ports import port_open
from pipeline.platform.spark import check_prerequisites

log = logging.getLogger(__name__)


class DbtFailure(RuntimeError):
    """dbt reported errors or failing tests."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


# Delta's optimistic commits: a writer whose table another writer changed since it read it fails with one of
# these (exception class names and Delta's error classes). The nodes are run again, with backoff.
DELTA_CONFLICTS = ("ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
                   "ConcurrentTransactionException", "ConcurrentWriteException", "MetadataChangedException",
                   "ProtocolChangedException", "DELTA_CONCURRENT_", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED")
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF_SECONDS = 2.0

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


def _fault_after_node(event) -> None:
    """Fault points ``dbt.after.<node name>`` and ``dbt.node_finished`` (@n: the n-th node) once a node has
    finished (fault tests only)."""
    if event.info.name == "NodeFinished":
        fault_point(f"dbt.after.{event.data.node_info.unique_id.split('.')[-1]}")
        fault_point("dbt.node_finished")


def conflicted_nodes(result: Any) -> list[str] | None:
    """The nodes that failed because another writer committed to their table first, or None without any.
    (Other failures of the same build are run again with them, and fail again if they are real.)"""
    results = getattr(getattr(result, "result", None), "results", None) or []
    lost = [r.node.name for r in results if str(getattr(r, "status", "")) == "error"
            and any(c in str(getattr(r, "message", "")) for c in DELTA_CONFLICTS)]
    return lost or None


def _retry_conflicts(result: Any, settings: Settings) -> Any:
    """``dbt retry`` (the failed and skipped nodes of the last invocation) while only commit races failed it,
    waiting longer each time."""
    from dbt.cli.main import dbtRunner

    for attempt in range(1, CONFLICT_RETRIES + 1):
        nodes = conflicted_nodes(result)
        if result.success or nodes is None:
            return result
        wait = CONFLICT_BACKOFF_SECONDS * 2 ** (attempt - 1) * (1 + random.random() / 2)
        log.warning("dbt: %s lost a commit race with another writer of the same Delta table; running the failed "
                    "and skipped nodes again in %.0f s (retry %d of %d)", ", ".join(nodes), wait, attempt,
                    CONFLICT_RETRIES)
        time.sleep(wait)
        earlier = list(result.result.results)
        result = dbtRunner(callbacks=[_fault_after_node]).invoke(
            ["retry", "--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.profiles_dir)])
        if getattr(result.result, "results", None) is not None:  # the whole build's nodes, each as it last ran
            latest = {r.node.unique_id: r for r in (*earlier, *result.result.results)}
            result.result.results = list(latest.values())
    nodes = conflicted_nodes(result)
    if not result.success and nodes is not None:
        raise UserError(f"dbt: {', '.join(nodes)} kept losing commit races with another writer of the same Delta "
                        f"table ({CONFLICT_RETRIES} retries); rerun when the other writer is done")
    return result


def run_dbt(args: Sequence[str], settings: Settings) -> Any:
    """Invoke dbt (e.g. ``["build"]``) and return dbt's result; raise :class:`DbtFailure` if it fails. Nodes
    that lost a commit race with another writer (an analyst's build on the cluster) are run again."""
    from dbt.cli.main import dbtRunner  # imported late: dbt's import is slow

    check_prerequisites(settings)
    lock.hold(settings)
    if not settings.embedded:
        require_thrift_server(settings.cluster)
    os.environ.update(settings.exported_env())
    full = dbt_args(settings, args)
    log.info("dbt %s", " ".join(args))
    result = _retry_conflicts(dbtRunner(callbacks=[_fault_after_node]).invoke(full), settings)
    if not result.success:
        if not settings.embedded:
            _require_thrift_server_still_up(settings, args)
        raise DbtFailure(f"dbt {' '.join(args)} failed" + (f": {result.exception}" if result.exception else ""),
                         result)
    return result


def _require_thrift_server_still_up(settings: Settings, args: Sequence[str]) -> None:
    """A Thrift Server that died under a build fails every node after it with a transport error each: say it
    once instead (what ran is committed; a rerun redoes the rest)."""
    cluster = settings.cluster
    if not port_open(cluster.thrift_host, cluster.thrift_port):
        raise UserError(f"the Thrift Server at {cluster.thrift_host}:{cluster.thrift_port} stopped during "
                        f"`dbt {' '.join(args)}`: run `make cluster-up` (it starts only what is down), then rerun")


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
