"""Protocols, EASE and tuning: the random split holds out what it says and tuning never sees the test
part; EASE equals its closed form; `tune` then `run` serves the tuned model with no copying."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys

import numpy as np
import pytest
from pyspark.sql import functions as F

from ml.__main__ import main as ml_main
from ml.columns import ITEM, STRENGTH, USER, I, U
from ml.data import StrengthRule
from ml.evaluation import harness, time_arrays
from ml.evaluation.metrics_table import format_metrics
from ml.evaluation.splits import random_split, rolling_folds, time_split, validation_folds
from ml.models.ease import fit_pairs
from ml.params import EaseParams, EvalSpec, InputSpec, RunParams
from ml.training import run
from ml.tuning import tuned
from ml.tuning.search import make_search
from ml.tuning.tune import choose, parse_space
from pipeline.generate.params import GeneratorParams
from pipeline.platform.config import dbt_vars, load_settings
from tests.chain import land_generated


def test_random_split_holds_out_a_share_of_each_user_and_validation_never_sees_it(spark):
    rows = [(u, i, 1.0) for u in range(1, 41) for i in range(u % 9 + 1)]  # users with 1..9 pairs
    feedback = spark.createDataFrame(rows, f"{USER} bigint, {ITEM} bigint, {STRENGTH} double")
    split = random_split(feedback, 0.25, seed=3)
    train = {(r[0], r[1]) for r in split.train.collect()}
    held = {(r[0], r[1]) for r in split.relevant.collect()}
    assert not train & held and train | held == {(u, i) for u, i, _ in rows}
    for user in range(1, 41):
        n = user % 9 + 1
        mine = sum(1 for u, _ in held if u == user)
        assert mine == (0 if n == 1 else min(n - 1, max(1, round(n * 0.25)))), user
    assert {(r[0], r[1]) for r in random_split(feedback, 0.25, seed=3).relevant.collect()} == held  # reproducible
    assert {(r[0], r[1]) for r in split.history.collect()} == train  # training pairs are never listed back

    folds = validation_folds(spark, split, EvalSpec(protocol="random"), None, 3)
    assert len(folds) == 3
    for validation in folds:  # each is carved from the training part only
        seen = ({(r[0], r[1]) for r in validation.train.collect()}
                | {(r[0], r[1]) for r in validation.relevant.collect()})
        assert seen == train
    assert len({frozenset((r[0], r[1]) for r in f.relevant.collect()) for f in folds}) == 3  # three draws


def test_ease_is_its_closed_form_and_ranks_like_a_full_sort(spark):
    rng = np.random.default_rng(5)
    dense = (rng.random((30, 12)) < 0.3).astype(float)
    users, items = np.nonzero(dense)
    table = spark.createDataFrame([(int(u) * 7, int(i) * 3, 2.0) for u, i in zip(users, items)],
                                  f"{U} int, {I} int, {STRENGTH} double").toArrow()
    scorer = fit_pairs(table, EaseParams(l2=10.0, transform="binary", max_items=100))
    x = dense[np.unique(users)][:, np.unique(items)]
    p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)
    np.testing.assert_allclose(scorer.weights, b, atol=1e-4)
    assert np.all(np.diag(scorer.weights) == 0)
    out = np.empty((3, len(scorer.items)), np.float32)
    np.testing.assert_allclose(scorer.score_into(np.array([0, 4, 9]), out), x[[0, 4, 9]] @ b, atol=1e-4)
    capped = fit_pairs(table, EaseParams(l2=10.0, max_items=5))
    by_users = np.bincount(np.unique(items, return_inverse=True)[1])
    top5 = np.sort(np.lexsort((np.unique(items), -by_users))[:5])
    assert capped.items.tolist() == (np.unique(items)[top5] * 3).tolist()  # the 5 items with most users


def _drain(search, objective) -> list[RunParams]:
    proposed = []
    while (candidate := search.ask()) is not None:
        proposed.append(candidate)
        search.tell(candidate, objective(candidate))
    return proposed


def test_every_search_starts_from_the_current_parameters_and_proposes_each_candidate_once():
    space = parse_space("als.rank=8,16 als.alpha=2 ease.l2=50")
    assert space == {"als": {"rank": [8, 16], "alpha": [2.0]}, "ease": {"l2": [50.0]}}
    with pytest.raises(Exception, match="family.parameter"):
        parse_space("als.ranks=3")
    # The space with each family's current values: ALS rank 8, 16, 32 x alpha 2, 1; EASE l2 50, 500.
    everything = {RunParams(model="als", als=dataclasses.replace(RunParams().als, rank=r, alpha=a))
                  for r in (8, 16, 32) for a in (1.0, 2.0)}
    everything |= {RunParams(model="ease", ease=dataclasses.replace(RunParams().ease, l2=v)) for v in (50.0, 500.0)}

    def objective(c: RunParams) -> float:
        return c.als.rank / 100 if c.model == "als" else 0.0

    grid = _drain(make_search("grid", space, RunParams(), None), objective)
    assert grid[:2] == [RunParams(), RunParams(model="ease")]
    assert len(grid) == len(set(grid)) == 2 + 3 and set(grid) <= everything  # the incumbents, then the grid
    sample = _drain(make_search("random", space, RunParams(), 2, seed=1), objective)
    assert sample[:2] == grid[:2] and len(sample) == 4 and set(sample) <= set(grid)
    tpe = _drain(make_search("tpe", space, RunParams(), None), objective)
    assert tpe[:2] == grid[:2]
    assert len(tpe) == len(set(tpe)) and set(tpe) <= everything  # drawn again: told the known score, not refitted


@pytest.fixture(scope="module")
def tuning_lakehouse(spark, settings, tmp_path_factory):
    land_generated(spark, settings, GeneratorParams(rows=60_000, days=12, seed=5), tmp_path_factory.mktemp("tune"))
    from pipeline.transform.runner import run_dbt

    run_dbt(["run", "--full-refresh", "--select", "+user_item_interactions", "+dim_users", "+dim_products"],
            load_settings())
    spark.sql("drop table if exists ml.tuned_params")
    return settings


SPACE = "als.rank=8 als.max_iter=5 ease.l2=100"


def _cli(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m ml", *args, "--quiet", "--holdout-days", "3"])
    assert ml_main() == 0


def test_the_driver_side_time_split_and_its_folds_equal_the_spark_ones(spark, tuning_lakehouse):
    """Tuning cuts the time protocol in numpy (ml/evaluation/time_arrays.py); `run` cuts it in Spark
    (ml/evaluation/splits.py). Same windows, strengths, relevant and excluded pairs, and the same prepared
    evaluation context."""
    rule = StrengthRule.from_vars(dbt_vars(tuning_lakehouse.dbt_project_dir))
    spec = dataclasses.replace(EvalSpec(), holdout_days=3)
    events = time_arrays.collect_events(spark, spec)
    spark_test = time_split(spark, spec, rule)
    spark_splits = [spark_test, *validation_folds(spark, spark_test, spec, rule, 3)]
    array_test = time_arrays.time_split(events, spec, rule)
    array_splits = [array_test, *rolling_folds(3, array_test.end, 3,
                                               lambda days, end: time_arrays.time_split(events, spec, rule, days, end))]
    assert [s.window for s in array_splits] == [s.window for s in spark_splits] and len(spark_splits) == 3
    for ours, theirs in zip(array_splits, spark_splits):
        expected = {(r[USER], r[ITEM]): r[STRENGTH] for r in theirs.train.collect()}
        got = dict(zip(zip(ours.train_users.tolist(), ours.train_items.tolist()), ours.train_strength.tolist()))
        assert got.keys() == expected.keys() and len(got) > 1000
        assert all(got[k] == pytest.approx(v, rel=1e-12) for k, v in expected.items())
        for mine, spark_pairs in ((ours.relevant, theirs.relevant), (ours.history, theirs.history)):
            pairs = {(r[USER], r[ITEM]) for r in spark_pairs.collect()}
            assert set(zip(mine.users.tolist(), mine.items.tolist())) == pairs
        a, b = harness.prepare_arrays(spark, ours, (10,), True), harness.prepare(spark, theirs, (10,), True)
        assert a.catalog_size == b.catalog_size and len(a.users) > 50
        np.testing.assert_array_equal(a.users, b.users)
        np.testing.assert_array_equal(a.relevant_users, b.relevant_users)  # sorted by user; items in any order
        assert sorted(zip(a.relevant_users.tolist(), a.relevant_items.tolist())) == sorted(
            zip(b.relevant_users.tolist(), b.relevant_items.tolist()))
        assert set(zip(a.ex_users.tolist(), a.ex_items.tolist())) == set(zip(b.ex_users.tolist(), b.ex_items.tolist()))
        assert sorted(map(tuple, a.buyers.collect())) == sorted(map(tuple, b.buyers.select(U, I).collect()))
        mine_pairs, spark_pairs = a.data.arrow(), b.data.arrow()
        assert sorted(zip(*(mine_pairs.column(c).to_pylist() for c in (U, I)))) == sorted(
            zip(*(spark_pairs.column(c).to_pylist() for c in (U, I))))
        b.release()


def test_tuning_never_reads_the_test_window_and_train_then_serves_its_choice(spark, tuning_lakehouse, monkeypatch,
                                                                            capsys):
    settings = tuning_lakehouse
    # A copy of the events whose test window (the last 3 days) is scrambled: other products, other types.
    events = spark.table("cleaned.cleaned_events")
    cutoff = events.agg(F.max("event_date")).first()[0]
    window = F.col("event_date") > F.date_sub(F.lit(cutoff), 3)
    scrambled = events.select(*[
        F.when(window, F.col(c) + 1_000_003).otherwise(F.col(c)).alias(c) if c == "product_id"
        else F.when(window, F.lit("purchase")).otherwise(F.col(c)).alias(c) if c == "event_type" else F.col(c)
        for c in events.columns])
    scrambled.write.format("delta").mode("overwrite").saveAsTable("cleaned.events_scrambled_test_window")

    _cli(monkeypatch, "tune", "--space", SPACE)
    first = tuned_report(settings)
    _cli(monkeypatch, "tune", "--space", SPACE, "--events-table", "cleaned.events_scrambled_test_window")
    second = tuned_report(settings)
    strip = [{k: v for k, v in r.items() if k != "fit_seconds"} for r in first["trials"]]
    assert strip == [{k: v for k, v in r.items() if k != "fit_seconds"} for r in second["trials"]]
    assert first["chosen"] == second["chosen"]
    assert first["chosen_test"]["ndcg@10"] != second["chosen_test"]["ndcg@10"]  # the test part did differ
    # Rolling-origin folds of the test window's length, the latest ending where the test window starts.
    # 12 days with a 3-day test window: folds cut at days 7 and 4; a third would train on 1 day.
    cutoffs = [dt.datetime.fromisoformat(f["eval_cutoff"]) for f in first["validation"]]
    test_cutoff = dt.datetime.fromisoformat(first["protocol"]["eval_cutoff"])
    assert first["protocol"]["holdout_days"] == 3 and len(cutoffs) == 2
    assert [f["holdout_days"] for f in first["validation"]] == [3, 3]
    assert cutoffs == [test_cutoff - dt.timedelta(days=3), test_cutoff - dt.timedelta(days=6)]

    # `run` picks the last tuned choice up by itself and records where its parameters came from.
    _cli(monkeypatch, "run", "--compare", "popularity")
    out = capsys.readouterr().out
    chosen = second["chosen"]
    assert f"serving {chosen['model']} (parameters: tuned " in out
    run = spark.table("ml.model_runs").orderBy(F.desc("finished_at")).first()
    assert run.params["model"] == chosen["model"] and run.params["source"].startswith("tuned ")
    section = {k: v for k, v in run.params.items() if k.startswith(chosen["model"] + ".")}
    assert {k.split(".", 1)[1]: v for k, v in section.items()} == {k: str(v) for k, v in chosen.items()
                                                                   if k != "model"}
    assert tuned.apply_latest(spark, RunParams()).model == chosen["model"]

    # Options given on the command line win over the tuned values.
    _cli(monkeypatch, "run", "--no-eval", "--model", "als", "--rank", "4")
    run = spark.table("ml.model_runs").orderBy(F.desc("finished_at")).first()
    assert (run.params["model"], run.params["als.rank"]) == ("als", "4")
    assert run.params["source"].startswith("command line over tuned ")


def tuned_report(settings) -> dict:
    return json.loads((settings.reports_dir / "tuning.json").read_text())


def test_a_plain_interaction_table_is_evaluated_with_the_random_protocol(spark, settings, tmp_path):
    """No events, no strengths, no purchases: (user, item) pairs only, as public benchmarks ship them."""
    rng = np.random.default_rng(11)
    pairs = {(int(u), int(rng.choice(60, p=np.r_[np.full(10, 0.06), np.full(50, 0.008)]) if u % 2 else
                            rng.integers(0, 60))) for u in range(400) for _ in range(8)}
    spark.createDataFrame(sorted(pairs), "member bigint, film bigint").write.mode("overwrite") \
        .saveAsTable("default.plain_pairs")
    params = RunParams(input=InputSpec("default.plain_pairs", "member", "film", None, "unused", None),
                       evaluation=EvalSpec(protocol="random", test_fraction=0.25), compare=("als", "popularity"))
    report = run(spark, dataclasses.replace(settings, truth_dir=tmp_path / "none"), params, progress=False)
    assert set(report["metrics"]) == {"als", "popularity"}
    assert report["window"] == {"protocol": "random", "test_fraction": 0.25, "seed": 17}
    assert report["counts"]["eval_users"] == report["counts"]["users"] == 400  # every user has >= 2 pairs
    assert report["metrics"]["popularity"]["ndcg@10"] > 0
    assert "0.25 of each user's pairs held out at random" in format_metrics(report)


def test_a_challenger_needs_a_real_gain_to_replace_the_current_parameters():
    current, other = RunParams(), dataclasses.replace(RunParams(), model="ease")
    scored = [(current, {"ndcg@10": 0.1000}), (other, {"ndcg@10": 0.1009})]
    assert choose(scored, current, min_gain=0.01)[0] == current  # +0.9 %: noise
    scored[1][1]["ndcg@10"] = 0.1011
    assert choose(scored, current, min_gain=0.01)[0] == other  # +1.1 %
    assert choose(scored, current, min_gain=0.0)[0] == other


def test_als_blocks_grow_with_the_pairs_and_never_below_the_setting():
    from ml.models.als import blocks_for

    assert [blocks_for(n, 4) for n in (0, 1_000, 7_800_000, 20_000_000, 20_000_001, 52_596_078)] == [4, 4, 4, 4, 5, 11]
    assert blocks_for(1_000, 8) == 8
