"""Score top-N lists against the test window on the driver: per-user metrics averaged, plus catalog coverage.

The lists and the relevant pairs are arrays of dense indices, so a candidate of `make tune` is scored
with a few array operations instead of Spark joins and a Python UDF (4 s of fixed cost each at 100k
events). ml/evaluation/metrics.py holds the same metrics one user at a time, in plain Python: the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml import topk
from ml.evaluation.metrics import METRICS


def list_matrix(top: topk.TopN, users: np.ndarray, width: int) -> np.ndarray:
    """(len(users), width) item indices by rank, -1 where a user's list is shorter (or missing)."""
    out = np.full((len(users), width), -1, dtype=np.int64)
    rows = np.searchsorted(users, top.user)
    found = (rows < len(users)) & (users[np.minimum(rows, len(users) - 1)] == top.user) & (top.rank <= width)
    out[rows[found], top.rank[found].astype(np.int64) - 1] = top.item[found]
    return out


def evaluate(top: topk.TopN, users: np.ndarray, relevant_users: np.ndarray, relevant_items: np.ndarray,
             ks: Sequence[int], catalog_size: int) -> dict[str, float]:
    """Mean of each metric over ``users`` (sorted dense indices); a user without a list scores 0.

    ``relevant_users``/``relevant_items`` are the distinct relevant (user, item) pairs of exactly those
    users in dense indices; an item the model never saw is -1: it cannot be hit, but counts in the user's
    number of relevant items.
    coverage@k is the share of the catalog in at least one top-k list.
    """
    width = max(ks)
    lists = list_matrix(top, users, width)
    n_relevant = np.bincount(np.searchsorted(users, relevant_users), minlength=len(users)).astype(np.float64)
    seen = relevant_items >= 0
    span = np.int64(max(int(lists.max(initial=0)), int(relevant_items.max(initial=0))) + 1)
    hits = np.isin(users[:, None] * span + lists, relevant_users[seen] * span + relevant_items[seen]) & (lists >= 0)
    discounts = 1.0 / np.log2(np.arange(2, width + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])  # ideal[m]: DCG of m hits at the top
    ranks = np.arange(1, width + 1)
    result: dict[str, float] = {}
    for k in ks:
        h = hits[:, :k]
        count = h.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_user = {
                "precision": count / k,
                "recall": np.where(n_relevant > 0, count / n_relevant, 0.0),
                "ndcg": np.nan_to_num((h * discounts[:k]).sum(axis=1) / ideal[np.minimum(n_relevant, k).astype(int)]),
                "map": np.nan_to_num((h * np.cumsum(h, axis=1) / ranks[:k]).sum(axis=1) / np.minimum(n_relevant, k)),
                "hit_rate": (count > 0).astype(np.float64),
            }
        for name in METRICS:
            result[f"{name}@{k}"] = float(per_user[name].mean()) if len(users) else 0.0
        covered = len(np.unique(lists[:, :k][lists[:, :k] >= 0]))
        result[f"coverage@{k}"] = covered / catalog_size if catalog_size else 0.0
    result["users"] = float(len(users))
    return result
