"""The benchmark's stages for one scale: each runs the real entry point as its own process on a
lakehouse of its own, measured by bench.monitor; peers run on the same data in the same run."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import wall_share
from bench.monitor import Measured, run_measured
from bench.peers.mysql_raw_load import measure
from pipeline.mysql import local_server
from pipeline.mysql.connection import connect
from pipeline.platform.config import REPO_ROOT, dbt_target_dir, mysql_env

DAYS = 30  # a full build covers these; the days after them are held back for the incremental stages
HELD_BACK_DAYS = {"embedded": 1, "cluster": 2}
SEED = 42
# Models that do what the DuckDB peer does (ingest aside): their run times are the Spark side.
DUCKDB_EQUIVALENT_NODES = ("model.recolake.stg_raw__events",
                           "model.recolake.int_events_checked", "model.recolake.cleaned_events",
                           "model.recolake.daily_revenue", "model.recolake.brand_rankings",
                           "model.recolake.user_item_days", "model.recolake.user_item_interactions")


def _python_m(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class StageFailed(RuntimeError):
    """A measured command exited non-zero; the message points at its log."""


@dataclass
class Scale:
    label: str
    rows: int
    root: Path
    mysql_port: int
    engine: str = "embedded"
    cluster_ports: tuple[int, int, int, int] = (0, 0, 0, 0)  # master, master UI, Thrift Server, LDAP (cluster)
    shape: str = "default"  # the generator's preset (pipeline/generate/params.py SHAPES)
    # The cluster runs as a team shares it: the Thrift Server checks passwords (THRIFT_AUTH=ldap).
    thrift_password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def held_back(self) -> Path:
        return self.root / "held_back"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")}
        env.update(LAKEHOUSE_DIR=str(self.root / "lakehouse"), RAW_DIR=str(self.raw_dir),
                   TRUTH_DIR=str(self.root / "truth"), REPORTS_DIR=str(self.root / "reports"),
                   MYSQL_LOCAL_DIR=str(self.root / "mysql"), MYSQL_LOCAL_PORT=str(self.mysql_port),
                   OPENBLAS_NUM_THREADS="1")  # implicit parallelises itself; nested BLAS threads only contend
        if self.engine == "cluster":
            master, ui, thrift, ldap = self.cluster_ports
            env.update(LAKEHOUSE_ENGINE="cluster", CLUSTER_DIR=str(self.root / "cluster"),
                       SPARK_MASTER_PORT=str(master), SPARK_MASTER_WEBUI_PORT=str(ui), SPARK_THRIFT_PORT=str(thrift),
                       THRIFT_AUTH="ldap", LDAP_PORT=str(ldap), SPARK_THRIFT_PASSWORD=self.thrift_password)
        return env

    def next_day(self) -> Path:
        """The earliest held-back day's file, moved into the landing folder."""
        day = sorted(self.held_back.glob("*.csv"))[0]
        shutil.move(str(day), self.raw_dir / day.name)
        return self.raw_dir / day.name

    def cluster_pids(self) -> list[int]:
        """Pids of the cluster's daemons (master, workers, Thrift Server) from their pid files."""
        pids = []
        for path in (self.root / "cluster" / "pids").glob("*.pid"):
            try:
                pids.append(int(path.read_text().strip()))
            except (OSError, ValueError):
                continue
        return pids

    def run(self, stage: str, *args: str) -> Measured:
        log = self.root / "logs" / f"{stage}.log"
        measured = run_measured(_python_m(*args), self.env, log, REPO_ROOT,
                                self.cluster_pids if self.engine == "cluster" else None)
        if measured.returncode != 0:
            tail = log.read_text(errors="replace")[-1500:]
            raise StageFailed(f"{stage} exited with {measured.returncode}; log {log} ends with:\n{tail}")
        return measured

    def last_json(self, stage: str) -> dict[str, Any]:
        lines = (self.root / "logs" / f"{stage}.log").read_text().splitlines()
        return json.loads(next(line for line in reversed(lines) if line.startswith("{")))


def _data_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1
    return total


def _result(measured: Measured, rows: int | None = None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"seconds": measured.seconds, "peak_mb": measured.peak_mb,
                              "peak_together_mb": measured.together_mb,
                              "peak_together_by_kind": measured.together_by_kind}
    if rows is not None:
        result["rows"] = rows
        result["rows_per_second"] = round(rows / measured.seconds) if measured.seconds else None
    return {**result, **extra}


def generate(scale: Scale) -> dict[str, Any]:
    shutil.rmtree(scale.root, ignore_errors=True)
    scale.root.mkdir(parents=True)
    measured = scale.run("generate", "pipeline.generate", "--shape", scale.shape, "--rows", str(scale.rows),
                         "--days", str(DAYS + HELD_BACK_DAYS[scale.engine]), "--seed", str(SEED), "--quiet")
    files = sorted(scale.raw_dir.glob("*.csv"))
    scale.held_back.mkdir()
    # The new day of `daily`; on the cluster, one more for the chain under the analysts' load.
    for held in files[-HELD_BACK_DAYS[scale.engine]:]:
        shutil.move(str(held), scale.held_back / held.name)
    return _result(measured, scale.rows, files=len(files))


def ingest(scale: Scale) -> dict[str, Any]:
    lines = _data_lines(sorted(scale.raw_dir.glob("*.csv")))
    return _result(scale.run("ingest", "pipeline.ingest", "--quiet"), lines)


def _last_dbt_results() -> Path:
    """The last dbt invocation's run_results.json, where the children (this environment) write it."""
    return dbt_target_dir(REPO_ROOT / "dbt_project") / "run_results.json"


def _dbt_nodes(results: dict[str, Any]) -> dict[str, float]:
    """Execution seconds of every node of a dbt invocation (its run_results.json, loaded)."""
    return {r["unique_id"]: r["execution_time"] for r in results["results"]}


def _per_node(seconds: float, nodes: dict[str, float]) -> dict[str, Any]:
    """Node count and seconds per node: wall (start-up included) and the nodes' own mean."""
    count = len(nodes) or 1
    return {"nodes": len(nodes), "wall_seconds_per_node": round(seconds / count, 3),
            "node_seconds_mean": round(sum(nodes.values()) / count, 3)}


def _build_details(seconds: float, results_file: Path | None = None, slowest: int = 5) -> dict[str, Any]:
    """Per-node figures of a dbt build (from its run_results.json): where a full or an incremental
    build spends its time, by dbt's node seconds and by the nodes' shares of the wall time (bench/wall_share.py)."""
    results = json.loads((results_file or _last_dbt_results()).read_text())
    nodes, shares = _dbt_nodes(results), wall_share.wall_shares(results)
    return {**_per_node(seconds, nodes),
            "duckdb_equivalent_node_seconds": round(sum(nodes.get(n, 0.0) for n in DUCKDB_EQUIVALENT_NODES), 2),
            "models_seconds": round(sum(t for n, t in nodes.items() if n.startswith("model.")), 2),
            "tests_seconds": round(sum(t for n, t in nodes.items() if n.startswith(("test.", "unit_test."))), 2),
            "slowest_nodes": _largest(nodes, slowest),
            "wall_share_by_kind": wall_share.by_kind(shares), "largest_wall_shares": _largest(shares, slowest)}


def _largest(seconds: dict[str, float], count: int) -> dict[str, float]:
    """The ``count`` largest of ``seconds``, largest first, to 0.1 s."""
    return {n: round(t, 1) for n, t in sorted(seconds.items(), key=lambda kv: -kv[1])[:count]}


def dbt_full(scale: Scale) -> dict[str, Any]:
    measured = scale.run("dbt_full", "pipeline.transform", "build", "--full-refresh",
                         "--exclude", "tag:recommendations")
    return _result(measured, _data_lines(sorted(scale.raw_dir.glob("*.csv"))),
                   **_build_details(measured.seconds))


def duckdb(scale: Scale) -> dict[str, Any]:
    out = scale.root / "duckdb"
    measured = scale.run("duckdb", "bench.peers.duckdb_sql", str(scale.raw_dir), str(out))
    peer = scale.last_json("duckdb")
    scale.run("duckdb_compare", "bench.peers.compare_duckdb", str(out))
    return _result(measured, peer["rows"]["lines_parsed"], sql_seconds=peer["seconds"], tables=peer["rows"],
                   agreement=scale.last_json("duckdb_compare"))


def ingest_day(scale: Scale) -> dict[str, Any]:
    day = scale.next_day()
    return _result(scale.run("ingest_day", "pipeline.ingest", "--quiet"), _data_lines([day]))


def dbt_incremental(scale: Scale) -> dict[str, Any]:
    measured = scale.run("dbt_incremental", "pipeline.transform", "build", "--exclude", "tag:recommendations")
    return _result(measured, **_build_details(measured.seconds, slowest=15))


def _training_details(scale: Scale) -> tuple[int, dict[str, Any]]:
    """Interactions trained on (an update: the changed users' pairs), and the figures of `ml run`'s report
    (reports/last_run.json)."""
    report = json.loads((scale.root / "reports" / "last_run.json").read_text())
    metrics, counts = report["metrics"], report["counts"]
    return counts.get("interactions", counts.get("changed_pairs", 0)), {
        "kind": report.get("kind", "refit"), "stage_seconds": report["stage_seconds"], "counts": counts,
        "ndcg_at_10": {m: v["ndcg@10"] for m, v in metrics.items()},
        "fit_seconds": {m: v["fit_seconds"] for m, v in metrics.items() if "fit_seconds" in v}}


def _synced_rows(scale: Scale, stage: str) -> int:
    """Rows the sync loaded, from the last summary line of the stage's log."""
    return int(re.findall(r": (\d+) rows loaded in", (scale.root / "logs" / f"{stage}.log").read_text())[-1])


def _synced_tables(scale: Scale, stage: str) -> dict[str, dict[str, Any]]:
    """Each table's rows, load path and seconds, from the sync's lines in the stage's log
    (pipeline/sync/load.py)."""
    found = re.findall(r"INFO [\w.]+: (\w+): (\d+) rows via (\w+) in ([\d.]+)s",
                       (scale.root / "logs" / f"{stage}.log").read_text())
    return {table: {"rows": int(rows), "path": path, "seconds": float(seconds)}
            for table, rows, path, seconds in found}


def _chain(scale: Scale, stage: str, *args: str) -> tuple[Measured, dict[str, float]]:
    """`make recommend`'s one-process chain (pipeline/chain/steps.py) and its step seconds."""
    measured = scale.run(stage, "pipeline.chain", "--quiet", *args)
    return measured, json.loads((scale.root / "reports" / "last_chain.json").read_text())["steps"]


def _step(seconds: float, chain: str, rows: int | None = None, **extra: Any) -> dict[str, Any]:
    """A step inside a one-process chain: its own seconds; start-up, peak memory and wall belong to the chain."""
    result: dict[str, Any] = {"seconds": seconds, "in_process": chain}
    if rows is not None:
        result["rows"] = rows
        result["rows_per_second"] = round(rows / seconds) if seconds else None
    return {**result, **extra}


def _served_outcomes(scale: Scale) -> dict[str, dict[str, float]]:
    """Per list source ('model', 'popularity'): buyers with a list in service and the share who bought a
    product of their top 10, over every scored day, as MySQL holds recommendation_outcomes_daily."""
    rows = _mysql_rows(scale, "select list_source, sum(buyers), sum(hit_rate_at_10 * buyers), count(*) "
                              "from recommendation_outcomes_daily group by list_source")
    return {source: {"buyers": int(buyers), "days": int(days),
                     "hit_rate_at_10": round(float(hits) / int(buyers), 4) if buyers else None}
            for source, buyers, hits, days in rows}


def _mysql_rows(scale: Scale, sql: str) -> list[tuple]:
    """The rows of ``sql`` on the scale's private MariaDB."""
    conn = connect(local_server.local_server(mysql_env(scale.env)).app_settings())
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        conn.close()


def load(scale: Scale) -> dict[str, dict[str, Any]]:
    """The first load as `make recommend` runs it, one process: ingest every file, the full build, the
    first (full) fit, the recommendation marts and the first sync. The days after it update that fit."""
    lines = _data_lines(sorted(scale.raw_dir.glob("*.csv")))
    measured, steps = _chain(scale, "load", "--full-refresh", *SERVE_OPTIONS.get(scale.shape, ()))
    interactions, training = _training_details(scale)
    return {"load": _result(measured, lines, steps=steps),
            "ingest": _step(steps["ingest"], "load", lines),
            "dbt_full": _step(steps["transform"], "load", lines, **_build_details(
                steps["transform"], scale.root / "reports" / "run_results_transform.json")),
            "refit": _step(steps["train"], "load", interactions, **training)}


def daily(scale: Scale) -> dict[str, dict[str, Any]]:
    """A new day as `make recommend` runs it, one process: ingest it, incremental build, the model's
    update for the users who changed (a refit when ml/serving/schedule.py says so), their new lists, the sync."""
    lines = _data_lines([scale.next_day()])
    measured, steps = _chain(scale, "daily", *SERVE_OPTIONS.get(scale.shape, ()))
    interactions, training = _training_details(scale)
    builds = [scale.root / "reports" / f"run_results_{step}.json" for step in ("transform", "recommendations")]
    scale.run("merge_metrics", "bench.merge_metrics", *map(str, builds))  # untimed, after the chain
    return {"daily": _result(measured, lines, steps=steps),
            "ingest_day": _step(steps["ingest"], "daily", lines),
            "dbt_incremental": _step(steps["transform"], "daily", **_build_details(
                steps["transform"], builds[0], slowest=15),
                writes=scale.last_json("merge_metrics")),
            "train": _step(steps["train"], "daily", interactions, **training),
            "dbt_recommendations": _step(steps["recommendations"], "daily", **_build_details(
                steps["recommendations"], builds[1])),
            "sync": _step(steps["sync"], "daily", _synced_rows(scale, "daily"),
                          tables=_synced_tables(scale, "daily"), served_outcomes=_served_outcomes(scale))}


# At the seed month's 4.5M users, personal lists go to users active in the last week (ml/params.py
# serve_active_days); the others are served the popular list.
SERVE_OPTIONS = {"rees46-month": ("--serve-active-days", "7")}


def refit(scale: Scale) -> dict[str, Any]:
    """`make train FULL=1`: evaluation and the serving fit on all data, whatever the schedule says."""
    measured = scale.run("refit", "ml", "run", "--quiet", "--full", *SERVE_OPTIONS.get(scale.shape, ()))
    rows, details = _training_details(scale)
    return _result(measured, rows, **details)


def update_quality(scale: Scale) -> dict[str, Any]:
    """NDCG@10 of the model updated day by day for 1 and 6 days against a refit on the same data
    (bench/update_quality.py)."""
    measured = scale.run("update_quality", "bench.update_quality")
    return _result(measured, None, **scale.last_json("update_quality"))


def train(scale: Scale) -> dict[str, Any]:
    measured = scale.run("train", "ml", "run", "--quiet", *SERVE_OPTIONS.get(scale.shape, ()))
    rows, details = _training_details(scale)
    return _result(measured, rows, **details)


def als_peer(scale: Scale) -> dict[str, Any]:
    measured = scale.run("als_peer", "bench.peers.als_peer")
    peer = scale.last_json("als_peer")
    return _result(measured, peer["pairs"], **peer)


def dbt_recommendations(scale: Scale) -> dict[str, Any]:
    measured = scale.run("dbt_recommendations", "pipeline.transform", "build", "--select", "tag:recommendations")
    return _result(measured, **_per_node(measured.seconds, _dbt_nodes(json.loads(_last_dbt_results().read_text()))))


ANALYSTS = 8  # concurrent analyst sessions of the load stage: 7 dashboards' queries, 1 dbt build


def analyst_load(scale: Scale) -> dict[str, Any]:
    """The next day's chain on the cluster while ANALYSTS analysts use the Thrift Server, each with an account
    of their own (bench/analyst_load.py); the chain's seconds against `daily`'s, the chain alone."""
    if scale.engine != "cluster":
        return {"seconds": 0.0, "skipped": "the cluster engine's stage (ENGINES=cluster)"}
    accounts = [(f"analyst{i}", secrets.token_urlsafe(12)) for i in range(1, ANALYSTS + 1)]
    for name, password in accounts:
        added = subprocess.run(_python_m("pipeline.cluster", "add-user", name), input=password + "\n",
                               env=scale.env, capture_output=True, text=True, timeout=120)
        if added.returncode != 0:
            raise StageFailed(f"add-user {name}: {added.stderr[-500:]}")
    lines = _data_lines([scale.next_day()])
    work, stop = scale.root / "analyst_load", scale.root / "analyst_load" / "stop"
    work.mkdir(exist_ok=True)
    stop.unlink(missing_ok=True)
    report = work / "report.json"
    env = {**scale.env, "ANALYST_ACCOUNTS": " ".join(f"{n}:{p}" for n, p in accounts)}
    with (scale.root / "logs" / "analyst_load_sessions.log").open("w") as out:
        analysts = subprocess.Popen(_python_m("bench.analyst_load", "--port", str(scale.cluster_ports[2]),
                                              "--stop-file", str(stop), "--report", str(report),
                                              "--users", ",".join(map(str, _some_users(scale)))),
                                    env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        try:
            time.sleep(LOAD_HEAD_START_SECONDS)  # the sessions are under way when the chain starts
            measured, steps = _chain(scale, "analyst_load", *SERVE_OPTIONS.get(scale.shape, ()))
        finally:
            stop.touch()
            analysts.wait(timeout=3600)
    load = json.loads(report.read_text())
    if load["failed"] or not load["dbt_build"]["succeeded"]:
        raise StageFailed(f"{load['failed']} of {load['queries']} analyst queries failed (dbt build succeeded: "
                          f"{load['dbt_build']['succeeded']}): {load['failures'][:3]}")
    alone = json.loads((scale.root / "stages.json").read_text()).get("daily", {}).get("seconds")
    return _result(measured, lines, steps=steps, analysts=load, chain_alone_seconds=alone,
                   slowdown=round(measured.seconds / alone, 3) if alone else None)


LOAD_HEAD_START_SECONDS = 20


def _some_users(scale: Scale, count: int = 200) -> list[int]:
    """Users with a personal list (the analysts' list query looks them up), from MySQL."""
    return [int(r[0]) for r in _mysql_rows(scale, f"select user_id from user_recommendations__current "
                                                  f"limit {int(count)}")]


def cluster_up(scale: Scale) -> dict[str, Any]:
    """`make cluster-up` (cluster engine only; not part of the chain's end-to-end time)."""
    return _result(scale.run("cluster_up", "pipeline.cluster", "up"))


def sync(scale: Scale) -> dict[str, Any]:
    measured = scale.run("sync", "pipeline.sync", "--quiet")
    return _result(measured, _synced_rows(scale, "sync"))


def tableau_extract(scale: Scale) -> dict[str, Any]:
    """`make tableau-extract` after the sync: the same marts into a Hyper extract."""
    measured = scale.run("tableau_extract", "pipeline.tableau", "extract", "--quiet")
    rows = re.findall(r"(\d+) rows of \d+ marts in", (scale.root / "logs" / "tableau_extract.log").read_text())
    return _result(measured, int(rows[-1]))


def mysql_raw(scale: Scale) -> dict[str, Any]:
    server = local_server.local_server(mysql_env(scale.env))
    local_server.ensure_running(server)  # a resumed run (STAGES=...) starts after the scale's server stopped
    return measure(server.app_settings(), scale.root / "tmp")


def ease_serve(scale: Scale) -> dict[str, Any]:
    """EASE as the serving model, alone: its fit and top-N for every user, time and peak memory.
    Runs after the sync, so the lists it leaves in ml.* are not the ones the pipeline served."""
    measured = scale.run("ease_serve", "ml", "run", "--quiet", "--no-eval", "--no-tuned", "--model", "ease",
                         "--compare", "ease")
    report = json.loads((scale.root / "reports" / "last_run.json").read_text())
    return _result(measured, report["counts"]["interactions"], stage_seconds=report["stage_seconds"],
                   counts=report["counts"])


def tune(scale: Scale) -> dict[str, Any]:
    """`make tune`'s default search (ml/tuning/tune.py: TPE, 24 candidates or 20 s) on the validation folds, then
    the winner and the ALS defaults on the test window."""
    measured = scale.run("tune", "ml", "tune", "--quiet")
    report = json.loads((scale.root / "reports" / "tuning.json").read_text())
    return _result(measured, None, chosen=report["chosen"], validation_users=report["validation_users"],
                   test_users=report["test_users"],
                   chosen_test={k: report["chosen_test"][k] for k in ("ndcg@10", "recall@10", "map@10",
                                                                         "fit_seconds")},
                   defaults_test={k: report["defaults_test"][k] for k in ("ndcg@10", "recall@10", "map@10",
                                                                          "fit_seconds")},
                   trials=[{k: v for k, v in t.items() if k in ("model", "rank", "reg_param", "alpha", "max_iter",
                                                               "strength_transform", "l2", "transform", "ndcg@10",
                                                               "fit_seconds")} for t in report["trials"]])


STAGES: dict[str, Callable[[Scale], dict[str, Any]]] = {
    "generate": generate, "ingest": ingest, "dbt_full": dbt_full, "duckdb": duckdb, "ingest_day": ingest_day,
    "dbt_incremental": dbt_incremental, "refit": refit, "train": train, "als_peer": als_peer,
    "update_quality": update_quality,
    "dbt_recommendations": dbt_recommendations, "sync": sync, "tableau_extract": tableau_extract,
    "mysql_raw": mysql_raw, "ease_serve": ease_serve,
    "tune": tune, "analyst_load": analyst_load,
}
# The same work as `make recommend` runs it: each chain is one process and reports its steps under the
# stage names above (ingest, dbt_full, refit; ingest_day, dbt_incremental, train, dbt_recommendations, sync).
CHAINS: dict[str, Callable[[Scale], dict[str, dict[str, Any]]]] = {"load": load, "daily": daily}
CHAIN_STEPS = {"load": ("ingest", "dbt_full", "refit"),
               "daily": ("ingest_day", "dbt_incremental", "train", "dbt_recommendations", "sync")}
# Run order: a chain takes the place of its steps; peers run where their inputs are ready.
ORDER = ("generate", "load", "ingest", "dbt_full", "refit", "duckdb", "daily", "analyst_load", "ingest_day",
         "dbt_incremental",
         "train", "als_peer", "update_quality", "dbt_recommendations", "sync", "tableau_extract", "mysql_raw",
         "ease_serve", "tune")
# `make bench` without STAGES: the chains and the peers.
DEFAULT_STAGES = tuple(s for s in ORDER if s not in {step for steps in CHAIN_STEPS.values() for step in steps})
# The chain a user runs; peers (duckdb, als_peer, mysql_raw) are not part of end-to-end time.
PIPELINE = ("generate", "load", "ingest", "dbt_full", "refit", "daily", "ingest_day", "dbt_incremental", "train",
            "dbt_recommendations", "sync")


def stop_servers(scale: Scale) -> None:
    """Stop the scale's cluster (if any) and its private MariaDB."""
    if scale.engine == "cluster":
        subprocess.run(_python_m("pipeline.cluster", "down"), env=scale.env, capture_output=True, timeout=300)
    subprocess.run(_python_m("pipeline.mysql", "stop"), env=scale.env, capture_output=True, timeout=120)
