"""An independent, plain-Python computation of the cleaning rules and marts, for comparison
with what Spark and dbt produce from the same CSV files."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

KNOWN_TYPES = {"view", "cart", "remove_from_cart", "purchase"}


@dataclass(frozen=True)
class Event:
    time: dt.datetime
    type: str
    product_id: int | None
    category_code: str | None
    brand: str | None
    price: Decimal | None
    user_id: int | None
    session: str | None

    @property
    def date(self) -> dt.date:
        return self.time.date()

    @property
    def session_key(self) -> str:
        return self.session or f"surrogate-{self.user_id}-{self.date}"

    @property
    def l1(self) -> str:
        return self.category_code.split(".")[0] if self.category_code else "unknown"


def _int(text: str) -> int | None:
    return int(text) if text else None


def _price(text: str) -> Decimal | None:
    """The price, or None when empty or unreadable (ingest drops such a price, not the event)."""
    try:
        value = Decimal(text).quantize(Decimal("0.01")) if text else None
    except InvalidOperation:
        return None
    return value if value is None or abs(value) < Decimal("1e16") else None


def parse(paths: list[Path]) -> list[Event]:
    """Every parseable data line (the ingest rules), tidied like stg_raw__events."""
    events = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                if len(row) != 9:
                    continue
                try:
                    time = dt.datetime.strptime(row[0], "%Y-%m-%d %H:%M:%S UTC")
                    product, user = _int(row[2]), _int(row[7])
                except ValueError:
                    continue
                price = _price(row[6])
                events.append(Event(time, row[1].strip().lower(), product, row[4].strip().lower() or None,
                                    row[5].strip().lower() or None, price, user, row[8].strip() or None))
    return events


MAX_PRICE = Decimal(100000)  # dbt_project.yml vars.max_price
MIN_TIME = dt.datetime(1990, 1, 1)  # vars.min_event_date


def _bad_price(e: Event, max_price: Decimal) -> bool:
    return e.price is None or e.price < 0 or e.price > max_price


def quarantined(e: Event, max_price: Decimal = MAX_PRICE) -> bool:
    latest = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    return (e.user_id is None or e.product_id is None or (e.type == "purchase" and _bad_price(e, max_price))
            or not MIN_TIME <= e.time <= latest or e.type not in KNOWN_TYPES)


def cleaned(events: list[Event], max_price: Decimal = MAX_PRICE) -> list[Event]:
    """Usable events without exact duplicates, repeated carts per (user, product, session, day) collapsed;
    an implausible price on an event other than a purchase is dropped (None)."""
    usable = sorted({e for e in events if not quarantined(e, max_price)}, key=lambda e: e.time)
    usable = [replace(e, price=None) if e.type != "purchase" and e.price is not None and _bad_price(e, max_price)
              else e for e in usable]
    seen_carts: set[tuple] = set()
    out = []
    for e in usable:
        if e.type == "cart":
            key = (e.user_id, e.product_id, e.session_key, e.date)
            if key in seen_carts:
                continue
            seen_carts.add(key)
        out.append(e)
    return out


def daily_revenue(events: list[Event]) -> dict[dt.date, tuple[Decimal, int, int]]:
    revenue: dict = defaultdict(Decimal)
    purchases: dict = defaultdict(int)
    buyers: dict = defaultdict(set)
    for e in events:
        if e.type == "purchase":
            revenue[e.date] += e.price
            purchases[e.date] += 1
            buyers[e.date].add(e.user_id)
    return {d: (revenue[d], purchases[d], len(buyers[d])) for d in {e.date for e in events}}


def group_sum(events: list[Event], key, value=lambda e: e.price, where=lambda e: e.type == "purchase") -> dict:
    out: dict = defaultdict(int)
    for e in events:
        if where(e):
            out[key(e)] += value(e)
    return dict(out)


def interaction_strength(events: list[Event], weights: dict[str, float], half_life_days: float) -> dict:
    newest = max(e.time for e in events)
    out: dict = defaultdict(float)
    for e in events:
        age_days = (newest - e.time).total_seconds() / 86400
        out[(e.user_id, e.product_id)] += weights[e.type] * 0.5 ** (age_days / half_life_days)
    return dict(out)
