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


PAIRS_PER_BLOCK = 5_000_000  # a task's in/out blocks stay well inside a 6 GiB driver


def blocks_for(pairs: int, minimum: int) -> int:
    """User and item blocks: ``minimum`` (params.blocks), more when the pairs would make one block too big
    (52.6M pairs in 4 blocks ran a 6 GiB driver out of heap)."""
    return max(minimum, -(-pairs // PAIRS_PER_BLOCK))


def fit(train: DataFrame, params: AlsParams) -> ALSModel:
    """Fit on (u, i, strength). The input is materialised first: ALS iterates over it many times."""
    ratings = train.select(U, I, confidence_input(F.col(STRENGTH), params.strength_transform).alias("r"))
    n = ratings.count()
    blocks = blocks_for(n, params.blocks)
    ratings = ratings.repartition(blocks, U).persist(StorageLevel.MEMORY_AND_DISK)
    ratings.count()
    log.info("fitting ALS on %d user-item pairs in %d blocks (rank %d, regParam %s, alpha %s, %d iterations)",
             n, blocks, params.rank, params.reg_param, params.alpha, params.max_iter)
    als = ALS(
        userCol=U, itemCol=I, ratingCol="r", implicitPrefs=True, rank=params.rank, regParam=params.reg_param,
        alpha=params.alpha, maxIter=params.max_iter, seed=params.seed, numUserBlocks=blocks,
        numItemBlocks=blocks, checkpointInterval=5, coldStartStrategy="drop", nonnegative=False,
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
