"""How much a daily update loses against a full refit: the bench's update-quality check.

The test window is the evaluation's (ml/evaluation/splits.py ``time_split``: the last ``holdout_days`` days,
purchases in it are the truth). For k in DAYS_OF_UPDATES, the serving ALS is refitted on the events
up to k days before the window, then updated once per day up to the window exactly as `make train`
updates it (ml/serving/update.py ``solve_changed``: the users with events that day, re-solved on their whole
histories weighed as of that day, new items added). A refit on all events before the window is the
reference. All are scored by the same code on the same users; the target is NDCG@10 within 3 %.

Run: python -m bench.update_quality (prints one JSON object).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml import topk
from ml.columns import ITEM, STRENGTH, USER, I, U
from ml.data import StrengthRule, read_table
from ml.evaluation import harness
from ml.evaluation.splits import time_split, weighted
from ml.models import als
from ml.params import AlsParams, EvalSpec, RunParams
from ml.serving import update
from pipeline.platform.config import load_settings
from pipeline.platform.spark import get_spark

log = logging.getLogger(__name__)

DAYS_OF_UPDATES = (1, 6)
K = 10


def _events(spark: SparkSession, spec: EvalSpec, end: dt.datetime) -> DataFrame:
    table = read_table(spark, spec.table, [spec.user_col, spec.item_col, spec.type_col, spec.time_col])
    return table.select(F.col(spec.user_col).alias(USER), F.col(spec.item_col).alias(ITEM),
                        F.col(spec.type_col).alias("event_type"),
                        F.col(spec.time_col).alias("time")).where(F.col("time") < F.lit(end))


def _arrays(pairs: DataFrame, params: AlsParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = pairs.select(USER, ITEM, STRENGTH).toArrow()
    return (table.column(USER).to_numpy().astype(np.int64), table.column(ITEM).to_numpy().astype(np.int64),
            als.confidence_values(table.column(STRENGTH).to_numpy(), params))


def _refit(events: DataFrame, rule: StrengthRule, as_of: dt.datetime, params: AlsParams) -> topk.FactorScorer:
    """The serving fit on the events before ``as_of``, factors keyed by ids."""
    table = weighted(events.where(F.col("time") < F.lit(as_of)), rule, as_of).toArrow()
    return als.fit_implicit(table.rename_columns([U, I, STRENGTH]), params)


def _updated(events: DataFrame, rule: StrengthRule, start: dt.datetime, days: int,
             params: AlsParams) -> tuple[topk.FactorScorer, list[dict[str, int]]]:
    """Refit at ``start``, then one update per day for ``days`` days."""
    model = _refit(events, rule, start, params)
    users, items, per_day = model.user_factors, model.item_factors, []
    for day in range(1, days + 1):
        as_of = start + dt.timedelta(days=day)
        so_far = events.where(F.col("time") < F.lit(as_of))
        changed = so_far.where(F.col("time") >= F.lit(as_of - dt.timedelta(days=1))).select(USER).distinct()
        u, i, c = _arrays(weighted(so_far, rule, as_of).join(changed, USER), params)
        if len(u) == 0:
            per_day.append({"changed_users": 0, "new_items": 0})
            continue
        new_items = int(len(np.setdiff1d(np.unique(i), items.index)))
        solved, items = update.solve_changed(users, items, u, i, c, params)
        users = update.merge_factors(users, solved.index, solved.vectors)
        per_day.append({"changed_users": len(solved.index), "new_items": new_items})
    return topk.FactorScorer(users, items), per_day


def _dense(model: topk.FactorScorer, ctx: harness.EvalContext) -> topk.FactorScorer:
    """The model keyed by the evaluation's dense indices (ids it does not know are dropped)."""
    def to_dense(factors: topk.Factors, index: DataFrame, id_col: str, dense_col: str) -> topk.Factors:
        table = index.select(id_col, dense_col).toArrow()
        ids, dense = table.column(id_col).to_numpy().astype(np.int64), table.column(dense_col).to_numpy()
        order = np.argsort(ids)
        ids, dense = ids[order], dense[order]
        rows, found = factors.rows_of(ids)
        return topk.Factors.keyed(dense[found].astype(np.int64), factors.vectors[rows[found]])
    return topk.FactorScorer(to_dense(model.user_factors, ctx.data.user_index, USER, U),
                             to_dense(model.item_factors, ctx.data.item_index, ITEM, I))


def run() -> dict[str, Any]:
    settings = load_settings()
    spark = get_spark("bench-update-quality", settings)
    params = RunParams()
    rule = StrengthRule.from_vars(settings.rules)
    test = time_split(spark, params.evaluation, rule)
    assert test.end is not None
    ctx = harness.prepare(spark, test, (K,), params.exclude_purchased)
    events = _events(spark, params.evaluation, test.end).persist()
    started = time.perf_counter()
    refit = ctx.score(_dense(_refit(events, rule, test.end, params.als), ctx))
    result: dict[str, Any] = {"window": {k: str(v) for k, v in test.window.items()},
                              "scored_users": int(refit["users"]), "refit_ndcg@10": refit[f"ndcg@{K}"],
                              "refit_seconds": round(time.perf_counter() - started, 1)}
    for days in DAYS_OF_UPDATES:
        started = time.perf_counter()
        model, per_day = _updated(events, rule, test.end - dt.timedelta(days=days), days, params.als)
        score = ctx.score(_dense(model, ctx))[f"ndcg@{K}"]
        result[f"after_{days}_days"] = {"ndcg@10": score, "over_refit": round(score / refit[f"ndcg@{K}"], 4),
                                        "days": per_day, "seconds": round(time.perf_counter() - started, 1)}
    events.unpersist()
    ctx.release()
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run()))
