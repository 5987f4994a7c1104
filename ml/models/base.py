"""What every recommender provides: fit on indexed feedback, then a scorer the top-N code ranks with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyspark.sql import DataFrame

from ml import topk
from ml.indexed import Indexed
from ml.params import RunParams


@dataclass(frozen=True)
class Fitted:
    scorer: topk.Scorer  # scores users (dense indices) over items (dense indices)
    save: Callable[[Path], None] | None = None  # writes the model under a folder, when it has a format
    params: dict[str, Any] | None = None  # the parameters it was fitted with, for the records


class Recommender(Protocol):
    name: str

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        """Fit on ``data`` (u, i, strength: a Spark frame, or its pairs collected once with ``arrow()``);
        ``buyers`` holds (u, i) purchase pairs when the data has them."""
        ...
