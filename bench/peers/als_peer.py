"""Spark MLlib ALS against the implicit library's ALS on the same training matrix and split.

Both get the evaluation split of `python -m ml run` (train before the cutoff, purchases in
the holdout window as truth, items bought before the cutoff excluded) and the same rank,
iterations, regularisation and confidence 1 + alpha * r; both lists are scored by the same
code (ml.evaluate). Differences that remain: Spark scales regParam by each user's and item's
number of ratings and solves exactly; implicit uses a fixed lambda and conjugate-gradient steps.

Run: python -m bench.peers.als_peer (prints one JSON object).
"""

from __future__ import annotations

import json
import time

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from pyspark.sql import functions as F
from scipy.sparse import csr_matrix

from ml import als, harness, topk
from ml.columns import I, U
from ml.data import StrengthRule
from ml.params import RunParams
from ml.splits import time_split
from pipeline.config import dbt_vars, load_settings
from pipeline.spark import get_spark

K = 10


def run() -> dict:
    spark = get_spark("bench-als")
    settings = load_settings()
    params = RunParams()
    split = time_split(spark, params.evaluation, StrengthRule.from_vars(dbt_vars(settings.dbt_project_dir)))
    ctx = harness.prepare(spark, split, (K,), params.exclude_purchased)
    train = ctx.data.feedback.select(U, I, als.confidence_input(F.col("strength"), params.als.strength_transform)
                                     .alias("r")).toArrow()
    n_users, n_items = ctx.data.user_index.count(), ctx.catalog_size

    started = time.perf_counter()
    spark_model = als.fit(ctx.data.feedback, params.als)
    spark_fit = time.perf_counter() - started
    spark_metrics = ctx.score(topk.FactorScorer(*als.factors(spark_model)))

    confidence = 1.0 + params.als.alpha * train["r"].to_numpy().astype(np.float32)  # implicit takes c itself
    matrix = csr_matrix((confidence, (train[U].to_numpy(), train[I].to_numpy())), shape=(n_users, n_items))
    peer = AlternatingLeastSquares(factors=params.als.rank, regularization=params.als.reg_param, alpha=1.0,
                                   iterations=params.als.max_iter, random_state=params.als.seed,
                                   calculate_training_loss=False)
    started = time.perf_counter()
    peer.fit(matrix, show_progress=False)
    implicit_fit = time.perf_counter() - started
    # Same top-N code as Spark's model: only the factors differ.
    implicit_metrics = ctx.score(topk.FactorScorer(topk.Factors(np.arange(n_users), peer.user_factors),
                                                   topk.Factors(np.arange(n_items), peer.item_factors)))
    return {
        "pairs": train.num_rows, "users": n_users, "items": n_items, "scored_users": int(spark_metrics["users"]),
        "rank": params.als.rank, "iterations": params.als.max_iter, "reg_param": params.als.reg_param,
        "alpha": params.als.alpha,
        "spark_fit_seconds": round(spark_fit, 2), "implicit_fit_seconds": round(implicit_fit, 2),
        "spark_ndcg@10": spark_metrics["ndcg@10"], "implicit_ndcg@10": implicit_metrics["ndcg@10"],
        "spark_recall@10": spark_metrics["recall@10"], "implicit_recall@10": implicit_metrics["recall@10"],
    }


if __name__ == "__main__":
    print(json.dumps(run()))
