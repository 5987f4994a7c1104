"""Benchmark results: one JSON per scale and run, and bench/results/latest.md from the newest of each scale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stages import CHAIN_STEPS, PIPELINE

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GIB = 1024.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def ratios(stages: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The side-by-side ratios the issue asks for (a stage missing from the run gives None)."""
    get = lambda stage, key: stages.get(stage, {}).get(key)  # noqa: E731
    spark_transform = None
    if get("ingest", "seconds") is not None and get("dbt_full", "duckdb_equivalent_node_seconds") is not None:
        spark_transform = get("ingest", "seconds") + get("dbt_full", "duckdb_equivalent_node_seconds")
    return {
        "spark_transforms_over_duckdb": _ratio(spark_transform, get("duckdb", "seconds")),
        "embedded_als_fit_over_implicit_fit": _ratio(get("als_peer", "embedded_fit_seconds"),
                                                     get("als_peer", "implicit_fit_seconds")),
        "spark_als_fit_over_implicit_fit": _ratio(get("als_peer", "spark_fit_seconds"),
                                                  get("als_peer", "implicit_fit_seconds")),
        "ndcg10_embedded_over_implicit": _ratio(get("als_peer", "embedded_ndcg@10"),
                                                get("als_peer", "implicit_ndcg@10")),
        "ndcg10_spark_over_implicit": _ratio(get("als_peer", "spark_ndcg@10"), get("als_peer", "implicit_ndcg@10")),
        "sync_rate_over_raw_load_rate": get("mysql_raw", "sync_vs_raw"),
        "incremental_over_full_build": _ratio(get("dbt_incremental", "seconds"), get("dbt_full", "seconds")),
        "daily_training_over_refit": _ratio(get("train", "seconds"), get("refit", "seconds")),
        "served_hit_rate10_model_over_popularity": _ratio(
            (get("sync", "served_outcomes") or {}).get("model", {}).get("hit_rate_at_10"),
            (get("sync", "served_outcomes") or {}).get("popularity", {}).get("hit_rate_at_10")),
        **{f"ndcg10_updated_{days}_days_over_refit": stages.get("update_quality", {}).get(
            f"after_{days}_days", {}).get("over_refit") for days in (1, 6)},
    }


# What a new day costs once the lakehouse holds the history: land it, update, retrain, serve.
DAILY_PATH = CHAIN_STEPS["daily"]


def daily_path_seconds(stages: dict[str, dict[str, Any]]) -> float | None:
    """The one-process daily chain's wall time, else the sum of its steps run as separate processes."""
    if "daily" in stages:
        return stages["daily"]["seconds"]
    if not all(s in stages for s in DAILY_PATH):
        return None
    return round(sum(stages[s]["seconds"] for s in DAILY_PATH), 1)


def _processes(stages: dict[str, dict[str, Any]]) -> list[str]:
    """The pipeline's processes in the run: chains and separate stages, not the steps inside a chain."""
    return [s for s in PIPELINE if s in stages and not stages[s].get("in_process")]


def _complete(stages: dict[str, dict[str, Any]]) -> bool:
    return "generate" in stages and all(chain in stages or all(step in stages for step in steps)
                                        for chain, steps in CHAIN_STEPS.items())


def _marks(stage: dict[str, Any]) -> float:
    """The sum of the high-water marks of a stage's processes: an upper bound of what they held at once."""
    return sum(stage.get("peak_mb", {}).values())


def _at_once(stage: dict[str, Any]) -> float:
    """What a stage's processes held at once (sampled; runs before that measure: the upper bound)."""
    if "peak_together_mb" not in stage:
        return _marks(stage)
    return stage["peak_together_mb"] + stage.get("peak_mb", {}).get("cluster", 0.0)


def summarise(scale: str, rows: int, started: str, stages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pipeline = _processes(stages)
    peers = [s for s in stages if s not in PIPELINE]
    return {
        "scale": scale, "rows": rows, "started": started,
        "end_to_end_seconds": round(sum(stages[s]["seconds"] for s in pipeline), 1),
        "end_to_end_complete": _complete(stages),
        "daily_path_seconds": daily_path_seconds(stages),
        "peak_memory_gib": round(max((_at_once(stages[s]) for s in pipeline), default=0.0) / GIB, 2),
        "peak_memory_marks_gib": round(max((_marks(stages[s]) for s in pipeline), default=0.0) / GIB, 2),
        "peer_peak_memory_gib": round(max((_at_once(stages[s]) for s in peers), default=0.0) / GIB, 2),
        "ratios": ratios(stages),
        "stages": stages,
    }


def write(summary: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{summary['started'][:10]}-{summary['scale']}.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    (RESULTS_DIR / "latest.md").write_text(markdown(latest()), encoding="utf-8")
    return path


def latest() -> list[dict[str, Any]]:
    """The newest result of each scale, smallest scale first."""
    newest: dict[str, dict[str, Any]] = {}
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        if result["scale"] not in newest or result["started"] >= newest[result["scale"]]["started"]:
            newest[result["scale"]] = result
    return sorted(newest.values(), key=lambda r: r["rows"])


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


STAGE_ORDER = ("generate", "cluster_up", "load", "ingest", "dbt_full", "refit", "duckdb", "daily", "ingest_day",
               "dbt_incremental", "train", "dbt_recommendations", "sync", "analyst_load", "als_peer", "update_quality",
               "tableau_extract", "mysql_raw", "ease_serve", "tune")


def _wall_share_sentence(nodes: dict[str, Any]) -> str:
    """A sentence on a build's shares of the wall time (bench/wall_share.py), or "" without them."""
    kinds, largest = nodes.get("wall_share_by_kind"), nodes.get("largest_wall_shares")
    if not kinds or not largest:
        return ""
    return (" Of the wall time (each moment split among the nodes running then): "
            + ", ".join(f"{kind} {seconds} s" for kind, seconds in kinds.items()) + "; largest: "
            + ", ".join(f"{n.split('.', 2)[-1]} {t} s" for n, t in largest.items()) + ".")


def _write_summary(commits: list[dict[str, Any]]) -> str:
    """One model's commits of a build, e.g. "MERGE copied 7,412,020, updated 101,337, inserted 95,120 rows"."""
    if not commits:
        return "unchanged"
    parts = []
    for c in commits:
        rows = {name: c.get(f"numTargetRows{name.capitalize()}") for name in ("copied", "updated", "inserted",
                                                                              "deleted")}
        counted = ", ".join(f"{name} {n:,}" for name, n in rows.items() if n)
        if not counted and c.get("numOutputRows") is not None:
            counted = f"wrote {c['numOutputRows']:,}"
        parts.append(f"{c['operation']} {counted or 'no rows'}".strip())
    return " + ".join(parts) + " rows"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["# Benchmark results (latest run of each scale)", "",
             "Generated by `make bench`; every ratio is measured within one run on this machine. "
             "Peak memory per stage: the kernel's high-water mark (VmHWM) of the Python process and of the Spark "
             "driver JVM; the headline figure is the largest resident memory the stage's processes held at "
             "once (sampled every 0.2 s; results from before that measure give the sum of the marks). "
             "`load` and `daily` run their steps in one process, as "
             "`make recommend` does; the ↳ rows are those steps' own seconds, the chain's row its wall time "
             "(start-up included).", ""]
    for r in results:
        cluster = any("cluster" in s.get("peak_mb", {}) for s in r["stages"].values())
        lines += [f"## {r['scale']} events ({r['rows']:,} generated, run started {r['started']})", "",
                  f"End to end (pipeline stages, peers excluded): **{r['end_to_end_seconds']:,.0f} s**"
                  + ("" if r["end_to_end_complete"] else " (partial run)")
                  + (f"; daily path (a new day, ingest to MySQL): **{r['daily_path_seconds']:,.0f} s**"
                     if r.get("daily_path_seconds") else "")
                  + f"; peak memory of any pipeline process with its children: **{r['peak_memory_gib']} GiB** "
                  + (f"at once (sum of their high-water marks: {r['peak_memory_marks_gib']} GiB) "
                     if "peak_memory_marks_gib" in r else "")
                  + f"(peers: {r.get('peer_peak_memory_gib', '–')} GiB).", "",
                  "| stage | seconds | rows | rows/s | peak Python MiB | peak JVM MiB |"
                  + (" cluster MiB (sum of its processes' peaks) |" if cluster else ""),
                  "|---|---:|---:|---:|---:|---:|" + ("---:|" if cluster else "")]
        for name in STAGE_ORDER:
            s = r["stages"].get(name)
            if s is None:
                continue
            peak = s.get("peak_mb", {})
            label = f"↳ {name} (in {s['in_process']})" if s.get("in_process") else (
                f"**{name}** (one process: {' + '.join(CHAIN_STEPS[name])})" if name in CHAIN_STEPS else name)
            lines.append(f"| {label} | {_fmt(s.get('seconds'))} | {_fmt(s.get('rows'))} "
                         f"| {_fmt(s.get('rows_per_second'))} "
                         f"| {_fmt(peak.get('python'), 0)} | {_fmt(peak.get('jvm'), 0)} |"
                         + (f" {_fmt(peak.get('cluster'), 0)} |" if cluster else ""))
        daily = daily_path_seconds(r["stages"])
        if daily is not None and "daily" not in r["stages"]:
            lines.append(f"| **daily path** ({' + '.join(DAILY_PATH)}) | **{_fmt(daily)}** | | | | |"
                         + (" |" if cluster else ""))
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {k.replace('_', ' ')} | {_fmt(v, 3)} |" for k, v in r["ratios"].items()]
        als = r["stages"].get("als_peer")
        if als:
            lines += ["", f"ALS on {als['pairs']:,} training pairs ({als['scored_users']:,} users scored): Spark fit "
                      f"{als['spark_fit_seconds']} s, NDCG@10 {als['spark_ndcg@10']:.4f}; implicit fit "
                      f"{als['implicit_fit_seconds']} s, NDCG@10 {als['implicit_ndcg@10']:.4f}."]
        for build in ("dbt_full", "dbt_incremental", "dbt_recommendations"):
            nodes = r["stages"].get(build, {})
            if nodes.get("slowest_nodes"):
                lines += ["", f"{build}: {_fmt(nodes.get('nodes'))} nodes, "
                          f"models {_fmt(nodes.get('models_seconds'))} s and "
                          f"tests {_fmt(nodes.get('tests_seconds'))} s of node time (threads overlap); slowest: "
                          + ", ".join(f"{n.split('.', 2)[-1]} {t} s" for n, t in nodes["slowest_nodes"].items()) + "."
                          + _wall_share_sentence(nodes)]
        writes = r["stages"].get("dbt_incremental", {}).get("writes")
        if writes:
            lines += ["", "Incremental writes of the daily builds (Delta operation metrics; copied: rows rewritten "
                      "unchanged): " + "; ".join(f"{model} {_write_summary(commits)}"
                                                  for model, commits in writes.items()) + "."]
        quality = r["stages"].get("update_quality")
        if quality:
            lines += ["", f"Daily updates against a refit on the same data ({quality['scored_users']:,} users, test "
                      f"window from {quality['window']['eval_cutoff']}): refit NDCG@10 {quality['refit_ndcg@10']:.4f}; "
                      + "; ".join(f"updated for {d} day(s) {quality[f'after_{d}_days']['ndcg@10']:.4f} "
                                  f"({quality[f'after_{d}_days']['over_refit']:.3f} of the refit)"
                                  for d in (1, 6)) + "."]
        train = r["stages"].get("refit") or r["stages"].get("train", {})
        if train.get("fit_seconds"):
            lines += ["", "Evaluation in `ml run` (same users, time split): " + "; ".join(
                f"{m} NDCG@10 {train['ndcg_at_10'][m]:.4f}, fit {s:.1f} s" for m, s in train["fit_seconds"].items())
                + (f"; oracle {train['ndcg_at_10']['oracle']:.4f}" if "oracle" in train["ndcg_at_10"] else "") + "."]
        ease = r["stages"].get("ease_serve")
        if ease:
            peak = ease.get("peak_mb", {})
            lines += ["", f"EASE serving alone (fit + top-N for {ease['counts']['users']:,} users): "
                      f"{ease['seconds']:.0f} s (fit {ease['stage_seconds'].get('serve_fit', 0):.0f} s, top-N "
                      f"{ease['stage_seconds'].get('serve_recommend', 0):.0f} s), peak Python "
                      f"{_fmt(peak.get('python'), 0)} MiB, JVM {_fmt(peak.get('jvm'), 0)} MiB."]
        tuned = r["stages"].get("tune")
        if tuned:
            lines += ["", f"`make tune` ({len(tuned['trials']) - 1} candidates, {tuned['seconds']:.0f} s) chose "
                      f"{tuned['chosen']}; test window NDCG@10 {tuned['chosen_test']['ndcg@10']:.4f} vs ALS defaults "
                      f"{tuned['defaults_test']['ndcg@10']:.4f} ({tuned['test_users']:,} users)."]
        lines += _analyst_load_lines(r["stages"].get("analyst_load"))
        duck = r["stages"].get("duckdb")
        if duck:
            agree = ", ".join(f"{t} {'agrees' if v['agree'] else 'DIFFERS'}" for t, v in duck["agreement"].items())
            lines += ["", f"DuckDB vs Spark/dbt on the same CSVs: {agree}."]
        lines.append("")
    return "\n".join(lines + side_by_side(results))


def _analyst_load_lines(stage: dict[str, Any] | None) -> list[str]:
    """The load stage's sentence (bench/analyst_load.py), or nothing without its figures."""
    if not stage or "analysts" not in stage:
        return []
    a, build = stage["analysts"], stage["analysts"].get("dbt_build", {})
    return ["", f"Analysts under load ({a['sessions']} sessions on the Thrift Server, each its own account, during the "
            f"next day's chain): {a['queries']:,} mart queries, {a['failed']} failed; latency p50 "
            f"{_fmt(a['p50_seconds'], 2)} s, p95 {_fmt(a['p95_seconds'], 2)} s, max {_fmt(a['max_seconds'], 2)} s; "
            f"`dbt build --select {build.get('select')}` {'succeeded' if build.get('succeeded') else 'FAILED'} in "
            f"{_fmt(build.get('seconds'))} s (attempts: {build.get('attempts')}). The chain took "
            f"{stage['seconds']:,.0f} s against {_fmt(stage.get('chain_alone_seconds'), 0)} s alone (`daily`): "
            f"slowdown {_fmt(stage.get('slowdown'), 2)}."]


def side_by_side(results: list[dict[str, Any]]) -> list[str]:
    """Embedded vs cluster for each scale measured both ways: seconds per stage, dbt seconds per node."""
    by_scale = {r["scale"]: r for r in results}
    lines: list[str] = []
    for scale, embedded in by_scale.items():
        cluster = by_scale.get(f"{scale}-cluster")
        if cluster is None:
            continue
        lines += [f"## {scale}: embedded vs cluster", "",
                  f"End to end: embedded {embedded['end_to_end_seconds']:,.0f} s, cluster "
                  f"{cluster['end_to_end_seconds']:,.0f} s (`make cluster-up` "
                  f"{cluster['stages'].get('cluster_up', {}).get('seconds', 0):.0f} s not included).", "",
                  "| stage | embedded s | cluster s | cluster / embedded | dbt nodes "
                  "| s per node, embedded (wall / node mean) | s per node, cluster (wall / node mean) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name in PIPELINE:
            e, c = embedded["stages"].get(name), cluster["stages"].get(name)
            if e is None or c is None:
                continue
            per_node = [f"{_fmt(x.get('wall_seconds_per_node'), 2)} / {_fmt(x.get('node_seconds_mean'), 2)}"
                        if "nodes" in x else "" for x in (e, c)]
            lines.append(f"| {name} | {_fmt(e['seconds'])} | {_fmt(c['seconds'])} | "
                         f"{_fmt(_ratio(c['seconds'], e['seconds']), 2)} | {_fmt(c.get('nodes'))} "
                         f"| {per_node[0]} | {per_node[1]} |")
        lines.append("")
    return lines
