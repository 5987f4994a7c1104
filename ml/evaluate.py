"""Score ranked lists against the test window: per-user metrics averaged, plus catalog coverage."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ml.columns import ITEM, USER
from ml.metrics import user_metrics


def evaluate(recs: DataFrame, relevant: DataFrame, ks: Sequence[int], catalog_size: int) -> dict[str, float]:
    """Mean of each metric over every user in ``relevant``; a user without a list scores 0.

    ``recs`` holds (user_id, item_id, rank); ``relevant`` holds (user_id, item_id) for exactly
    the users to score. coverage@k is the share of the catalog in at least one top-k list.
    """
    ks = tuple(ks)
    recs = recs.select(USER, ITEM, "rank").persist()  # read by the metrics and by every coverage@k
    lists = recs.groupBy(USER).agg(F.sort_array(F.collect_list(F.struct("rank", ITEM))).alias("ranked"))
    truth = relevant.groupBy(USER).agg(F.collect_set(ITEM).alias("relevant"))
    joined = truth.join(lists, USER, "left").select(
        USER, F.coalesce(F.col(f"ranked.{ITEM}"), F.array().cast("array<bigint>")).alias("ranked"), "relevant")

    @F.udf(T.MapType(T.StringType(), T.DoubleType()))
    def per_user(ranked: list[int], rel: list[int]) -> dict[str, float]:
        return user_metrics(ranked, rel, ks)

    scored = joined.select(per_user("ranked", "relevant").alias("m"))
    keys = sorted(user_metrics([], [], ks))
    means = scored.select(*[F.avg(F.col("m")[k]).alias(k) for k in keys], F.count("*").alias("users")).first()
    result = {k: float(means[k] or 0.0) for k in keys}
    result["users"] = float(means["users"])
    for k in ks:
        covered = recs.where(F.col("rank") <= k).select(ITEM).distinct().count()
        result[f"coverage@{k}"] = covered / catalog_size if catalog_size else 0.0
    recs.unpersist()
    return result
