"""ALS on implicit feedback on the driver with the `implicit` library (the embedded engine's fit).

Same confidence as Spark's: c = 1 + alpha * r, preference 1 on observed pairs. implicit's solver
takes the matrix values as the confidence itself, so the matrix holds 1 + alpha * r. The
regularisation is not the same: Spark multiplies it by each user's (item's) number of pairs,
implicit adds it as is. The two backends are tuned and recorded apart (ml/params.py).

At 1M events implicit's fit took 1/15 of Spark's on the same pairs, at 10M 1/5.8: no blocks, no
shuffle, no checkpoints, and a conjugate-gradient step that does not solve each system exactly.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ml import topk
from ml.columns import STRENGTH, I, U
from ml.params import AlsParams

log = logging.getLogger(__name__)


def confidence_values(strength: np.ndarray, params: AlsParams) -> np.ndarray:
    """c = 1 + alpha * r, r the strength or log1p of it (the same r as the Spark fit)."""
    if params.strength_transform == "raw":
        r = strength.astype(np.float64)
    elif params.strength_transform == "log1p":
        r = np.log1p(strength.astype(np.float64))
    else:
        raise ValueError(f"unknown strength transform {params.strength_transform!r} (raw or log1p)")
    return (1.0 + params.alpha * r).astype(np.float32)


def _rows(keys: np.ndarray, dense: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, each pair's row among them); dense keys (0..n-1, every one present, as
    ml/ids.py makes them) are their own rows, which spares a sort."""
    if dense:
        return np.arange(int(keys.max(initial=-1)) + 1), keys
    return np.unique(keys, return_inverse=True)


def fit_pairs(pairs: pa.Table, params: AlsParams, dense: bool = False) -> topk.FactorScorer:
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
