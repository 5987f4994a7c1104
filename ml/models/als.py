"""ALS on implicit feedback (Hu, Koren, Volinsky 2008), whole: the two fits, the least-squares step a daily
update re-solves rows with, and the registered recommender.

Confidence c = 1 + alpha * r (r the strength, or log1p of it), preference 1 on observed pairs, in both fits:

- ``implicit`` (:func:`fit_implicit`, the embedded engine's default): the `implicit` library on the driver.
  Its solver takes the matrix values as the confidence itself, so the matrix holds 1 + alpha * r. At 1M
  events it took 1/15 of Spark's time on the same pairs, at 10M 1/5.8: no blocks, no shuffle, no
  checkpoints, and a conjugate-gradient step that does not solve each system exactly.
- ``spark`` (:func:`fit_spark`, the cluster engine's): Spark MLlib on the executors.

The regularisation is not the same: Spark multiplies it by each user's (item's) number of pairs, implicit
adds it as is; the two backends are tuned and recorded apart (ml/params.py).

Both fits end on an exact least-squares step (:func:`solve_rows`): x_u = (YᵀY + Yᵤᵀ(Cᵤ - I)Yᵤ + λᵤI)⁻¹ YᵤᵀCᵤ1,
so a daily update that re-solves only the users who changed gives them what the fit would give them against
the same item factors. Rows are solved in batches with one batched LAPACK solve, a bounded number of pairs
at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from pyspark import StorageLevel
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from threadpoolctl import threadpool_limits

from ml import topk
from ml.columns import STRENGTH, I, U
from ml.data import MlDataError
from ml.indexed import Indexed
from ml.models.base import NO_PAIRS, Fitted, fitting_pairs
from ml.params import AlsParams, RunParams

log = logging.getLogger(__name__)


# ---- the confidence -------------------------------------------------------------------------------

def confidence_values(strength: np.ndarray, params: AlsParams) -> np.ndarray:
    """c = 1 + alpha * r, r the strength or log1p of it (the same r as the Spark fit)."""
    if params.strength_transform == "raw":
        r = strength.astype(np.float64)
    elif params.strength_transform == "log1p":
        r = np.log1p(strength.astype(np.float64))
    else:
        raise ValueError(f"unknown strength transform {params.strength_transform!r} (raw or log1p)")
    return (1.0 + params.alpha * r).astype(np.float32)


def confidence_input(strength: F.Column, transform: str) -> F.Column:
    """ALS's r in confidence = 1 + alpha * r, as a Spark column (the Spark fit)."""
    if transform == "raw":
        return strength
    if transform == "log1p":
        return F.log1p(strength)
    raise ValueError(f"unknown strength transform {transform!r} (raw or log1p)")


# ---- the fit on the driver: implicit --------------------------------------------------------------

def _rows(keys: np.ndarray, dense: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, each pair's row among them); dense keys (0..n-1, every one present, as
    ml/ids.py makes them) are their own rows, which spares a sort."""
    if dense:
        return np.arange(int(keys.max(initial=-1)) + 1), keys
    return np.unique(keys, return_inverse=True)


def fit_implicit(pairs: pa.Table, params: AlsParams, dense: bool = False) -> topk.FactorScorer:
    """Fit on (u, i, strength) pairs collected from Spark; factors keyed by their u and i (``dense``:
    they are 0..n-1 indices, every one present)."""
    from implicit.cpu.als import AlternatingLeastSquares  # its import starts OpenMP: only when fitting

    started = time.perf_counter()
    user_ids, rows = _rows(pairs.column(U).to_numpy().astype(np.int64), dense)
    item_ids, cols = _rows(pairs.column(I).to_numpy().astype(np.int64), dense)
    matrix = sp.csr_matrix((confidence_values(pairs.column(STRENGTH).to_numpy(), params), (rows, cols)),
                           shape=(len(user_ids), len(item_ids)), dtype=np.float32)
    with threadpool_limits(1, "blas"):  # implicit parallelises over users; a threaded BLAS inside thrashes
        model = AlternatingLeastSquares(factors=params.rank, regularization=params.reg_param, alpha=1.0,
                                        iterations=params.max_iter, random_state=params.seed,
                                        calculate_training_loss=False)
        model.fit(matrix, show_progress=False)
    log.info("ALS on %d pairs: %d users x %d items, rank %d, reg %s, alpha %s, %d iterations, %.1fs",
             matrix.nnz, len(user_ids), len(item_ids), params.rank, params.reg_param, params.alpha,
             params.max_iter, time.perf_counter() - started)
    return topk.FactorScorer(topk.Factors(user_ids, np.ascontiguousarray(model.user_factors)),
                             topk.Factors(item_ids, np.ascontiguousarray(model.item_factors)))


# ---- the fit on the executors: Spark MLlib ------------------------------------------------------

PAIRS_PER_BLOCK = 5_000_000  # a task's in/out blocks stay well inside a 6 GiB driver


def blocks_for(pairs: int, minimum: int) -> int:
    """User and item blocks: ``minimum`` (params.blocks), more when the pairs would make one block too big
    (52.6M pairs in 4 blocks ran a 6 GiB driver out of heap)."""
    return max(minimum, -(-pairs // PAIRS_PER_BLOCK))


def fit_spark(train: DataFrame, params: AlsParams) -> ALSModel:
    """Fit on (u, i, strength). The input is materialised first: ALS iterates over it many times."""
    ratings = train.select(U, I, confidence_input(F.col(STRENGTH), params.strength_transform).alias("r"))
    n = ratings.count()
    if n == 0:
        raise MlDataError(NO_PAIRS)
    blocks = blocks_for(n, params.blocks)
    ratings = ratings.repartition(blocks, U).persist(StorageLevel.MEMORY_AND_DISK)
    ratings.count()
    log.info("fitting ALS on %d user-item pairs in %d blocks (rank %d, regParam %s, alpha %s, %d iterations)",
             n, blocks, params.rank, params.reg_param, params.alpha, params.max_iter)
    estimator = ALS(
        userCol=U, itemCol=I, ratingCol="r", implicitPrefs=True, rank=params.rank, regParam=params.reg_param,
        alpha=params.alpha, maxIter=params.max_iter, seed=params.seed, numUserBlocks=blocks,
        numItemBlocks=blocks, checkpointInterval=5, coldStartStrategy="drop", nonnegative=False,
        blockSize=params.block_size,
    )
    model = estimator.fit(ratings)
    model.userFactors.persist(StorageLevel.MEMORY_AND_DISK).count()
    model.itemFactors.persist(StorageLevel.MEMORY_AND_DISK).count()
    ratings.unpersist()
    return model


def spark_factors(model: ALSModel) -> tuple[topk.Factors, topk.Factors]:
    """The model's (user, item) factors, collected to the driver: rank x (users + items) floats."""
    return (topk.Factors.from_arrow(model.userFactors.toArrow()),
            topk.Factors.from_arrow(model.itemFactors.toArrow()))


# ---- the least-squares step of a daily update -----------------------------------------------------

# A batch's distinct items' outer products and its rows' matrices are each at most (pairs, rank²) float64.
BATCH_BYTES = 256 * 2**20


def solve_rows(rows: np.ndarray, cols: np.ndarray, confidence: np.ndarray, n_rows: int, other: np.ndarray,
               reg: float, scale_reg_by_count: bool) -> np.ndarray:
    """(n_rows, rank) vectors: row r solved from its pairs (rows == r) against ``other[cols]``.

    ``rows`` must be sorted and cover every row 0..n_rows-1 at least once; ``confidence`` is c per pair.
    Each row's Yᵤᵀ(Cᵤ - I)Yᵤ is one row of a sparse (rows x items) by dense (items x rank²) product, the
    items' outer products yyᵀ flattened: BLAS-free but one pass over the pairs (a reduce over per-pair
    outer products took 3.8 s for 262k pairs at rank 32; this takes a tenth of that).
    """
    rank = other.shape[1]
    other64 = other.astype(np.float64)
    gram = other64.T @ other64
    starts = np.searchsorted(rows, np.arange(n_rows))
    counts = np.diff(np.append(starts, len(rows)))
    if np.any(counts == 0):
        raise ValueError("every row needs at least one pair")
    out = np.empty((n_rows, rank), dtype=np.float64)
    eye = np.eye(rank)
    pairs_per_batch = max(1_000, BATCH_BYTES // (rank * rank * 8))
    first = 0
    while first < n_rows:
        # As many whole rows as fit in one batch of pairs (at least one row).
        last = max(first + 1, int(np.searchsorted(starts, starts[first] + pairs_per_batch, side="right")) - 1)
        last = min(last, n_rows)
        lo, hi = starts[first], starts[last] if last < n_rows else len(rows)
        used, local_cols = np.unique(cols[lo:hi], return_inverse=True)
        y = other64[used]
        outer = (y[:, :, None] * y[:, None, :]).reshape(len(used), rank * rank)
        c = confidence[lo:hi].astype(np.float64)
        shape = (last - first, len(used))
        local_rows = rows[lo:hi] - first
        a = (sp.csr_matrix((c - 1.0, (local_rows, local_cols)), shape=shape) @ outer).reshape(-1, rank, rank)
        b = sp.csr_matrix((c, (local_rows, local_cols)), shape=shape) @ y
        lam = reg * (counts[first:last] if scale_reg_by_count else np.ones(last - first))
        a += gram[None, :, :] + lam[:, None, None] * eye[None, :, :]
        out[first:last] = np.linalg.solve(a, b[:, :, None])[:, :, 0]
        first = last
    return out


# ---- the registered recommender -------------------------------------------------------------------

class AlsRecommender:
    name = "als"

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        # The factors are saved once, keyed by id, as the serving state (ml/serving/model_state.py).
        if params.als.backend == "implicit":
            return Fitted(fit_implicit(fitting_pairs(data), params.als, dense=True), None, asdict(params.als))
        model = fit_spark(data.feedback, params.als)

        def save(path: Path) -> None:  # Spark's own format too, for Spark users (keyed by the id maps)
            model.write().overwrite().save(str(path / "als"))

        return Fitted(topk.FactorScorer(*spark_factors(model)), save, asdict(params.als))
