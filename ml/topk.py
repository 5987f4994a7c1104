"""Exact top-N lists from factor matrices, computed with numpy on the driver in chunks of users.

Spark's recommendForAll multiplies user blocks by item blocks and pushes every candidate
through a per-user top-k aggregate: at 10M events (377k users x 197k items) that took
20 minutes. The factors themselves are small (rank x (users + items) floats), so the
driver scores a chunk of users against all items with one BLAS product and keeps the
best ``n`` per user. Selection avoids a per-row partition of 197k scores: the k-th best
of the row's block maxima is a lower bound of its k-th best score, so only the few
scores above that bound are sorted.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from threadpoolctl import threadpool_limits
from tqdm import tqdm

log = logging.getLogger(__name__)

SCORE_BUFFER_BYTES = 256 * 2**20  # the score matrices of all worker threads together
WORKERS = os.cpu_count() or 1
BLOCKS = 64  # column blocks whose maxima bound each row's k-th best score


@dataclass(frozen=True)
class Factors:
    """Latent vectors keyed by dense index; ``index`` is sorted ascending."""

    index: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # (n, rank)

    @classmethod
    def keyed(cls, ids: np.ndarray, vectors: np.ndarray) -> Factors:
        """Vectors in any id order, sorted by id."""
        order = np.argsort(ids, kind="stable")
        return cls(np.asarray(ids, dtype=np.int64)[order], np.ascontiguousarray(vectors[order]))

    @classmethod
    def from_arrow(cls, table: pa.Table, id_col: str = "id", vectors_col: str = "features") -> Factors:
        """Spark's factor frames (array<float> vectors) or one score column (a rank-1 model)."""
        ids = table.column(id_col).to_numpy().astype(np.int64)
        column = table.column(vectors_col).combine_chunks()
        if pa.types.is_list(column.type):
            vectors = column.flatten().to_numpy().astype(np.float32).reshape(len(ids), -1)
        else:
            vectors = column.to_numpy().astype(np.float64).reshape(len(ids), 1)
        return cls.keyed(ids, vectors)

    def rows_of(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of each key, whether the key has a vector)."""
        return _rows_in(self.index, keys)


class Scorer(Protocol):
    """Scores of known users over a catalogue: what every recommender hands the top-N code."""

    users: np.ndarray  # int64, sorted: the users it can score
    items: np.ndarray  # int64, sorted: the columns of its scores
    dtype: np.dtype

    def score_into(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Scores of the users at positions ``rows`` of ``users``, written into ``out`` (len(rows), items)."""
        ...


@dataclass(frozen=True)
class FactorScorer:
    """A factor model: score = user vector . item vector (ALS, the rank-1 popularity model, the oracle)."""

    user_factors: Factors
    item_factors: Factors

    def __post_init__(self) -> None:
        object.__setattr__(self, "_items_t", np.ascontiguousarray(self.item_factors.vectors.T))

    @property
    def users(self) -> np.ndarray:
        return self.user_factors.index

    @property
    def items(self) -> np.ndarray:
        return self.item_factors.index

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.user_factors.vectors, self.item_factors.vectors)

    def score_into(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.matmul(self.user_factors.vectors[rows], self._items_t, out=out)


@dataclass(frozen=True)
class TopN:
    """One row per (user, rank): rank 1 is the best score; ties go to the smaller item index."""

    user: np.ndarray  # int64
    item: np.ndarray  # int64
    score: np.ndarray  # float64
    rank: np.ndarray  # int32

    def to_arrow(self, user_col: str, item_col: str) -> pa.Table:
        return pa.table({
            user_col: pa.array(self.user.astype(np.int32)), item_col: pa.array(self.item.astype(np.int32)),
            "score": pa.array(self.score), "rank": pa.array(self.rank)})


def _row_thresholds(scores: np.ndarray, n: int) -> np.ndarray:
    """A value <= each row's n-th best score (exact when the row is too short to block)."""
    width = scores.shape[1]
    if n >= width:
        return np.full(len(scores), -np.inf, scores.dtype)
    block = width // BLOCKS
    if n > BLOCKS or block < 2:
        return np.partition(scores, width - n, axis=1)[:, width - n]
    maxima = scores[:, : BLOCKS * block].reshape(len(scores), BLOCKS, block).max(axis=2)
    if width > BLOCKS * block:  # the leftover columns join the first block: blocks stay disjoint
        maxima[:, 0] = np.maximum(maxima[:, 0], scores[:, BLOCKS * block:].max(axis=1))
    return np.partition(maxima, BLOCKS - n, axis=1)[:, BLOCKS - n]


def _best_of_chunk(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, score, rank) of the ``n`` best finite scores of every row."""
    threshold = _row_thresholds(scores, n)
    flat = np.flatnonzero(scores >= threshold[:, None])
    rows, cols = np.divmod(flat, scores.shape[1])
    values = scores.reshape(-1)[flat]
    finite = np.isfinite(values)
    rows, cols, values = rows[finite], cols[finite], values[finite]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = rank < n
    return rows[keep], cols[keep], values[keep], (rank[keep] + 1).astype(np.int32)


def top_n(user_factors: Factors, item_factors: Factors, users: np.ndarray, n: int,
          excluded_users: np.ndarray | None = None, excluded_items: np.ndarray | None = None,
          progress: bool = False) -> TopN:
    """:func:`top_n_scored` for a factor model."""
    return top_n_scored(FactorScorer(user_factors, item_factors), users, n, excluded_users, excluded_items, progress)


def _rows_in(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of each key in ``sorted_keys``, whether it is there)."""
    rows = np.searchsorted(sorted_keys, keys)
    found = rows < len(sorted_keys)
    found[found] = sorted_keys[rows[found]] == keys[found]
    return rows, found


def top_n_scored(scorer: Scorer, users: np.ndarray, n: int, excluded_users: np.ndarray | None = None,
                 excluded_items: np.ndarray | None = None, progress: bool = False) -> TopN:
    """The ``n`` best items for each of ``users`` the scorer knows, never an excluded (user, item).

    ``excluded_users``/``excluded_items`` are parallel arrays of pairs in the same dense indices.
    """
    users = np.unique(np.asarray(users, dtype=np.int64))
    user_rows, known = _rows_in(scorer.users, users)
    users, user_rows = users[known], user_rows[known]
    if len(users) < len(known):
        log.info("%d of %d users have no scores (not in the training data): no list", (~known).sum(), len(known))
    ban_rows, ban_cols = _banned_cells(users, scorer.items, excluded_users, excluded_items)

    n_items = len(scorer.items)
    dtype = np.dtype(scorer.dtype)
    workers = max(1, min(WORKERS, len(users) // 1000))
    chunk = max(1, min(len(users), SCORE_BUFFER_BYTES // workers // max(1, dtype.itemsize * n_items)))
    bar = tqdm(total=len(users), desc="top-N", unit="user", disable=not progress or len(users) <= 100_000)

    def rank_rows(first: int, last: int) -> list[tuple[np.ndarray, ...]]:
        buffer = np.empty((chunk, n_items), dtype)  # reused: a fresh array per chunk costs page faults
        parts = []
        for start in range(first, last, chunk):
            stop = min(start + chunk, last)
            scores = scorer.score_into(user_rows[start:stop], buffer[: stop - start])
            lo, hi = np.searchsorted(ban_rows, [start, stop])
            scores[ban_rows[lo:hi] - start, ban_cols[lo:hi]] = -np.inf
            rows, cols, values, rank = _best_of_chunk(scores, n)
            parts.append((users[rows + start], scorer.items[cols], values.astype(np.float64), rank))
            bar.update(stop - start)
        return parts

    # numpy's selection and comparisons run on one core and release the GIL: one thread per
    # core, each with single-threaded BLAS, beat one thread with multi-threaded BLAS by 1.5x.
    bounds = np.linspace(0, len(users), workers + 1).astype(int)
    with threadpool_limits(1 if workers > 1 else None), ThreadPoolExecutor(workers) as pool:
        parts = [part for chunk_parts in pool.map(rank_rows, bounds[:-1], bounds[1:]) for part in chunk_parts]
    bar.close()
    log.info("top-%d lists for %d users over %d items", n, len(users), n_items)
    if not parts:
        empty = np.zeros(0, np.int64)
        return TopN(empty, empty, np.zeros(0), np.zeros(0, np.int32))
    return TopN(*(np.concatenate(column) for column in zip(*parts)))


def _banned_cells(users: np.ndarray, items: np.ndarray, excluded_users: np.ndarray | None,
                  excluded_items: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Excluded pairs as (row in ``users``, column in ``items``), sorted by row."""
    if excluded_users is None or excluded_items is None or len(excluded_users) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, in_users = _rows_in(users, np.asarray(excluded_users, dtype=np.int64))
    cols, in_items = _rows_in(items, np.asarray(excluded_items, dtype=np.int64))
    keep = in_users & in_items
    rows, cols = rows[keep], cols[keep]
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]


def column_values(df: DataFrame, col: str) -> np.ndarray:
    """One column of a (small) frame as an int64 array on the driver."""
    return df.select(col).toArrow().column(col).to_numpy().astype(np.int64)
