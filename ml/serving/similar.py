"""Similar products ("customers who liked this also liked") from the serving model, at each refit.

ALS: the cosine of item factors. EASE: the row of the item-item weights, i.e. each item's scores when
it is a user's whole history. Ranked by the same top-N code as the users' lists, never the item
itself. Updates between refits leave the table as it is: items new since the refit join at the next.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from ml import topk
from ml.columns import ITEM
from ml.models.ease import EaseScorer
from ml.serving.model_state import ModelState

SIMILAR = "similar_item_id"
PER_PRODUCT = 20  # similar products kept per product


def _scorer(state: ModelState) -> topk.Scorer:
    ids, vectors = state.items.index, state.items.vectors
    if state.model == "als":
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        unit_items = topk.Factors(ids, unit)
        return topk.FactorScorer(unit_items, unit_items)
    identity = sp.identity(len(ids), dtype=np.float32, format="csr")
    return EaseScorer(ids, ids, identity, vectors)


def similar_items(state: ModelState, n: int = PER_PRODUCT, progress: bool = False) -> pa.Table:
    """(item_id, similar_item_id, rank, score): the ``n`` most similar items of every item the model holds."""
    scorer = _scorer(state)
    ids = state.items.index
    top = topk.top_n_scored(scorer, ids, n, ids, ids, progress=progress)
    return pa.table({ITEM: pa.array(top.user, pa.int64()), SIMILAR: pa.array(top.item, pa.int64()),
                     "rank": pa.array(top.rank, pa.int32()), "score": pa.array(top.score, pa.float64())})
