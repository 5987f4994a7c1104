"""Ranking metrics for one user's recommendation list, with binary relevance.

Plain Python so that they can be checked by hand; Spark applies them per user in a UDF.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


def precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def average_precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Mean of precision@i over the ranks i of hits, divided by min(|relevant|, k)."""
    hits, total = 0, 0.0
    for i, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / i
    denominator = min(len(relevant), k)
    return total / denominator if denominator else 0.0


def hit_rate_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


_FUNCTIONS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": average_precision_at_k,
    "hit_rate": hit_rate_at_k,
}


def user_metrics(ranked: Sequence[int], relevant: Iterable[int], ks: Sequence[int]) -> dict[str, float]:
    """All metrics at all k for one user, keyed like 'ndcg@10'."""
    relevant_set = set(relevant)
    return {f"{name}@{k}": fn(ranked, relevant_set, k) for k in ks for name, fn in _FUNCTIONS.items()}
