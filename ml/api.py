"""The ML stage's entry functions, called with typed requests by `python -m ml` and by the chain."""

from __future__ import annotations

from typing import Any

from ml.options import TrainRequest, TuneRequest
from ml.training import run
from ml.tuning import tuned
from ml.tuning.tune import BUDGET_SECONDS, MIN_GAIN, TRIALS, default_space, parse_space
from ml.tuning.tune import tune as search
from pipeline.platform.config import Settings, ensure_writable
from pipeline.platform.spark import get_spark


def _start(settings: Settings):
    ensure_writable(settings.reports_dir, "REPORTS_DIR")  # the report is written last: find out now
    return get_spark("ml", settings)


def train(settings: Settings, request: TrainRequest, progress: bool = True) -> dict[str, Any]:
    """Refit or update the serving model (ml/training.py); the run's report."""
    spark = _start(settings)
    params = tuned.apply_latest(spark, request.params) if request.use_tuned else request.params
    return run(spark, settings, request.choice.over(params), progress=progress)


def tune(settings: Settings, request: TuneRequest, progress: bool = True) -> dict[str, Any]:
    """Search model parameters (ml/tuning/tune.py); the search's report."""
    spark = _start(settings)
    params = request.params
    space = parse_space(request.space) if request.space else default_space(params.als.backend)
    bounded = request.search != "grid"
    trials = request.trials if request.trials is not None else TRIALS if bounded else None
    budget = request.budget_seconds if request.budget_seconds is not None else BUDGET_SECONDS if bounded else None
    min_gain = MIN_GAIN if request.min_gain is None else request.min_gain
    return search(spark, settings, request.choice.over(params), space, request.search, trials, budget,
                  progress=progress, min_gain=min_gain)
