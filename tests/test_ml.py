"""ALS recommendations on real Spark: metrics by hand, id mapping, exclusion rules, output shape,
and ALS beating the popularity baseline on data with planted tastes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from ml import ids, topk
from ml.columns import SCORE, STRENGTH, I, U
from ml.data import StrengthRule, load_active_users
from ml.evaluation.evaluate import evaluate
from ml.evaluation.metrics import (
    average_precision_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    user_metrics,
)
from ml.evaluation.splits import weighted
from ml.indexed import Indexed
from ml.models import MODELS
from ml.models.popularity import popularity
from ml.params import EvalSpec, InputSpec, RefitPolicy, RunParams
from ml.serving import model_state
from ml.serving.similar import similar_items
from ml.training import run
from pipeline.generate.params import GeneratorParams
from pipeline.generate.truth import ITEMS_FILE
from pipeline.platform.config import dbt_vars, load_settings
from pipeline.transform.runner import run_dbt
from tests.chain import land_generated
from tests.marts import pair_interactions

# ALS ndcg@10 / popularity ndcg@10 on data of this shape (150k rows, 21 days, 4-day holdout, default
# ALS parameters), measured for generator seeds 1-5: 1.64, 1.57, 2.29, 1.48, 1.38. The bound sits
# below the worst of them, so the test does not hang on one lucky seed.
MIN_NDCG_RATIO = 1.2
# Share of a popular product's 20 similar products in its planted taste group (24 groups, chance 0.072):
# measured 0.9915 on this data (seed 3); the bound leaves room for another seed.
MIN_SAME_GROUP_SHARE = 0.8


def test_the_driver_side_popularity_scores_items_like_the_spark_rule(spark):
    rng = np.random.default_rng(11)
    pairs = {(int(u), int(i)): float(rng.integers(1, 9)) / 2 for u, i in rng.integers(0, 40, (300, 2))}
    feedback = spark.createDataFrame([(u, i, s) for (u, i), s in pairs.items()], f"{U} int, {I} int, {STRENGTH} double")
    bought = [(u, i) for (u, i) in list(pairs)[::3]] + [(u, i) for (u, i) in list(pairs)[::3]]  # duplicates too
    buyers = spark.createDataFrame(bought, f"{U} int, {I} int")
    data = Indexed(feedback, None, None)
    for who in (buyers, None):
        expected = {r[I]: r[SCORE] for r in popularity(who, feedback).collect()}
        scorer = MODELS["popularity"].fit(data, who, RunParams()).scorer
        got = dict(zip(scorer.items.tolist(), scorer.scores.tolist()))
        assert got.keys() == expected.keys()
        assert all(got[i] == pytest.approx(v, rel=1e-12) for i, v in expected.items())
    assert sorted(scorer.users.tolist()) == sorted({u for u, _ in pairs})


def test_metrics_on_a_hand_computed_example():
    ranked, relevant = [10, 20, 30, 40, 50], {20, 50, 99}
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(2 / 5)
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert hit_rate_at_k(ranked, relevant, 1) == 0.0 and hit_rate_at_k(ranked, relevant, 2) == 1.0
    # Hits at ranks 2 and 5: DCG = 1/log2(3) + 1/log2(6); ideal has 3 hits at ranks 1-3.
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / ideal)
    # AP@5 = (1/2 + 2/5) / min(3, 5)
    assert average_precision_at_k(ranked, relevant, 5) == pytest.approx((0.5 + 0.4) / 3)
    # More relevant items than k: MAP divides by min(|relevant|, k) = 5, not by |relevant| = 8.
    many = {1, 3, 6, 7, 8, 9, 10, 11}
    assert average_precision_at_k([1, 2, 3, 4, 5], many, 5) == pytest.approx((1 / 1 + 2 / 3) / 5)
    assert recall_at_k([1, 2, 3, 4, 5], many, 5) == pytest.approx(2 / 8)
    assert ndcg_at_k([20], {20}, 10) == 1.0 and average_precision_at_k([20], {20}, 10) == 1.0
    assert user_metrics([], {1}, [5])["ndcg@5"] == 0.0


def test_array_evaluation_equals_the_per_user_reference():
    """ml/evaluation/evaluate.py (arrays, every user at once) against ml/evaluation/metrics.py (plain Python,
    one user at a time)."""
    rng = np.random.default_rng(5)
    users = np.sort(rng.choice(1000, 60, replace=False))
    ks, catalog = (1, 5, 10), 80
    lists: dict[int, list[int]] = {}
    for user in users[:-5]:  # the last five users have no list at all
        lists[int(user)] = rng.choice(catalog, int(rng.integers(0, 11)), replace=False).tolist()  # some short
    relevant: dict[int, set[int]] = {}
    for user in users:  # relevant items: some recommended, some not, some never seen in training (-1 below)
        relevant[int(user)] = set(rng.choice(catalog + 40, int(rng.integers(1, 8)), replace=False).tolist())
    top = topk.TopN(
        user=np.array([u for u, items in lists.items() for _ in items], np.int64),
        item=np.array([i for items in lists.values() for i in items], np.int64),
        score=np.zeros(sum(map(len, lists.values()))),
        rank=np.array([r for items in lists.values() for r in range(1, len(items) + 1)], np.int32))
    pairs = sorted((u, i) for u, items in relevant.items() for i in items)
    rel_users = np.array([u for u, _ in pairs], np.int64)
    unseen = np.array([i for _, i in pairs]) >= catalog
    rel_items = np.where(unseen, -1, np.array([i for _, i in pairs], np.int64))

    got = evaluate(top, users, rel_users, rel_items, ks, catalog)

    per_user = [user_metrics(lists.get(int(u), []), relevant[int(u)], ks) for u in users]
    for key in per_user[0]:
        assert got[key] == pytest.approx(sum(m[key] for m in per_user) / len(users), abs=1e-12), key
    for k in ks:
        covered = {i for items in lists.values() for i in items[:k]}
        assert got[f"coverage@{k}"] == len(covered) / catalog
    assert got["users"] == len(users) and got["ndcg@10"] > 0


def test_id_mapping_round_trips_ids_beyond_int32(spark):
    big = [2**31 + 5, 2**40, 7, 2**62 + 1]
    df = spark.createDataFrame([(u,) for u in big], "user_id bigint")
    index = ids.build_index(df, "user_id", "u")
    assert sorted(r.u for r in index.collect()) == [0, 1, 2, 3]
    assert dict(index.select("user_id", "u").collect()) == {7: 0, 2**31 + 5: 1, 2**40: 2, 2**62 + 1: 3}
    back = ids.to_id(ids.to_index(df, index, "user_id"), index, "u")
    assert sorted(r.user_id for r in back.collect()) == sorted(big)
    assert dict(index.dtypes)["u"] == "int"


def test_active_users_are_those_seen_in_the_data_s_last_days(spark):
    """Measured from the newest event of the table, not from today: a 2019 log still has active users."""
    rows = [(1, "2019-10-30 23:00:00"), (1, "2019-10-01 00:00:00"), (2, "2019-10-24 00:00:01"),
            (3, "2019-10-23 23:59:59"), (4, "2019-10-02 00:00:00"), (5, "2019-10-31 00:00:00")]
    spark.createDataFrame(rows, "user_id bigint, t string").selectExpr(
        "user_id", "to_timestamp(t) as last_event_at").createOrReplaceTempView("active_probe")
    newest = max(dt.datetime.fromisoformat(t) for _, t in rows)
    for days in (1, 7, 30):
        expected = {u for u, t in rows if dt.datetime.fromisoformat(t) >= newest - dt.timedelta(days=days)}
        got = load_active_users(spark, InputSpec(table="active_probe"), days)
        assert {r.user_id for r in got.collect()} == expected, days
    assert {r.user_id for r in load_active_users(spark, InputSpec(table="active_probe"), 7).collect()} == {1, 2, 5}


def _sorted_reference(scores: np.ndarray, banned: set[tuple[int, int]], n: int) -> list[list[int]]:
    """Each row's n best finite columns by a plain full sort: score descending, column ascending."""
    return [sorted((j for j in range(scores.shape[1]) if (r, j) not in banned),
                   key=lambda j, r=r: (-scores[r, j], j))[:n] for r in range(scores.shape[0])]


@pytest.mark.parametrize("n_items, n", [(7, 10), (300, 10), (5003, 10), (5003, 100)])
def test_top_n_equals_a_full_sort_with_exclusions_and_ties(n_items, n):
    rng = np.random.default_rng(n_items + n)
    # Halves make exact float32 products and many tied scores; ids are sparse on purpose.
    def halves(rows: int) -> np.ndarray:
        return (np.round(rng.standard_normal((rows, 4)) * 2) / 2).astype(np.float32)

    items = topk.Factors(np.arange(n_items) * 3 + 1, halves(n_items))
    user_ids = np.arange(40) * 5
    users = topk.Factors(user_ids, halves(40))
    ex_rows, ex_cols = rng.integers(0, 40, 200), rng.integers(0, n_items, 200)
    ex_rows[:n_items] = 0  # user 0 has bought the whole of a small catalog...
    ex_cols[:n_items] = np.arange(min(n_items, 200))
    wanted = np.concatenate([user_ids[::-1], [999_999]])  # ...and one user has no factors at all
    got = topk.top_n(users, items, wanted, n, user_ids[ex_rows], items.index[ex_cols])
    reference = _sorted_reference(users.vectors.astype(np.float64) @ items.vectors.T.astype(np.float64),
                                  set(zip(ex_rows.tolist(), ex_cols.tolist())), n)
    for row, user in enumerate(user_ids):
        mine = got.user == user
        assert ((got.item[mine] - 1) // 3).tolist() == reference[row], f"user {user}"
        assert list(got.rank[mine]) == list(range(1, len(reference[row]) + 1))
    assert 999_999 not in got.user and len(got.user) == sum(map(len, reference))


@pytest.mark.parametrize("prefix, chunk", [(16, 1), (16, 7), (64, 40), (4096, 4096)])
def test_the_bounded_search_equals_a_full_sort_with_exclusions_ties_and_skewed_lengths(prefix, chunk, monkeypatch):
    """Items by length, a pass over a prefix at a time (topk.PREFIX): as ALS's, the lengths span orders of
    magnitude, so most users settle early and the rest take one or more wider passes. A prefix as long as
    the catalogue scores every item (the exhaustive search: the control)."""
    monkeypatch.setattr(topk, "PREFIX", prefix)
    monkeypatch.setattr(topk, "CHUNK_USERS", chunk)
    exhaustive = topk._exhaustive_ranker
    searches = []
    monkeypatch.setattr(topk, "_exhaustive_ranker", lambda *a: searches.append(a) or exhaustive(*a))
    rng = np.random.default_rng(prefix + chunk)
    n_items, n = 600, 8
    # Directions of one or two coordinates of +-1 (many tied scores), lengths halving every 8 items in
    # random item order (powers of two keep every product exact).
    directions = np.zeros((n_items, 4), np.float32)
    directions[np.arange(n_items), rng.integers(0, 4, n_items)] = rng.choice([-1, 1], n_items)
    directions[np.arange(n_items), rng.integers(0, 4, n_items)] += rng.choice([-1, 0, 1], n_items)
    directions[~directions.any(axis=1), 0] = 1
    lengths = np.float32(2.0) ** -rng.permutation(np.arange(n_items) // 8).astype(np.float32)
    items = topk.Factors(np.arange(n_items) * 3 + 1, directions * lengths[:, None])
    user_ids = np.arange(60) * 5
    vectors = (np.round(rng.standard_normal((60, 4)) * 2) / 2).astype(np.float32)
    vectors[7] = 0  # every score 0: all tied, the smallest items win
    users = topk.Factors(user_ids, vectors)
    ex_rows, ex_cols = rng.integers(0, 60, 3000), rng.integers(0, n_items, 3000)
    ex_rows[:n_items] = 3  # user 15 has bought everything
    ex_cols[:n_items] = np.arange(n_items)
    got = topk.top_n(users, items, user_ids, n, user_ids[ex_rows], items.index[ex_cols])
    reference = _sorted_reference(users.vectors.astype(np.float64) @ items.vectors.T.astype(np.float64),
                                  set(zip(ex_rows.tolist(), ex_cols.tolist())), n)
    assert got.user.tolist() == sorted(got.user.tolist())  # user then rank order, as the exhaustive search
    for row, user in enumerate(user_ids):
        mine = got.user == user
        assert ((got.item[mine] - 1) // 3).tolist() == reference[row], f"user {user}"
        assert got.rank[mine].tolist() == list(range(1, len(reference[row]) + 1))
    assert 15 not in got.user
    assert len(searches) == (1 if prefix >= n_items else 0)


@pytest.mark.parametrize("n_items, n", [(7, 10), (300, 10), (5003, 100)])
def test_one_shared_ranking_equals_a_full_sort_with_exclusions_and_ties(n_items, n, monkeypatch):
    monkeypatch.setattr(topk, "SHARED_CHUNK", 7)  # several chunks, a user's bans split from the next's
    rng = np.random.default_rng(n_items * n)
    scores = rng.integers(0, 6, n_items).astype(np.float64)  # many tied items
    scores[rng.integers(0, n_items, 3)] = -np.inf  # never listed
    items, user_ids = np.arange(n_items) * 3 + 1, np.arange(40) * 5
    ex_rows, ex_cols = rng.integers(0, 40, 3000), rng.integers(0, n_items, 3000)
    ex_rows[:n_items] = 0  # user 0 has bought the whole of a small catalog
    ex_cols[:n_items] = np.arange(min(n_items, 3000))
    scorer = topk.SharedScorer(user_ids, items, scores)
    got = topk.top_n_scored(scorer, np.concatenate([user_ids[::-1], [999_999]]), n, user_ids[ex_rows],
                            items[ex_cols])
    reference = _sorted_reference(np.tile(scores, (40, 1)), set(zip(ex_rows.tolist(), ex_cols.tolist())), n)
    for row, user in enumerate(user_ids):
        mine = got.user == user
        expected = [j for j in reference[row] if np.isfinite(scores[j])]
        assert ((got.item[mine] - 1) // 3).tolist() == expected, f"user {user}"
        assert got.rank[mine].tolist() == list(range(1, len(expected) + 1))
        assert got.score[mine].tolist() == scores[expected].tolist()
    assert 999_999 not in got.user


@pytest.fixture(scope="module")
def ml_lakehouse(spark, settings, tmp_path_factory):
    """150k generated events over 21 days, ingested and modelled by dbt, then one ML run."""
    land_generated(spark, settings, GeneratorParams(rows=150_000, days=21, seed=3), tmp_path_factory.mktemp("ml"))
    run_dbt(["run", "--full-refresh", "--select", "+user_item_interactions", "+dim_users", "+dim_products"],
            load_settings())
    params = RunParams(evaluation=dataclasses.replace(EvalSpec(), holdout_days=4), top_n=10,
                       refit=RefitPolicy(force=True))
    report = run(spark, settings, params, progress=False)
    return report, params


def test_als_beats_popularity_and_trails_the_oracle(ml_lakehouse):
    report, _ = ml_lakehouse
    m = report["metrics"]
    assert m["als"]["ndcg@10"] >= MIN_NDCG_RATIO * m["popularity"]["ndcg@10"]
    assert m["oracle"]["ndcg@10"] > m["als"]["ndcg@10"]
    assert 0 < report["fraction_of_oracle"]["ndcg@10"] < 1
    assert m["als"]["coverage@10"] > m["popularity"]["coverage@10"]


def test_evaluation_weighs_events_exactly_as_the_interaction_mart(spark, ml_lakehouse, settings):
    """One strength rule in two languages: the time split's training strengths (ml/evaluation/splits.py
    ``weighted``, from events) equal the mart's (models/marts/features/user_item_days.sql with
    macros/sql/event_weight.sql, from anchored sums) when both decay to the newest event."""
    events = spark.table("cleaned.cleaned_events").selectExpr(
        "user_id", "product_id as item_id", "event_type", "event_time as time")
    newest = events.agg(F.max("time")).first()[0]
    rule = StrengthRule.from_vars(dbt_vars(settings.dbt_project_dir))
    python_side = {(r.user_id, r.item_id): r.strength for r in weighted(events, rule, newest).collect()}
    mart = {(r.user_id, r.product_id): r.strength for r in pair_interactions(spark).where("strength > 0").collect()}
    assert mart.keys() == python_side.keys() and len(mart) > 1000
    assert all(mart[k] == pytest.approx(v, rel=1e-9) for k, v in python_side.items())


def test_recommendations_are_top_n_per_user_ranked_and_never_already_bought(spark, ml_lakehouse):
    report, params = ml_lakehouse
    recs = spark.table("ml.recommendations")
    per_user = recs.groupBy("user_id").agg(F.count("*").alias("n"), F.min("rank").alias("lo"),
                                           F.max("rank").alias("hi"), F.countDistinct("rank").alias("ranks"),
                                           F.countDistinct("product_id").alias("items"))
    assert per_user.where(f"n != {params.top_n} or lo != 1 or hi != {params.top_n} or ranks != {params.top_n}"
                          f" or items != {params.top_n}").count() == 0
    users = spark.table("marts.user_item_interactions").select("user_id").distinct().count()
    assert per_user.count() == users == report["counts"]["users"]
    assert recs.count() == users * params.top_n == report["counts"]["recommendation_rows"]
    # Scores never increase down a user's list.
    ordered = recs.withColumn("prev", F.lag("score").over(Window.partitionBy("user_id").orderBy("rank")))
    assert ordered.where("prev < score").count() == 0
    bought = spark.table("marts.user_item_interactions").where("purchases > 0")
    assert recs.join(bought, ["user_id", "product_id"]).count() == 0
    assert bought.count() > 0
    assert recs.select("run_id").distinct().collect()[0].run_id == report["run_id"]


def test_served_lists_are_the_best_unbought_items_under_the_saved_model(spark, ml_lakehouse, settings):
    """Recomputed from the saved factors (keyed by id) with plain collect() and float64 dot products."""
    report, params = ml_lakehouse
    state = model_state.load(settings.lakehouse_dir / "models" / report["run_id"])
    user_vec = dict(zip(state.users.index.tolist(), state.users.vectors.astype(np.float64)))
    item_vec = dict(zip(state.items.index.tolist(), state.items.vectors.astype(np.float64)))
    items = sorted(item_vec)
    matrix = np.stack([item_vec[i] for i in items])
    sample = [r.user_id for r in spark.table("ml.recommendations").select("user_id").distinct()
              .orderBy(F.xxhash64("user_id")).limit(25).collect()]
    lists = spark.table("ml.recommendations").where(F.col("user_id").isin(sample)).collect()
    bought = spark.table("marts.user_item_interactions").where("purchases > 0").where(F.col("user_id").isin(sample))
    bought_by = {(r.user_id, r.product_id) for r in bought.collect()}
    for user in sample:
        mine = sorted((r for r in lists if r.user_id == user), key=lambda r: r.rank)
        scores = matrix @ user_vec[user]
        for r in mine:
            assert r.score == pytest.approx(scores[items.index(r.product_id)], rel=1e-4, abs=1e-5)
        listed = {r.product_id for r in mine}
        banned = {p for (u, p) in bought_by if u == user and p in item_vec}
        others = [s for i, s in zip(items, scores) if i not in listed and i not in banned]
        assert max(others) <= mine[-1].score + 1e-5, f"user {user}: a better unbought item was left out"
    assert len(lists) == len(sample) * params.top_n


def test_run_is_recorded_and_reported(spark, ml_lakehouse, settings):
    report, _ = ml_lakehouse
    row = spark.table("ml.model_runs").where(F.col("run_id") == report["run_id"]).first()
    assert row.metrics["als.ndcg@10"] == pytest.approx(report["metrics"]["als"]["ndcg@10"])
    assert row.counts["users"] == report["counts"]["users"]
    assert row.params["als.backend"] == "implicit"  # the embedded engine's fit
    assert row.eval_cutoff is not None and row.data_start < row.eval_cutoff < row.data_end
    assert {"eval_als", "serve_fit", "write"} <= set(row.stage_seconds)
    saved = json.loads((settings.reports_dir / "last_run.json").read_text())
    assert saved["run_id"] == report["run_id"]
    keys = {f"{m}@{k}" for m in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage") for k in (5, 10, 20)}
    assert set(saved["metrics"]) == {"als", "ease", "popularity", "oracle"}
    assert all(keys == {k for k in v if "@" in k} for v in saved["metrics"].values())
    assert all(saved["metrics"][m]["fit_seconds"] > 0 for m in ("als", "ease"))
    popular = spark.table("ml.popular_products").orderBy("rank").collect()
    assert [r.rank for r in popular] == list(range(1, len(popular) + 1))
    saved_model = settings.lakehouse_dir / "models" / report["run_id"]
    assert model_state.exists(saved_model) and sorted(p.name for p in saved_model.iterdir()) == ["state"]


def test_recommendation_marts_build_and_pass_their_tests(spark, ml_lakehouse, settings):
    run_dbt(["build", "--select", "tag:recommendations"], load_settings())
    enriched = spark.table("marts.user_recommendations")
    assert enriched.count() == spark.table("ml.recommendations").count()
    assert enriched.where("price is null").count() == 0
    latest = {(r.metric, r.k): r for r in spark.table("marts.model_quality_latest").collect()}
    assert latest[("ndcg", 10)].als == pytest.approx(ml_lakehouse[0]["metrics"]["als"]["ndcg@10"])
    # similar_products is rewritten at refits only; its tests run in the builds that rewrite it.
    assert spark.table("marts.similar_products").count() == spark.table("ml.similar_products").count() > 0
    key_test = next((settings.dbt_target_dir / "run" / "recolake" / "models" / "marts" / "recommendations"
                     / "_recommendations__models.yml").glob("composite_key_similar_products_*.sql"))
    assert "where false" not in key_test.read_text()
    version = spark.sql("describe history marts.similar_products limit 1").first().version
    run_dbt(["build", "--select", "similar_products"], load_settings())
    assert spark.sql("describe history marts.similar_products limit 1").first().version == version
    assert "where false" in key_test.read_text()
    assert latest[("ndcg", 10)].oracle == pytest.approx(ml_lakehouse[0]["metrics"]["oracle"]["ndcg@10"])


def test_similar_products_of_a_planted_group_member_are_mostly_its_group(spark, ml_lakehouse, settings):
    """The generator plants taste groups (pipeline/generate/catalog.py): a product's similar products
    should come from its group far more often than chance; measured on the 100 products with the most
    users (MIN_SAME_GROUP_SHARE)."""
    truth = pq.read_table(settings.truth_dir / ITEMS_FILE).to_pydict()
    group = dict(zip(truth["product_id"], truth["taste_group"]))
    similar = spark.table("ml.similar_products").collect()
    by_product: dict[int, list] = {}
    for r in similar:
        by_product.setdefault(r.product_id, []).append(r)
    assert all(r.similar_product_id != r.product_id for r in similar)
    assert {len(rows) for rows in by_product.values()} == {20}
    assert all(sorted(r.rank for r in rows) == list(range(1, 21)) for rows in by_product.values())
    sources = [r.product_id for r in pair_interactions(spark).groupBy("product_id").count()
               .orderBy(F.desc("count"), "product_id").limit(100).collect()]
    pairs = [(p, r.similar_product_id) for p in sources for r in by_product[p]]
    share = sum(group[a] == group[b] for a, b in pairs) / len(pairs)
    sizes = np.bincount(np.array(list(group.values())))
    chance = float(((sizes / sizes.sum()) ** 2).sum())
    assert share >= MIN_SAME_GROUP_SHARE and share > 5 * chance, (share, chance)


@pytest.mark.parametrize("model", ["als", "ease"])
def test_similar_items_rank_by_cosine_or_ease_weight_and_never_the_item_itself(model):
    rng = np.random.default_rng(4)
    ids = np.array([3, 8, 10, 21, 40, 41, 77], np.int64)
    vectors = rng.normal(size=(len(ids), 4) if model == "als" else (len(ids), len(ids))).astype(np.float32)
    if model == "ease":
        np.fill_diagonal(vectors, 0.0)
    state = model_state.ModelState(
        run_id="r", kind="refit", base_run="r", refit_data_end=dt.datetime(2020, 1, 1),
        data_end=dt.datetime(2020, 1, 1), params=None, users=model_state.ids_only(np.array([1])),
        items=topk.Factors(ids, vectors), refit_sizes=(1, len(ids)), model=model)
    got = similar_items(state, n=3).to_pydict()
    if model == "als":
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = unit @ unit.T
    else:
        scores = vectors.astype(np.float64)
    for row, item in enumerate(ids):
        others = [j for j in np.argsort(-scores[row], kind="stable") if j != row][:3]
        mine = [k for k, source in enumerate(got["item_id"]) if source == item]
        assert [got["similar_item_id"][k] for k in mine] == [ids[j] for j in others]
        assert [got["rank"][k] for k in mine] == [1, 2, 3]
        assert [got["score"][k] for k in mine] == pytest.approx([scores[row, j] for j in others], rel=1e-5)
