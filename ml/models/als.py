"""Spark MLlib ALS (implicit feedback) as a registered recommender."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pyspark.sql import DataFrame

from ml import als, topk
from ml.models.base import Fitted
from ml.params import RunParams


class AlsRecommender:
    name = "als"

    def fit(self, feedback: DataFrame, buyers: DataFrame | None, params: RunParams) -> Fitted:
        model = als.fit(feedback, params.als)

        def save(path: Path) -> None:
            model.write().overwrite().save(str(path / "als"))

        return Fitted(topk.FactorScorer(*als.factors(model)), save, asdict(params.als))
