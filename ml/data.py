"""Inputs of a run: implicit feedback from any (user, item[, strength]) table, purchases, and the
strength rule the interaction mart applies (the splits for evaluation are in ``ml/evaluation/splits.py``).

Problems with the data (a missing table or column, no events, too few days for the holdout)
raise :class:`MlDataError`, a one-line user error naming what to do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml.columns import ITEM, STRENGTH, USER
from ml.params import InputSpec
from pipeline.platform.errors import UserError


class MlDataError(UserError):
    """The input data cannot support the requested run."""


@dataclass(frozen=True)
class StrengthRule:
    """How the interaction mart weighs events (dbt vars), so evaluation weighs them the same way."""

    half_life_days: float
    weights: dict[str, float]

    @classmethod
    def from_vars(cls, rules: Mapping[str, Any]) -> StrengthRule:
        """From the settings' rules (the dbt vars recency_half_life_days and event_weights)."""
        return cls(float(rules["recency_half_life_days"]), {k: float(v) for k, v in rules["event_weights"].items()})


# On a shared metastore (cluster mode) an analyst's dbt run re-creates the views: for a moment a view's
# name is absent. Look again before calling a table missing.
RECHECK_SECONDS = (0.5, 1.0, 2.0)


def _exists(spark: SparkSession, name: str) -> bool:
    if spark.catalog.tableExists(name):
        return True
    for wait in RECHECK_SECONDS:
        time.sleep(wait)
        if spark.catalog.tableExists(name):
            return True
    return False


def read_table(spark: SparkSession, name: str, columns: list[str | None]) -> DataFrame:
    """The table, after checking it exists and has the columns; otherwise one line saying what to do."""
    if not _exists(spark, name):
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
    strength = F.col(spec.strength_col).cast("double") if spec.strength_col else F.lit(1.0)
    return (table.select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
                         strength.alias(STRENGTH))
            .where(F.col(USER).isNotNull() & F.col(ITEM).isNotNull())
            .groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH))
            .where(F.col(STRENGTH) > 0))


def load_history(spark: SparkSession, spec: InputSpec, users: DataFrame) -> DataFrame:
    """(user_id, item_id, strength, bought) of ``users`` only, in one scan: the strength summed per pair as
    in :func:`load_feedback` (pairs of strength 0 kept, they may be bought), bought as in
    :func:`load_purchased` (false without a purchases column). The users are picked before the sums, so
    the rest of the table is never aggregated, and they are broadcast: a sort-merge join would shuffle the
    whole table first (a day's users are a few per cent of it)."""
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.strength_col, spec.purchases_col])
    strength = F.col(spec.strength_col).cast("double") if spec.strength_col else F.lit(1.0)
    bought = (F.col(spec.purchases_col) > 0) if spec.purchases_col else F.lit(False)
    rows = (table.select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
                         strength.alias(STRENGTH), bought.alias("bought"))
            .where(F.col(USER).isNotNull() & F.col(ITEM).isNotNull())
            .join(F.broadcast(users.select(USER)), USER, "left_semi"))
    return rows.groupBy(USER, ITEM).agg(F.sum(STRENGTH).alias(STRENGTH),
                                        F.coalesce(F.max("bought"), F.lit(False)).alias("bought"))


def load_purchased(spark: SparkSession, spec: InputSpec) -> DataFrame | None:
    """(user_id, item_id) pairs already bought, when the input table says so."""
    if not spec.purchases_col:
        return None
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.purchases_col])
    return (table.where(F.col(spec.purchases_col) > 0)
            .select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM)).distinct())


def load_active_users(spark: SparkSession, spec: InputSpec, days: int) -> DataFrame:
    """Users whose last event is at most ``days`` days before the table's newest event (not the wall
    clock: an old data set has recent users too)."""
    table = read_table(spark, spec.table, [spec.user_col, spec.time_col])
    last = table.groupBy(F.col(spec.user_col).alias(USER)).agg(F.max(spec.time_col).alias("last_at"))
    newest = table.agg(F.max(spec.time_col).alias("newest"))
    return (last.crossJoin(newest)
            .where(F.col("last_at") >= F.col("newest") - F.make_interval(days=F.lit(days)))
            .select(USER))


class TooLittleHistory(MlDataError):
    """The events span too few days to hold any out; the caller may skip evaluation instead."""


def holdout_for(requested: int, span_days: int) -> int:
    """The requested holdout, or a shorter one when it would leave less than half the days to train on."""
    if requested < 1:
        raise MlDataError(f"--holdout-days must be at least 1, not {requested}")
    if span_days < 2:
        raise TooLittleHistory(f"the events span {span_days} day: at least 2 are needed to hold one out")
    return requested if requested <= span_days // 2 else max(1, span_days // 4)
