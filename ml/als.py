"""Spark MLlib ALS on implicit feedback, and top-N lists with already-bought items excluded."""

from __future__ import annotations

import logging
from functools import reduce

from pyspark import StorageLevel
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ml.params import AlsParams

log = logging.getLogger(__name__)

U, I = "u", "i"  # dense int32 user and item indices
FETCH_TIERS = (8, 64, 512)  # exclusion counts that share one candidate fetch size


def confidence_input(strength: F.Column, transform: str) -> F.Column:
    """ALS's r in confidence = 1 + alpha * r."""
    if transform == "raw":
        return strength
    if transform == "log1p":
        return F.log1p(strength)
    raise ValueError(f"unknown strength transform {transform!r} (raw or log1p)")


def fit(train: DataFrame, params: AlsParams) -> ALSModel:
    """Fit on (u, i, strength). The input is materialised first: ALS iterates over it many times."""
    ratings = train.select(U, I, confidence_input(F.col("strength"), params.strength_transform).alias("r"))
    ratings = ratings.repartition(params.blocks, U).persist(StorageLevel.MEMORY_AND_DISK)
    n = ratings.count()
    log.info("fitting ALS on %d user-item pairs (rank %d, regParam %s, alpha %s, %d iterations)",
             n, params.rank, params.reg_param, params.alpha, params.max_iter)
    als = ALS(
        userCol=U, itemCol=I, ratingCol="r", implicitPrefs=True, rank=params.rank, regParam=params.reg_param,
        alpha=params.alpha, maxIter=params.max_iter, seed=params.seed, numUserBlocks=params.blocks,
        numItemBlocks=params.blocks, checkpointInterval=5, coldStartStrategy="drop", nonnegative=False,
        blockSize=params.block_size,
    )
    model = als.fit(ratings)
    model.userFactors.persist(StorageLevel.MEMORY_AND_DISK).count()
    model.itemFactors.persist(StorageLevel.MEMORY_AND_DISK).count()
    ratings.unpersist()
    return model


def rank_excluding(candidates: DataFrame, excluded: DataFrame | None, n: int) -> DataFrame:
    """(u, i, score) -> top ``n`` per user as (u, i, score, rank), after removing excluded (u, i)."""
    if excluded is not None:
        candidates = candidates.join(excluded.select(U, I), [U, I], "left_anti")
    order = Window.partitionBy(U).orderBy(F.desc("score"), I)
    return candidates.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= n)


def _candidates(model: ALSModel, users: DataFrame, fetch: int) -> DataFrame:
    raw = model.recommendForUserSubset(users, fetch)
    return raw.select(U, F.explode("recommendations").alias("rec")).select(
        U, F.col(f"rec.{I}").alias(I), F.col("rec.rating").cast("double").alias("score"))


def recommend(model: ALSModel, users: DataFrame, n: int, excluded: DataFrame | None,
              max_excluded_per_user: int) -> DataFrame:
    """Top ``n`` items for each user in ``users`` (column u), never an excluded pair.

    A user needs ``n`` + (their excluded items) candidates. Fetching n + the largest
    exclusion count for everyone made one heavy buyer multiply the work for all users
    (10M events: 25k users x 500 candidates per item block); users are fetched in tiers
    of exclusion count instead.
    """
    users = users.select(U).distinct()
    if excluded is None or max_excluded_per_user == 0:
        return rank_excluding(_candidates(model, users, n), excluded, n)
    per_user = users.join(excluded.groupBy(U).agg(F.count("*").alias("k")), U, "left").fillna(0, ["k"])
    bounds = [t for t in FETCH_TIERS if t < max_excluded_per_user] + [max_excluded_per_user]
    parts, lower = [], -1
    for bound in bounds:
        tier = per_user.where((F.col("k") > lower) & (F.col("k") <= bound)).select(U)
        parts.append(_candidates(model, tier, n + bound))
        lower = bound
    return rank_excluding(reduce(DataFrame.unionByName, parts), excluded, n)


def max_per_user(pairs: DataFrame | None) -> int:
    if pairs is None:
        return 0
    row = pairs.groupBy(U).count().agg(F.max("count")).first()
    return int(row[0] or 0)
