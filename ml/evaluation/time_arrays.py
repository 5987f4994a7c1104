"""The time protocol of ml/evaluation/splits.py on the driver, for tuning: the events are collected once and
the test split and every validation fold are cut from them in numpy.

Tuning scores dozens of candidates on a few folds of a small data set, where each Spark job costs more
than its data: at 104k pairs the Spark splits and their preparation (a scan, indexing and three collects
each) took about 55 of tune's 114 s. The rules are those of :func:`ml.evaluation.splits.time_split` (a test
checks the two agree).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ml.data import MlDataError, StrengthRule, holdout_for, read_table
from ml.params import EvalSpec

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400
EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class Events:
    """Every event with a user, an item and a time, as parallel arrays."""

    users: np.ndarray  # int64
    items: np.ndarray  # int64
    kinds: np.ndarray  # int16 code into ``types``; -1: no type
    types: tuple[str, ...]
    micros: np.ndarray  # int64 microseconds since the epoch (UTC)


@dataclass(frozen=True)
class Pairs:
    """(user_id, item_id) pairs, distinct."""

    users: np.ndarray
    items: np.ndarray


@dataclass(frozen=True)
class ArraySplit:
    """A :class:`ml.evaluation.splits.Split` of the time protocol in arrays."""

    train_users: np.ndarray  # pairs with strength > 0, sorted by (user, item)
    train_items: np.ndarray
    train_strength: np.ndarray  # float64
    relevant: Pairs
    history: Pairs  # bought before the cutoff (never recommended back, and popularity's buyers)
    window: dict[str, Any] = field(default_factory=dict)
    end: dt.datetime | None = None
    protocol: str = "time"


def collect_events(spark: SparkSession, spec: EvalSpec) -> Events:
    """The event table's user, item, type and time columns on the driver, in one Spark job."""
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.type_col, spec.time_col])
    arrow = (table.select(F.col(spec.user_col).cast("long").alias("u"), F.col(spec.item_col).cast("long").alias("i"),
                          F.col(spec.type_col).cast("string").alias("t"),
                          F.unix_micros(F.col(spec.time_col).cast("timestamp")).alias("us"))
             .where(F.col("u").isNotNull() & F.col("i").isNotNull() & F.col("us").isNotNull())
             .toArrow())
    codes = arrow.column("t").combine_chunks().dictionary_encode()
    kinds = codes.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int16)
    return Events(users=arrow.column("u").to_numpy().astype(np.int64),
                  items=arrow.column("i").to_numpy().astype(np.int64),
                  kinds=kinds, types=tuple(codes.dictionary.to_pylist()),
                  micros=arrow.column("us").to_numpy().astype(np.int64))


def _code(events: Events, event_type: str) -> int:
    return events.types.index(event_type) if event_type in events.types else -2


def _distinct(users: np.ndarray, items: np.ndarray) -> Pairs:
    if not len(users):
        return Pairs(users, items)
    pairs = np.unique(np.stack([users, items], axis=1), axis=0)
    return Pairs(pairs[:, 0], pairs[:, 1])


def _moment(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(micros))


def weighted(events: Events, rows: np.ndarray, rule: StrengthRule, cutoff_seconds: int) -> tuple[np.ndarray, ...]:
    """The mart's strength formula over ``rows`` (a boolean mask), summed per pair: (users, items,
    strength) sorted by pair, pairs of strength 0 dropped. Ages count whole seconds, as Spark's
    ``unix_timestamp`` does."""
    weight_of = np.zeros(len(events.types) + 1)  # the last slot: events without a type (code -1)
    for event_type, value in rule.weights.items():
        if event_type in events.types:
            weight_of[events.types.index(event_type)] = value
    seconds = np.floor_divide(events.micros[rows], 1_000_000)
    age_days = (cutoff_seconds - seconds) / DAY_SECONDS
    strength = weight_of[events.kinds[rows]] * np.power(0.5, age_days / rule.half_life_days)
    keys = np.stack([events.users[rows], events.items[rows]], axis=1)
    if not len(keys):
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    pairs, inverse = np.unique(keys, axis=0, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=strength, minlength=len(pairs))
    keep = sums > 0
    return pairs[keep, 0], pairs[keep, 1], sums[keep]


def time_split(events: Events, spec: EvalSpec, rule: StrengthRule, holdout_days: int | None = None,
               end: dt.datetime | None = None) -> ArraySplit:
    """:func:`ml.evaluation.splits.time_split` on the collected events."""
    rows = np.ones(len(events.micros), bool)
    if end is not None:
        rows &= events.micros < int((end - EPOCH) / dt.timedelta(microseconds=1))
    if not rows.any():
        raise MlDataError(f"{spec.table} has no events to evaluate on: check `make doctor` (data health) "
                          "or skip the evaluation with --no-eval")
    first, last = int(events.micros[rows].min()), int(events.micros[rows].max())
    first_day, last_day = first // (DAY_SECONDS * 1_000_000), last // (DAY_SECONDS * 1_000_000)
    requested = holdout_days or spec.holdout_days
    days = holdout_for(requested, last_day - first_day + 1)
    if days != requested:
        log.warning("the events span %d days: holding out %d instead of %d, so training keeps the larger part",
                    last_day - first_day + 1, days, requested)
    cutoff_seconds = (last_day - days + 1) * DAY_SECONDS
    before = rows & (events.micros < cutoff_seconds * 1_000_000)
    after = rows & ~before
    users, items, strength = weighted(events, before, rule, cutoff_seconds)
    bought = before & (events.kinds == _code(events, "purchase"))
    hits = after & (events.kinds == _code(events, spec.relevant_type))
    cutoff = EPOCH + dt.timedelta(seconds=cutoff_seconds)
    return ArraySplit(
        train_users=users, train_items=items, train_strength=strength,
        relevant=_distinct(events.users[hits], events.items[hits]),
        history=_distinct(events.users[bought], events.items[bought]),
        window={"protocol": "time", "data_start": _moment(first), "eval_cutoff": cutoff,
                "data_end": _moment(last), "holdout_days": days},
        end=cutoff,
    )
