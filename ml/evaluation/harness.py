"""The evaluation harness: a split indexed once, the scored users and excluded pairs collected once,
then any registered model (and the oracle, when the generator's truth is there) fitted and scored
on exactly the same users. ``run`` and ``tune`` both evaluate through here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml import topk
from ml.columns import ITEM, STRENGTH, USER, I, U
from ml.evaluation.evaluate import evaluate
from ml.evaluation.oracle import oracle_scorer, truth_available
from ml.evaluation.splits import Split
from ml.evaluation.time_arrays import ArraySplit
from ml.indexed import Indexed, index_feedback
from ml.models import MODELS
from ml.params import RunParams

log = logging.getLogger(__name__)


def excluded_arrays(pairs: DataFrame | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(u, i) pairs collected as two parallel arrays, or (None, None)."""
    if pairs is None:
        return None, None
    table = pairs.select(U, I).toArrow()
    return table.column(U).to_numpy().astype(np.int64), table.column(I).to_numpy().astype(np.int64)


@dataclass
class EvalContext:
    """One split, prepared once: every model is scored on the same users and exclusions."""

    spark: SparkSession
    data: Indexed
    users: np.ndarray  # dense u of the scored users (sorted): active in training, with a relevant item after
    relevant_users: np.ndarray  # their distinct relevant (u, i) pairs; i = -1: an item unseen in training
    relevant_items: np.ndarray
    ex_users: np.ndarray | None  # (u, i) pairs never recommended
    ex_items: np.ndarray | None
    buyers: DataFrame | None  # u, i bought in training (popularity counts buyers)
    catalog_size: int
    ks: tuple[int, ...]
    window: dict

    def rank(self, scorer: topk.Scorer) -> topk.TopN:
        """The top max(ks) of every scored user."""
        return topk.top_n_scored(scorer, self.users, max(self.ks), self.ex_users, self.ex_items)

    def score(self, scorer: topk.Scorer) -> dict[str, float]:
        return evaluate(self.rank(scorer), self.users, self.relevant_users, self.relevant_items, self.ks,
                        self.catalog_size)

    def release(self) -> None:
        self.data.release()


def _relevant_pairs(relevant: DataFrame, data: Indexed) -> tuple[np.ndarray, np.ndarray]:
    """The distinct relevant pairs in dense indices, sorted by user; unseen items as -1."""
    pairs = (relevant.select(USER, ITEM).distinct().join(data.user_index, USER)
             .join(data.item_index, ITEM, "left").select(U, F.coalesce(F.col(I), F.lit(-1)).alias(I)))
    table = pairs.toArrow()
    users, items = (table.column(c).to_numpy().astype(np.int64) for c in (U, I))
    order = np.argsort(users, kind="stable")
    return users[order], items[order]


def prepare(spark: SparkSession, split: Split, ks: tuple[int, ...], exclude_history: bool) -> EvalContext:
    data = index_feedback(split.train, keep_arrow=True)
    relevant_users, relevant_items = _relevant_pairs(split.relevant, data)
    ex_users, ex_items = excluded_arrays(data.pairs(split.history) if exclude_history else None)
    return EvalContext(
        spark=spark, data=data, users=np.unique(relevant_users), relevant_users=relevant_users,
        relevant_items=relevant_items, ex_users=ex_users, ex_items=ex_items, buyers=data.pairs(split.buyers),
        catalog_size=data.item_index.count(), ks=ks, window=split.window)


def _dense(ids: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each id's position in the sorted ``known`` ids; -1 when it is not there."""
    if not len(known):
        return np.full(len(ids), -1, np.int64)
    at = np.searchsorted(known, ids).clip(max=len(known) - 1)
    return np.where(known[at] == ids, at, -1)


def _frame(spark: SparkSession, columns: dict[str, np.ndarray]) -> DataFrame:
    return spark.createDataFrame(pa.table(columns))


def prepare_arrays(spark: SparkSession, split: ArraySplit, ks: tuple[int, ...], exclude_history: bool) -> EvalContext:
    """:func:`prepare` for a split cut on the driver (ml/evaluation/time_arrays.py): the same context, indexed in
    numpy. Indices follow id order, as :func:`ml.ids.build_index` numbers them."""
    user_ids, item_ids = np.unique(split.train_users), np.unique(split.train_items)
    u = np.searchsorted(user_ids, split.train_users).astype(np.int32)
    i = np.searchsorted(item_ids, split.train_items).astype(np.int32)
    feedback = pa.table({U: u, I: i, STRENGTH: split.train_strength.astype(np.float64)})
    data = Indexed(spark.createDataFrame(feedback),
                   _frame(spark, {USER: user_ids, U: np.arange(len(user_ids), dtype=np.int32)}),
                   _frame(spark, {ITEM: item_ids, I: np.arange(len(item_ids), dtype=np.int32)}),
                   keep_arrow=True, _arrow=feedback)
    rel_u, rel_i = _dense(split.relevant.users, user_ids), _dense(split.relevant.items, item_ids)
    rel_u, rel_i = rel_u[rel_u >= 0], rel_i[rel_u >= 0]  # users unseen in training are not scored
    order = np.argsort(rel_u, kind="stable")
    relevant_users, relevant_items = rel_u[order], rel_i[order]
    hist_u, hist_i = _dense(split.history.users, user_ids), _dense(split.history.items, item_ids)
    known = (hist_u >= 0) & (hist_i >= 0)
    bought = {U: hist_u[known].astype(np.int32), I: hist_i[known].astype(np.int32)}
    return EvalContext(
        spark=spark, data=data, users=np.unique(relevant_users), relevant_users=relevant_users,
        relevant_items=relevant_items,
        ex_users=bought[U].astype(np.int64) if exclude_history else None,
        ex_items=bought[I].astype(np.int64) if exclude_history else None,
        buyers=_frame(spark, bought), catalog_size=len(item_ids), ks=ks, window=split.window)


def score_model(ctx: EvalContext, name: str, params: RunParams) -> dict[str, float]:
    """Fit model ``name`` on the split's training part and score it; adds ``fit_seconds``."""
    started = time.perf_counter()
    fitted = MODELS[name].fit(ctx.data, ctx.buyers, params)
    fit_seconds = time.perf_counter() - started
    metrics = ctx.score(fitted.scorer)
    return {**metrics, "fit_seconds": round(fit_seconds, 3)}


def score_oracle(ctx: EvalContext, truth_dir: Path) -> dict[str, float] | None:
    if not truth_available(truth_dir):
        return None
    scorer = oracle_scorer(truth_dir, ctx.data.user_index, ctx.data.item_index, ctx.users)
    return ctx.score(scorer) if scorer is not None else None


def fraction_of_oracle(metrics: dict[str, dict[str, float]], model: str) -> dict[str, float]:
    """Each metric of ``model`` as a share of the oracle's (rates only: no counts, seconds or coverage)."""
    if "oracle" not in metrics or model not in metrics:
        return {}
    return {k: metrics[model][k] / v for k, v in metrics["oracle"].items()
            if v and "@" in k and not k.startswith("coverage")}
