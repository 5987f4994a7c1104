"""The best possible ranking, from the generator's planted ground truth (when it is present).

The truth's purchase propensity is an exact product of user and item vectors
(``oracle_factors``), so the oracle is ranked by the same top-N code as ALS, with the
same exclusions and tie rule.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pyspark.sql import DataFrame

from ml import topk
from ml.columns import I, U
from pipeline.generate.truth import ITEMS_FILE, MANIFEST_FILE, USERS_FILE, oracle_factors

log = logging.getLogger(__name__)


def truth_available(truth_dir: Path) -> bool:
    return all((truth_dir / name).exists() for name in (USERS_FILE, ITEMS_FILE, MANIFEST_FILE))


def _reindexed(by_id: topk.Factors, index: DataFrame, index_col: str, id_col: str) -> topk.Factors:
    """The vectors of the ids in ``index`` (id_col -> index_col), keyed by index_col."""
    pairs = index.select(index_col, id_col).toArrow()
    rows, found = by_id.rows_of(pairs.column(id_col).to_numpy().astype(np.int64))
    return topk.Factors.keyed(pairs.column(index_col).to_numpy()[found], by_id.vectors[rows[found]])


def oracle_scorer(truth_dir: Path, user_index: DataFrame, item_index: DataFrame,
                  users: np.ndarray) -> topk.FactorScorer | None:
    """True purchase propensity of ``users`` (dense u) over the indexed items, or None when the
    truth does not describe them (it belongs to other data)."""
    truth_users = pq.read_table(truth_dir / USERS_FILE)
    items = pq.read_table(truth_dir / ITEMS_FILE)
    exploration = json.loads((truth_dir / MANIFEST_FILE).read_text())["params"]["exploration"]
    taste_ids = truth_users.column("user_id").to_numpy()
    taste = truth_users.column("taste").combine_chunks().flatten().to_numpy().reshape(len(taste_ids), -1)
    user_vectors, item_vectors = oracle_factors(
        taste, items.column("taste_group").to_numpy(), items.column("group_weight").to_numpy(),
        items.column("global_weight").to_numpy(), exploration)
    # float32, like the models' factors: float64 doubles the bytes the ranking moves (the month's evaluation
    # ranked the oracle in float64 in 100 s).
    user_vectors, item_vectors = user_vectors.astype(np.float32), item_vectors.astype(np.float32)

    user_factors = _reindexed(topk.Factors.keyed(taste_ids, user_vectors), user_index, U, "user_id")
    rows, found = user_factors.rows_of(np.asarray(users, dtype=np.int64))
    user_factors = topk.Factors(user_factors.index[rows[found]], user_factors.vectors[rows[found]])
    item_factors = _reindexed(topk.Factors.keyed(items.column("product_id").to_numpy(), item_vectors),
                              item_index, I, "item_id")
    if not len(user_factors.index) or not len(item_factors.index):
        log.warning("ground truth in %s does not describe these users or items: no oracle", truth_dir)
        return None
    return topk.FactorScorer(user_factors, item_factors)
