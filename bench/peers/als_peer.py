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

from ml import als
from ml.als import I, U
from ml.data import recency_half_life_days, time_split
from ml.params import RunParams
from ml.run import EvalContext, prepare_eval
from pipeline.config import load_settings
from pipeline.spark import get_spark

K = 10
CHUNK_USERS = 512  # users scored per matrix product: 512 x items floats stays small


def _top_k_implicit(ctx: EvalContext, model: AlternatingLeastSquares) -> list[tuple[int, int, float, int]]:
    users = np.array(sorted(r[U] for r in ctx.scored.select(U).collect()), dtype=np.int64)
    excluded: dict[int, list[int]] = {}
    if ctx.excluded is not None:
        for r in ctx.excluded.select(U, I).collect():
            excluded.setdefault(r[U], []).append(r[I])
    rows = []
    for start in range(0, len(users), CHUNK_USERS):
        chunk = users[start:start + CHUNK_USERS]
        scores = model.user_factors[chunk] @ model.item_factors.T
        for row, u in enumerate(chunk):
            scores[row, excluded.get(int(u), [])] = -np.inf
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        for row, u in enumerate(chunk):
            ordered = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            rows += [(int(u), int(i), float(scores[row, i]), rank) for rank, i in enumerate(ordered, start=1)]
    return rows


def run() -> dict:
    spark = get_spark("bench-als")
    settings = load_settings()
    params = RunParams()
    split = time_split(spark, params.evaluation, recency_half_life_days(settings.dbt_project_dir))
    ctx = prepare_eval(split, (K,), params.exclude_purchased)
    train = ctx.data.feedback.select(U, I, als.confidence_input(F.col("strength"), params.als.strength_transform)
                                     .alias("r")).toArrow()
    n_users, n_items = ctx.data.user_index.count(), ctx.catalog_size

    started = time.perf_counter()
    spark_model = als.fit(ctx.data.feedback, params.als)
    spark_fit = time.perf_counter() - started
    spark_metrics = ctx.score(als.recommend(spark_model, ctx.scored, K, ctx.excluded, ctx.excluded_max))

    confidence = 1.0 + params.als.alpha * train["r"].to_numpy().astype(np.float32)  # implicit takes c itself
    matrix = csr_matrix((confidence, (train[U].to_numpy(), train[I].to_numpy())), shape=(n_users, n_items))
    peer = AlternatingLeastSquares(factors=params.als.rank, regularization=params.als.reg_param, alpha=1.0,
                                   iterations=params.als.max_iter, random_state=params.als.seed,
                                   calculate_training_loss=False)
    started = time.perf_counter()
    peer.fit(matrix, show_progress=False)
    implicit_fit = time.perf_counter() - started
    ranked = spark.createDataFrame(_top_k_implicit(ctx, peer), f"{U} int, {I} int, score double, rank int")
    implicit_metrics = ctx.score(ranked)
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
