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
        rows = np.searchsorted(self.index, keys)
        found = rows < len(self.index)
        found[found] = self.index[rows[found]] == keys[found]
        return rows, found


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
    """The ``n`` best items for each of ``users`` that has a vector, never an excluded (user, item).

    ``excluded_users``/``excluded_items`` are parallel arrays of pairs in the same dense indices.
    """
    users = np.unique(np.asarray(users, dtype=np.int64))
    user_rows, known = user_factors.rows_of(users)
    users, user_rows = users[known], user_rows[known]
    if len(users) < len(known):
        log.info("%d of %d users have no factors (not in the training data): no list", (~known).sum(), len(known))
    ban_rows, ban_cols = _banned_cells(users, item_factors, excluded_users, excluded_items)

    n_items = len(item_factors.index)
    dtype = np.result_type(user_factors.vectors, item_factors.vectors)
    workers = max(1, min(WORKERS, len(users) // 1000))
    chunk = max(1, min(len(users), SCORE_BUFFER_BYTES // workers // max(1, dtype.itemsize * n_items)))
    item_vectors_t = np.ascontiguousarray(item_factors.vectors.T)
    bar = tqdm(total=len(users), desc="top-N", unit="user", disable=not progress)

    def rank_rows(first: int, last: int) -> list[tuple[np.ndarray, ...]]:
        buffer = np.empty((chunk, n_items), dtype)  # reused: a fresh array per chunk costs page faults
        parts = []
        for start in range(first, last, chunk):
            stop = min(start + chunk, last)
            scores = np.matmul(user_factors.vectors[user_rows[start:stop]], item_vectors_t,
                               out=buffer[: stop - start])
            lo, hi = np.searchsorted(ban_rows, [start, stop])
            scores[ban_rows[lo:hi] - start, ban_cols[lo:hi]] = -np.inf
            rows, cols, values, rank = _best_of_chunk(scores, n)
            parts.append((users[rows + start], item_factors.index[cols], values.astype(np.float64), rank))
            bar.update(stop - start)
        return parts

    # numpy's selection and comparisons run on one core and release the GIL: one thread per
    # core, each with single-threaded BLAS, beat one thread with multi-threaded BLAS by 1.5x.
    bounds = np.linspace(0, len(users), workers + 1).astype(int)
    with threadpool_limits(1 if workers > 1 else None), ThreadPoolExecutor(workers) as pool:
        parts = [part for chunk_parts in pool.map(rank_rows, bounds[:-1], bounds[1:]) for part in chunk_parts]
    bar.close()
    if not parts:
        empty = np.zeros(0, np.int64)
        return TopN(empty, empty, np.zeros(0), np.zeros(0, np.int32))
    return TopN(*(np.concatenate(column) for column in zip(*parts)))


def _banned_cells(users: np.ndarray, items: Factors, excluded_users: np.ndarray | None,
                  excluded_items: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Excluded pairs as (row in ``users``, column in ``items``), sorted by row."""
    if excluded_users is None or excluded_items is None or len(excluded_users) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ex_users = np.asarray(excluded_users, dtype=np.int64)
    ex_items = np.asarray(excluded_items, dtype=np.int64)
    rows = np.searchsorted(users, ex_users)
    in_users = rows < len(users)
    in_users[in_users] = users[rows[in_users]] == ex_users[in_users]
    cols, in_items = items.rows_of(ex_items)
    keep = in_users & in_items
    rows, cols = rows[keep], cols[keep]
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]


def column_values(df: DataFrame, col: str) -> np.ndarray:
    """One column of a (small) frame as an int64 array on the driver."""
    return df.select(col).toArrow().column(col).to_numpy().astype(np.int64)


def ranked_frame(user_factors: Factors, item_factors: Factors, users: DataFrame, n: int,
                 excluded: DataFrame | None, user_col: str, item_col: str) -> DataFrame:
    """Spark in, Spark out: the distinct ``users`` (user_col) and the ``excluded`` (user_col,
    item_col) pairs are collected; the lists come back as (user_col, item_col, score, rank)."""
    wanted = column_values(users.select(user_col).distinct(), user_col)
    ex_users = ex_items = None
    if excluded is not None:
        pairs = excluded.select(user_col, item_col).toArrow()
        ex_users, ex_items = pairs.column(user_col).to_numpy(), pairs.column(item_col).to_numpy()
    ranked = top_n(user_factors, item_factors, wanted, n, ex_users, ex_items, progress=len(wanted) > 100_000)
    log.info("top-%d lists for %d users over %d items", n, len(np.unique(ranked.user)), len(item_factors.index))
    return users.sparkSession.createDataFrame(ranked.to_arrow(user_col, item_col))
