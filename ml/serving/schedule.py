"""Refit or update: a run refits (evaluation plus the serving fit on all data) when asked, when there
is nothing to update, when the parameters changed, when the last refit is ``every_days`` old, or when
users or items grew too much since it; otherwise it updates the last model for the users who changed
(ml/serving/update.py)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ml.data import read_table
from ml.params import RunParams
from ml.serving import model_state, outputs
from ml.serving.model_state import ModelState
from ml.serving.update import newest_interaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    state: ModelState | None  # the model to update; None: refit
    reason: str
    newest: dt.datetime | None = None  # the input's newest interaction, when the decision read it

    @property
    def kind(self) -> str:
        return "refit" if self.state is None else "update"


def _last_state(spark: SparkSession) -> ModelState | None:
    """The state the last run left, when it left one (ALS and EASE runs do)."""
    if not spark.catalog.tableExists(outputs.MODEL_RUNS):
        return None
    last = spark.table(outputs.MODEL_RUNS).orderBy(F.desc("finished_at")).select("model_path").first()
    if last is None or not model_state.exists(Path(last.model_path)):
        return None
    return model_state.load(Path(last.model_path))


def _changed_size(spark: SparkSession, params: RunParams, state: ModelState) -> str | None:
    spec = params.input
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col])
    now = table.agg(F.countDistinct(spec.user_col).alias("users"),
                    F.countDistinct(spec.item_col).alias("items")).first()
    last = (len(state.users.index), len(state.items.index))
    for name, before, at_refit, after in zip(("users", "items"), last, state.refit_sizes, (now.users, now.items)):
        if after < before:  # an update only adds: the data was replaced or trimmed
            return f"{name} fell from {before:,} to {after:,} since the last model: the data was replaced"
        # Growth counts from the refit, so updates one after another cannot creep past the limit.
        if after > at_refit * (1 + params.refit.growth_share):
            return (f"{name} grew from {at_refit:,} to {after:,} since the last refit (more than "
                    f"{params.refit.growth_share:.0%})")
    return None


def decide(spark: SparkSession, params: RunParams) -> Decision:
    policy = params.refit
    if policy.force:
        return Decision(None, "a refit was asked for (--full)")
    if params.model not in model_state.MODELS_WITH_STATE:
        return Decision(None, f"{params.model} is refitted on every run (it has no update step)")
    state = _last_state(spark)
    if state is None:
        return Decision(None, f"no earlier {params.model} model to update")
    if state.model != params.model:
        return Decision(None, f"the serving model changed from {state.model} to {params.model}")
    if state.params != getattr(params, params.model):
        return Decision(None, f"the {params.model} parameters changed since the last refit")
    newest = newest_interaction(spark, params)
    if newest is None:
        return Decision(None, f"{params.input.table} has no {params.input.time_col} column or no rows: "
                              "nothing says which users changed")
    if newest < state.data_end:
        return Decision(None, f"the data now ends at {newest}, before the last model's {state.data_end}: it was "
                              "replaced", newest)
    if (newest - state.refit_data_end).days >= policy.every_days:
        return Decision(None, f"the last refit ({state.base_run}) is {(newest - state.refit_data_end).days} days "
                              f"older than the newest interaction (RETRAIN_EVERY_DAYS={policy.every_days})", newest)
    resized = _changed_size(spark, params, state)
    if resized:
        return Decision(None, resized, newest)
    return Decision(state, f"updating {state.base_run} (last refit) for the users with interactions after "
                           f"{state.data_end}", newest)
