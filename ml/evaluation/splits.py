"""Evaluation protocols: what a model trains on, and what it is scored against.

- ``time`` (the default, right for a shop): the last ``holdout_days`` calendar days are the test
  window; training uses the earlier events, weighted exactly as the interaction mart weighs them;
  relevant = what each user bought in the window; excluded from lists = what they bought before.
- ``random`` (what public recommender benchmarks publish): per user, a ``test_fraction`` of their
  (user, item) pairs, drawn by a seeded hash, is held out; relevant = the held-out pairs;
  excluded = every training pair of the user. Works on any (user, item[, strength]) table.

Tuning carves its validation splits out of the training part of the same protocol, so the test
part is never seen (``validation_folds``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ml.columns import ITEM, STRENGTH, USER
from ml.data import MlDataError, StrengthRule, holdout_for, load_feedback, load_purchased, read_table
from ml.params import EvalSpec, InputSpec, RunParams

log = logging.getLogger(__name__)

PROTOCOLS = ("time", "random")
S = TypeVar("S")  # a split: Split, or ml/evaluation/time_arrays.py ArraySplit


@dataclass(frozen=True)
class Split:
    """Training feedback and the held-out truth of one protocol."""

    protocol: str
    train: DataFrame  # user_id, item_id, strength
    relevant: DataFrame  # user_id, item_id: what counts as a hit
    history: DataFrame  # user_id, item_id: never recommended back (with exclude_purchased)
    buyers: DataFrame | None  # user_id, item_id bought in training, for popularity (None: no purchases)
    window: dict[str, Any] = field(default_factory=dict)  # what the protocol chose, for the records
    # How to carve the validation split from the training part (time: the cutoff to end before).
    end: dt.datetime | None = None


def weighted(events: DataFrame, rule: StrengthRule, as_of: dt.datetime) -> DataFrame:
    """The mart's strength formula: weight(type) * 0.5 ^ (age_days / half_life), summed per pair."""
    age_days = (F.unix_timestamp(F.lit(as_of)) - F.unix_timestamp("time")).cast("double") / 86400
    weight = F.lit(0.0)
    for event_type, value in rule.weights.items():
        weight = F.when(F.col("event_type") == event_type, F.lit(value)).otherwise(weight)
    return (events.select(USER, ITEM, (weight * F.pow(F.lit(0.5), age_days / rule.half_life_days)).alias(STRENGTH))
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def time_split(spark: SparkSession, spec: EvalSpec, rule: StrengthRule, holdout_days: int | None = None,
               end: dt.datetime | None = None) -> Split:
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
    cutoff = dt.datetime.combine(bounds.end.date(), dt.time()) - dt.timedelta(days=days - 1)
    before = events.where(F.col("time") < F.lit(cutoff))
    after = events.where(F.col("time") >= F.lit(cutoff))
    bought_before = before.where(F.col("event_type") == "purchase").select(USER, ITEM).distinct()
    return Split(
        protocol="time",
        train=weighted(before, rule, cutoff),
        relevant=after.where(F.col("event_type") == spec.relevant_type).select(USER, ITEM).distinct(),
        history=bought_before,
        buyers=bought_before,
        window={"protocol": "time", "data_start": bounds.start, "eval_cutoff": cutoff, "data_end": bounds.end,
                "holdout_days": days},
        end=cutoff,
    )


def random_split(feedback: DataFrame, test_fraction: float, seed: int, buyers: DataFrame | None = None) -> Split:
    """Per user, hold out ``round(test_fraction * n)`` of their n pairs (at least 1, at most n - 1;
    users with one pair stay in training). The draw is a seeded hash, so it is reproducible."""
    if not 0 < test_fraction < 1:
        raise MlDataError(f"--test-fraction must be between 0 and 1, not {test_fraction}")
    draw = F.xxhash64(F.col(USER), F.col(ITEM), F.lit(seed))
    per_user = Window.partitionBy(USER)
    ranked = (feedback.withColumn("n", F.count("*").over(per_user))
              .withColumn("pos", F.row_number().over(per_user.orderBy(draw, ITEM)))
              .withColumn("held", F.least(F.col("n") - 1, F.greatest(F.lit(1), F.round(F.col("n") * test_fraction)))))
    held = F.col("pos") <= F.col("held")
    train = ranked.where(~held).select(USER, ITEM, STRENGTH)
    train_buyers = buyers.join(train.select(USER, ITEM), [USER, ITEM]) if buyers is not None else None
    return Split(
        protocol="random",
        train=train,
        relevant=ranked.where(held).select(USER, ITEM),
        history=train.select(USER, ITEM),
        buyers=train_buyers,
        window={"protocol": "random", "test_fraction": test_fraction, "seed": seed},
    )


def random_protocol_buyers(spark: SparkSession, params: RunParams) -> DataFrame | None:
    """The purchases the random protocol's popularity counts (the time protocol finds its own)."""
    return load_purchased(spark, params.input) if params.evaluation.protocol == "random" else None


def split_for(spark: SparkSession, protocol: str, input_spec: InputSpec, eval_spec: EvalSpec,
              rule: StrengthRule, buyers: DataFrame | None) -> Split:
    """The test split of ``protocol`` on the configured data."""
    if protocol == "time":
        return time_split(spark, eval_spec, rule)
    if protocol == "random":
        return random_split(load_feedback(spark, input_spec), eval_spec.test_fraction, eval_spec.seed, buyers)
    raise MlDataError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")


def validation_folds(spark: SparkSession, test: Split, eval_spec: EvalSpec, rule: StrengthRule,
                     folds: int) -> list[Split]:
    """Up to ``folds`` validation splits carved out of ``test``'s training part only, the same protocol
    applied again; a choice scored on their mean does not hang on one split's noise.

    time: rolling origin (:func:`rolling_folds`). random: the same draw with other seeds.
    """
    if test.protocol != "time":
        return [random_split(test.train, eval_spec.test_fraction, eval_spec.seed + 1 + fold, test.buyers)
                for fold in range(folds)]
    return rolling_folds(test.window["holdout_days"], test.end, folds,
                         lambda days, end: time_split(spark, eval_spec, rule, holdout_days=days, end=end))


def rolling_folds(days: int, end: dt.datetime, folds: int, cut: Callable[[int, dt.datetime], S]) -> list[S]:
    """Rolling origin: the first fold holds out ``days`` just before ``end`` (the test cutoff), each next
    one the same length before the previous fold's cutoff; ``cut(days, end)`` makes a fold. A fold whose
    data would be too short for that length is not made (at least one fold always is)."""
    out: list[S] = []
    while len(out) < folds:
        try:
            split = cut(days, end)
        except MlDataError:
            if not out:
                raise
            break
        if out and split.window["holdout_days"] != days:
            break
        out.append(split)
        end = split.end
    return out
