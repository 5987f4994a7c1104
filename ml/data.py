"""Inputs of a run: implicit feedback for serving, and a time split of the events for evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml.params import EvalSpec, InputSpec

USER, ITEM, STRENGTH = "user_id", "item_id", "strength"


def recency_half_life_days(dbt_project_dir: Path) -> float:
    """The interaction mart's half-life (dbt var), so evaluation weighs events as the mart does."""
    project = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return float(project["vars"]["recency_half_life_days"])


def load_feedback(spark: SparkSession, spec: InputSpec) -> DataFrame:
    """(user_id, item_id, strength) summed per pair from any implicit-feedback table."""
    table = spark.table(spec.table)
    return (table.select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
                         F.col(spec.strength_col).cast("double").alias(STRENGTH))
            .where(F.col(USER).isNotNull() & F.col(ITEM).isNotNull())
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def load_purchased(spark: SparkSession, spec: InputSpec) -> DataFrame | None:
    """(user_id, item_id) pairs already bought, when the input table says so."""
    if not spec.purchases_col:
        return None
    table = spark.table(spec.table)
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


def _weighted(events: DataFrame, weights: DataFrame, as_of: dt.datetime, half_life_days: float) -> DataFrame:
    """The mart's strength formula: weight(type) * 0.5 ^ (age_days / half_life), summed per pair."""
    age_days = (F.unix_timestamp(F.lit(as_of)) - F.unix_timestamp("time")).cast("double") / 86400
    return (events.join(F.broadcast(weights), "event_type", "left")
            .select(USER, ITEM, (F.coalesce("weight", F.lit(0.0)) * F.pow(F.lit(0.5), age_days / half_life_days))
                    .alias(STRENGTH))
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def time_split(spark: SparkSession, spec: EvalSpec, half_life_days: float, holdout_days: int | None = None,
               end: dt.datetime | None = None) -> TimeSplit:
    """Hold out the last ``holdout_days`` calendar days (before ``end``, default: all data)."""
    events = spark.table(spec.table).select(
        F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
        F.col(spec.type_col).alias("event_type"), F.col(spec.time_col).alias("time"))
    if end is not None:
        events = events.where(F.col("time") < F.lit(end))
    bounds = events.agg(F.min("time").alias("start"), F.max("time").alias("end")).first()
    if bounds is None or bounds.start is None:
        raise ValueError(f"{spec.table} has no events to evaluate on")
    days = holdout_days or spec.holdout_days
    last_day = dt.datetime.combine(bounds.end.date(), dt.time())
    cutoff = last_day - dt.timedelta(days=days - 1)
    if cutoff <= bounds.start:
        raise ValueError(f"holding out {days} days leaves no training data in {spec.table}")
    before = events.where(F.col("time") < F.lit(cutoff))
    after = events.where(F.col("time") >= F.lit(cutoff))
    weights = spark.table(spec.weights_table).select("event_type", F.col("weight").cast("double"))
    return TimeSplit(
        train=_weighted(before, weights, cutoff, half_life_days),
        relevant=after.where(F.col("event_type") == spec.relevant_type).select(USER, ITEM).distinct(),
        purchased_before=before.where(F.col("event_type") == "purchase").select(USER, ITEM).distinct(),
        data_start=bounds.start,
        cutoff=cutoff,
        data_end=bounds.end,
    )
