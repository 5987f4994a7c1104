"""dbt on Spark/Delta, driven like `make`: marts checked against an independent Python
computation on the same CSV files, incremental builds against a full refresh, and the real slice."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType

from bench.analyst_load import QUERIES
from pipeline.ingest.batch import ingest
from pipeline.platform.config import load_settings
from pipeline.transform.runner import DbtFailure, run_dbt
from tests import reference, reference_retention
from tests.marts import pair_interactions

WEIGHTS = {"view": 1.0, "cart": 4.0, "remove_from_cart": 0.0, "purchase": 10.0}  # seeds/event_weights.csv
HALF_LIFE_DAYS = 14  # dbt_project.yml vars.recency_half_life_days


def _rows(spark, table: str) -> list:
    return spark.table(table).collect()


def _pair_strengths(spark) -> dict[tuple[int, int], float]:
    return {(r.user_id, r.product_id): r.strength for r in pair_interactions(spark).collect()}


@pytest.fixture(scope="module")
def first_days(spark, small_dataset, settings) -> list[Path]:
    """Three of the four generated days ingested and built from scratch."""
    source = small_dataset[0]
    # ML outputs of other test modules describe other users; without them the
    # recommendation marts build empty, as on a lakehouse before its first ML run.
    spark.sql("drop database if exists ml cascade")
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    settings.raw_dir.mkdir(parents=True)
    days = sorted(source.glob("*.csv"))[:3]
    for path in days:
        shutil.copy(path, settings.raw_dir / path.name)
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(["build", "--full-refresh"], load_settings())
    return days


@pytest.fixture(scope="module")
def expected(first_days) -> list[reference.Event]:
    return reference.cleaned(reference.parse(first_days))


def test_recommendation_marts_are_empty_before_any_ml_run(spark, first_days):
    for table in ("user_recommendations", "popular_recommendations", "model_quality_latest", "similar_products",
                  "recommendation_outcomes", "recommendation_outcomes_daily"):
        assert spark.table(f"marts.{table}").count() == 0, table


def test_the_bench_analysts_queries_run_on_the_marts(spark, first_days):
    """bench/analyst_load.py's dashboard queries name the marts' real columns (the load stage counts a
    failed query as a failed stage)."""
    results = {name: spark.sql(sql.format(user=0)).collect() for name, sql in QUERIES.items()}
    assert len(results["daily_revenue"]) == len(first_days)
    assert len(results["top_customers"]) == min(50, spark.table("marts.top_customers").count()) > 0


def test_cleaning_reconciles_with_staging_and_quarantine(spark, first_days):
    events = reference.parse(first_days)
    staged = spark.table("staging.stg_raw__events").count()
    assert staged == len(events)
    quarantined = _rows(spark, "cleaned.quarantined_events")
    assert len(quarantined) == sum(reference.quarantined(e) for e in events)
    assert {r.quarantine_reason for r in quarantined} <= {"negative price"}
    cleaned = spark.table("cleaned.cleaned_events")
    expected = reference.cleaned(events)
    assert cleaned.count() == len(expected)
    # The generator's negative prices on views and carts: the price is dropped, the event kept.
    dropped = cleaned.where("dropped_attributes = 'price dropped: negative price'").count()
    assert dropped == sum(e.type != "purchase" and e.price is None for e in expected
                          if any(o.time == e.time and o.user_id == e.user_id and o.product_id == e.product_id
                                 and o.price is not None and o.price < 0 for o in events)) > 0
    assert cleaned.groupBy().sum("source_rows").first()[0] + len(quarantined) == staged
    assert cleaned.where("is_surrogate_session").count() > 0  # generated data has null sessions


def test_daily_revenue_matches_python(spark, expected):
    want = reference.daily_revenue(expected)
    got = {r.event_date: (r.revenue, r.purchases, r.buyers) for r in _rows(spark, "marts.daily_revenue")}
    assert got == want


def test_activity_weekday_and_hour_marts_match_python(spark, expected):
    activity = {r.event_date: r for r in _rows(spark, "marts.daily_activity")}
    for day in {e.date for e in expected}:
        todays = [e for e in expected if e.date == day]
        row = activity[day]
        assert row.active_users == len({e.user_id for e in todays})
        assert row.sessions == len({e.session_key for e in todays})
        assert (row.views, row.carts, row.purchases) == tuple(
            sum(e.type == t for e in todays) for t in ("view", "cart", "purchase"))

    revenue = reference.daily_revenue(expected)
    by_weekday: dict[int, list[Decimal]] = {}
    for day, (rev, _, _) in revenue.items():
        by_weekday.setdefault(day.isoweekday(), []).append(rev)
    got = {r.event_weekday: (r.event_weekday_name, r.days_in_period, r.total_revenue)
           for r in _rows(spark, "marts.weekday_averages")}
    assert got == {w: (dt.date(2024, 1, w).strftime("%A"), len(v), sum(v)) for w, v in by_weekday.items()}

    hourly = {r.event_hour: r.purchases for r in _rows(spark, "marts.hourly_purchases")}
    want = reference.group_sum(expected, key=lambda e: e.time.hour, value=lambda e: 1)
    assert hourly == {h: want.get(h, 0) for h in range(24)}


def test_brand_customer_and_category_rankings_match_python(spark, expected):
    brands = {r.brand: r for r in _rows(spark, "marts.brand_rankings")}
    revenue = reference.group_sum(expected, key=lambda e: e.brand or "unknown")
    count = reference.group_sum(expected, key=lambda e: e.brand or "unknown", value=lambda e: 1)
    assert {b: (r.revenue, r.purchases) for b, r in brands.items()} == {b: (revenue[b], count[b]) for b in revenue}
    known = sorted((b for b in revenue if b != "unknown"), key=lambda b: (-revenue[b], -count[b], b))
    assert [b for b, r in sorted(brands.items(), key=lambda x: x[1].revenue_rank or 10**9)][: len(known)] == known
    assert brands["unknown"].revenue_rank is None

    spend = reference.group_sum(expected, key=lambda e: e.user_id)
    top = sorted(_rows(spark, "marts.top_customers"), key=lambda r: r.spend_rank)
    assert len(top) == len(spend)
    assert [(r.user_id, r.spend) for r in top[:10]] == sorted(spend.items(), key=lambda x: (-x[1], x[0]))[:10]

    categories = {r.category: r.revenue for r in _rows(spark, "marts.category_revenue") if r.category_level == 1}
    assert categories == reference.group_sum(expected, key=lambda e: e.l1)

    funnel = {(r.event_date, r.category_l1): (r.views, r.carts, r.purchases)
              for r in _rows(spark, "marts.funnel_daily_category")}
    for t, i in (("view", 0), ("cart", 1), ("purchase", 2)):
        want = reference.group_sum(expected, key=lambda e: (e.date, e.l1), value=lambda e: 1,
                                   where=lambda e, t=t: e.type == t)
        assert {k: v[i] for k, v in funnel.items() if v[i]} == want


def test_dimensions_and_interaction_mart_match_python(spark, expected):
    assert spark.table("marts.dim_users").count() == len({e.user_id for e in expected})
    products = {r.product_id: r for r in _rows(spark, "marts.dim_products")}
    assert set(products) == {e.product_id for e in expected}
    latest = max(expected, key=lambda e: e.time)
    assert products[latest.product_id].price == latest.price

    strength = reference.interaction_strength(expected, WEIGHTS, HALF_LIFE_DAYS)
    got = _pair_strengths(spark)
    assert got.keys() == strength.keys()
    bad = {k: (got[k], v) for k, v in strength.items() if got[k] != pytest.approx(v, rel=1e-9)}
    assert not bad, list(bad.items())[:5]


def test_retention_marts_match_python(spark, expected):
    _assert_retention_marts_match(spark, expected)


def test_row_checks_fail_with_one_row_per_broken_check(spark, first_days):
    """One row per broken check, named, with the rows that break it; nulls pass value lists and ranges
    (as in dbt's accepted_values) but fail expressions."""
    tables = {"marts.dim_users": None, "marts.customer_rfm": None}
    for table in tables:
        tables[table] = spark.sql(f"describe history {table} limit 1").first().version
    user_id = spark.sql("select min(user_id) from marts.dim_users").first()[0]
    buyers = [r.user_id for r in spark.sql("select user_id from marts.customer_rfm order by user_id limit 3").collect()]
    spark.sql(f"update marts.dim_users set spend = null, last_seen_at = null where user_id = {user_id}")
    spark.sql("update marts.customer_rfm set segment = 'nobody', recency_score = 6 "
              f"where user_id in ({buyers[0]}, {buyers[1]})")
    spark.sql(f"update marts.customer_rfm set segment = null, frequency_score = null where user_id = {buyers[2]}")
    selection = ["--select", "dim_users,test_name:row_checks", "customer_rfm,test_name:row_checks"]
    try:
        with pytest.raises(DbtFailure) as failed:
            run_dbt(["test", *selection], load_settings())
        results = {r.node.attached_node.rsplit(".", 1)[1]: r for r in failed.value.result.result.results
                   if r.node.resource_type == "test"}  # the on-run-start hook is a result too
        assert {name: (r.status, r.failures) for name, r in results.items()} == {
            "dim_users": ("fail", 3), "customer_rfm": ("fail", 3)}
        broken = {name: {(row.broken_check, row.failing_rows) for row in spark.sql(r.node.compiled_code).collect()}
                  for name, r in results.items()}
        assert broken == {
            "dim_users": {("not_null(last_seen_at)", 1), ("not_null(spend)", 1), ("first_seen_at <= last_seen_at", 1)},
            "customer_rfm": {("not_null(segment)", 1), ("accepted_values(segment)", 2), ("range(recency_score)", 2)},
        }
    finally:
        for table, version in tables.items():
            spark.sql(f"restore table {table} to version as of {version}")
    run_dbt(["test", *selection], load_settings())


def _snapshot(df: DataFrame) -> list[tuple]:
    """Rows as sorted tuples; doubles rounded, as Spark sums them in partition order; sets (arrays) sorted,
    as their order depends on the order rows were merged in."""
    sets = [f.name for f in df.schema.fields if isinstance(f.dataType, ArrayType)]
    df = df.select(*(F.array_sort(c).alias(c) if c in sets else c for c in df.columns))
    rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in df.collect()]
    return sorted(rows, key=str)


def _appended_rows(spark, table: str) -> int:
    """The rows the table's newest commit appended; fails unless that commit was an append."""
    last = spark.sql(f"describe history {table} limit 1").first()
    assert (last.operation, last.operationParameters.get("mode")) == ("WRITE", "Append"), (table, last.operation)
    return int(last.operationMetrics["numOutputRows"])


def test_new_day_builds_incrementally_and_equals_a_full_refresh(spark, first_days, small_dataset, settings):
    last = sorted(small_dataset[0].glob("*.csv"))[3]
    shutil.copy(last, settings.raw_dir / last.name)
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(["build"], load_settings())

    # A new date is appended: the source was exactly the new day's events (nothing older was reprocessed),
    # and nothing stored was read or rewritten.
    new_day = last.stem.split("_")[1]
    new_events = spark.table("cleaned.cleaned_events").where(f"event_date = '{new_day}'").count()
    assert new_events > 0
    assert _appended_rows(spark, "cleaned.cleaned_events") == new_events
    run_sql = settings.dbt_target_dir / "run" / "recolake" / "models"
    appended = (run_sql / "cleaned" / "cleaned_events.sql").read_text()
    assert "insert into table cleaned.cleaned_events" in appended and "merge into" not in appended

    # Data health counted the new batch only, named as a literal so Delta skips every older batch's files.
    batches = [r.ingest_batch_id for r in spark.sql("select distinct ingest_batch_id from raw.ingest_ledger")
               .orderBy("ingest_batch_id").collect()]  # ids start with their UTC time
    health_sql = (settings.dbt_target_dir / "compiled" / "recolake" / "models" / "marts" / "health"
                  / "data_health_reasons.sql").read_text()  # the model's select; target/run holds its merge
    assert len(batches) == 2 and health_sql.count(f"ingest_batch_id in ('{batches[-1]}')") == 2, health_sql

    # The date-keyed marts computed the new day only.
    for mart in ("marts.daily_revenue", "marts.daily_activity"):
        assert _appended_rows(spark, mart) == 1, mart

    # The interaction store added the new day's pairs as a new date: nothing stored was read or rewritten,
    # and the strengths read back equal the formula over all four days.
    all_days = reference.cleaned(reference.parse(sorted(small_dataset[0].glob("*.csv"))))
    touched = {(e.user_id, e.product_id) for e in all_days if e.date.isoformat() == new_day}
    assert _appended_rows(spark, "marts.user_item_days") == len(touched) > 0
    features_sql = run_sql / "marts" / "features"
    strength = reference.interaction_strength(all_days, WEIGHTS, HALF_LIFE_DAYS)
    got = _pair_strengths(spark)
    assert got.keys() == strength.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-9) for k, v in strength.items())
    # The dimensions recomputed only the users and products with events on the new day.
    for dim, key in (("marts.dim_users", "user_id"), ("marts.dim_products", "product_id")):
        merge = max(spark.sql(f"describe history {dim}").where("operation = 'MERGE'").collect(),
                    key=lambda r: r.version)
        assert int(merge.operationMetrics["numSourceRows"]) == len(
            {getattr(e, key) for e in all_days if e.date.isoformat() == new_day}) > 0, dim
    # Both add the new day to the stored rows; dim_users counts sessions from the merged session sets.
    core_sql = settings.dbt_target_dir / "run" / "recolake" / "models" / "marts" / "core"
    assert "coalesce(DBT_INTERNAL_SOURCE.price, DBT_INTERNAL_DEST.price)" in (core_sql / "dim_products.sql").read_text()
    assert "DBT_INTERNAL_DEST.events + DBT_INTERNAL_SOURCE.events" in (core_sql / "dim_users.sql").read_text()
    sessions = {}
    for e in all_days:
        sessions.setdefault(e.user_id, set()).add(e.session_key)
    assert {r.user_id: r.sessions for r in _rows(spark, "marts.dim_users")} == {
        u: len(s) for u, s in sessions.items()}

    # The date-keyed models' tests checked the new day only; `dbt test` (make check) checks every row.
    key_test = (settings.dbt_target_dir / "run" / "recolake" / "models" / "cleaned"
                / "_cleaned__models.yml" / "primary_key_cleaned_events_event_key.sql")
    assert f"event_date in (date'{new_day}')" in key_test.read_text()
    target = settings.dbt_target_dir
    manifest = json.loads((target / "manifest.json").read_text())
    declared = {uid for uid, n in manifest["nodes"].items()
                if n["resource_type"] == "test" and n.get("attached_node") == "model.recolake.stg_raw__events"}
    staged_tests = [r["compiled_code"] for r in json.loads((target / "run_results.json").read_text())["results"]
                    if r["unique_id"] in declared]
    # Every data test declared on the staged view ran in the build, each on the new batch only.
    assert len(staged_tests) == len(declared) > 0
    assert all("ingested_at > timestamp'" in sql for sql in staged_tests), staged_tests
    # The interaction store's tests checked the rows the new day wrote, not the whole store.
    pair_test = (features_sql / "_features__models.yml"
                 / "composite_key_user_item_days_event_date__user_id__product_id.sql")
    assert "dbt_source where last_ingested_at > timestamp'" in pair_test.read_text()
    run_dbt(["test", "--select", "cleaned_events"], load_settings())
    assert "event_date in" not in key_test.read_text()

    # A late file for a date already counted: that date is recomputed over all its events.
    day_two = sorted(small_dataset[0].glob("*.csv"))[1]
    lines = day_two.read_text().splitlines()
    late = settings.raw_dir / "rees46_late.csv"
    late.write_text("\n".join([lines[0], *(line.replace(",view,", ",cart,") for line in lines[1:200]
                                           if ",view," in line)]) + "\n")
    ingest(spark, settings.raw_dir, progress=False)
    run_dbt(["build"], load_settings())
    late_date = day_two.stem.split("_")[1]
    assert f"DBT_INTERNAL_DEST.event_date in (date'{late_date}')" in (features_sql / "user_item_days.sql").read_text()
    # The watermarks, found from the previous build's (data skipping), scoped the tests to the late date alone.
    assert f"event_date in (date'{late_date}')" in key_test.read_text()
    all_days = reference.cleaned(reference.parse([*sorted(small_dataset[0].glob("*.csv")), late]))
    strength = reference.interaction_strength(all_days, WEIGHTS, HALF_LIFE_DAYS)
    got = _pair_strengths(spark)
    assert got.keys() == strength.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-9) for k, v in strength.items())

    tables = ["cleaned.cleaned_events", "cleaned.cleaned_purchases", "cleaned.quarantined_events",
              "marts.data_health_reasons",
              "marts.data_health_files", "marts.daily_revenue", "marts.daily_activity", "marts.weekday_averages",
              "marts.hourly_purchases", "marts.brand_rankings", "marts.top_customers", "marts.category_revenue",
              "marts.funnel_daily_category", "marts.dim_products", "intermediate.int_user_sessions", "marts.dim_users",
              "marts.user_item_days", "marts.user_item_interactions", "marts.customer_cohorts",
              "marts.repeat_purchases", "marts.customer_rfm", "marts.rfm_segments"]
    incremental = {t: _snapshot(spark.table(t)) for t in tables}
    run_dbt(["run", "--full-refresh"], load_settings())
    for t in tables:
        assert _snapshot(spark.table(t)) == incremental[t], t
    assert len(incremental["cleaned.cleaned_events"]) == len(all_days)


def test_real_slice_builds_with_duplicates_removed_and_zero_prices_kept(spark, raw_dir, real_slice):
    spark.sql("drop database if exists ml cascade")
    shutil.copy(real_slice, raw_dir / real_slice.name)
    ingest(spark, raw_dir, progress=False)
    run_dbt(["build", "--full-refresh"], load_settings())

    events = reference.parse([real_slice])
    assert len(events) == 5019
    expected = reference.cleaned(events)
    duplicates = len(events) - len(set(events))
    assert duplicates > 0  # the real data has exact duplicate rows
    cleaned = spark.table("cleaned.cleaned_events")
    assert cleaned.count() == len(expected)
    assert cleaned.groupBy().sum("exact_duplicates_removed").first()[0] == duplicates
    zero = sum(1 for e in expected if e.price == 0)
    assert cleaned.where("is_zero_price").count() == zero
    assert {r.event_date: (r.revenue, r.purchases, r.buyers) for r in _rows(spark, "marts.daily_revenue")} == \
        reference.daily_revenue(expected)
    _assert_retention_marts_match(spark, expected)


def _assert_retention_marts_match(spark, events: list[reference.Event]) -> None:
    """The retention marts equal tests/reference_retention.py on the same cleaned events."""
    orders = reference_retention.orders(events)
    assert orders, "the data set has no purchase"
    got = {(r.cohort_grain, r.cohort_start, r.periods_since): (r.cohort_buyers, r.active_buyers, r.orders, r.revenue)
           for r in _rows(spark, "marts.customer_cohorts")}
    assert got == reference_retention.cohorts(orders)

    repeat = {r.cohort_month: r for r in _rows(spark, "marts.repeat_purchases")}
    want = reference_retention.repeat_purchases(orders)
    assert {m: (r.buyers, r.repeat_buyers, r.orders) for m, r in repeat.items()} == \
        {m: v[:3] for m, v in want.items()}
    for month, (_, _, _, mean, median) in want.items():
        assert repeat[month].mean_days_between_orders == pytest.approx(mean, abs=1e-9)
        assert repeat[month].median_days_between_orders == pytest.approx(median, abs=1e-9)

    as_of = max(e.date for e in events)
    rfm = {r.user_id: (r.recency_days, r.orders, r.revenue, r.recency_score, r.frequency_score, r.monetary_score,
                       r.segment) for r in _rows(spark, "marts.customer_rfm")}
    assert rfm == reference_retention.rfm(orders, as_of)
    segments = {r.segment: (r.buyers, r.revenue) for r in _rows(spark, "marts.rfm_segments")}
    want_segments: dict = {}
    for _, _, revenue, *_, segment in rfm.values():
        buyers, total = want_segments.get(segment, (0, Decimal(0)))
        want_segments[segment] = (buyers + 1, total + revenue)
    assert segments == want_segments


def _planted_orders_csv(path: Path, seed: int = 5) -> None:
    """Three months of purchases by 300 users, some returning weekly or monthly, with views between:
    cohorts over many weeks and months, repeat buyers and every RFM segment."""
    rng = random.Random(seed)
    start = dt.datetime(2020, 1, 6, 9)
    lines = ["event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"]
    for user in range(1, 301):
        first = rng.randrange(0, 70)
        visits = [first] + sorted(first + rng.randrange(1, 84 - first) for _ in range(rng.choice([0, 0, 1, 2, 5])))
        for n, day in enumerate(visits):
            at = start + dt.timedelta(days=day, minutes=rng.randrange(600))
            session = f"s-{user}-{n}"
            for item in range(rng.choice([1, 1, 2, 3])):
                product = rng.randrange(1000, 1100)
                price = f"{rng.randrange(100, 50000) / 100:.2f}"
                stamp = (at + dt.timedelta(minutes=item)).strftime("%Y-%m-%d %H:%M:%S UTC")
                lines.append(f"{stamp},view,{product},7,electronics.phone,acme,{price},{user},{session}")
                lines.append(f"{stamp},purchase,{product},7,electronics.phone,acme,{price},{user},{session}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_retention_marts_over_three_months_match_python(spark, raw_dir):
    csv = raw_dir / "planted_orders.csv"
    _planted_orders_csv(csv)
    ingest(spark, raw_dir, progress=False)
    run_dbt(["build", "--full-refresh", "--select", "+path:models/marts/retention", "+dim_users",
             "--indirect-selection", "cautious"], load_settings())
    events = reference.cleaned(reference.parse([csv]))
    _assert_retention_marts_match(spark, events)
    cohorts = _rows(spark, "marts.customer_cohorts")
    assert max(r.periods_since for r in cohorts if r.cohort_grain == "week") >= 8
    assert {r.segment for r in _rows(spark, "marts.customer_rfm")} >= {"champions", "promising", "lost"}


def test_a_served_product_bought_the_next_day_is_a_hit_with_its_revenue(spark, raw_dir):
    """Planted: user 1 is served product 500 (rank 3) after day d and buys it on d+1 with product 900,
    which no list holds; user 2 buys only unlisted products; user 3 carts his rank-1 product. The
    popular list holds 900 (rank 1), so against it user 1 is a hit at 5 with the revenue of 900."""
    header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
    rows = [
        "2020-03-01 10:00:00 UTC,view,500,7,,acme,12.50,1,a",
        "2020-03-02 09:00:00 UTC,purchase,500,7,,acme,12.50,1,b",
        "2020-03-02 09:01:00 UTC,purchase,900,7,,acme,40.00,1,b",
        "2020-03-02 11:00:00 UTC,purchase,901,7,,acme,7.00,2,c",
        "2020-03-02 12:00:00 UTC,cart,600,7,,acme,3.00,3,d",
    ]
    (raw_dir / "planted_outcomes.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    ingest(spark, raw_dir, progress=False)
    spark.sql("drop database if exists ml cascade")
    spark.sql("create database ml")
    listed = [(dt.date(2020, 3, 1), u, p, r, 1.0 / r, "run-a", "refit")
              for u, p, r in [(1, 501, 1), (1, 502, 2), (1, 500, 3), (2, 503, 1), (3, 600, 1)]]
    served_schema = ("list_date date, user_id bigint, product_id bigint, rank int, score double, run_id string, "
                     "run_kind string")
    # The served lists one row per product, as a lakehouse from before they were nested holds them: the
    # staging view groups them.
    spark.createDataFrame(listed, served_schema).write.format("delta").saveAsTable("ml.served_recommendations")
    spark.createDataFrame([(dt.date(2020, 3, 1), p, r, 1.0, "run-a", "refit") for p, r in ((900, 1), (500, 9))],
                          "list_date date, product_id bigint, rank int, score double, run_id string, run_kind string",
                          ).write.format("delta").saveAsTable("ml.served_popular")
    run_dbt(["build", "--full-refresh", "--select", "+recommendation_outcomes", "--indirect-selection", "cautious"],
            load_settings())
    got = {r.list_source: r for r in _rows(spark, "marts.recommendation_outcomes")}
    assert set(got) == {"model", "popularity"}  # 2020-03-01 had no list in service
    model, popular = got["model"], got["popularity"]
    assert model.event_date == popular.event_date == dt.date(2020, 3, 2)
    assert (model.buyers, model.buyers_hit_at_5, model.buyers_hit_at_20) == (2, 1, 1)
    assert (model.revenue, model.recommended_revenue) == (Decimal("59.50"), Decimal("12.50"))
    assert model.hit_rate_at_5 == 0.5 and (model.carters, model.carters_hit_at_20) == (1, 1)
    assert (popular.buyers, popular.buyers_hit_at_5, popular.buyers_hit_at_20) == (2, 1, 1)
    assert popular.recommended_revenue == Decimal("52.50") and popular.carters_hit_at_20 == 0

    # A new day after an update: the incremental build reads the served history from the newest refit
    # before the day on (an older refit's lists are in service on no later day) and equals a full build.
    # The served history as the ML run now writes it, one row per list.
    older = [(dt.date(2020, 2, 20), 1, 700, 1, 1.0, "run-0", "refit"),
             (dt.date(2020, 3, 2), 1, 700, 1, 0.5, "run-b", "update")]
    flat = spark.createDataFrame(listed + older, served_schema)
    nested = flat.groupBy("user_id", "run_id", "list_date", "run_kind").agg(
        F.sort_array(F.collect_list(F.struct("rank", "product_id", "score"))).alias("items"))
    nested.select("user_id", "items", "run_id", "list_date", "run_kind").write.format("delta").mode("overwrite") \
        .option("partitionOverwriteMode", "static").option("overwriteSchema", "true").partitionBy("list_date") \
        .saveAsTable("ml.served_recommendations")
    (raw_dir / "planted_outcomes_2.csv").write_text(
        "\n".join([header, "2020-03-03 08:00:00 UTC,purchase,700,7,,acme,5.00,1,e"]) + "\n", encoding="utf-8")
    ingest(spark, raw_dir, progress=False)
    run_dbt(["build", "--select", "+recommendation_outcomes", "--indirect-selection", "cautious"], load_settings())
    compiled = (load_settings().dbt_target_dir / "compiled" / "recolake" / "models" / "marts"
                / "recommendations" / "recommendation_outcomes.sql").read_text()
    assert "list_date >= date'2020-03-01'" in compiled
    day3 = {r.list_source: r for r in _rows(spark, "marts.recommendation_outcomes")
            if r.event_date == dt.date(2020, 3, 3)}
    assert (day3["model"].run_id, day3["model"].buyers, day3["model"].buyers_hit_at_5) == ("run-b", 1, 1)
    incremental = _snapshot(spark.table("marts.recommendation_outcomes").drop("last_ingested_at"))
    run_dbt(["run", "--full-refresh", "--select", "recommendation_outcomes"], load_settings())
    assert _snapshot(spark.table("marts.recommendation_outcomes").drop("last_ingested_at")) == incremental
