"""The dashboard page: one self-contained HTML file (inline CSS and SVG, no scripts, no CDN).

Its charts are declared in dbt_project/models/dashboard.yml (pipeline/charts.py): a line, bar, horizontal bar
or heat-map chart is drawn from its declaration alone; a chart that names a ``render`` is drawn by that
function of ``RENDERERS`` here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from pipeline import health
from pipeline.charts import TOP_N, Chart, ChartError, tables_read
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


Marts = dict[str, list[Row]]
FORMATS: dict[str, svg.Formatter] = {"number": svg.number, "money": svg.money, "ratio": svg.ratio}


@dataclass(frozen=True)
class Card:
    chart: Chart
    body: str | None  # None: no data
    subtitle: str | None = None  # None: the declared one

    @property
    def shown_subtitle(self) -> str:
        return self.subtitle if self.subtitle is not None else self.chart.subtitle


def _f(value) -> float:
    return float(value) if value is not None else 0.0


def _section(card: Card) -> str:
    chart = card.chart
    body = card.body if card.body is not None else (
        f'<p class="empty">No data yet: {escape(chart.table)} is empty. Run <code>make recommend</code>.</p>')
    return (f'<section class="chart" id="{chart.html_id}" data-empty="{str(card.body is None).lower()}">'
            f"<h2>{escape(chart.title)}</h2><p class=\"sub\">{escape(card.shown_subtitle)}</p>{body}</section>")


def _by(rows: list[Row], key: str) -> list[Row]:
    return sorted(rows, key=lambda r: r[key])


def _label(chart: Chart, value) -> str:
    if chart.label:
        return chart.label.format(value)
    if isinstance(value, dt.date):
        return svg.short_date(value)
    return str(value)


def _declared_rows(chart: Chart, marts: Marts) -> list[Row]:
    """The charted mart's rows as the declaration keeps and orders them."""
    rows = [r for r in marts[chart.table] if all(str(r[c]) == v for c, v in chart.keep)]
    if chart.top:
        return sorted((r for r in rows if r[chart.top] is not None and r[chart.top] <= TOP_N),
                      key=lambda r: r[chart.top])
    return sorted(rows, key=lambda r: r[chart.order_by or chart.category])


def _declared_card(chart: Chart, marts: Marts) -> Card:
    """A chart drawn from its declaration alone."""
    rows, fmt = _declared_rows(chart, marts), FORMATS[chart.format]
    if not rows:
        return Card(chart, None)
    if chart.draw == "heat":
        down = sorted({r[chart.heat_rows] for r in rows})
        across = sorted({r[chart.category] for r in rows})
        cells = {(down.index(r[chart.heat_rows]), across.index(r[chart.category])): _f(r[chart.measure]) for r in rows}
        return Card(chart, svg.heatmap_table([_label(chart, v) for v in down], [str(v) for v in across], cells, fmt))
    labels = list(dict.fromkeys(_label(chart, r[chart.category]) for r in rows))
    if chart.color:
        series: dict[str, list[float]] = {}
        for r in rows:
            at = labels.index(_label(chart, r[chart.category]))
            series.setdefault(str(r[chart.color]), [0.0] * len(labels))[at] = _f(r[chart.measure])
        return Card(chart, svg.grouped_bar_chart(labels, series, fmt, chart.axis))
    values = [_f(r[chart.measure]) for r in rows]
    if chart.draw == "line":
        return Card(chart, svg.line_chart(labels, values, fmt, chart.axis))
    if chart.draw == "bar":
        return Card(chart, svg.bar_chart(labels, values, fmt, chart.axis))
    return Card(chart, svg.hbar_chart(labels, values, fmt))


def _funnel(chart: Chart, marts: Marts) -> Card:
    funnel = marts[chart.table]
    stages = [("views", sum(_f(r["views"]) for r in funnel)), ("carts", sum(_f(r["carts"]) for r in funnel)),
              ("purchases", sum(_f(r["purchases"]) for r in funnel))]
    # Ratios of event counts, not conversion rates: real logs hold purchases without a cart event.
    rates = (f"{stages[1][1] / stages[0][1]:.3f} carts per view, {stages[2][1] / stages[1][1]:.2f} purchases per cart"
             if funnel and stages[0][1] and stages[1][1] else chart.table)
    return Card(chart, svg.bar_chart([s for s, _ in stages], [v for _, v in stages], svg.number, "events", log=True,
                                     labelled=True) if funnel else None, rates)


def _category_revenue(chart: Chart, marts: Marts) -> Card:
    categories = sorted((r for r in marts[chart.table] if r["category_level"] == 1),
                        key=lambda r: -_f(r["revenue"]))[:12]
    return Card(chart, svg.hbar_chart([r["category"] for r in categories], [_f(r["revenue"]) for r in categories],
                                      svg.money) if categories else None)


def _model_quality(chart: Chart, marts: Marts) -> Card:
    latest = [r for r in marts[chart.table] if r["metric"] in QUALITY_METRICS]
    latest.sort(key=lambda r: (QUALITY_METRICS.index(r["metric"]), r["k"]))
    series = {name: [_f(r[column]) for r in latest] for name, column in
              (("ALS", "als"), ("EASE", "ease"), ("popularity", "popularity"), ("oracle", "oracle"))
              if any(r[column] is not None for r in latest)}
    return Card(chart, svg.grouped_bar_chart([f"{SHORT[r['metric']]}@{r['k']}" for r in latest], series, svg.ratio,
                                             "score") if latest else None)


def _quality_history(chart: Chart, marts: Marts) -> Card:
    history = sorted((r for r in marts[chart.table] if r["model"] == "als" and r["metric"] == "ndcg" and r["k"] == 10),
                     key=lambda r: r["finished_at"])
    return Card(chart, svg.line_chart([r["finished_at"].strftime("%m-%d %H:%M") for r in history],
                                      [_f(r["metric_value"]) for r in history], svg.ratio, "NDCG@10")
                if history else None)


def _sample_recommendations(chart: Chart, marts: Marts) -> Card:
    recs = marts[chart.table]
    sample_users = sorted({r["user_id"] for r in recs})[:4]
    rows = sorted((r for r in recs if r["user_id"] in sample_users and r["recommendation_rank"] <= 5),
                  key=lambda r: (r["user_id"], r["recommendation_rank"]))
    table = ("<table><tr><th>user</th><th>rank</th><th>product</th><th>brand</th><th>category</th>"
             "<th>price</th></tr>" + "".join(
                 f"<tr><td>{r['user_id']}</td><td>{r['recommendation_rank']}</td><td>{r['product_id']}</td>"
                 f"<td>{escape(str(r['brand']))}</td><td>{escape(str(r['category_code']))}</td>"
                 f"<td class=\"num\">{svg.money(_f(r['price']))}</td></tr>" for r in rows) + "</table>")
    return Card(chart, table if rows else None)


def _cohort_retention(chart: Chart, marts: Marts) -> Card:
    """The newest 12 weekly cohorts, each labelled with its size."""
    weekly = _declared_rows(chart, marts)
    starts = sorted({r["cohort_start"] for r in weekly})[-12:]
    periods = list(range(max((int(r["periods_since"]) for r in weekly if r["cohort_start"] in starts), default=-1) + 1))
    cells = {(starts.index(r["cohort_start"]), int(r["periods_since"])): _f(r["retention_share"])
             for r in weekly if r["cohort_start"] in starts}
    sizes = {r["cohort_start"]: int(r["cohort_buyers"]) for r in weekly}
    return Card(chart, svg.heatmap_table([f"{svg.short_date(s)} ({sizes[s]:,})" for s in starts],
                                         [str(p) for p in periods], cells, lambda v: f"{v:.0%}") if weekly else None)


def _customer_segments(chart: Chart, marts: Marts) -> Card:
    """Drawn from the declaration, with each large segment's revenue share in the subtitle."""
    segments = _declared_rows(chart, marts)
    shares = ", ".join(f"{r['segment']} {_f(r['revenue_share']):.0%} of revenue" for r in segments[:3])
    return Card(chart, _declared_card(chart, marts).body, f"{chart.table} · {shares}")


def _repeat_purchases(chart: Chart, marts: Marts) -> Card:
    repeat = _by(marts[chart.table], "cohort_month")
    buyers = sum(int(r["buyers"]) for r in repeat)
    repeaters = sum(int(r["repeat_buyers"]) for r in repeat)
    return Card(chart, svg.bar_chart([r["cohort_month"].strftime("%Y-%m") for r in repeat],
                                     [_f(r["repeat_purchase_rate"]) for r in repeat], svg.ratio,
                                     "repeat buyers / buyers") if repeat else None,
                f"{chart.table} · {repeaters:,} of {buyers:,} buyers ordered again" if buyers else chart.table)


def _served_outcomes(chart: Chart, marts: Marts) -> Card:
    """The last 14 days, the personal lists against the popular list."""
    rates = {(r["event_date"], r["list_source"]): _f(r["hit_rate_at_10"]) for r in marts[chart.table]}
    days = sorted({d for d, _ in rates})[-14:]
    series = {label: [rates.get((d, source), 0.0) for d in days]
              for label, source in (("personal lists", "model"), ("popular list", "popularity"))}
    return Card(chart, svg.grouped_bar_chart([svg.short_date(d) for d in days], series, svg.ratio, chart.axis)
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


def _data_health(chart: Chart, marts: Marts) -> Card:
    """Files by health status, and the files with the largest unusable share and their main problem."""
    files = marts[chart.table]
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
    subtitle = (f"{chart.table} · {counts['ok']} files ok, {counts['warn']} warn, {counts['error']} error "
                "(unusable = rejected at ingest or quarantined; attribute lost = kept events that lost a column)")
    body = (svg.bar_chart(list(counts), [float(v) for v in counts.values()], svg.number, "files")
            + (table if worst else "<p class=\"sub\">Every file is within the warn threshold.</p>"))
    return Card(chart, body if files else None, subtitle)


RENDERERS: dict[str, Callable[[Chart, Marts], Card]] = {
    "data_health": _data_health, "funnel": _funnel, "category_revenue": _category_revenue,
    "cohort_retention": _cohort_retention, "customer_segments": _customer_segments,
    "repeat_purchases": _repeat_purchases, "model_quality": _model_quality, "quality_history": _quality_history,
    "sample_recommendations": _sample_recommendations, "served_outcomes": _served_outcomes,
}


def card(chart: Chart, marts: Marts) -> Card:
    if chart.render:
        if chart.render not in RENDERERS:
            raise ChartError(f"chart {chart.name}: render {chart.render!r} is not one of {', '.join(RENDERERS)}")
        return RENDERERS[chart.render](chart, marts)
    return _declared_card(chart, marts)


def _facts(marts: Marts, source: MartSource, generated_at: dt.datetime) -> dict[str, str]:
    activity = marts["daily_activity"]
    window = (f"{min(r['event_date'] for r in activity)} – {max(r['event_date'] for r in activity)}"
              if activity else "no data yet")
    run = marts["model_quality_latest"][0]["run_id"] if marts["model_quality_latest"] else "no model run yet"
    return {"Data window (UTC)": window, "Events": f"{sum(int(r['events']) for r in activity):,}",
            "Users": f"{len(marts['dim_users']):,}", "Products": f"{len(marts['dim_products']):,}",
            "Model run": run, "Source": source.name, "Generated": f"{generated_at:%Y-%m-%d %H:%M} UTC"}


def build_page(source: MartSource, charts: tuple[Chart, ...], generated_at: dt.datetime | None = None) -> str:
    marts = {t: source.rows(t) for t in tables_read(charts)}
    facts = _facts(marts, source, generated_at or dt.datetime.now(dt.UTC))
    cards = [card(c, marts) for c in charts if c.draw != "header"]
    header = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(str(v))}</dd></div>" for k, v in facts.items())
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>recolake dashboard</title><style>{CSS}</style></head><body>"
            f"<header><h1>E-commerce revenue and recommendations</h1><dl>{header}</dl></header>"
            f"<main>{''.join(_section(c) for c in cards)}</main></body></html>\n")
