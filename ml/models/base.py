"""What every recommender provides: fit on indexed feedback, then a scorer the top-N code ranks with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from pyspark.sql import DataFrame

from ml import topk
from ml.data import MlDataError
from ml.indexed import Indexed
from ml.params import RunParams


@dataclass(frozen=True)
class Fitted:
    scorer: topk.Scorer  # scores users (dense indices) over items (dense indices)
    save: Callable[[Path], None] | None = None  # writes the model under a folder, when it has a format
    params: dict[str, Any] | None = None  # the parameters it was fitted with, for the records


NO_PAIRS = "no user-item pairs to fit on: the interaction table is empty"


def fitting_pairs(data: Indexed) -> pa.Table:
    """The (u, i, strength) pairs a fit on the driver uses; one clear error when there are none."""
    pairs = data.arrow()
    if pairs.num_rows == 0:
        raise MlDataError(NO_PAIRS)
    return pairs


class Recommender(Protocol):
    name: str

    def fit(self, data: Indexed, buyers: DataFrame | None, params: RunParams) -> Fitted:
        """Fit on ``data`` (u, i, strength: a Spark frame, or its pairs collected once with ``arrow()``);
        ``buyers`` holds (u, i) purchase pairs when the data has them. The contract every model keeps
        (tests/test_model_contract.py): a scorer over exactly the users and items of ``data`` (an item a
        model leaves out, as EASE beyond max_items, is never served), finite scores, and
        :class:`~ml.data.MlDataError` on empty input."""
        ...
