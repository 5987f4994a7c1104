"""`make recommend`: the whole chain in one process, on one SparkSession.

ingest -> transform (`dbt build` without the recommendation marts) -> tune (only with --tune) ->
train (`python -m ml run`) -> recommendations (`dbt build` of the recommendation marts) -> sync.

Each step is the command of the same name (`make ingest`, `make transform`, ...), with the same
checks and exit codes. Run in one process, the chain starts the Spark driver once and compiles
Spark's planner, Delta's log replay and dbt once, instead of once per step: in a fresh JVM that
work is most of a small step's time (an incremental build that changes nothing, 1M events: 67 s
in a new process, 37 s and then 27 s run again in the same one). The seconds of every step go to
REPORTS_DIR/last_chain.json, written after each step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from pipeline import lock
from pipeline.cli import UserError, configure_logging, run_main
from pipeline.commands.ingest import ingest_landing_folder
from pipeline.commands.sync import sync_marts
from pipeline.config import Settings, ensure_writable, load_settings
from pipeline.dbt_runner import run_dbt_checked
from pipeline.spark import check_prerequisites, get_spark, release_driver_memory
from pipeline.timing import StageTimer

log = logging.getLogger("recommend")

STEPS = ("ingest", "transform", "tune", "train", "recommendations", "sync")


def chosen_steps(steps: str | None, tune: bool) -> list[str]:
    """The steps to run, in chain order: ``steps`` (comma or space separated), else all (tune only if asked)."""
    if not steps:
        return [s for s in STEPS if s != "tune" or tune]
    wanted = steps.replace(",", " ").split()
    unknown = sorted(set(wanted) - set(STEPS))
    if unknown:
        raise UserError(f"unknown steps {', '.join(unknown)}; the chain is {' -> '.join(STEPS)}")
    return [s for s in STEPS if s in wanted or (s == "tune" and tune)]


def _ml(command: str, options: str, extra: str, quiet: bool) -> Callable[[Settings], None]:
    from ml.__main__ import execute, parse_args  # imported late: ML libraries are slow to import

    # Parsed before the chain starts, so a bad option fails before any data moves.
    args = parse_args([command, *shlex.split(options), *shlex.split(extra), *(["--quiet"] if quiet else [])])
    return lambda settings: execute(args, settings)


def step_actions(args: argparse.Namespace) -> dict[str, Callable[[Settings], None]]:
    progress = not args.quiet
    # Unit tests check the SQL, not the data: they belong to development and CI (`make transform`,
    # `make check`, `make test`), as dbt recommends for production builds.
    production = ["--exclude-resource-type", "unit_test"]
    transform = ["build", "--exclude", "tag:recommendations", *production,
                 *(["--full-refresh"] if args.full_refresh else [])]
    return {
        "ingest": lambda settings: ingest_landing_folder(settings, progress),
        "transform": lambda settings: run_dbt_checked(transform, settings),
        "tune": _ml("tune", args.tune_args, args.ml_args, args.quiet),
        "train": _ml("run", "", args.ml_args, args.quiet),
        "recommendations": lambda settings: run_dbt_checked(["build", "--select", "tag:recommendations",
                                                             *production], settings),
        "sync": lambda settings: sync_marts(settings, progress),
    }


DBT_STEPS = ("transform", "recommendations")


def keep_dbt_results(settings: Settings, step: str) -> None:
    """A dbt step's run_results.json as reports/run_results_<step>.json: the next dbt step of the chain
    overwrites dbt's own copy, and the per-model seconds of each are wanted (the benchmark reads them)."""
    results = settings.dbt_project_dir / "target" / "run_results.json"
    if step in DBT_STEPS and results.is_file():
        shutil.copyfile(results, settings.reports_dir / f"run_results_{step}.json")


def write_timings(path: Path, started: str, timer: StageTimer, steps: list[str], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = {"started": started, "steps": timer.seconds, "seconds": round(seconds, 3),
               "complete": list(timer.seconds) == steps}
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", help=f"a subset, e.g. 'ingest,transform' (chain: {', '.join(STEPS)})")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild every model (dbt --full-refresh)")
    parser.add_argument("--tune", action="store_true", help="tune before training (make tune)")
    parser.add_argument("--ml-args", default="", help="options for `python -m ml` (make's ML_ARGS)")
    parser.add_argument("--tune-args", default="", help="options for `python -m ml tune` (make's TUNE_ARGS)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    configure_logging()
    steps = chosen_steps(args.steps, args.tune)
    actions = step_actions(args)
    settings = load_settings()
    check_prerequisites(settings)  # Java, jars, a writable lakehouse: one line before anything runs
    ensure_writable(settings.reports_dir, "REPORTS_DIR")  # the step timings go there after the first step
    lock.hold(settings)  # for the whole chain: no other run slips in between two steps
    started, clock = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), time.perf_counter()
    # One Spark application for the whole chain (dbt in session mode joins it): a cluster lists it once.
    get_spark("recommend", settings)
    timings = settings.reports_dir / "last_chain.json"
    bar = None if args.quiet else tqdm(total=len(steps), desc="recommend", unit="step")
    timer = StageTimer(bar=bar)
    for step in steps:
        log.info("step %s", step)
        with timer.stage(step):
            actions[step](settings)
        release_driver_memory()
        keep_dbt_results(settings, step)
        write_timings(timings, started, timer, steps, time.perf_counter() - clock)
    if bar is not None:
        bar.close()
    log.info("chain done in %.1f s: %s", time.perf_counter() - clock,
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timer.seconds.items()))
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
