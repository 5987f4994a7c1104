"""Generate a whole data set: catalog, users, one CSV per day, and the ground truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.generate.catalog import build_catalog, build_population
from pipeline.generate.csv_writer import write_day_csv
from pipeline.generate.events import EVENT_TYPES, day_row_targets, generate_day
from pipeline.generate.params import GeneratorParams
from pipeline.generate.truth import write_truth

log = logging.getLogger(__name__)


def day_file_name(day: dt.date) -> str:
    return f"rees46_{day.isoformat()}.csv"


def generate(params: GeneratorParams, raw_dir: Path, truth_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Write ``params.days`` daily CSV files under ``raw_dir``; return the manifest."""
    started = time.perf_counter()
    raw_dir.mkdir(parents=True, exist_ok=True)
    world_rng = np.random.default_rng([params.seed, 0])
    catalog = build_catalog(params, world_rng)
    population = build_population(params, world_rng, catalog)
    targets = day_row_targets(params, world_rng)

    files: dict[str, Any] = {}
    epoch = dt.datetime(params.start.year, params.start.month, params.start.day, tzinfo=dt.UTC)
    for d in tqdm(range(params.days), desc="generate", unit="day", disable=not progress):
        day = params.start + dt.timedelta(days=d)
        rng = np.random.default_rng([params.seed, 1, d])  # per day: any day is reproducible alone
        total = int(targets[d])
        n_duplicates = int(round(total * params.dirty.share * params.dirty.duplicate))
        events = generate_day(params, catalog, population,
                              int((epoch + dt.timedelta(days=d)).timestamp()), total - n_duplicates, rng)
        name = day_file_name(day)
        dirty = write_day_csv(raw_dir / name, events, catalog, population, params.dirty, total, rng)
        types = np.bincount(events.event_type, minlength=len(EVENT_TYPES))
        files[name] = {"rows": total, "events": dict(zip(EVENT_TYPES, map(int, types))),
                       "dirty": dataclasses.asdict(dirty)}

    elapsed = time.perf_counter() - started
    manifest = {
        "params": dataclasses.asdict(params),
        "files": files,
        "rows": int(targets.sum()),
        "seconds": round(elapsed, 3),
        "rows_per_second": round(targets.sum() / elapsed),
    }
    write_truth(truth_dir, catalog, population, manifest)
    log.info("generated %d rows in %d files in %.1fs (%.0f rows/s)", manifest["rows"], params.days,
             elapsed, manifest["rows_per_second"])
    return manifest
