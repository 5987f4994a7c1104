"""The dashboard page: one self-contained HTML file (inline CSS and SVG, no scripts, no CDN)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape

from pipeline import health
from pipeline.dashboard import svg
from pipeline.dashboard.marts import MartSource, Row

QUALITY_METRICS = ("precision", "recall", "ndcg")
SHORT = {"precision": "prec", "recall": "rec", "ndcg": "ndcg"}  # nine group labels must fit side by side
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f6f9;color:#1d2633}
header{background:#1d2f4a;color:#fff;padding:18px 28px}header h1{margin:0 0 6px;font-size:22px}
header dl{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0;font-size:13px}header dt{opacity:.7}header dd{margin:0}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:18px;padding:18px 28px}
section{background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{font-size:15px;margin:0 0 2px}section p.sub{font-size:12px;color:#5b6778;margin:0 0 8px}
svg{width:100%;height:auto;display:block}.grid{stroke:#e3e7ee}.tick{font-size:11px;fill:#4b5563}
.axis{font-size:11px;fill:#4b5563}.line{fill:none;stroke:#2f6db5;stroke-width:2}circle.datum{fill:#2f6db5}
rect.bar{fill:#2f6db5}.datum:hover{opacity:.7}.empty{color:#8a5a00;background:#fff7e6;padding:10px;border-radius:6px}
.legend{font-size:12px;margin-bottom:4px}.key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef}
td.num{text-align:right}
"""


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    subtitle: str
    body: str | None  # None: no data


def _f(value) -> float:
    return float(value) if value is not None else 0.0


def _section(chart: Chart) -> str:
    body = chart.body if chart.body is not None else (
        f'<p class="empty">No data yet: {escape(chart.subtitle.split(" · ")[0])} is empty. '
        'Run <code>make recommend</code>.</p>')
    return (f'<section class="chart" id="{chart.id}" data-empty="{str(chart.body is None).lower()}">'
            f"<h2>{escape(chart.title)}</h2><p class=\"sub\">{escape(chart.subtitle)}</p>{body}</section>")


def _by(rows: list[Row], key: str) -> list[Row]:
    return sorted(rows, key=lambda r: r[key])


def _activity_charts(marts: dict[str, list[Row]]) -> list[Chart]:
    activity = _by(marts["daily_activity"], "event_date")
    revenue = _by(marts["daily_revenue"], "event_date")
    weekdays = _by(marts["weekday_averages"], "event_weekday")
    hours = _by(marts["hourly_purchases"], "event_hour")
    days = [svg.short_date(r["event_date"]) for r in activity]
    return [
        Chart("daily-active-users", "Daily active users", "daily_activity · users with any event per UTC day",
              svg.line_chart(days, [_f(r["active_users"]) for r in activity], svg.number, "users")
              if activity else None),
        Chart("weekday-users", "Average users by day of week", "weekday_averages · mean daily active users",
              svg.bar_chart([r["event_weekday_name"][:3] for r in weekdays],
                            [_f(r["avg_active_users"]) for r in weekdays], svg.number, "users / day")
              if weekdays else None),
        Chart("daily-revenue", "Revenue over the period", "daily_revenue · sum of purchase prices per UTC day",
              svg.line_chart([svg.short_date(r["event_date"]) for r in revenue], [_f(r["revenue"]) for r in revenue],
                             svg.money, "revenue (USD)") if revenue else None),
        Chart("weekday-revenue", "Average revenue by day of week", "weekday_averages · mean daily revenue",
              svg.bar_chart([r["event_weekday_name"][:3] for r in weekdays], [_f(r["avg_revenue"]) for r in weekdays],
                            svg.money, "revenue / day (USD)") if weekdays else None),
        Chart("hourly-purchases", "Average purchases by hour of day (UTC)", "hourly_purchases · purchases per day",
              svg.bar_chart([f"{r['event_hour']:02d}" for r in hours], [_f(r["avg_purchases_per_day"]) for r in hours],
                            svg.number, "purchases / day") if hours else None),
    ]


def _ranking_charts(marts: dict[str, list[Row]]) -> list[Chart]:
    brands = marts["brand_rankings"]
    by_revenue = sorted((r for r in brands if r["revenue_rank"] and r["revenue_rank"] <= 10),
                        key=lambda r: r["revenue_rank"])
    by_count = sorted((r for r in brands if r["purchase_rank"] and r["purchase_rank"] <= 10),
                      key=lambda r: r["purchase_rank"])
    customers = sorted((r for r in marts["top_customers"] if r["spend_rank"] <= 10), key=lambda r: r["spend_rank"])
    categories = sorted((r for r in marts["category_revenue"] if r["category_level"] == 1),
                        key=lambda r: -_f(r["revenue"]))[:12]
    funnel = marts["funnel_daily_category"]
    stages = [("views", sum(_f(r["views"]) for r in funnel)), ("carts", sum(_f(r["carts"]) for r in funnel)),
              ("purchases", sum(_f(r["purchases"]) for r in funnel))]
    # Ratios of event counts, not conversion rates: real logs hold purchases without a cart event.
    rates = (f"{stages[1][1] / stages[0][1]:.3f} carts per view, {stages[2][1] / stages[1][1]:.2f} purchases per cart"
             if funnel and stages[0][1] and stages[1][1] else "funnel_daily_category")
    return [
        Chart("top-brands-revenue", "Top 10 brands by revenue", "brand_rankings · revenue_rank ≤ 10 (USD)",
              svg.hbar_chart([r["brand"] for r in by_revenue], [_f(r["revenue"]) for r in by_revenue], svg.money)
              if by_revenue else None),
        Chart("top-brands-purchases", "Top 10 brands by purchase count", "brand_rankings · purchase_rank ≤ 10",
              svg.hbar_chart([r["brand"] for r in by_count], [_f(r["purchases"]) for r in by_count], svg.number)
              if by_count else None),
        Chart("top-customers", "Top 10 customers by amount spent", "top_customers · spend_rank ≤ 10 (USD)",
              svg.hbar_chart([f"user {r['user_id']}" for r in customers], [_f(r["spend"]) for r in customers],
                             svg.money) if customers else None),
        Chart("funnel", "View → cart → purchase funnel", rates,
              svg.bar_chart([s for s, _ in stages], [v for _, v in stages], svg.number, "events", log=True,
                            labelled=True)
              if funnel else None),
        Chart("category-revenue", "Revenue by top-level category", "category_revenue · level 1 (USD)",
              svg.hbar_chart([r["category"] for r in categories], [_f(r["revenue"]) for r in categories], svg.money)
              if categories else None),
    ]


def _model_charts(marts: dict[str, list[Row]]) -> list[Chart]:
    latest = [r for r in marts["model_quality_latest"] if r["metric"] in QUALITY_METRICS]
    latest.sort(key=lambda r: (QUALITY_METRICS.index(r["metric"]), r["k"]))
    series = {name: [_f(r[column]) for r in latest] for name, column in
              (("ALS", "als"), ("EASE", "ease"), ("popularity", "popularity"), ("oracle", "oracle"))
              if any(r[column] is not None for r in latest)}
    history = sorted((r for r in marts["model_quality_history"]
                      if r["model"] == "als" and r["metric"] == "ndcg" and r["k"] == 10),
                     key=lambda r: r["finished_at"])
    recs = marts["user_recommendations"]
    sample_users = sorted({r["user_id"] for r in recs})[:4]
    rows = sorted((r for r in recs if r["user_id"] in sample_users and r["recommendation_rank"] <= 5),
                  key=lambda r: (r["user_id"], r["recommendation_rank"]))
    table = ("<table><tr><th>user</th><th>rank</th><th>product</th><th>brand</th><th>category</th>"
             "<th>price</th></tr>" + "".join(
                 f"<tr><td>{r['user_id']}</td><td>{r['recommendation_rank']}</td><td>{r['product_id']}</td>"
                 f"<td>{escape(str(r['brand']))}</td><td>{escape(str(r['category_code']))}</td>"
                 f"<td class=\"num\">{svg.money(_f(r['price']))}</td></tr>" for r in rows) + "</table>")
    return [
        Chart("model-quality", "Recommendation quality (latest run)",
              "model_quality_latest · test window after the cutoff; higher is better",
              svg.grouped_bar_chart([f"{SHORT[r['metric']]}@{r['k']}" for r in latest], series, svg.ratio, "score")
              if latest else None),
        Chart("quality-history", "ALS NDCG@10 across runs", "model_quality_history",
              svg.line_chart([r["finished_at"].strftime("%m-%d %H:%M") for r in history],
                             [_f(r["metric_value"]) for r in history], svg.ratio, "NDCG@10") if history else None),
        Chart("sample-recommendations", "Top recommendations for sample users",
              "user_recommendations · first 5 of each list", table if rows else None),
    ]


def _retention_charts(marts: dict[str, list[Row]]) -> list[Chart]:
    """Weekly cohort retention, buyers per RFM segment, and repeat purchases per monthly cohort."""
    weekly = [r for r in marts["customer_cohorts"] if r["cohort_grain"] == "week"]
    starts = sorted({r["cohort_start"] for r in weekly})[-12:]
    periods = list(range(max((int(r["periods_since"]) for r in weekly if r["cohort_start"] in starts), default=-1) + 1))
    cells = {(starts.index(r["cohort_start"]), int(r["periods_since"])): _f(r["retention_share"])
             for r in weekly if r["cohort_start"] in starts}
    sizes = {r["cohort_start"]: int(r["cohort_buyers"]) for r in weekly}
    segments = sorted(marts["rfm_segments"], key=lambda r: r["segment_order"])
    repeat = _by(marts["repeat_purchases"], "cohort_month")
    buyers = sum(int(r["buyers"]) for r in repeat)
    repeaters = sum(int(r["repeat_buyers"]) for r in repeat)
    return [
        Chart("cohort-retention", "Weekly cohort retention",
              "customer_cohorts · share of each week's new buyers ordering again N weeks later",
              svg.heatmap_table([f"{svg.short_date(s)} ({sizes[s]:,})" for s in starts], [str(p) for p in periods],
                                cells, lambda v: f"{v:.0%}") if weekly else None),
        Chart("customer-segments", "Buyers by RFM segment",
              "rfm_segments · " + ", ".join(f"{r['segment']} {_f(r['revenue_share']):.0%} of revenue"
                                            for r in segments[:3]),
              svg.hbar_chart([r["segment"] for r in segments], [_f(r["buyers"]) for r in segments], svg.number)
              if segments else None),
        Chart("repeat-purchases", "Repeat-purchase rate by first-order month",
              f"repeat_purchases · {repeaters:,} of {buyers:,} buyers ordered again" if buyers else "repeat_purchases",
              svg.bar_chart([r["cohort_month"].strftime("%Y-%m") for r in repeat],
                            [_f(r["repeat_purchase_rate"]) for r in repeat], svg.ratio, "repeat buyers / buyers")
              if repeat else None),
    ]


def _outcome_chart(marts: dict[str, list[Row]]) -> Chart:
    """Hit rate at 10 of the served lists per day, the personal lists against the popular list."""
    rates = {(r["event_date"], r["list_source"]): _f(r["hit_rate_at_10"])
             for r in marts["recommendation_outcomes_daily"]}
    days = sorted({d for d, _ in rates})[-14:]
    series = {label: [rates.get((d, source), 0.0) for d in days]
              for label, source in (("personal lists", "model"), ("popular list", "popularity"))}
    return Chart("served-outcomes", "Served recommendations: hit rate@10 by day",
                 "recommendation_outcomes_daily · buyers who bought a product of the list they were served that day",
                 svg.grouped_bar_chart([svg.short_date(d) for d in days], series, svg.ratio, "hit rate@10")
                 if days else None)


def _attribute_lost(row: Row) -> str:
    if not row["dropped_attribute"]:
        return ""
    return f"{escape(row['dropped_attribute'])} {_f(row['dropped_attribute_share']):.1%}"


def _main_problem(row: Row) -> str:
    """The mart's main problem; for a file flagged for a lost attribute, with its consequence and likely cause."""
    problem = str(row["main_problem"] or "")
    if row["dropped_attribute"] and problem.startswith("attribute dropped"):
        problem += f": {health.attribute_consequence(row['dropped_attribute'])}"
    return problem


def _health_chart(marts: dict[str, list[Row]]) -> Chart:
    """Files by health status, and the files with the largest unusable share and their main problem."""
    files = marts["data_health_files"]
    worst = sorted((r for r in files if r["health_status"] != "ok"),
                   key=lambda r: (-_f(r["unusable_share"]), r["source_file"]))[:8]
    counts = {s: sum(r["health_status"] == s for r in files) for s in ("ok", "warn", "error")}
    table = ("<table><tr><th>file</th><th>status</th><th>lines</th><th>unusable</th><th>attribute lost</th>"
             "<th>main problem</th></tr>"
             + "".join(f"<tr><td>{escape(r['source_file'])}</td><td>{r['health_status']}</td>"
                       f"<td class=\"num\">{int(r['lines_read']):,}</td>"
                       f"<td class=\"num\">{_f(r['unusable_share']):.1%}</td>"
                       f"<td>{_attribute_lost(r)}</td>"
                       f"<td>{escape(_main_problem(r))}</td></tr>" for r in worst) + "</table>")
    subtitle = (f"data_health_files · {counts['ok']} files ok, {counts['warn']} warn, {counts['error']} error "
                "(unusable = rejected at ingest or quarantined; attribute lost = kept events that lost a column)")
    body = (svg.bar_chart(list(counts), [float(v) for v in counts.values()], svg.number, "files")
            + (table if worst else "<p class=\"sub\">Every file is within the warn threshold.</p>"))
    return Chart("data-health", "Data health by landing file", subtitle, body if files else None)


TABLES = ("data_health_files", "daily_activity", "daily_revenue", "weekday_averages", "hourly_purchases",
          "brand_rankings", "top_customers", "category_revenue", "funnel_daily_category", "dim_users", "dim_products",
          "model_quality_latest", "model_quality_history", "user_recommendations", "customer_cohorts", "rfm_segments",
          "repeat_purchases", "recommendation_outcomes_daily")


def build_page(source: MartSource, generated_at: dt.datetime | None = None) -> str:
    marts = {t: source.rows(t) for t in TABLES}
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    activity = marts["daily_activity"]
    window = (f"{min(r['event_date'] for r in activity)} – {max(r['event_date'] for r in activity)}"
              if activity else "no data yet")
    run = marts["model_quality_latest"][0]["run_id"] if marts["model_quality_latest"] else "no model run yet"
    facts = {"Data window (UTC)": window, "Events": f"{sum(int(r['events']) for r in activity):,}",
             "Users": f"{len(marts['dim_users']):,}", "Products": f"{len(marts['dim_products']):,}",
             "Model run": run, "Source": source.name, "Generated": f"{generated_at:%Y-%m-%d %H:%M} UTC"}
    charts = ([_health_chart(marts)] + _activity_charts(marts) + _ranking_charts(marts) + _retention_charts(marts)
              + _model_charts(marts) + [_outcome_chart(marts)])
    header = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(str(v))}</dd></div>" for k, v in facts.items())
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>recolake dashboard</title><style>{CSS}</style></head><body>"
            f"<header><h1>E-commerce revenue and recommendations</h1><dl>{header}</dl></header>"
            f"<main>{''.join(_section(c) for c in charts)}</main></body></html>\n")
