"""The chain in one process, on one SparkSession.

ingest -> transform (`dbt build` without the recommendation marts) -> tune (only when asked) ->
train (`python -m ml run`) -> recommendations (`dbt build` of the recommendation marts) -> sync.

Each step is the stage function behind the command of the same name (`make ingest`, `make transform`,
...), with the same checks and exit codes. Run in one process, the chain starts the Spark driver once and
compiles Spark's planner, Delta's log replay and dbt once, instead of once per step: in a fresh JVM that
work is most of a small step's time (an incremental build that changes nothing, 1M events: 67 s in a new
process, 37 s and then 27 s run again in the same one). The seconds of every step go to
REPORTS_DIR/last_chain.json, written after each step.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ml import api
from ml.evaluation.metrics_table import format_metrics
from ml.options import TrainRequest, TuneRequest
from ml.tuning.tune import format_tuning
from pipeline.ingest.batch import ingest_landing_folder
from pipeline.platform import lock
from pipeline.platform.config import Settings, ensure_writable
from pipeline.platform.errors import UserError
from pipeline.platform.spark import check_prerequisites, get_spark, release_driver_memory
from pipeline.platform.timing import StageTimer
from pipeline.sync.marts import sync_marts
from pipeline.transform.runner import run_dbt_checked

log = logging.getLogger(__name__)

STEPS = ("ingest", "transform", "tune", "train", "recommendations", "sync")
DBT_STEPS = ("transform", "recommendations")
# Unit tests check the SQL, not the data: they belong to development and CI (`make transform`, `make check`,
# `make test`), as dbt recommends for production builds.
PRODUCTION = ("--exclude-resource-type", "unit_test")


@dataclass(frozen=True)
class ChainRequest:
    steps: tuple[str, ...]
    train: TrainRequest
    tune: TuneRequest | None = None  # None: no tune step
    full_refresh: bool = False  # dbt --full-refresh in the transform step
    progress: bool = True


def chosen_steps(steps: str | None, tune: bool) -> tuple[str, ...]:
    """The steps to run, in chain order: ``steps`` (comma or space separated), else all (tune only if asked)."""
    if not steps:
        return tuple(s for s in STEPS if s != "tune" or tune)
    wanted = steps.replace(",", " ").split()
    unknown = sorted(set(wanted) - set(STEPS))
    if unknown:
        raise UserError(f"unknown steps {', '.join(unknown)}; the chain is {' -> '.join(STEPS)}")
    return tuple(s for s in STEPS if s in wanted or (s == "tune" and tune))


def step_actions(request: ChainRequest) -> dict[str, Callable[[Settings], object]]:
    progress = request.progress
    transform = ["build", "--exclude", "tag:recommendations", *PRODUCTION,
                 *(["--full-refresh"] if request.full_refresh else [])]
    tune = request.tune
    return {
        "ingest": lambda settings: ingest_landing_folder(settings, progress),
        "transform": lambda settings: run_dbt_checked(transform, settings),
        "tune": lambda settings: print(format_tuning(api.tune(settings, tune, progress))) if tune else None,
        "train": lambda settings: print(format_metrics(api.train(settings, request.train, progress))),
        "recommendations": lambda settings: run_dbt_checked(["build", "--select", "tag:recommendations",
                                                             *PRODUCTION], settings),
        "sync": lambda settings: sync_marts(settings, progress),
    }


def keep_dbt_results(settings: Settings, step: str) -> None:
    """A dbt step's run_results.json as reports/run_results_<step>.json: the next dbt step of the chain
    overwrites dbt's own copy, and the per-model seconds of each are wanted (the benchmark reads them)."""
    results = settings.dbt_target_dir / "run_results.json"
    if step in DBT_STEPS and results.is_file():
        shutil.copyfile(results, settings.reports_dir / f"run_results_{step}.json")


def write_timings(path: Path, started: str, timer: StageTimer, steps: tuple[str, ...], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = {"started": started, "steps": timer.seconds, "seconds": round(seconds, 3),
               "complete": tuple(timer.seconds) == steps}
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def run_chain(settings: Settings, request: ChainRequest) -> dict[str, float]:
    """Every step of ``request`` in order, holding the lakehouse lock throughout; the seconds per step."""
    actions = step_actions(request)
    check_prerequisites(settings)  # Java, jars, a writable lakehouse: one line before anything runs
    ensure_writable(settings.reports_dir, "REPORTS_DIR")  # the step timings go there after the first step
    lock.hold(settings)  # for the whole chain: no other run slips in between two steps
    started, clock = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), time.perf_counter()
    # One Spark application for the whole chain (dbt in session mode joins it): a cluster lists it once.
    get_spark("recommend", settings)
    timings = settings.reports_dir / "last_chain.json"
    bar = tqdm(total=len(request.steps), desc="recommend", unit="step") if request.progress else None
    timer = StageTimer(bar=bar)
    for step in request.steps:
        log.info("step %s", step)
        with timer.stage(step):
            actions[step](settings)
        release_driver_memory()
        keep_dbt_results(settings, step)
        write_timings(timings, started, timer, request.steps, time.perf_counter() - clock)
    if bar is not None:
        bar.close()
    log.info("chain done in %.1f s: %s", time.perf_counter() - clock,
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timer.seconds.items()))
    return dict(timer.seconds)
