"""Non-personalised baseline and fallback: the most bought items of the training period."""

from __future__ import annotations

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ml import topk
from ml.als import I, U


def popularity(purchases: DataFrame, interactions: DataFrame) -> DataFrame:
    """(i, score, popularity_rank): distinct buyers, ties broken by total interaction strength."""
    buyers = purchases.groupBy(I).agg(F.countDistinct(U).alias("buyers"))
    strength = interactions.groupBy(I).agg(F.sum("strength").alias("total_strength"))
    scored = strength.join(buyers, I, "left").fillna({"buyers": 0})
    return scored.select(I, (F.col("buyers") + F.col("total_strength") / (1 + F.col("total_strength"))).alias("score"))


def recommend_popular(popular: DataFrame, users: DataFrame, n: int, excluded: DataFrame | None) -> DataFrame:
    """The same popular list for every user, minus what each user already bought.

    Popularity is a rank-1 model (every user's vector is 1, an item's is its score), so it
    shares the ALS lists' exclusion and tie rules; float64 keeps near-equal scores apart.
    """
    item_factors = topk.Factors.from_arrow(popular.select(I, "score").toArrow(), I, "score")
    known = topk.column_values(users.select(U).distinct(), U)
    user_factors = topk.Factors(np.sort(known), np.ones((len(known), 1)))
    return topk.ranked_frame(user_factors, item_factors, users, n, excluded, U, I)
