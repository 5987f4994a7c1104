"""Feedback in dense indices (``u``, ``i``) with the maps back to ids: what every model fits on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame

from ml import ids, topk
from ml.columns import ITEM, STRENGTH, USER, I, U


@dataclass
class Indexed:
    """Feedback in dense indices, with the maps back to ids."""

    feedback: DataFrame  # u, i, strength
    user_index: DataFrame  # user_id, u
    item_index: DataFrame  # item_id, i
    keep_arrow: bool = False  # evaluation contexts keep the collected pairs for every candidate's fit
    _arrow: pa.Table | None = field(default=None, repr=False)

    def pairs(self, df: DataFrame | None) -> DataFrame | None:
        """(user_id, item_id) -> (u, i), dropping ids the model has never seen."""
        if df is None:
            return None
        return ids.to_index(ids.to_index(df, self.user_index, USER), self.item_index, ITEM)

    def id_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The user and the item ids on the driver, each array indexed by its dense index (the indices are
        0..n-1 in id order, ml/ids.py): mapping a ranked list back to ids is then an array lookup."""
        return (topk.column_values(self.user_index.orderBy(U), USER),
                topk.column_values(self.item_index.orderBy(I), ITEM))

    def arrow(self) -> pa.Table:
        """(u, i, strength) on the driver; collected once with ``keep_arrow`` (tuning fits dozens of
        candidates on each fold), else afresh, so the serving fit does not hold them through top-N."""
        if self._arrow is not None:
            return self._arrow
        table = self.feedback.select(U, I, STRENGTH).toArrow()
        if self.keep_arrow:
            self._arrow = table
        return table

    def release(self) -> None:
        self.feedback.unpersist()
        self._arrow = None


def index_feedback(feedback: DataFrame, keep_arrow: bool = False) -> Indexed:
    user_index = ids.build_index(feedback, USER, U)
    item_index = ids.build_index(feedback, ITEM, I)
    indexed = ids.to_index(ids.to_index(feedback, user_index, USER), item_index, ITEM)
    return Indexed(indexed.persist(StorageLevel.MEMORY_AND_DISK), user_index, item_index, keep_arrow)
