"""The non-personalised baseline: the items most users bought (or, without purchases, interacted with)."""

from __future__ import annotations

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ml import topk
from ml.columns import SCORE, STRENGTH, I, U
from ml.indexed import Indexed
from ml.models.base import Fitted
from ml.params import RunParams


def popularity(buyers: DataFrame | None, feedback: DataFrame) -> DataFrame:
    """(i, score): distinct buyers (distinct users when there are no purchases), ties broken by total
    interaction strength (squashed below 1, so it never outweighs one more buyer)."""
    counted = (buyers if buyers is not None else feedback).groupBy(I).agg(F.countDistinct(U).alias("buyers"))
    strength = feedback.groupBy(I).agg(F.sum(STRENGTH).alias("total_strength"))
    scored = strength.join(counted, I, "left").fillna({"buyers": 0})
    return scored.select(I, (F.col("buyers") + F.col("total_strength") / (1 + F.col("total_strength"))).alias(SCORE))


class PopularityRecommender:
    """A rank-1 model (every user's vector is 1, an item's is its score): it shares the ALS lists'
    exclusion and tie rules; float64 keeps near-equal scores apart."""

    name = "popularity"

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        items = topk.Factors.from_arrow(popularity(buyers, data.feedback).toArrow(), I, SCORE)
        users = topk.column_values(data.feedback.select(U).distinct(), U)
        return Fitted(topk.FactorScorer(topk.Factors(np.sort(users), np.ones((len(users), 1))), items))
