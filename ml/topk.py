"""Exact top-N lists, computed with numpy on the driver in chunks of users.

Spark's recommendForAll multiplies user blocks by item blocks and pushes every candidate
through a per-user top-k aggregate: at 10M events (377k users x 197k items) that took
20 minutes. The factors themselves are small (rank x (users + items) floats), so the
driver scores users against items with BLAS and keeps the best ``n`` per user:

- factor models (ALS, the oracle): a bounded search. Items are taken longest vector first, and
  no item scores above |u| times its length, so a user is done once their n-th best beats the
  longest item left (at 10M, after 2,048 of 197k items for 98.7 % of users; the serving lists
  took 13.6 s instead of 68.3 s, the same lists);
- other scorers (EASE): every item scored. Selection avoids a per-row partition of the
  catalogue's scores: the k-th best of the row's block maxima is a lower bound of its k-th best
  score, so only the few scores above that bound are sorted;
- one shared ranking (popularity): ranked once, each user's excluded items skipped.
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

from ml.columns import ITEM, USER

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
        """Spark's factor frames (array<float> vectors)."""
        ids = table.column(id_col).to_numpy().astype(np.int64)
        column = table.column(vectors_col).combine_chunks()
        return cls.keyed(ids, column.flatten().to_numpy().astype(np.float32).reshape(len(ids), -1))

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
    """A factor model: score = user vector . item vector (ALS, the oracle)."""

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
class SharedScorer:
    """The same score of each item for every user (the popularity baseline). Its lists are the one
    global ranking minus each user's excluded items, so :func:`top_n_scored` ranks it once instead of
    scoring every user over the catalogue (at the month's evaluation: 173k users x 200k items, 73 s)."""

    users: np.ndarray  # int64, sorted
    items: np.ndarray  # int64, sorted
    scores: np.ndarray  # float64 (items,)

    @property
    def dtype(self) -> np.dtype:
        return self.scores.dtype

    def score_into(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        out[:] = self.scores
        return out


@dataclass(frozen=True)
class TopN:
    """One row per (user, rank): rank 1 is the best score; ties go to the smaller item index."""

    user: np.ndarray  # int64
    item: np.ndarray  # int64
    score: np.ndarray  # float64
    rank: np.ndarray  # int32

    @classmethod
    def empty(cls) -> TopN:
        none = np.zeros(0, np.int64)
        return cls(none, none, np.zeros(0), np.zeros(0, np.int32))

    def table(self, user_ids: np.ndarray | None = None, item_ids: np.ndarray | None = None) -> pa.Table:
        """(user_id, item_id, rank, score) rows, as outputs.nested_lists groups them; ``user_ids`` and
        ``item_ids`` (the ids by dense index) map the indices back to ids when the scorer ranked indices."""
        users = self.user if user_ids is None else user_ids[self.user]
        items = self.item if item_ids is None else item_ids[self.item]
        return pa.table({USER: pa.array(users, pa.int64()), ITEM: pa.array(items, pa.int64()),
                         "rank": pa.array(self.rank, pa.int32()), "score": pa.array(self.score, pa.float64())})


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


def _best_of_chunk(scores: np.ndarray, n: int, columns: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, score, rank) of the ``n`` best finite scores of every row; ``columns``: the
    column each of ``scores``' columns stands for (ties go to the smaller one), when not themselves."""
    threshold = _row_thresholds(scores, n)
    flat = np.flatnonzero(scores >= threshold[:, None])
    rows, cols = np.divmod(flat, scores.shape[1])
    values = scores.reshape(-1)[flat]
    finite = np.isfinite(values)
    rows, cols, values = rows[finite], cols[finite], values[finite]
    if columns is not None:
        cols = columns[cols]
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


Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # user, item, score, rank


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
    if isinstance(scorer, SharedScorer):
        return _top_n_shared(scorer, users, n, ban_rows, ban_cols)
    if not len(users) or not len(scorer.items):
        return _joined([])
    workers = max(1, min(WORKERS, len(users) // 1000))
    bar = tqdm(total=len(users), desc="top-N", unit="user", disable=not progress or len(users) <= 100_000)
    rank_rows = None
    if isinstance(scorer, FactorScorer):
        rank_rows = _bounded_ranker(scorer, users, user_rows, n, ban_rows, ban_cols, workers, bar)
    if rank_rows is None:
        rank_rows = _exhaustive_ranker(scorer, users, user_rows, n, ban_rows, ban_cols, workers, bar)
    # numpy's selection and comparisons run on one core and release the GIL: one thread per
    # core, each with single-threaded BLAS, beat one thread with multi-threaded BLAS by 1.5x.
    bounds = np.linspace(0, len(users), workers + 1).astype(int)
    with threadpool_limits(1 if workers > 1 else None), ThreadPoolExecutor(workers) as pool:
        parts = [part for chunk_parts in pool.map(rank_rows, bounds[:-1], bounds[1:]) for part in chunk_parts]
    bar.close()
    log.info("top-%d lists for %d users over %d items", n, len(users), len(scorer.items))
    return _joined(parts)


def _joined(parts: list[Part]) -> TopN:
    if not parts:
        return TopN.empty()
    return TopN(*(np.concatenate(column) for column in zip(*parts)))


def _exhaustive_ranker(scorer: Scorer, users: np.ndarray, user_rows: np.ndarray, n: int, ban_rows: np.ndarray,
                       ban_cols: np.ndarray, workers: int, bar: tqdm):
    """Every user scored over the whole catalogue, a chunk of users at a time (EASE)."""
    n_items = len(scorer.items)
    dtype = np.dtype(scorer.dtype)
    chunk = max(1, min(len(users), SCORE_BUFFER_BYTES // workers // max(1, dtype.itemsize * n_items)))

    def rank_rows(first: int, last: int) -> list[Part]:
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

    return rank_rows


# The bounded search of factor models: items by vector length, longest first; a user's first pass scores
# the PREFIX longest. By Cauchy-Schwarz no item past the prefix scores above |u| x (the longest left), so
# a user whose n-th best in the prefix is above that bound is done, exactly. ALS item lengths are very
# skewed (10M events: median 0.007, largest 17): the first 2048 of 197k items settled 98.7 % of users.
PREFIX = 2048
WIDEN = 8  # the next pass of the unsettled users scores this many times more items
CHUNK_USERS = 4096
# float32 products can exceed the exact product by a few units in the last place of |u||i|.
BOUND_SLACK = 1e-4


def _bounded_ranker(scorer: FactorScorer, users: np.ndarray, user_rows: np.ndarray, n: int, ban_rows: np.ndarray,
                    ban_cols: np.ndarray, workers: int, bar: tqdm):
    """Each chunk of users in passes over a growing prefix of the items (longest first); a pass settles the
    users whose n-th best score beats every item left, the rest go on. The lists equal the exhaustive
    search's (ties to the smaller item included: the items left score strictly below the n-th best).
    None when the lengths barely fall (unit vectors: similar products), as then few users settle early."""
    vectors = scorer.item_factors.vectors
    lengths = np.linalg.norm(vectors.astype(np.float64), axis=1)
    order = np.argsort(-lengths, kind="stable")
    reach = np.append(lengths[order] * (1 + BOUND_SLACK), 0.0)  # reach[w]: the longest item past a prefix of w
    if len(order) <= PREFIX or reach[PREFIX] > 0.5 * reach[0]:
        return None
    items_t = np.ascontiguousarray(vectors[order].T)
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    ban_pos = position[ban_cols]
    user_vectors = scorer.user_factors.vectors
    user_lengths = np.linalg.norm(user_vectors.astype(np.float64), axis=1)
    n_items = len(order)
    budget = max(n_items, SCORE_BUFFER_BYTES // workers // np.dtype(scorer.dtype).itemsize)  # scores per pass

    def one_pass(rows: np.ndarray, width: int, slot: np.ndarray, bans: tuple[np.ndarray, np.ndarray],
                 buffer: np.ndarray) -> tuple[Part, np.ndarray]:
        """Rows (positions in ``users``) scored over the first ``width`` items: their lists so far and
        which rows are settled."""
        scores = np.matmul(user_vectors[user_rows[rows]], items_t[:, :width],
                           out=buffer[: len(rows) * width].reshape(len(rows), width))
        chunk_rows, chunk_pos = bans
        mine = (slot[chunk_rows] >= 0) & (chunk_pos < width)
        scores[slot[chunk_rows[mine]], chunk_pos[mine]] = -np.inf
        r, c, v, rank = _best_of_chunk(scores, n, order[:width])
        nth = np.full(len(rows), -np.inf)
        nth[r[rank == n]] = v[rank == n]
        settled = np.ones(len(rows), bool) if width == n_items else user_lengths[user_rows[rows]] * reach[width] < nth
        return (r, c, v, rank), settled

    def rank_rows(first: int, last: int) -> list[Part]:
        buffer = np.empty(budget, scorer.dtype)  # reused: a fresh array per pass costs page faults
        parts = []
        for start in range(first, last, CHUNK_USERS):
            stop = min(start + CHUNK_USERS, last)
            parts.append(rank_chunk(start, stop, buffer))
            bar.update(stop - start)
        return parts

    def rank_chunk(start: int, stop: int, buffer: np.ndarray) -> Part:
        """The lists of users[start:stop], in user then rank order as the exhaustive search gives them."""
        parts = []
        lo, hi = np.searchsorted(ban_rows, [start, stop])
        bans = (ban_rows[lo:hi] - start, ban_pos[lo:hi])
        pending, width = np.arange(start, stop), PREFIX
        while len(pending):
            left = []
            for rows in np.array_split(pending, min(len(pending), -(-len(pending) * width // budget))):
                slot = np.full(stop - start, -1)
                slot[rows - start] = np.arange(len(rows))
                (r, c, v, rank), settled = one_pass(rows, width, slot, bans, buffer)
                done = settled[r]
                parts.append((rows[r[done]], c[done], v[done], rank[done]))
                left.append(rows[~settled])
            share_left = sum(map(len, left)) / len(pending)
            pending = np.concatenate(left)
            # Lengths that barely differ settle few users: go straight to the whole catalogue.
            width = n_items if share_left > 0.5 else min(n_items, width * WIDEN)
        rows, cols, values, rank = (np.concatenate(column) for column in zip(*parts))
        by_user = np.lexsort((rank, rows))
        return (users[rows[by_user]], scorer.items[cols[by_user]], values[by_user].astype(np.float64),
                rank[by_user])

    return rank_rows


SHARED_CHUNK = 200_000  # users per step of the shared ranking: bounds its candidate arrays


def _top_n_shared(scorer: SharedScorer, users: np.ndarray, n: int, ban_rows: np.ndarray,
                  ban_cols: np.ndarray) -> TopN:
    """:func:`top_n_scored` for a :class:`SharedScorer`: each user's list is the first ``n`` positions of the
    global ranking (best score first, ties to the smaller item, as the scored path breaks them) that the
    user is not banned from. A user's candidates are the first n + (their bans) positions."""
    scores = scorer.scores
    finite = np.flatnonzero(np.isfinite(scores))
    order = finite[np.lexsort((finite, -scores[finite]))]
    position = np.full(len(scores), len(order), np.int64)
    position[order] = np.arange(len(order))
    ban_pos = position[ban_cols]
    parts = []
    for first in range(0, len(users), SHARED_CHUNK):
        last = min(first + SHARED_CHUNK, len(users))
        lo, hi = np.searchsorted(ban_rows, [first, last])
        rows, banned = ban_rows[lo:hi] - first, ban_pos[lo:hi]
        width = np.minimum(n + np.bincount(rows, minlength=last - first), len(order))
        row = np.repeat(np.arange(last - first), width)
        pos = np.arange(len(row)) - np.repeat(np.cumsum(width) - width, width)
        cells = row * (len(order) + 1) + pos
        keep = ~np.isin(cells, rows * (len(order) + 1) + banned)
        row, pos = row[keep], pos[keep]
        rank = np.arange(len(row)) - np.searchsorted(row, row, side="left")
        row, pos, rank = row[rank < n], pos[rank < n], rank[rank < n]
        parts.append((users[row + first], scorer.items[order[pos]], scores[order[pos]].astype(np.float64),
                      (rank + 1).astype(np.int32)))
    log.info("top-%d lists for %d users over %d items (one shared ranking)", n, len(users), len(scores))
    return _joined(parts)


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
