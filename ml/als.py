"""Spark MLlib ALS on implicit feedback: the fit, and its factors for the top-N code."""

from __future__ import annotations

import logging

from pyspark import StorageLevel
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ml import topk
from ml.columns import STRENGTH, I, U
from ml.params import AlsParams

log = logging.getLogger(__name__)


def confidence_input(strength: F.Column, transform: str) -> F.Column:
    """ALS's r in confidence = 1 + alpha * r."""
    if transform == "raw":
        return strength
    if transform == "log1p":
        return F.log1p(strength)
    raise ValueError(f"unknown strength transform {transform!r} (raw or log1p)")


def fit(train: DataFrame, params: AlsParams) -> ALSModel:
    """Fit on (u, i, strength). The input is materialised first: ALS iterates over it many times."""
    ratings = train.select(U, I, confidence_input(F.col(STRENGTH), params.strength_transform).alias("r"))
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


def factors(model: ALSModel) -> tuple[topk.Factors, topk.Factors]:
    """The model's (user, item) factors, collected to the driver: rank x (users + items) floats."""
    return (topk.Factors.from_arrow(model.userFactors.toArrow()),
            topk.Factors.from_arrow(model.itemFactors.toArrow()))
