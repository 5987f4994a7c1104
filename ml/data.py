"""Inputs of a run: implicit feedback for serving, and a time split of the events for evaluation.

Problems with the data (a missing table or column, no events, too few days for the holdout)
raise :class:`MlDataError`, a one-line user error naming what to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml.params import EvalSpec, InputSpec
from pipeline.errors import UserError

log = logging.getLogger(__name__)

USER, ITEM, STRENGTH = "user_id", "item_id", "strength"


class MlDataError(UserError):
    """The input data cannot support the requested run."""


@dataclass(frozen=True)
class StrengthRule:
    """How the interaction mart weighs events (dbt vars), so evaluation weighs them the same way."""

    half_life_days: float
    weights: dict[str, float]

    @classmethod
    def from_vars(cls, dbt_vars: dict[str, Any]) -> StrengthRule:
        return cls(float(dbt_vars["recency_half_life_days"]),
                   {k: float(v) for k, v in dbt_vars["event_weights"].items()})


def read_table(spark: SparkSession, name: str, columns: list[str | None]) -> DataFrame:
    """The table, after checking it exists and has the columns; otherwise one line saying what to do."""
    if not spark.catalog.tableExists(name):
        raise MlDataError(f"table {name} does not exist: run `make transform` first (or name another table)")
    table = spark.table(name)
    missing = [c for c in columns if c and c not in table.columns]
    if missing:
        raise MlDataError(f"{name} has no column {', '.join(missing)} (it has {', '.join(table.columns)}): "
                          "name the right one with the --*-col options")
    return table


def load_feedback(spark: SparkSession, spec: InputSpec) -> DataFrame:
    """(user_id, item_id, strength) summed per pair from any implicit-feedback table."""
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.strength_col, spec.purchases_col])
    return (table.select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
                         F.col(spec.strength_col).cast("double").alias(STRENGTH))
            .where(F.col(USER).isNotNull() & F.col(ITEM).isNotNull())
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def load_purchased(spark: SparkSession, spec: InputSpec) -> DataFrame | None:
    """(user_id, item_id) pairs already bought, when the input table says so."""
    if not spec.purchases_col:
        return None
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.purchases_col])
    return (table.where(F.col(spec.purchases_col) > 0)
            .select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM)).distinct())


@dataclass(frozen=True)
class TimeSplit:
    """Train interactions before the cutoff; what users did after it."""

    train: DataFrame  # user_id, item_id, strength (decayed to the cutoff, like the mart)
    relevant: DataFrame  # user_id, item_id: the test window's relevant events
    purchased_before: DataFrame  # user_id, item_id: bought before the cutoff (excluded from rankings)
    data_start: dt.datetime
    cutoff: dt.datetime
    data_end: dt.datetime
    holdout_days: int


class TooLittleHistory(MlDataError):
    """The events span too few days to hold any out; the caller may skip evaluation instead."""


def _weighted(events: DataFrame, rule: StrengthRule, as_of: dt.datetime) -> DataFrame:
    """The mart's strength formula: weight(type) * 0.5 ^ (age_days / half_life), summed per pair."""
    age_days = (F.unix_timestamp(F.lit(as_of)) - F.unix_timestamp("time")).cast("double") / 86400
    weight = F.lit(0.0)
    for event_type, value in rule.weights.items():
        weight = F.when(F.col("event_type") == event_type, F.lit(value)).otherwise(weight)
    return (events.select(USER, ITEM, (weight * F.pow(F.lit(0.5), age_days / rule.half_life_days)).alias(STRENGTH))
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def holdout_for(requested: int, span_days: int) -> int:
    """The requested holdout, or a shorter one when it would leave less than half the days to train on."""
    if requested < 1:
        raise MlDataError(f"--holdout-days must be at least 1, not {requested}")
    if span_days < 2:
        raise TooLittleHistory(f"the events span {span_days} day: at least 2 are needed to hold one out")
    return requested if requested <= span_days // 2 else max(1, span_days // 4)


def time_split(spark: SparkSession, spec: EvalSpec, rule: StrengthRule, holdout_days: int | None = None,
               end: dt.datetime | None = None) -> TimeSplit:
    """Hold out the last ``holdout_days`` calendar days (before ``end``, default: all data).

    When the data spans too few days for the requested holdout, a shorter one is used (and
    logged); with fewer than two days, :class:`TooLittleHistory` is raised.
    """
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.type_col, spec.time_col])
    events = table.select(
        F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
        F.col(spec.type_col).alias("event_type"), F.col(spec.time_col).alias("time"))
    if end is not None:
        events = events.where(F.col("time") < F.lit(end))
    bounds = events.agg(F.min("time").alias("start"), F.max("time").alias("end")).first()
    if bounds is None or bounds.start is None:
        raise MlDataError(f"{spec.table} has no events to evaluate on: check `make doctor` (data health) "
                          "or skip the evaluation with --no-eval")
    span_days = (bounds.end.date() - bounds.start.date()).days + 1
    requested = holdout_days or spec.holdout_days
    days = holdout_for(requested, span_days)
    if days != requested:
        log.warning("the events span %d days: holding out %d instead of %d, so training keeps the larger part",
                    span_days, days, requested)
    last_day = dt.datetime.combine(bounds.end.date(), dt.time())
    cutoff = last_day - dt.timedelta(days=days - 1)
    before = events.where(F.col("time") < F.lit(cutoff))
    after = events.where(F.col("time") >= F.lit(cutoff))
    return TimeSplit(
        train=_weighted(before, rule, cutoff),
        relevant=after.where(F.col("event_type") == spec.relevant_type).select(USER, ITEM).distinct(),
        purchased_before=before.where(F.col("event_type") == "purchase").select(USER, ITEM).distinct(),
        data_start=bounds.start,
        cutoff=cutoff,
        data_end=bounds.end,
        holdout_days=days,
    )
