"""An independent, plain-Python computation of the retention marts (orders, cohorts, repeat purchases,
RFM) from cleaned events (tests/reference.py), for comparison with what dbt builds."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from tests.reference import Event


@dataclass(frozen=True)
class Order:
    user_id: int
    at: dt.datetime
    revenue: Decimal


def orders(events: list[Event]) -> list[Order]:
    """One order per (user, session) with a purchase, at its first purchase."""
    first: dict = {}
    revenue: dict = defaultdict(Decimal)
    for e in events:
        if e.type == "purchase":
            key = (e.user_id, e.session_key)
            first[key] = min(first.get(key, e.time), e.time)
            revenue[key] += e.price
    return [Order(user, at, revenue[(user, session)]) for (user, session), at in first.items()]


def _period(day: dt.date, grain: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if grain == "week" else day.replace(day=1)


def _periods_between(start: dt.date, end: dt.date, grain: str) -> int:
    return (end - start).days // 7 if grain == "week" else (end.year - start.year) * 12 + end.month - start.month


def cohorts(all_orders: list[Order]) -> dict[tuple[str, dt.date, int], tuple[int, int, int, Decimal]]:
    """(grain, cohort start, periods since) -> (cohort buyers, active buyers, orders, revenue)."""
    out = {}
    for grain in ("week", "month"):
        start = {}
        for o in sorted(all_orders, key=lambda o: o.at):
            start.setdefault(o.user_id, _period(o.at.date(), grain))
        size: dict = defaultdict(int)
        for s in start.values():
            size[s] += 1
        active: dict = defaultdict(set)
        count: dict = defaultdict(int)
        revenue: dict = defaultdict(Decimal)
        for o in all_orders:
            key = (grain, start[o.user_id], _periods_between(start[o.user_id], _period(o.at.date(), grain), grain))
            active[key].add(o.user_id)
            count[key] += 1
            revenue[key] += o.revenue
        out.update({k: (size[k[1]], len(active[k]), count[k], revenue[k]) for k in active})
    return out


def repeat_purchases(all_orders: list[Order]) -> dict[dt.date, tuple[int, int, int, float | None, float | None]]:
    """cohort month -> (buyers, repeat buyers, orders, mean and median days between consecutive orders)."""
    by_user: dict = defaultdict(list)
    for o in all_orders:
        by_user[o.user_id].append(o.at)
    buyers: dict = defaultdict(int)
    repeaters: dict = defaultdict(int)
    count: dict = defaultdict(int)
    gaps: dict = defaultdict(list)
    for times in by_user.values():
        times.sort()
        month = times[0].date().replace(day=1)
        buyers[month] += 1
        repeaters[month] += len(times) >= 2
        count[month] += len(times)
        gaps[month] += [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:])]
    return {m: (buyers[m], repeaters[m], count[m], statistics.mean(gaps[m]) if gaps[m] else None,
                statistics.median(gaps[m]) if gaps[m] else None) for m in buyers}


def _quintiles(values: dict[int, float]) -> dict[int, int]:
    """1-5 by the ascending value; equal values share the score of the first of them (rank 'min')."""
    ordered = sorted(values.values())
    first_rank = {}
    for position, value in enumerate(ordered, start=1):
        first_rank.setdefault(value, position)
    n = len(ordered)
    return {k: 1 + (5 * (first_rank[v] - 1)) // n for k, v in values.items()}


def _segment(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4:
        return "promising"
    if r == 3:
        return "needs attention"
    return "at risk" if f >= 4 or m >= 4 else "lost"


def rfm(all_orders: list[Order], as_of: dt.date) -> dict[int, tuple[int, int, Decimal, int, int, int, str]]:
    """user -> (recency days, orders, revenue, r, f, m, segment)."""
    last: dict = {}
    count: dict = defaultdict(int)
    revenue: dict = defaultdict(Decimal)
    for o in all_orders:
        last[o.user_id] = max(last.get(o.user_id, o.at.date()), o.at.date())
        count[o.user_id] += 1
        revenue[o.user_id] += o.revenue
    recency = {u: (as_of - d).days for u, d in last.items()}
    r = _quintiles({u: -days for u, days in recency.items()})
    f = _quintiles(dict(count))
    m = _quintiles(dict(revenue))
    return {u: (recency[u], count[u], revenue[u], r[u], f[u], m[u], _segment(r[u], f[u], m[u])) for u in last}
