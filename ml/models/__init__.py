"""The recommenders, by name. A new one is a module here with a class like these (a ``name`` and a
``fit`` returning a scorer), its parameters in ``ml/params.py``, and one entry below."""

from __future__ import annotations

from ml.models.als import AlsRecommender
from ml.models.base import Fitted, Recommender
from ml.models.ease import EaseRecommender
from ml.models.popularity import PopularityRecommender

MODELS: dict[str, Recommender] = {m.name: m for m in (AlsRecommender(), EaseRecommender(), PopularityRecommender())}

__all__ = ["MODELS", "Fitted", "Recommender"]
