"""Analysts on the shared Thrift Server while the daily chain runs (`make bench`, cluster engine).

``python -m bench.analyst_load --sessions 7 --stop-file F --report R``: each session logs in with its own
account (``ANALYST_ACCOUNTS``: ``name:password`` pairs, one per session, from the environment) and runs the
mart queries a dashboard sends, one after another, until ``F`` exists; one more analyst runs plain
``dbt build --target thrift`` of a downstream selection once (``dbt retry`` after a failed node, as an
analyst would). The report: queries run and failed, p50 / p95 / max latency, the build's outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.platform.config import REPO_ROOT

# What a dashboard asks of the marts (bounded results: a page's worth of rows each).
QUERIES = {
    "daily_revenue": "select event_date, revenue, purchases from marts.daily_revenue order by event_date",
    "brand_top20": "select brand, revenue from marts.brand_rankings order by revenue desc limit 20",
    "category_revenue": "select category, revenue from marts.category_revenue where category_level = 1 "
                        "order by revenue desc",
    "funnel": "select event_date, sum(views), sum(carts), sum(purchases) from marts.funnel_daily_category "
              "group by event_date order by event_date",
    "top_customers": "select user_id, spend from marts.top_customers order by spend desc limit 50",
    "cohorts": "select * from marts.customer_cohorts",
    "user_list": "select product_id, recommendation_rank from marts.user_recommendations where user_id = {user} "
                 "order by recommendation_rank",
    "outcomes": "select list_source, sum(buyers), avg(hit_rate_at_10) from marts.recommendation_outcomes "
                "group by list_source",
}


@dataclass
class Session:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _accounts() -> list[tuple[str, str]]:
    pairs = [item.split(":", 1) for item in os.environ.get("ANALYST_ACCOUNTS", "").split()]
    return [(name, password) for name, password in pairs]


def _run_session(session: Session, password: str, host: str, port: int, users: list[int], stop: Path) -> None:
    from pyhive import hive

    rng = random.Random(session.name)
    conn = hive.connect(host=host, port=port, username=session.name, auth="LDAP", password=password)
    cursor = conn.cursor()
    names = sorted(QUERIES)
    try:
        while not stop.exists():
            name = rng.choice(names)
            sql = QUERIES[name].format(user=rng.choice(users) if users else 0)
            started = time.perf_counter()
            try:
                cursor.execute(sql)
                cursor.fetchall()
                session.latencies.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported, none hidden
                session.failures.append(f"{name}: {str(exc)[:300]}")
    finally:
        conn.close()


def _dbt_build(account: tuple[str, str], port: int, select: str, work: Path) -> dict[str, object]:
    """Plain dbt as an analyst runs it, with its own target folder (the chain uses the project's)."""
    env = {"PATH": os.defpath, "HOME": os.environ.get("HOME", "/root"), "SPARK_THRIFT_PORT": str(port),
           "SPARK_THRIFT_USER": account[0], "SPARK_THRIFT_PASSWORD": account[1],
           "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs"),
           "LAKEHOUSE_JARS_DIR": os.environ.get("LAKEHOUSE_JARS_DIR", str(REPO_ROOT / ".jars"))}
    dbt = str(Path(sys.executable).parent / "dbt")
    started, attempts = time.perf_counter(), []
    command = [dbt, "build", "--target", "thrift", "--select", select, "--profiles-dir", "../profiles"]
    for _ in range(3):
        result = subprocess.run(command, cwd=REPO_ROOT / "dbt_project", env=env, capture_output=True, text=True,
                                timeout=3600)
        attempts.append(result.returncode)
        (work / f"dbt-attempt-{len(attempts)}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
        if result.returncode == 0:
            break
        command = [dbt, "retry", "--profiles-dir", "../profiles"]
    return {"select": select, "seconds": round(time.perf_counter() - started, 1), "attempts": attempts,
            "succeeded": attempts[-1] == 0}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3) \
        if len(values) > 1 else round(values[0], 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--dbt-select", default="marts.revenue")
    parser.add_argument("--users", default="", help="user ids the list query picks from (comma-separated)")
    args = parser.parse_args()
    accounts = _accounts()
    if len(accounts) < 2:
        raise SystemExit("ANALYST_ACCOUNTS needs at least two name:password pairs")
    users = [int(u) for u in args.users.split(",") if u]
    sessions = [Session(name) for name, _ in accounts[1:]]
    threads = [threading.Thread(target=_run_session, args=(s, p, args.host, args.port, users, args.stop_file))
               for s, (_, p) in zip(sessions, accounts[1:])]
    build: dict[str, object] = {}
    work = args.report.parent / "analyst_dbt"
    work.mkdir(parents=True, exist_ok=True)
    builder = threading.Thread(target=lambda: build.update(_dbt_build(accounts[0], args.port, args.dbt_select, work)))
    started = time.perf_counter()
    for thread in (*threads, builder):
        thread.start()
    for thread in (*threads, builder):
        thread.join()
    latencies = [x for s in sessions for x in s.latencies]
    report = {"sessions": len(sessions) + 1, "seconds": round(time.perf_counter() - started, 1),
              "queries": len(latencies), "failed": sum(len(s.failures) for s in sessions),
              "failures": [f for s in sessions for f in s.failures][:10],
              "p50_seconds": _quantile(latencies, 0.50), "p95_seconds": _quantile(latencies, 0.95),
              "max_seconds": round(max(latencies), 3) if latencies else None, "dbt_build": build}
    args.report.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
