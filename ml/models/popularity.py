"""The non-personalised baseline: the items most users bought (or, without purchases, interacted with)."""

from __future__ import annotations

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ml import topk
from ml.columns import SCORE, STRENGTH, I, U
from ml.indexed import Indexed
from ml.models.base import Fitted, fitting_pairs
from ml.params import RunParams


def popularity(buyers: DataFrame | None, feedback: DataFrame) -> DataFrame:
    """(i, score): distinct buyers (distinct users when there are no purchases), ties broken by total
    interaction strength (squashed below 1, so it never outweighs one more buyer)."""
    counted = (buyers if buyers is not None else feedback).groupBy(I).agg(F.countDistinct(U).alias("buyers"))
    strength = feedback.groupBy(I).agg(F.sum(STRENGTH).alias("total_strength"))
    scored = strength.join(counted, I, "left").fillna({"buyers": 0})
    return scored.select(I, (F.col("buyers") + F.col("total_strength") / (1 + F.col("total_strength"))).alias(SCORE))


class PopularityRecommender:
    """One score per item for every user (topk.SharedScorer): it shares the other models' lists'
    exclusion and tie rules; float64 keeps near-equal scores apart. Scored on the driver from the
    collected pairs, with :func:`popularity`'s rule: tuning scores it on every fold, and the Spark
    aggregations cost seconds each there."""

    name = "popularity"

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        pairs = fitting_pairs(data)  # distinct (u, i) with their strength
        items = pairs.column(I).to_numpy().astype(np.int64)
        size = int(items.max(initial=-1)) + 1
        per_item = np.bincount(items, minlength=size)
        total = np.bincount(items, weights=pairs.column(STRENGTH).to_numpy().astype(np.float64), minlength=size)
        if buyers is not None:
            bought = buyers.select(U, I).distinct().toArrow().column(I).to_numpy().astype(np.int64)
            counted = np.bincount(bought[bought < size], minlength=size)
        else:
            counted = per_item  # distinct users per item: the pairs are distinct
        keys = np.flatnonzero(per_item)
        scores = counted[keys] + total[keys] / (1 + total[keys])
        users = np.unique(pairs.column(U).to_numpy().astype(np.int64))
        return Fitted(topk.SharedScorer(users, keys, scores))
