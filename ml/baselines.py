"""Non-personalised baseline and fallback: the most bought items of the training period."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ml.als import I, U, rank_excluding


def popularity(purchases: DataFrame, interactions: DataFrame) -> DataFrame:
    """(i, score, popularity_rank): distinct buyers, ties broken by total interaction strength."""
    buyers = purchases.groupBy(I).agg(F.countDistinct(U).alias("buyers"))
    strength = interactions.groupBy(I).agg(F.sum("strength").alias("total_strength"))
    scored = strength.join(buyers, I, "left").fillna({"buyers": 0})
    return scored.select(I, (F.col("buyers") + F.col("total_strength") / (1 + F.col("total_strength"))).alias("score"))


def recommend_popular(popular: DataFrame, users: DataFrame, n: int, excluded: DataFrame | None,
                      max_excluded_per_user: int) -> DataFrame:
    """The same popular list for every user, minus what each user already bought."""
    top = popular.orderBy(F.desc("score"), I).limit(n + max_excluded_per_user)
    candidates = users.select(U).distinct().crossJoin(F.broadcast(top))
    return rank_excluding(candidates, excluded, n)
