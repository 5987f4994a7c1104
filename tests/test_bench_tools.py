"""The benchmark's own instruments: the peak-memory monitor against a known allocation, and the
ratios and table it reports. (Speed itself is never asserted in tests.)"""

from __future__ import annotations

import sys

import pytest

from bench import report
from bench.__main__ import parse_scale
from bench.monitor import run_measured
from pipeline.errors import UserError
from pipeline.generate.params import SHAPES

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


def test_ratios_and_markdown_from_stage_results():
    stages = {
        "ingest": {"seconds": 10.0, "rows": 1000, "rows_per_second": 100, "peak_mb": {"python": 100.0, "jvm": 900.0}},
        "dbt_full": {"seconds": 100.0, "duckdb_equivalent_node_seconds": 30.0, "peak_mb": {"jvm": 2048.0}},
        "dbt_incremental": {"seconds": 12.0, "peak_mb": {}},
        "duckdb": {"seconds": 4.0, "peak_mb": {}, "agreement": {"cleaned": {"agree": True}}},
        "als_peer": {"seconds": 50.0, "spark_fit_seconds": 9.0, "implicit_fit_seconds": 3.0, "spark_ndcg@10": 0.12,
                     "implicit_ndcg@10": 0.10, "pairs": 5, "scored_users": 2, "peak_mb": {}},
        "mysql_raw": {"seconds": 1.0, "sync_vs_raw": 0.4},
    }
    summary = report.summarise("1k", 1000, "2026-11-25T00:00:00Z", stages)
    assert summary["ratios"] == {"spark_transforms_over_duckdb": 10.0, "spark_als_fit_over_implicit_fit": 3.0,
                                 "ndcg10_spark_over_implicit": 1.2, "sync_rate_over_raw_load_rate": 0.4,
                                 "incremental_over_full_build": 0.12}
    assert summary["end_to_end_seconds"] == 122.0 and not summary["end_to_end_complete"]
    assert summary["peak_memory_gib"] == 2.0  # pipeline stages only; the peers are reported apart
    assert summary["peer_peak_memory_gib"] == 0.0
    assert summary["daily_path_seconds"] is None  # not every stage of the daily path ran
    day = {name: {"seconds": 1.5, "peak_mb": {}} for name in report.DAILY_PATH}
    assert report.summarise("1k", 1000, "2026-11-25T00:00:00Z", {**stages, **day})["daily_path_seconds"] == 7.5
    text = report.markdown([summary])
    assert "| ingest | 10.0 | 1,000 | 100 | 100 | 900 |" in text
    assert "cleaned agrees" in text


def test_scales_parse_like_the_generator():
    assert [parse_scale(s) for s in ("100k", "1M", "10M", "2500", "2.5m", "1e6", "1_000")] == [
        100_000, 1_000_000, 10_000_000, 2500, 2_500_000, 1_000_000, 1000]
    assert parse_scale("rees46-month") == 66_589_268
    for bad in ("lots", "0", "-5k"):
        with pytest.raises(UserError, match="scale .* row count"):
            parse_scale(bad)
    month = SHAPES["rees46-month"]  # the seed's April 2020: 4,509,623 users, about 200k products
    assert abs(month.n_users - 4_509_623) <= 1 and month.n_items == 200_000


def test_every_console_script_resolves_and_make_calls_them():
    import importlib
    import tomllib

    from pipeline.config import REPO_ROOT

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"recolake-ingest", "recolake-dbt", "recolake-ml", "recolake-sync", "recolake-bench"} <= set(scripts)
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "scripts/run_dbt.py" not in makefile and "$(BIN)/recolake-dbt build" in makefile
