"""ALS on implicit feedback as a registered recommender: the `implicit` library on the driver, or
Spark MLlib on the executors (``params.als.backend``; the cluster engine uses Spark)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pyspark.sql import DataFrame

from ml import als, als_implicit, topk
from ml.indexed import Indexed
from ml.models.base import Fitted
from ml.params import RunParams


class AlsRecommender:
    name = "als"

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        # The factors are saved once, keyed by id, as the serving state (ml/model_state.py).
        if params.als.backend == "implicit":
            return Fitted(als_implicit.fit_pairs(data.arrow(), params.als, dense=True), None, asdict(params.als))
        model = als.fit(data.feedback, params.als)

        def save(path: Path) -> None:  # Spark's own format too, for Spark users (keyed by the id maps)
            model.write().overwrite().save(str(path / "als"))

        return Fitted(topk.FactorScorer(*als.factors(model)), save, asdict(params.als))
