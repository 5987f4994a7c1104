"""ALS on implicit feedback as a registered recommender: the `implicit` library on the driver, or
Spark MLlib on the executors (``params.als.backend``; the cluster engine uses Spark)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame

from ml import als, als_implicit, topk
from ml.indexed import Indexed
from ml.models.base import Fitted
from ml.params import RunParams

FACTORS_FILE = "als_factors.npz"


def save_factors(scorer: topk.FactorScorer, path: Path) -> None:
    """Both backends' factors in one format, keyed by dense index (the model's user_index/item_index)."""
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / FACTORS_FILE, users=scorer.user_factors.index, user_vectors=scorer.user_factors.vectors,
             items=scorer.item_factors.index, item_vectors=scorer.item_factors.vectors)


def load_factors(path: Path) -> topk.FactorScorer:
    with np.load(path / FACTORS_FILE) as saved:
        return topk.FactorScorer(topk.Factors(saved["users"], saved["user_vectors"]),
                                 topk.Factors(saved["items"], saved["item_vectors"]))


class AlsRecommender:
    name = "als"

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        if params.als.backend == "implicit":
            scorer = als_implicit.fit_pairs(data.arrow(), params.als, dense=True)
            return Fitted(scorer, lambda path: save_factors(scorer, path), asdict(params.als))
        model = als.fit(data.feedback, params.als)
        scorer = topk.FactorScorer(*als.factors(model))

        def save(path: Path) -> None:
            save_factors(scorer, path)
            model.write().overwrite().save(str(path / "als"))  # Spark's own format, for Spark users

        return Fitted(scorer, save, asdict(params.als))
