"""The benchmark's own instruments: the peak-memory monitor against a known allocation, and the
ratios and table it reports. (Speed itself is never asserted in tests.)"""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from bench import merge_metrics, report, wall_share
from bench.__main__ import parse_scale
from bench.monitor import run_measured
from pipeline.generate.params import SHAPES
from pipeline.platform.errors import UserError

ALLOCATE_MIB = 400


def test_monitor_sees_the_peak_of_a_child_process(tmp_path):
    # The parent stays small; its child touches 400 MiB, then frees it and lingers.
    child = (f"import time; b = bytearray({ALLOCATE_MIB} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
             "del b; time.sleep(1)")
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    measured = run_measured([sys.executable, "-c", code], {}, tmp_path / "log.txt", tmp_path)
    assert measured.returncode == 0
    assert ALLOCATE_MIB <= measured.peak_mb["python"] < ALLOCATE_MIB + 200
    assert measured.seconds >= 1


def test_monitor_sums_what_processes_hold_at_once_not_their_separate_peaks(tmp_path):
    # Two children at once, 200 MiB each, held until both hold it (ready files) and the parent has waited a
    # second of samples; then a third alone, 300 MiB, held the same way. The handshakes keep the overlap
    # and the peak in the samples on a loaded machine.
    hold = ("import pathlib, sys, time; b = bytearray({mib} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            "pathlib.Path(sys.argv[1]).touch(); deadline = time.time() + 60\n"
            "while not pathlib.Path(sys.argv[2]).exists() and time.time() < deadline: time.sleep(0.05)")
    ready, release = tmp_path / "ready", tmp_path / "release"
    code = ("import pathlib, subprocess, sys, time\n"
            f"pair = [subprocess.Popen([sys.executable, '-c', {hold.format(mib=200)!r}, '{ready}' + str(n), "
            f"'{release}']) for n in range(2)]\n"
            f"while not all(pathlib.Path('{ready}' + str(n)).exists() for n in range(2)): time.sleep(0.05)\n"
            f"time.sleep(1.0); pathlib.Path('{release}').touch()\n"
            "[p.wait() for p in pair]\n"
            f"alone = subprocess.Popen([sys.executable, '-c', {hold.format(mib=300)!r}, '{ready}x', '{release}x'])\n"
            f"while not pathlib.Path('{ready}x').exists(): time.sleep(0.05)\n"
            f"time.sleep(1.0); pathlib.Path('{release}x').touch(); sys.exit(alone.wait())")
    measured = run_measured([sys.executable, "-c", code], {}, tmp_path / "log.txt", tmp_path)
    assert measured.returncode == 0
    assert 300 <= measured.peak_mb["python"] < 300 + 100  # the largest single process
    assert 400 <= measured.together_mb < 400 + 150  # the pair together, not 200 + 200 + 300


def test_monitor_counts_a_fork_that_shares_its_parents_pages_once(tmp_path):
    # A fork without exec (the JVM spawning a shell command, a Python worker forked from its daemon)
    # shows its parent's resident pages as its own until it execs or writes them.
    code = ("import os, time\n"
            "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])\n"
            "pid = os.fork()\n"
            "time.sleep(1.5)\n"
            "os._exit(0) if pid == 0 else os.waitpid(pid, 0)")
    measured = run_measured([sys.executable, "-c", code], {}, tmp_path / "log.txt", tmp_path)
    assert measured.returncode == 0
    assert 300 <= measured.together_mb < 300 + 100 and measured.together_by_kind["processes"] == 1


def test_ratios_and_markdown_from_stage_results():
    stages = {
        "ingest": {"seconds": 10.0, "rows": 1000, "rows_per_second": 100, "peak_mb": {"python": 100.0, "jvm": 900.0}},
        "dbt_full": {"seconds": 100.0, "duckdb_equivalent_node_seconds": 30.0, "peak_mb": {"jvm": 2048.0}},
        "dbt_incremental": {"seconds": 12.0, "peak_mb": {}, "nodes": 3, "models_seconds": 9.0, "tests_seconds": 4.5,
                            "slowest_nodes": {"model.recolake.cleaned_events": 6.0,
                                              "test.recolake.not_null_x.ab12": 4.5},
                            "wall_share_by_kind": {"model": 7.0, "test": 3.0},
                            "largest_wall_shares": {"model.recolake.cleaned_events": 5.5},
                            "writes": {"dim_users": [{"version": 3, "operation": "MERGE", "numTargetRowsCopied": 900,
                                                      "numTargetRowsUpdated": 80, "numTargetRowsInserted": 20}],
                                       "user_recommendations": [{"version": 5, "operation": "WRITE",
                                                                 "numOutputRows": 1200}],
                                       "similar_products": []}},
        "duckdb": {"seconds": 4.0, "peak_mb": {}, "agreement": {"cleaned": {"agree": True}}},
        "als_peer": {"seconds": 50.0, "embedded_fit_seconds": 3.3, "spark_fit_seconds": 9.0,
                     "implicit_fit_seconds": 3.0, "embedded_ndcg@10": 0.11, "spark_ndcg@10": 0.12,
                     "implicit_ndcg@10": 0.10, "pairs": 5, "scored_users": 2, "peak_mb": {}},
        "mysql_raw": {"seconds": 1.0, "sync_vs_raw": 0.4},
        "refit": {"seconds": 80.0, "in_process": "load"},
        "train": {"seconds": 8.0, "in_process": "daily"},
        "sync": {"seconds": 30.0, "in_process": "daily",
                 "served_outcomes": {"model": {"buyers": 40, "days": 1, "hit_rate_at_10": 0.09},
                                     "popularity": {"buyers": 40, "days": 1, "hit_rate_at_10": 0.03}}},
        "update_quality": {"seconds": 60.0, "scored_users": 300, "window": {"eval_cutoff": "2026-01-24"},
                           "refit_ndcg@10": 0.2, "after_1_days": {"ndcg@10": 0.199, "over_refit": 0.995},
                           "after_6_days": {"ndcg@10": 0.19, "over_refit": 0.95}},
    }
    summary = report.summarise("1k", 1000, "2026-11-25T00:00:00Z", stages)
    assert summary["ratios"] == {"spark_transforms_over_duckdb": 10.0, "embedded_als_fit_over_implicit_fit": 1.1,
                                 "spark_als_fit_over_implicit_fit": 3.0, "ndcg10_embedded_over_implicit": 1.1,
                                 "ndcg10_spark_over_implicit": 1.2, "sync_rate_over_raw_load_rate": 0.4,
                                 "incremental_over_full_build": 0.12, "daily_training_over_refit": 0.1,
                                 "served_hit_rate10_model_over_popularity": 3.0,
                                 "ndcg10_updated_1_days_over_refit": 0.995, "ndcg10_updated_6_days_over_refit": 0.95}
    assert summary["end_to_end_seconds"] == 122.0 and not summary["end_to_end_complete"]
    assert summary["peak_memory_gib"] == 2.0  # pipeline stages only; the peers are reported apart
    assert summary["peer_peak_memory_gib"] == 0.0
    assert summary["daily_path_seconds"] is None  # not every stage of the daily path ran
    day = {name: {"seconds": 1.5, "peak_mb": {}} for name in report.DAILY_PATH}
    assert report.summarise("1k", 1000, "2026-11-25T00:00:00Z", {**stages, **day})["daily_path_seconds"] == 7.5
    text = report.markdown([summary])
    assert "| ingest | 10.0 | 1,000 | 100 | 100 | 900 |" in text
    assert "cleaned agrees" in text
    assert "updated for 6 day(s) 0.1900 (0.950 of the refit)" in text
    assert ("dbt_incremental: 3 nodes, models 9.0 s and tests 4.5 s of node time (threads overlap); slowest: "
            "cleaned_events 6.0 s, not_null_x.ab12 4.5 s. Of the wall time (each moment split among the nodes "
            "running then): model 7.0 s, test 3.0 s; largest: cleaned_events 5.5 s.") in text
    assert ("dim_users MERGE copied 900, updated 80, inserted 20 rows; user_recommendations WRITE wrote 1,200 rows; "
            "similar_products unchanged.") in text


def test_one_process_chains_count_once_and_report_their_steps():
    steps = {"ingest": 80.0, "dbt_full": 200.0}
    daily = {"ingest_day": 20.0, "dbt_incremental": 50.0, "train": 300.0, "dbt_recommendations": 30.0, "sync": 90.0}
    stages = {
        "generate": {"seconds": 15.0, "peak_mb": {"python": 200.0}},
        "load": {"seconds": 300.0, "peak_mb": {"python": 100.0, "jvm": 3072.0}, "peak_together_mb": 3000.0},
        **{name: {"seconds": t, "in_process": "load"} for name, t in steps.items()},
        "daily": {"seconds": 520.0, "peak_mb": {"python": 1024.0, "jvm": 3072.0}, "peak_together_mb": 3584.0},
        **{name: {"seconds": t, "in_process": "daily"} for name, t in daily.items()},
        "mysql_raw": {"seconds": 1.0, "peak_mb": {"python": 9000.0}},
    }
    summary = report.summarise("1k", 1000, "2026-11-25T00:00:00Z", stages)
    assert summary["end_to_end_seconds"] == 15.0 + 300.0 + 520.0  # the chains' walls, their steps inside them
    assert summary["end_to_end_complete"]
    assert summary["daily_path_seconds"] == 520.0
    assert summary["ratios"]["incremental_over_full_build"] == 0.25
    assert summary["peak_memory_gib"] == 3.5  # held at once; the sum of the high-water marks is the bound
    assert summary["peak_memory_marks_gib"] == 4.0 and summary["peer_peak_memory_gib"] == 8.79
    text = report.markdown([summary])
    daily = "**daily** (one process: ingest_day + dbt_incremental + train + dbt_recommendations + sync)"
    assert f"| {daily} | 520.0 |" in text
    assert "| ↳ dbt_incremental (in daily) | 50.0 |" in text
    assert "daily path (a new day, ingest to MySQL): **520 s**" in text


def test_a_chain_and_its_own_steps_cannot_both_be_chosen():
    from bench.__main__ import _stages

    assert _stages(None) == ["generate", "load", "duckdb", "daily", "analyst_load", "als_peer", "update_quality",
                             "tableau_extract", "mysql_raw", "ease_serve", "tune"]
    assert _stages("daily generate load") == ["generate", "load", "daily"]
    assert _stages("train ingest") == ["ingest", "train"]
    with pytest.raises(UserError, match="stage daily runs .* in one process: choose it or train"):
        _stages("daily train")
    with pytest.raises(UserError, match="stage load runs .* in one process: choose it or refit"):
        _stages("load refit")


def test_scales_parse_like_the_generator():
    assert [parse_scale(s) for s in ("100k", "1M", "10M", "2500", "2.5m", "1e6", "1_000")] == [
        100_000, 1_000_000, 10_000_000, 2500, 2_500_000, 1_000_000, 1000]
    assert parse_scale("rees46-month") == 66_589_268
    for bad in ("lots", "0", "-5k"):
        with pytest.raises(UserError, match="scale .* row count"):
            parse_scale(bad)
    month = SHAPES["rees46-month"]  # the seed's April 2020: 4,509,623 users, about 200k products
    assert abs(month.n_users - 4_509_623) <= 1 and month.n_items == 200_000


def test_every_make_target_runs_a_console_script_that_is_python_m_of_its_stage_package():
    import importlib
    import re
    import tomllib

    from pipeline.platform.config import REPO_ROOT

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module, function = target.split(":")
        # `recolake-x` is `python -m <package>`: the package's __main__ holds its cli
        assert module.endswith(".__main__") and function == "cli", (name, target)
        assert callable(getattr(importlib.import_module(module), function)), target
        assert (REPO_ROOT / module.replace(".", "/")).with_suffix(".py").is_file()
    makefile = (REPO_ROOT / "Makefile").read_text()
    called = set(re.findall(r"\$\(BIN\)/(recolake-[a-z-]+)", makefile))
    assert called <= set(scripts), called - set(scripts)
    assert called == set(scripts)  # every command has its make target
    assert "python scripts/" not in makefile and not list((REPO_ROOT / "scripts").glob("*.py"))
    # every recipe line that runs project code goes through a console script
    recipes = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    assert not [r for r in recipes if re.search(r"\$\(PY\) -m (pipeline|ml|bench)\b", r)]


def test_the_recommend_chain_runs_its_steps_in_order_and_tunes_only_when_asked():
    from pipeline.chain.steps import chosen_steps

    assert chosen_steps(None, tune=False) == ("ingest", "transform", "train", "recommendations", "sync")
    assert chosen_steps(None, tune=True) == ("ingest", "transform", "tune", "train", "recommendations", "sync")
    assert chosen_steps("transform,ingest", tune=False) == ("ingest", "transform")
    with pytest.raises(UserError, match="unknown steps serve; the chain is ingest -> transform"):
        chosen_steps("ingest serve", tune=False)


def test_the_sync_figures_per_table_come_from_the_stage_log(tmp_path):
    from bench.stages import Scale, _synced_tables

    scale = Scale("t", 1, tmp_path, 0)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "daily.log").write_text(
        "07:16:07 INFO pipeline.sync.load: user_recommendations: 1140000 rows via partial_infile in 44.5s "
        "(25618 rows/s)\n"
        "07:16:09 INFO pipeline.sync.load: dim_users: 377033 rows via local_infile in 3.2s (117823 rows/s)\n"
        "07:16:10 INFO pipeline.sync.load: daily_revenue: 32 rows via unchanged in 0.0s (0 rows/s)\n")
    assert _synced_tables(scale, "daily") == {
        "user_recommendations": {"rows": 1140000, "path": "partial_infile", "seconds": 44.5},
        "dim_users": {"rows": 377033, "path": "local_infile", "seconds": 3.2},
        "daily_revenue": {"rows": 32, "path": "unchanged", "seconds": 0.0}}


def test_merge_metrics_reads_the_incremental_models_a_build_ran_and_when_it_began():
    run_results = {"results": [
        {"unique_id": "model.recolake.dim_users", "timing": [{"name": "compile",
                                                              "started_at": "2026-12-05T18:14:13.5Z",
                                                              "completed_at": "2026-12-05T18:14:14Z"}]},
        {"unique_id": "model.recolake.daily_revenue", "timing": [{"name": "execute",
                                                                  "started_at": "2026-12-05T18:14:12.25Z",
                                                                  "completed_at": "2026-12-05T18:14:13Z"}]},
        {"unique_id": "test.recolake.not_null_x.ab12", "timing": []}]}
    manifest = {"nodes": {
        "model.recolake.dim_users": {"name": "dim_users", "schema": "marts", "alias": "dim_users",
                                     "resource_type": "model", "config": {"materialized": "incremental"}},
        "model.recolake.daily_revenue": {"name": "daily_revenue", "schema": "marts", "alias": "daily_revenue",
                                         "resource_type": "model", "config": {"materialized": "table"}},
        "model.recolake.dim_products": {"name": "dim_products", "schema": "marts", "alias": "dim_products",
                                        "resource_type": "model", "config": {"materialized": "incremental"}}}}
    assert merge_metrics.incremental_models(run_results, manifest) == {"dim_users": "marts.dim_users"}
    assert merge_metrics._started(run_results) == dt.datetime(2026, 12, 5, 18, 14, 12, 250000)


def test_wall_shares_split_each_moment_among_the_nodes_running_then():
    def node(uid: str, start: str, end: str) -> dict:
        return {"unique_id": uid, "timing": [{"name": "compile", "started_at": f"2026-12-05T10:00:{start}Z",
                                              "completed_at": f"2026-12-05T10:00:{start}Z"},
                                             {"name": "execute", "started_at": f"2026-12-05T10:00:{start}Z",
                                              "completed_at": f"2026-12-05T10:00:{end}Z"}]}

    run_results = {"results": [node("model.recolake.a", "00", "10"), node("test.recolake.t.ab", "04", "08"),
                               node("operation.recolake.hook", "10", "12"), {"unique_id": "x", "timing": []}]}
    shares = wall_share.wall_shares(run_results)
    # a alone 4 s, a and t together 4 s (2 s each), a alone 2 s; the hook alone 2 s: 12 s of wall time.
    assert shares == pytest.approx({"model.recolake.a": 8.0, "test.recolake.t.ab": 2.0,
                                    "operation.recolake.hook": 2.0})
    assert wall_share.by_kind(shares) == {"model": 8.0, "operation": 2.0, "test": 2.0}


def test_the_analyst_load_stage_reports_latency_the_build_and_the_chains_slowdown():
    import numpy as np

    from bench.analyst_load import _quantile

    latencies = [0.1 * i for i in range(1, 101)]  # 0.1 .. 10.0 s
    for q in (0.50, 0.95):  # numpy's linear percentile, the usual definition
        assert _quantile(latencies, q) == pytest.approx(np.percentile(latencies, q * 100), abs=0.001)
    assert _quantile([], 0.5) is None and _quantile([2.0], 0.95) == 2.0
    stage = {"seconds": 300.0, "chain_alone_seconds": 200.0, "slowdown": 1.5,
             "analysts": {"sessions": 8, "queries": 1234, "failed": 0, "p50_seconds": 0.8, "p95_seconds": 3.2,
                          "max_seconds": 9.9, "dbt_build": {"select": "marts.revenue", "seconds": 120.0,
                                                            "attempts": [0], "succeeded": True}}}
    text = " ".join(report._analyst_load_lines(stage))
    assert "1,234 mart queries, 0 failed" in text and "p50 0.80 s, p95 3.20 s" in text
    assert "succeeded in 120.0 s" in text and "300 s against 200 s alone" in text and "slowdown 1.50" in text
    assert report._analyst_load_lines({"seconds": 0.0, "skipped": "cluster only"}) == []
