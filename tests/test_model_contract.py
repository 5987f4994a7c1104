"""The contract every registered recommender keeps (ml/models/__init__.py MODELS, each checked the same way):
a scorer over exactly the users and items it was fitted on, with finite scores; served lists that never hold
an excluded pair, ranked 1..n without gaps, best first, ties to the smaller item; and one clear error on
empty input. A new model registered in MODELS is checked here without a new test; ALS is checked with each
of its fits (implicit's, the embedded default, and Spark MLlib's, the cluster's)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ml import topk
from ml.columns import STRENGTH, I, U
from ml.data import MlDataError
from ml.indexed import Indexed
from ml.models import MODELS
from ml.params import RunParams

N_USERS, N_ITEMS, TOP = 40, 25, 6
SCHEMA = f"{U} int, {I} int, {STRENGTH} double"


def _pairs() -> list[tuple[int, int, float]]:
    """Every user with 3-8 items, strengths in halves (ties on purpose); item 24 has no pair at all."""
    rng = np.random.default_rng(17)
    pairs = {}
    for u in range(N_USERS):
        for i in rng.choice(N_ITEMS - 1, rng.integers(3, 9), replace=False):
            pairs[(u, int(i))] = float(rng.integers(1, 7)) / 2
    return [(u, i, s) for (u, i), s in sorted(pairs.items())]


@pytest.fixture(scope="module")
def fitted(spark):
    pairs = _pairs()
    data = Indexed(spark.createDataFrame(pairs, SCHEMA), None, None)
    buyers = spark.createDataFrame([(u, i) for u, i, s in pairs if s >= 2.5], f"{U} int, {I} int")
    base = RunParams()
    params = dataclasses.replace(base, als=dataclasses.replace(base.als, rank=4, max_iter=3))
    fitted = {name: model.fit(data, buyers, params) for name, model in MODELS.items()}
    spark_als = dataclasses.replace(params.als, backend="spark")
    fitted["als-spark"] = MODELS["als"].fit(data, buyers, dataclasses.replace(params, als=spark_als))
    return pairs, fitted


FITS = sorted([*MODELS, "als-spark"])


@pytest.mark.parametrize("name", FITS)
def test_a_model_scores_exactly_the_users_and_items_it_was_fitted_on(fitted, name):
    pairs, models = fitted
    scorer = models[name].scorer
    assert scorer.users.tolist() == sorted({u for u, _, _ in pairs})
    assert scorer.items.tolist() == sorted({i for _, i, _ in pairs})  # item 24 had no pair: not scored
    scores = scorer.score_into(np.arange(len(scorer.users)),
                               np.empty((len(scorer.users), len(scorer.items)), scorer.dtype))
    assert np.isfinite(scores).all() and scores.std() > 0


@pytest.mark.parametrize("name", FITS)
def test_served_lists_skip_excluded_pairs_rank_without_gaps_and_break_ties_by_item(fitted, name):
    pairs, models = fitted
    scorer = models[name].scorer
    seen = np.array([(u, i) for u, i, _ in pairs])
    lists = topk.top_n_scored(scorer, np.arange(N_USERS + 3), TOP, seen[:, 0], seen[:, 1])  # 3 unknown users
    assert set(lists.user.tolist()) == set(range(N_USERS))
    assert not {(u, i) for u, i in zip(lists.user.tolist(), lists.item.tolist())} & set(map(tuple, seen.tolist()))
    scores = scorer.score_into(np.arange(len(scorer.users)), np.empty((len(scorer.users), len(scorer.items)),
                                                                      scorer.dtype)).astype(np.float64)
    for u in range(N_USERS):
        mine = lists.user == u
        items, ranks, got = lists.item[mine], lists.rank[mine], lists.score[mine]
        unseen = N_ITEMS - 1 - len({i for uu, i, _ in pairs if uu == u})
        assert ranks.tolist() == list(range(1, min(TOP, unseen) + 1))
        # best first, equal scores to the smaller item, and each list's scores are the model's own
        assert all((a > b) or (a == b and x < y) for a, b, x, y in zip(got, got[1:], items, items[1:]))
        np.testing.assert_allclose(got, scores[u, np.searchsorted(scorer.items, items)], rtol=1e-6)
        # nothing unseen scores above the list's last entry (else it would be on the list)
        rest = np.setdiff1d(scorer.items, np.concatenate([items, seen[seen[:, 0] == u, 1]]))
        assert (scores[u, np.searchsorted(scorer.items, rest)] <= got[-1] + 1e-9).all()


@pytest.mark.parametrize("name", FITS)
def test_no_pairs_is_one_clear_error(spark, name):
    empty = Indexed(spark.createDataFrame([], SCHEMA), None, None)
    params = RunParams()
    if name == "als-spark":
        name, params = "als", dataclasses.replace(params, als=dataclasses.replace(params.als, backend="spark"))
    with pytest.raises(MlDataError, match="no user-item pairs to fit on"):
        MODELS[name].fit(empty, None, params)
