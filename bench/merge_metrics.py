"""What each incremental model's write of a dbt build did to its Delta table, from DESCRIBE HISTORY.

For every incremental model a build ran (its run_results.json), the table's commits made during the build:
the operation (MERGE, WRITE for an insert overwrite, ...) and Delta's operation metrics that say whether
the write was proportional to the change: rows copied unchanged against rows updated, inserted and
deleted, files added and removed, and the merge's scan and rewrite milliseconds.

Run: python -m bench.merge_metrics <run_results.json>... (prints one JSON object; the bench runs it after a
daily chain, outside the timed stages).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench import wall_share
from pipeline.platform.config import load_settings
from pipeline.platform.spark import get_spark

# The operation metrics worth keeping (Delta names them so; a WRITE has only some of them).
METRICS = ("numTargetRowsCopied", "numTargetRowsUpdated", "numTargetRowsInserted", "numTargetRowsDeleted",
           "numTargetFilesAdded", "numTargetFilesRemoved", "numOutputRows", "numFiles", "numRemovedFiles",
           "scanTimeMs", "rewriteTimeMs", "executionTimeMs")


def incremental_models(run_results: dict[str, Any], manifest: dict[str, Any]) -> dict[str, str]:
    """``{model name: schema.table}`` of the incremental models the build ran."""
    ran = {r["unique_id"] for r in run_results["results"]}
    return {node["name"]: f"{node['schema']}.{node['alias']}" for uid, node in manifest["nodes"].items()
            if uid in ran and node["resource_type"] == "model"
            and node["config"].get("materialized") == "incremental"}


def _started(run_results: dict[str, Any]) -> dt.datetime:
    """When the build began (its first node's start), as a naive UTC time like Delta's history."""
    first = min(start for start, _ in wall_share.spans(run_results).values())
    return dt.datetime.fromtimestamp(first, dt.UTC).replace(tzinfo=None)


def commits_since(spark: SparkSession, table: str, since: dt.datetime) -> list[dict[str, Any]]:
    """The table's commits at or after ``since``, oldest first, with the kept metrics as numbers."""
    rows = (spark.sql(f"describe history {table}").where(f"timestamp >= timestamp'{since.isoformat(sep=' ')}'")
            .orderBy("version").collect())
    return [{"version": int(r.version), "operation": r.operation,
             **{m: int(r.operationMetrics[m]) for m in METRICS if m in (r.operationMetrics or {})}} for r in rows]


def main(argv: list[str]) -> int:
    settings = load_settings()
    manifest = json.loads((settings.dbt_target_dir / "manifest.json").read_text())
    spark = get_spark("bench-merge-metrics", settings)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in argv:
        run_results = json.loads(Path(path).read_text())
        since = _started(run_results)
        for name, table in sorted(incremental_models(run_results, manifest).items()):
            found[name] = commits_since(spark, table, since)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
