"""The project's ALS fits against the implicit library's bare fit, on the same training pairs and split.

Three fits on the evaluation split of `python -m ml run` (train before the cutoff, purchases in the
holdout window as truth, items bought before the cutoff excluded), all scored by the same code:
- ``embedded``: what `make train` runs embedded (ml/models/als.py), from the Spark frame of pairs
  to factors: collecting the pairs and building the matrix count (on a warm JVM, as in the chain);
- ``implicit``: the library's ``fit`` alone on a matrix built beforehand, same parameters: the target
  is embedded <= 1.5x implicit;
- ``spark``: Spark MLlib with its own defaults (its regularisation scales with each user's pairs).

Run: python -m bench.peers.als_peer (prints one JSON object).
"""

from __future__ import annotations

import json
import time

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from ml import topk
from ml.columns import STRENGTH, I, U
from ml.data import StrengthRule
from ml.evaluation import harness
from ml.evaluation.splits import time_split
from ml.models import MODELS, als
from ml.params import RunParams, als_defaults
from pipeline.platform.config import load_settings
from pipeline.platform.spark import get_spark

K = 10


def run() -> dict:
    settings = load_settings()
    spark = get_spark("bench-als", settings)
    params = RunParams()
    split = time_split(spark, params.evaluation, StrengthRule.from_vars(settings.rules))
    ctx = harness.prepare(spark, split, (K,), params.exclude_purchased)
    n_users, n_items = ctx.data.user_index.count(), ctx.catalog_size

    # The peer's matrix first: its collect also warms the JVM's Arrow path, which a run's first collect
    # pays once (4.9 s cold against 0.4 s warm at 1M) and `make recommend` pays in dbt before training.
    train = ctx.data.feedback.select(U, I, STRENGTH).toArrow()
    matrix = csr_matrix((als.confidence_values(train[STRENGTH].to_numpy(), params.als),
                         (train[U].to_numpy(), train[I].to_numpy())), shape=(n_users, n_items))
    with threadpool_limits(1, "blas"):
        peer = AlternatingLeastSquares(factors=params.als.rank, regularization=params.als.reg_param, alpha=1.0,
                                       iterations=params.als.max_iter, random_state=params.als.seed,
                                       calculate_training_loss=False)
        started = time.perf_counter()
        peer.fit(matrix, show_progress=False)
        implicit_fit = time.perf_counter() - started
    implicit_metrics = ctx.score(topk.FactorScorer(topk.Factors(np.arange(n_users), peer.user_factors),
                                                   topk.Factors(np.arange(n_items), peer.item_factors)))

    started = time.perf_counter()
    embedded = MODELS["als"].fit(ctx.data, None, params).scorer  # collect, matrix, fit: what `make train` runs
    embedded_fit = time.perf_counter() - started
    embedded_metrics = ctx.score(embedded)

    spark_params = als_defaults("spark")
    started = time.perf_counter()
    spark_model = als.fit_spark(ctx.data.feedback, spark_params)
    spark_fit = time.perf_counter() - started
    spark_metrics = ctx.score(topk.FactorScorer(*als.spark_factors(spark_model)))
    return {
        "pairs": train.num_rows, "users": n_users, "items": n_items, "scored_users": int(embedded_metrics["users"]),
        "rank": params.als.rank, "iterations": params.als.max_iter, "reg_param": params.als.reg_param,
        "spark_reg_param": spark_params.reg_param, "alpha": params.als.alpha,
        "embedded_fit_seconds": round(embedded_fit, 2), "implicit_fit_seconds": round(implicit_fit, 2),
        "spark_fit_seconds": round(spark_fit, 2),
        "embedded_vs_implicit": round(embedded_fit / implicit_fit, 2) if implicit_fit else None,
        "embedded_ndcg@10": embedded_metrics["ndcg@10"], "implicit_ndcg@10": implicit_metrics["ndcg@10"],
        "spark_ndcg@10": spark_metrics["ndcg@10"],
    }


if __name__ == "__main__":
    print(json.dumps(run()))
