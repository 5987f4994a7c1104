"""A new day updates the model instead of refitting it: the exact least-squares step against independent
computations, then a refit on four days and an update for the fifth on the session's lakehouse: users
without new events keep their lists to the byte, users with new events (brand-new ones too) get new
ones, and the schedule refits when asked or when the last refit is old."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import shutil
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from pyspark.sql import functions as F
from threadpoolctl import threadpool_limits

from ml.evaluation.metrics_table import format_metrics
from ml.models import als
from ml.models.als import solve_rows
from ml.params import EvalSpec, RefitPolicy, RunParams
from ml.serving import model_state, outputs
from ml.training import run
from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.ingest.batch import ingest
from pipeline.platform.config import load_settings
from pipeline.transform.runner import run_dbt
from tests.marts import pair_interactions

FEATURE_MODELS = ["run", "--select", "+user_item_interactions", "+dim_users", "+dim_products"]


def _random_pairs(seed: int, n_rows: int = 200, n_cols: int = 90) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    counts = (rng.random((n_rows, n_cols)) < 0.06) * rng.integers(1, 6, (n_rows, n_cols))
    counts[np.arange(n_rows), rng.integers(0, n_cols, n_rows)] += 2  # every row has a pair
    return sp.csr_matrix(np.where(counts > 0, 1.0 + 1.5 * counts, 0.0), dtype=np.float32)


def test_the_least_squares_step_equals_implicit_s_and_the_formula_with_spark_s_scaling(monkeypatch):
    confidence = _random_pairs(1)
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=6, regularization=0.8, alpha=1.0, iterations=3, random_state=3)
        model.fit(confidence, show_progress=False)
        reference = model.recalculate_user(np.arange(confidence.shape[0]), confidence)
    coo = confidence.tocoo()
    order = np.lexsort((coo.col, coo.row))
    rows, cols, values = coo.row[order].astype(np.int64), coo.col[order].astype(np.int64), coo.data[order]
    items = model.item_factors.astype(np.float64)
    got = solve_rows(rows, cols, values, confidence.shape[0], items, 0.8, scale_reg_by_count=False)
    assert np.abs(got - reference).max() < 1e-4 * np.abs(reference).max()
    assert len(rows) > 1_000  # the smallest batch: the second call solves in two
    monkeypatch.setattr(als, "BATCH_BYTES", 1)
    batched = solve_rows(rows, cols, values, confidence.shape[0], items, 0.8, scale_reg_by_count=False)
    assert np.allclose(batched, got, rtol=1e-10, atol=1e-12)

    # Spark's regularisation: lambda times the row's number of pairs, solved one row at a time.
    scaled = solve_rows(rows, cols, values, confidence.shape[0], items, 0.8, scale_reg_by_count=True)
    gram = items.T @ items
    for row in (0, 7, 199):
        mine = cols[rows == row]
        c = values[rows == row].astype(np.float64)
        y = items[mine]
        a = gram + (y * (c - 1)[:, None]).T @ y + 0.8 * len(mine) * np.eye(6)
        assert np.allclose(scaled[row], np.linalg.solve(a, (y * c[:, None]).sum(axis=0)), rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def refit_then_update(spark, settings, tmp_path_factory):
    """Five generated days: a refit on the first four, then the fifth landed, modelled and updated."""
    root = tmp_path_factory.mktemp("update")
    generate(GeneratorParams(rows=30_000, days=5, seed=19), root / "raw", settings.truth_dir, progress=False)
    days = sorted((root / "raw").glob("*.csv"))
    spark.sql("drop database if exists raw cascade")
    spark.sql("drop database if exists ml cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    settings.raw_dir.mkdir(parents=True)
    for day in days[:4]:
        shutil.copy(day, settings.raw_dir / day.name)
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt([*FEATURE_MODELS[:1], "--full-refresh", *FEATURE_MODELS[1:]], load_settings())
    params = RunParams(evaluation=dataclasses.replace(EvalSpec(), holdout_days=1), top_n=10)
    refit = run(spark, settings, params, progress=False)
    before = {(r.user_id, r.rank): r for r in spark.table("ml.recommendations").collect()}
    run_dbt(["build", "--full-refresh", "--select", "tag:recommendations"], load_settings())
    mart_before = {(r.user_id, r.recommendation_rank): r for r in spark.table("marts.user_recommendations").collect()}

    shutil.copy(days[4], settings.raw_dir / days[4].name)
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(FEATURE_MODELS, load_settings())
    updated = run(spark, settings, params, progress=False)
    after = {(r.user_id, r.rank): r for r in spark.table("ml.recommendations").collect()}
    day_users = {r.user_id for r in spark.table("cleaned.cleaned_events")
                 .where(F.col("event_date") == days[4].stem.split("_")[1]).select("user_id").distinct().collect()}
    run_dbt(["build", "--select", "tag:recommendations"], load_settings())
    return refit, updated, before, after, day_users, params, mart_before


def test_the_recommendation_mart_replaces_only_the_changed_users(spark, settings, refit_then_update):
    *_, updated, _, after, day_users, _, mart_before = refit_then_update
    # The daily build tested the lists the update wrote, not every list.
    tests_run = (settings.dbt_target_dir / "run" / "recolake" / "models" / "marts" / "recommendations"
                 / "_recommendations__models.yml")
    key_test = tests_run / "composite_key_user_recommendations_user_id__recommendation_rank.sql"
    assert f"dbt_source where run_id = '{updated['run_id']}'" in key_test.read_text()
    # ... and the served lists of the newest list date.
    served_test = (settings.dbt_target_dir / "run" / "recolake" / "models" / "staging" / "ml"
                   / "_ml__models.yml" / "composite_key_stg_ml__served_recommendations_list_date__user_id.sql")
    newest_list = spark.table("ml.served_recommendations").agg(F.max("list_date")).first()[0]
    assert f"dbt_source where list_date = date'{newest_list}'" in served_test.read_text()
    mart = {(r.user_id, r.recommendation_rank): r for r in spark.table("marts.user_recommendations").collect()}
    assert {k: (r.product_id, r.score, r.run_id) for k, r in mart.items()} == {
        k: (r.product_id, r.score, r.run_id) for k, r in after.items()}
    assert all(mart[k] == r for k, r in mart_before.items() if k[0] not in day_users)  # rows untouched
    # The products' attributes: the update's run added its products in one commit; the refit's rows stayed.
    last = spark.sql("describe history intermediate.int_recommended_products limit 1").first()
    assert last.operation == "WRITE" and last.operationParameters["mode"] == "Overwrite"
    products = {(r.run_id, r.product_id): (r.brand, r.price)
                for r in spark.table("intermediate.int_recommended_products").collect()}
    assert {p for run, p in products if run == updated["run_id"]} == {
        r.product_id for r in after.values() if r.run_id == updated["run_id"]}
    assert {(r.run_id, r.product_id): (r.brand, r.price) for r in mart_before.values()
            if r.run_id in {a.run_id for a in after.values()}}.items() <= products.items()
    fresh = sum(1 for r in after.values() if r.run_id == updated["run_id"])
    assert 0 < fresh < len(mart) and sum(1 for r in mart.values() if r.run_id == updated["run_id"]) == fresh


def test_a_new_day_is_an_update_recorded_against_its_refit(spark, refit_then_update):
    refit, updated, before, after, *_ = refit_then_update
    assert refit["kind"] == "refit" and refit["metrics"]  # the first run refits and evaluates
    assert updated["kind"] == "update" and not updated["metrics"] and updated["refit_run"] == refit["run_id"]
    rows = {r.run_id: r for r in spark.table("ml.model_runs").collect()}
    assert rows[updated["run_id"]].params["kind"] == "update"
    assert rows[updated["run_id"]].params["refit_run"] == refit["run_id"]
    assert rows[refit["run_id"]].params["kind"] == "refit"
    # The changed users' lists are the update's; every other row is the refit's, as it was.
    changed = {u for (u, _), r in after.items() if r.run_id == updated["run_id"]}
    assert changed and {k: r for k, r in after.items() if k[0] not in changed} == {
        k: r for k, r in before.items() if k[0] not in changed}
    assert updated["counts"]["changed_users"] > 0 and updated["counts"]["new_users"] > 0
    printed = format_metrics(updated)  # what `make train` prints after an update
    assert f"update of refit {refit['run_id']}" in printed
    assert f"new lists for {updated['counts']['changed_users']:,} users" in printed


def test_users_without_new_events_keep_their_lists_and_the_others_get_new_ones(refit_then_update):
    refit, updated, before, after, day_users, params, _ = refit_then_update
    kept = {k: v for k, v in before.items() if k[0] not in day_users}
    assert kept and all(after[k] == v for k, v in kept.items())  # same item, score, run and time
    assert {r.run_id for k, r in after.items() if k[0] not in day_users} == {refit["run_id"]}
    mine = {k: r for k, r in after.items() if k[0] in day_users}
    assert {r.run_id for r in mine.values()} == {updated["run_id"]}
    listed = {u for u, _ in mine}
    assert len(listed) == updated["counts"]["changed_users"]
    assert any(before.get(k) is None or before[k].product_id != r.product_id for k, r in mine.items())
    newcomers = listed - {u for u, _ in before}
    assert len(newcomers) == updated["counts"]["new_users"] > 0  # brand-new users got personal lists
    assert all(sum(1 for u, _ in mine if u == user) == params.top_n for user in newcomers)


def _scored(lists: dict[int, dict[int, int]], events: list) -> tuple[int, list[int], Decimal, Decimal, int, int]:
    """(buyers, buyers hit at 5/10/20, their revenue, revenue from listed products, carters, carters hit)
    of a day's purchase and cart events against each user's list (product -> rank)."""
    mine = [e for e in events if e.user_id in lists]
    buyers = {e.user_id for e in mine if e.event_type == "purchase"}
    carters = {e.user_id for e in mine if e.event_type == "cart"}
    best: dict[int, int] = {}
    for e in mine:
        if e.event_type == "purchase" and e.product_id in lists[e.user_id]:
            best[e.user_id] = min(best.get(e.user_id, 99), lists[e.user_id][e.product_id])
    revenue = sum((e.price for e in mine if e.event_type == "purchase"), Decimal(0))
    listed = sum((e.price for e in mine if e.event_type == "purchase" and e.product_id in lists[e.user_id]), Decimal(0))
    cart_hits = {e.user_id for e in mine if e.event_type == "cart" and e.product_id in lists[e.user_id]}
    return (len(buyers), [sum(1 for u in buyers if best.get(u, 99) <= k) for k in (5, 10, 20)], revenue, listed,
            len(carters), len(cart_hits))


def test_served_lists_are_kept_by_date_and_scored_against_the_next_day_s_purchases(spark, refit_then_update):
    refit, updated, before, after, *_ = refit_then_update
    served = spark.table("ml.served_recommendations").select("list_date", "user_id", "run_id", F.inline("items")) \
        .collect()
    dates = sorted({r.list_date for r in served})
    assert len(dates) == 2 and dates[1] - dates[0] == dt.timedelta(days=1)
    first = {(r.user_id, r.rank): (r.product_id, r.run_id) for r in served if r.list_date == dates[0]}
    assert first == {k: (r.product_id, r.run_id) for k, r in before.items()}  # the refit served everyone
    second = {(r.user_id, r.rank): (r.product_id, r.run_id) for r in served if r.list_date == dates[1]}
    assert second == {k: (r.product_id, r.run_id) for k, r in after.items() if r.run_id == updated["run_id"]}

    # The fifth day's buyers against the refit's lists, in service that day; the popular list likewise.
    events = spark.table("cleaned.cleaned_events").where(F.col("event_date") == dates[1]) \
        .where("event_type in ('purchase', 'cart')").collect()
    personal: dict[int, dict[int, int]] = {}
    for (user, rank), (product, _) in first.items():
        personal.setdefault(user, {})[product] = rank
    popular_rows = spark.table("ml.served_popular").where(F.col("list_date") == dates[0]).collect()
    top = {r.product_id: r.rank for r in popular_rows if r.rank <= 20}
    outcomes = {r.list_source: r for r in spark.table("marts.recommendation_outcomes").collect()}
    assert set(outcomes) == {"model", "popularity"} and {r.event_date for r in outcomes.values()} == {dates[1]}
    for source, lists in (("model", personal), ("popularity", {u: top for u in personal})):
        row = outcomes[source]
        buyers, hits, revenue, listed, carters, cart_hits = _scored(lists, events)
        assert buyers > 0 and row.run_id == refit["run_id"]
        assert (row.buyers, [row.buyers_hit_at_5, row.buyers_hit_at_10, row.buyers_hit_at_20]) == (buyers, hits)
        assert (row.revenue, row.recommended_revenue) == (revenue, listed)
        assert (row.carters, row.carters_hit_at_20) == (carters, cart_hits)


def test_an_updated_user_is_the_exact_solve_on_their_whole_history(spark, settings, refit_then_update):
    """One changed user recomputed by hand: strengths from the mart, item vectors from the refit."""
    refit, updated, _, _, day_users, params, _ = refit_then_update
    base = model_state.load(settings.lakehouse_dir / "models" / refit["run_id"])
    state = model_state.load(settings.lakehouse_dir / "models" / updated["run_id"])
    items = dict(zip(base.items.index.tolist(), base.items.vectors.astype(np.float64)))
    history = pair_interactions(spark).where("strength > 0").collect()
    by_user: dict[int, list] = {}
    for r in history:
        by_user.setdefault(r.user_id, []).append(r)
    # A returning user whose every item the refit knew: the update's second pass gives the same solve.
    user = next(u for u in sorted(day_users) if u in by_user and all(r.product_id in items for r in by_user[u])
                and u in set(base.users.index.tolist()))
    y = np.stack([items[r.product_id] for r in by_user[user]])
    c = 1.0 + params.als.alpha * np.array([r.strength for r in by_user[user]])
    all_items = np.stack(list(items.values()))
    new_items = state.items.vectors[~np.isin(state.items.index, base.items.index)].astype(np.float64)
    gram = all_items.T @ all_items + new_items.T @ new_items
    a = gram + (y * (c - 1)[:, None]).T @ y + params.als.reg_param * np.eye(y.shape[1])
    expected = np.linalg.solve(a, (y * c[:, None]).sum(axis=0))
    got = state.users.vectors[np.searchsorted(state.users.index, user)]
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5)
    # Users who did nothing keep their refit vectors.
    still = [u for u in base.users.index[:50].tolist() if u not in day_users]
    assert np.array_equal(state.users.vectors[np.searchsorted(state.users.index, still)],
                          base.users.vectors[np.searchsorted(base.users.index, still)])


def test_the_schedule_refits_when_asked_or_when_the_last_refit_is_old(spark, settings, refit_then_update):
    _, updated, *_, params, _ = refit_then_update
    asked = run(spark, settings, dataclasses.replace(params, evaluate=False, refit=RefitPolicy(force=True)),
                progress=False)
    assert asked["kind"] == "refit" and "asked" in asked["reason"]
    nothing_new = run(spark, settings, dataclasses.replace(params, evaluate=False), progress=False)
    assert nothing_new["kind"] == "update" and nothing_new["counts"]["changed_users"] == 0
    old = run(spark, settings, dataclasses.replace(params, evaluate=False, refit=RefitPolicy(every_days=0)),
              progress=False)
    assert old["kind"] == "refit" and "RETRAIN_EVERY_DAYS=0" in old["reason"]


def _land_next_day(spark, settings, new_user: int) -> set[int]:
    """A sixth day: the fifth day's first 400 events a day later, the first 40 of them by a brand-new user.
    Landed, ingested and modelled; returns the users with events that day."""
    last = sorted(settings.raw_dir.glob("*.csv"))[-1]
    day = dt.date.fromisoformat(last.stem.split("_")[1]) + dt.timedelta(days=1)
    with open(last, newline="") as handle:
        rows = list(csv.reader(handle))
    header, events = rows[0], rows[1:401]
    at, user_col = header.index("event_time"), header.index("user_id")
    for n, row in enumerate(events):
        row[at] = f"{day.isoformat()}{row[at][10:]}"
        if n < 40:
            row[user_col] = str(new_user)
    with open(settings.raw_dir / f"rees46_{day.isoformat()}.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *events])
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(FEATURE_MODELS, load_settings())
    return {int(row[user_col]) for row in events}


def test_ease_updates_the_changed_users_from_its_stored_weights(spark, settings, refit_then_update):
    *_, params, _ = refit_then_update
    ease = dataclasses.replace(params, model="ease", evaluate=False)
    refit = run(spark, settings, dataclasses.replace(ease, refit=RefitPolicy(force=True)), progress=False)
    before = {(r.user_id, r.rank): r for r in spark.table("ml.recommendations").collect()}
    new_user = 9_000_000_001
    day_users = _land_next_day(spark, settings, new_user)
    updated = run(spark, settings, ease, progress=False)
    assert refit["kind"] == "refit" and updated["kind"] == "update" and updated["refit_run"] == refit["run_id"]
    after = {(r.user_id, r.rank): r for r in spark.table("ml.recommendations").collect()}
    assert all(after[k] == v for k, v in before.items() if k[0] not in day_users)

    # One changed user by hand: their binary history over the refit's weights, purchases excluded.
    models = settings.lakehouse_dir / "models"
    state = model_state.load(models / refit["run_id"])
    assert model_state.load(models / updated["run_id"]).items_file == state.items_file
    # Only the newest model folders stay (RunParams.keep_models): this module has made seven runs.
    assert sorted(p.name for p in models.iterdir())[-2:] == [refit["run_id"], updated["run_id"]]
    assert len(list(models.iterdir())) == params.keep_models == 3
    ids, weights = state.items.index, state.items.vectors.astype(np.float64)
    history = pair_interactions(spark).where("strength > 0").collect()
    for user in (new_user, min(day_users - {new_user})):
        mine = [r for r in history if r.user_id == user and r.product_id in set(ids.tolist())]
        x = np.zeros(len(ids))
        x[np.searchsorted(ids, [r.product_id for r in mine])] = 1.0
        scores = x @ weights
        scores[np.searchsorted(ids, [r.product_id for r in mine if r.purchases > 0])] = -np.inf
        expected = np.sort(scores)[::-1][:params.top_n]
        got = [after[(user, rank)] for rank in range(1, params.top_n + 1)]
        assert {r.run_id for r in got} == {updated["run_id"]}
        assert np.allclose([r.score for r in got], expected, rtol=1e-4, atol=1e-6)
        assert all(scores[np.searchsorted(ids, r.product_id)] == pytest.approx(r.score, rel=1e-4, abs=1e-6)
                   for r in got)


def test_pruning_keeps_the_refit_whose_weights_a_kept_update_reads(settings, refit_then_update):
    """Run after the EASE test: its update shares the refit's weight file, so keeping one folder keeps two."""
    models = settings.lakehouse_dir / "models"
    newest = sorted(p.name for p in models.iterdir())[-1]
    base = model_state.load(models / newest).items_file.parent.parent
    assert base.name != newest
    gone = model_state.prune(models, keep=1)
    assert sorted(p.name for p in models.iterdir()) == sorted([base.name, newest]) and len(gone) == 1
    assert model_state.exists(models / newest)


def test_a_build_without_new_runs_keeps_the_products_unless_a_run_left(spark, refit_then_update):
    """No new run and none gone: int_recommended_products is not rewritten, even when a user's list went
    (the view no longer shows it). A run none of whose lists is left (as after a refit): its rows go."""
    build = ["run", "--select", "int_recommended_products"]
    run_dbt(build, load_settings())  # in step with the lists of the tests before
    history = "describe history intermediate.int_recommended_products limit 1"
    version = spark.sql(history).first().version
    run_dbt(build, load_settings())
    assert spark.sql(history).first().version == version

    per_run = {r.run_id: r.n for r in spark.sql("select run_id, count(*) as n from ml.recommendation_lists "
                                                "group by run_id").collect()}
    assert len(per_run) >= 2 and max(per_run.values()) >= 2
    crowded = max(per_run, key=per_run.get)
    gone = spark.sql(f"select min(user_id) from ml.recommendation_lists where run_id = '{crowded}'").first()[0]
    spark.sql(f"delete from ml.recommendation_lists where user_id = {gone}")
    run_dbt(build, load_settings())
    assert spark.sql(history).first().version == version
    assert spark.table("marts.user_recommendations").where(f"user_id = {gone}").count() == 0

    leaving = min((run for run in per_run if run != crowded), key=per_run.get)
    spark.sql(f"delete from ml.recommendation_lists where run_id = '{leaving}'")
    run_dbt(build, load_settings())
    assert spark.sql(history).first().version == version + 1
    runs = {r.run_id for r in spark.table("intermediate.int_recommended_products").select("run_id").distinct()
            .collect()}
    assert runs == set(per_run) - {leaving}
    mart = spark.table("marts.user_recommendations")
    assert mart.count() == spark.table("ml.recommendations").count() and mart.where("brand is null").count() == 0


def test_the_mart_drops_the_rows_of_a_shortened_list_and_of_a_user_no_longer_served(spark, refit_then_update):
    """Run last: it edits ml.recommendation_lists as a run could leave it (one list shorter under a new
    run, one user's list gone, as when a refit stops serving them) and rebuilds the mart incrementally."""
    # the mart in step with the EASE test's lists
    run_dbt(["build", "--select", "tag:recommendations"], load_settings())
    users = [r.user_id for r in spark.sql("select user_id from ml.recommendation_lists where size(items) > 3 "
                                          "order by user_id limit 2").collect()]
    shortened, gone = users
    spark.sql(f"delete from ml.recommendation_lists where user_id = {gone}")
    spark.sql("update ml.recommendation_lists set items = filter(items, item -> item.rank <= 3), "
              f"run_id = 'shortened-list' where user_id = {shortened}")
    untouched = spark.table("marts.user_recommendations").where(f"user_id not in ({shortened}, {gone})").collect()

    run_dbt(["run", "--select", "int_recommended_products"], load_settings())
    mart = spark.table("marts.user_recommendations")
    assert sorted((r.user_id, r.recommendation_rank, r.product_id, r.run_id) for r in mart.collect()) == sorted(
        (r.user_id, r.rank, r.product_id, r.run_id)
        for r in spark.table("ml.recommendations").collect())
    assert mart.where(f"user_id = {gone}").count() == 0
    assert [r.recommendation_rank for r in mart.where(f"user_id = {shortened}").orderBy("recommendation_rank")
            .collect()] == [1, 2, 3]
    assert sorted(mart.where(f"user_id not in ({shortened}, {gone})").collect()) == sorted(untouched)


def test_served_lists_of_a_rerun_replace_its_users_and_a_refit_prunes_old_days(spark, refit_then_update):
    """ml/serving/outputs.py record_served on the module's served lists: an update rerun on the same day replaces
    only its users' rows of that day; a refit 40 days on removes the days more than 35 days before it."""
    served = outputs.SERVED
    days = sorted(r.list_date for r in spark.sql(f"select distinct list_date from {served}").collect())

    def served_on(day: dt.date) -> dict[tuple[int, int], str]:
        rows = spark.table(served).where(F.col("list_date") == day).select("user_id", "run_id", F.inline("items"))
        return {(r.user_id, r.rank): r.run_id for r in rows.collect()}

    before = served_on(days[-1])
    user = min(u for u, _ in before)
    lists = spark.createDataFrame(outputs.nested_lists(pa.table({
        "user_id": pa.array([user], pa.int64()), "item_id": pa.array([1], pa.int64()),
        "rank": pa.array([1], pa.int32()), "score": pa.array([0.5])})))
    outputs.record_served(spark, lists, np.array([user]), None, "rerun", "update", days[-1], keep_days=35)
    assert served_on(days[-1]) == {**{k: v for k, v in before.items() if k[0] != user}, (user, 1): "rerun"}

    later = days[-1] + dt.timedelta(days=40)
    popular = spark.createDataFrame([(9, 1, 1.0)], "item_id bigint, rank int, score double")
    outputs.record_served(spark, lists, None, popular, "refit-later", "refit", later, keep_days=35)
    assert [r.list_date for r in spark.sql(f"select distinct list_date from {served}").collect()] == [later]
    assert [r.list_date for r in spark.sql(f"select distinct list_date from {outputs.SERVED_POPULAR}").collect()] == [
        later]


def test_lists_are_nested_per_user_in_rank_order():
    rng = np.random.default_rng(5)
    users, ranks = np.repeat([7, 3, 9], 4), np.tile([4, 2, 1, 3], 3)
    order = rng.permutation(len(users))
    users, ranks = users[order], ranks[order]
    flat = pa.table({"user_id": pa.array(users, pa.int64()), "item_id": pa.array(users * 100 + ranks),
                     "rank": pa.array(ranks, pa.int32()), "score": pa.array(-ranks / 10.0)})
    nested = outputs.nested_lists(flat).to_pylist()
    assert [row["user_id"] for row in nested] == [3, 7, 9]
    assert all(row["items"] == [{"rank": r, "product_id": row["user_id"] * 100 + r, "score": -r / 10.0}
                                for r in (1, 2, 3, 4)] for row in nested)
    assert outputs.nested_lists(flat.slice(0, 0)).num_rows == 0


def test_an_update_groups_the_lists_of_a_lakehouse_from_before_them(spark, refit_then_update):
    """A lakehouse written before the lists table holds ml.recommendations as a table, one row per product:
    the next update groups it into ml.recommendation_lists, replaces the changed users' lists, keeps the
    others' rows and leaves ml.recommendations a view of the lists."""
    schema = "user_id bigint, product_id bigint, rank int, score double, run_id string, generated_at timestamp"
    old = [tuple(r) for r in spark.sql(f"select {', '.join(c.split()[0] for c in schema.split(', '))} "
                                       "from ml.recommendations").collect()]
    spark.sql("drop view ml.recommendations")
    spark.sql("drop table ml.recommendation_lists")
    spark.createDataFrame(old, schema).write.format("delta").saveAsTable("ml.recommendations")

    kept_user, new_user = min(r[0] for r in old), 9_000_000_123
    day = pa.table({"user_id": pa.array([kept_user, kept_user, new_user], pa.int64()),
                    "item_id": pa.array([5, 6, 7], pa.int64()), "rank": pa.array([2, 1, 1], pa.int32()),
                    "score": pa.array([0.2, 0.3, 0.9])})
    made = dt.datetime(2026, 1, 1)
    outputs.replace_lists(spark, spark.createDataFrame(outputs.nested_lists(day)), np.array([kept_user, new_user]),
                          "migrating", made)
    assert spark.catalog.getTable("ml.recommendations").tableType == "VIEW"
    expected = sorted([r for r in old if r[0] != kept_user]
                      + [(kept_user, 6, 1, 0.3, "migrating", made), (kept_user, 5, 2, 0.2, "migrating", made),
                         (new_user, 7, 1, 0.9, "migrating", made)])
    assert sorted(tuple(r) for r in spark.table("ml.recommendations").collect()) == expected
    assert spark.table("ml.recommendation_lists").count() == len({r[0] for r in expected})

    # The served lists of such a lakehouse, one row per product too, are grouped by the next run that records.
    columns = ["user_id", "product_id", "rank", "score", "run_id", "list_date", "run_kind"]
    flat = spark.table(outputs.SERVED).select("user_id", "run_id", "list_date", "run_kind", F.inline("items")) \
        .select(*columns).collect()
    on = max(r.list_date for r in flat)
    spark.sql(f"drop table {outputs.SERVED}")
    spark.createDataFrame([tuple(r) for r in flat], "user_id bigint, product_id bigint, rank int, score double, "
                          "run_id string, list_date date, run_kind string") \
        .write.format("delta").partitionBy("list_date").saveAsTable(outputs.SERVED)
    outputs.record_served(spark, spark.createDataFrame(outputs.nested_lists(day)), np.array([kept_user, new_user]),
                          None, "migrating", "update", on, keep_days=35)
    grouped = spark.table(outputs.SERVED)
    assert "items" in grouped.columns and grouped.count() == grouped.select("list_date", "user_id").distinct().count()
    assert sorted(tuple(r) for r in grouped.select("user_id", F.inline("items"), "run_id", "list_date", "run_kind")
                  .select(*columns).collect()) == sorted(
        [tuple(r) for r in flat if not (r.list_date == on and r.user_id in (kept_user, new_user))]
        + [(kept_user, 6, 1, 0.3, "migrating", on, "update"), (kept_user, 5, 2, 0.2, "migrating", on, "update"),
           (new_user, 7, 1, 0.9, "migrating", on, "update")])


def test_a_refit_s_lists_alone_become_the_mart(spark, refit_then_update):
    """Run last: every list under a version the mart has not seen (as after a refit) makes the incremental
    build write the new rows alone as the table."""
    spark.sql("update ml.recommendation_lists set run_id = 'refit-everyone'")
    run_dbt(["run", "--select", "int_recommended_products"], load_settings())
    last = spark.sql("describe history intermediate.int_recommended_products limit 1").first()
    assert last.operation == "WRITE" and last.operationParameters["mode"] == "Overwrite"
    products = spark.table("intermediate.int_recommended_products")
    assert {r.run_id for r in products.select("run_id").distinct().collect()} == {"refit-everyone"}
    mart = spark.table("marts.user_recommendations")
    assert sorted((r.user_id, r.recommendation_rank, r.product_id, r.run_id) for r in mart.collect()) == sorted(
        (r.user_id, r.rank, r.product_id, r.run_id) for r in spark.table("ml.recommendations").collect())
