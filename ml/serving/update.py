"""A daily update of the serving model: only the users with interactions newer than the last run are
touched, and only they get new lists; everyone else keeps theirs.

ALS: each changed user is re-solved on their whole history against the stored item factors (the exact
least-squares step, ml/models/als.py). Items never seen before start from the returning users who
interacted with them (or small and random when only brand-new users did), then a few rounds of ALS
between the new items and the users who touched them settle both, every other factor fixed.
EASE: the changed users' whole histories are scored against the stored item-item weights (new items
join at the next refit)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml import topk
from ml.columns import ITEM, STRENGTH, USER
from ml.data import load_history, read_table
from ml.models import als
from ml.models.als import solve_rows
from ml.models.ease import EaseScorer, ease_values
from ml.params import AlsParams, EaseParams, RunParams
from ml.serving import model_state
from ml.serving.model_state import ModelState
from pipeline.platform.timing import StageTimer

log = logging.getLogger(__name__)

# Rounds of users-then-new-items before the users' final step: new items that only new users touched
# need a few to settle (starting from random); with no new item, one users' step is the whole update.
UPDATE_ROUNDS = 3


@dataclass(frozen=True)
class Update:
    lists: pa.Table  # user_id, item_id, rank, score of the changed users
    changed: np.ndarray  # every user with a new interaction: their old lists go
    state: ModelState
    counts: dict[str, int]


def newest_interaction(spark: SparkSession, params: RunParams) -> dt.datetime | None:
    """The input's newest interaction time; None when it is empty or has no time column (plain pairs:
    nothing says what changed, so every run refits)."""
    spec = params.input
    table = read_table(spark, spec.table, [])
    if spec.time_col not in table.columns:
        return None
    return table.agg(F.max(spec.time_col)).first()[0]


def changed_users(spark: SparkSession, params: RunParams, since: dt.datetime) -> DataFrame:
    """Users with an interaction newer than ``since``."""
    spec = params.input
    table = read_table(spark, spec.table, [spec.user_col, spec.time_col])
    return table.where(F.col(spec.time_col) > F.lit(since)).select(F.col(spec.user_col).alias(USER)).distinct()


def _positions(keys: np.ndarray, sorted_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of each key in ``sorted_index``, whether it is there)."""
    pos = np.searchsorted(sorted_index, keys)
    found = pos < len(sorted_index)
    found[found] = sorted_index[pos[found]] == keys[found]
    return pos, found


def _solve(row_keys: np.ndarray, col_pos: np.ndarray, confidence: np.ndarray, other: np.ndarray,
           params: AlsParams) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct row keys, their vectors) from pairs (row key, position in ``other``)."""
    order = np.lexsort((col_pos, row_keys))
    keys, rows = np.unique(row_keys[order], return_inverse=True)
    vectors = solve_rows(rows, col_pos[order], confidence[order], len(keys), other, params.reg_param,
                         scale_reg_by_count=params.backend == "spark")
    return keys, vectors.astype(np.float32)


def merge_factors(base: topk.Factors, keys: np.ndarray, vectors: np.ndarray) -> topk.Factors:
    """``base`` with the vectors of ``keys`` replaced or added."""
    pos, found = _positions(base.index, keys)
    kept = ~found
    return topk.Factors.keyed(np.concatenate([base.index[kept], keys]),
                              np.concatenate([base.vectors[kept], vectors.astype(base.vectors.dtype)]))


def solve_changed(stored_users: topk.Factors, stored_items: topk.Factors, users: np.ndarray, items: np.ndarray,
                  confidence: np.ndarray, params: AlsParams) -> tuple[topk.Factors, topk.Factors]:
    """(the changed users' new vectors, every item's vectors: the stored ones plus the new items') from
    the changed users' whole histories as (user id, item id, confidence) pairs."""
    all_items = _settle_new_items(stored_users, stored_items, users, items, confidence, params)
    # Every changed user's exact step against the final item factors: the one solve over all their pairs.
    user_keys, user_vectors = _solve(users, _positions(items, all_items.index)[0], confidence, all_items.vectors,
                                     params)
    return topk.Factors(user_keys, user_vectors), all_items


def _settle_new_items(stored_users: topk.Factors, stored_items: topk.Factors, users: np.ndarray, items: np.ndarray,
                      confidence: np.ndarray, params: AlsParams) -> topk.Factors:
    """The stored item factors plus vectors for the items they do not hold.

    New items start from the returning users who touched them, solved against the stored item factors;
    an item only brand-new users touched (nothing links it to the model yet) starts small and random.
    Then a few rounds of ALS between the new items and the users who touched them, every other factor
    fixed. Only those users' pairs take part: a changed user who touched no new item moves the new
    items through the Gram term alone, so re-solving every changed user each round (5 solves over all
    their pairs, 33 s of a 10M update) bought almost nothing over the final step."""
    item_pos, known = _positions(items, stored_items.index)
    new = ~known
    if not new.any():
        return stored_items
    linked = np.isin(users, np.unique(users[new]))  # every pair of a user who touched a new item
    first = linked & known
    everyone = stored_users
    if first.any():
        first_keys, first_vectors = _solve(users[first], item_pos[first], confidence[first], stored_items.vectors,
                                           params)
        everyone = merge_factors(stored_users, first_keys, first_vectors)
    holder_pos, has_vector = _positions(users[new], everyone.index)
    new_keys, new_vectors = _solve(items[new][has_vector], holder_pos[has_vector], confidence[new][has_vector],
                                   everyone.vectors, params)
    unlinked = np.setdiff1d(np.unique(items[new]), new_keys)
    start = np.random.default_rng(params.seed).normal(0.0, 0.01, (len(unlinked), stored_items.vectors.shape[1]))
    all_items = merge_factors(stored_items, np.concatenate([new_keys, unlinked]),
                              np.concatenate([new_vectors, start.astype(np.float32)]))
    # Every round solves the same items, so the keys of all_items and the linked pairs' positions stay put.
    linked_users, linked_confidence = users[linked], confidence[linked]
    linked_pos = _positions(items[linked], all_items.index)[0]
    for _ in range(UPDATE_ROUNDS):
        user_keys, user_vectors = _solve(linked_users, linked_pos, linked_confidence, all_items.vectors, params)
        everyone = merge_factors(stored_users, user_keys, user_vectors)
        new_keys, new_vectors = _solve(items[new], _positions(users[new], everyone.index)[0], confidence[new],
                                       everyone.vectors, params)
        all_items = merge_factors(stored_items, new_keys, new_vectors)
    return all_items


def _als_step(state: ModelState, users: np.ndarray, items: np.ndarray, strength: np.ndarray,
              params: AlsParams) -> tuple[topk.Scorer, topk.Factors, topk.Factors]:
    """(scorer of the changed users, next state's users, next state's items) for ALS."""
    confidence = als.confidence_values(strength, params)
    changed, all_items = solve_changed(state.users, state.items, users, items, confidence, params)
    return (topk.FactorScorer(changed, all_items), merge_factors(state.users, changed.index, changed.vectors),
            all_items)


def _ease_step(state: ModelState, users: np.ndarray, items: np.ndarray, strength: np.ndarray,
               params: EaseParams) -> tuple[topk.Scorer, topk.Factors, topk.Factors]:
    """EASE: the changed users' histories against the stored item-item weights. Items outside the
    weights (new, or beyond max_items) wait for the next refit."""
    pos, known = _positions(items, state.items.index)
    keys, rows = np.unique(users[known], return_inverse=True)
    history = sp.csr_matrix((ease_values(strength[known], params.transform).astype(np.float32), (rows, pos[known])),
                            shape=(len(keys), len(state.items.index)))
    scorer = EaseScorer(keys, state.items.index, history, state.items.vectors)
    seen = np.union1d(state.users.index, users)
    return scorer, model_state.ids_only(seen), state.items


def update(spark: SparkSession, params: RunParams, state: ModelState, run_id: str,
           newest: dt.datetime | None = None, timer: StageTimer | None = None) -> Update:
    """New lists (and, for ALS, vectors) for the users with interactions after ``state.data_end``, up to
    ``newest`` (the input's newest interaction; read when not given). ``timer`` gets the seconds of
    reading the changed users' histories, solving, and ranking."""
    timer = timer or StageTimer()
    with timer.stage("update_read"):
        newest = newest or newest_interaction(spark, params) or state.data_end
        history = load_history(spark, params.input, changed_users(spark, params, state.data_end)).toArrow()
        positive = pc.greater(history.column(STRENGTH), 0)
        pairs = history.filter(positive)
        users = pairs.column(USER).to_numpy().astype(np.int64)
        items = pairs.column(ITEM).to_numpy().astype(np.int64)
        strength = pairs.column(STRENGTH).to_numpy()
        ex_users = ex_items = None
        if params.exclude_purchased:
            mine = history.filter(history.column("bought"))
            ex_users, ex_items = (mine.column(c).to_numpy().astype(np.int64) for c in (USER, ITEM))
    if len(users) == 0:
        log.info("update: no interaction after %s, every list stays", state.data_end)
        unchanged = dataclasses.replace(state, run_id=run_id, kind="update", data_end=newest)
        return Update(topk.TopN.empty().table(), users, unchanged, {"changed_users": 0, "new_users": 0, "new_items": 0,
                                                "changed_pairs": 0})
    with timer.stage("update_solve"):
        step = _als_step if state.model == "als" else _ease_step
        scorer, next_users, next_items = step(state, users, items, strength, state.params)
    with timer.stage("update_rank"):
        top = topk.top_n_scored(scorer, scorer.users, params.top_n, ex_users, ex_items, progress=True)
        lists = top.table()

    distinct_users = np.unique(users)
    counts = {"changed_users": len(distinct_users),
              "new_users": int((~_positions(distinct_users, state.users.index)[1]).sum()),
              "new_items": int(len(np.setdiff1d(np.unique(items), state.items.index))),
              "changed_pairs": len(users)}
    log.info("update: %d users with new interactions since %s (%d new), %d new items", counts["changed_users"],
             state.data_end, counts["new_users"], counts["new_items"])
    next_state = ModelState(run_id=run_id, kind="update", base_run=state.base_run,
                            refit_data_end=state.refit_data_end, data_end=newest, params=state.params,
                            users=next_users, items=next_items, refit_sizes=state.refit_sizes, model=state.model,
                            items_file=state.items_file if state.model == "ease" else None)
    return Update(lists, distinct_users, next_state, counts)
