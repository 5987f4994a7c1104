"""Where a threaded dbt build's wall time went: each moment split evenly among the nodes running then.

dbt's per-node seconds overlap (threads share the cores, and a node waiting for the cluster counts its wait),
so their sum says little about what a node cost the build. Its share of the wall time does: the shares add
up to the time the build had a node running.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def _seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def spans(run_results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """``{unique_id: (start, end)}`` of every node with timings (compile start to execute end)."""
    found = {}
    for result in run_results["results"]:
        times = [(_seconds(t["started_at"]), _seconds(t["completed_at"])) for t in result.get("timing", [])
                 if t.get("started_at") and t.get("completed_at")]
        if times:
            found[result["unique_id"]] = (min(s for s, _ in times), max(e for _, e in times))
    return found


def wall_shares(run_results: dict[str, Any]) -> dict[str, float]:
    """Each node's share of the wall time, in seconds."""
    running = spans(run_results)
    edges = sorted({t for span in running.values() for t in span})
    shares = dict.fromkeys(running, 0.0)
    for start, end in zip(edges, edges[1:], strict=False):
        during = [node for node, (s, e) in running.items() if s <= start and e >= end]
        for node in during:
            shares[node] += (end - start) / len(during)
    return shares


def by_kind(shares: dict[str, float]) -> dict[str, float]:
    """The shares summed by resource type: model, test (and unit_test), operation (hooks)."""
    kinds: dict[str, float] = {}
    for node, share in shares.items():
        kind = node.split(".", 1)[0]
        kind = "test" if kind == "unit_test" else kind
        kinds[kind] = kinds.get(kind, 0.0) + share
    rounded = {kind: round(total, 1) for kind, total in sorted(kinds.items())}
    return {kind: total for kind, total in rounded.items() if total > 0}  # exposures take (next to) none
