"""One day of clean events, sampled session by session with numpy (no per-row Python)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.generate.catalog import Catalog, Population
from pipeline.generate.params import GeneratorParams

VIEW, CART, PURCHASE = 0, 1, 2
EVENT_TYPES = ("view", "cart", "purchase")

# Shares of a day's sessions starting in each UTC hour (the real shop is UTC+3:
# busy afternoons, quiet nights) and of the week's traffic on Monday..Sunday.
HOURLY = np.array([1.0, 0.7, 0.5, 0.5, 0.8, 1.5, 2.6, 3.6, 4.4, 4.8, 5.0, 5.1,
                   5.2, 5.4, 5.6, 5.8, 6.0, 5.9, 5.5, 4.8, 3.8, 2.8, 2.0, 1.4])
HOURLY = HOURLY / HOURLY.sum()
WEEKLY = np.array([1.00, 0.98, 0.97, 1.00, 1.06, 1.12, 1.10])


@dataclass(frozen=True)
class DayEvents:
    """Clean events of one day, sorted by time."""

    epoch_seconds: np.ndarray  # int64
    event_type: np.ndarray  # int8 index into EVENT_TYPES
    item: np.ndarray  # int64 index into the catalog
    user: np.ndarray  # int64 index into the population
    session_uuid: np.ndarray  # bytes 'S36'


def day_row_targets(params: GeneratorParams, rng: np.random.Generator) -> np.ndarray:
    """Split ``params.rows`` over the days with a weekly rhythm and small noise; sums exactly."""
    weekdays = (np.arange(params.days) + params.start.weekday()) % 7
    weight = WEEKLY[weekdays] * rng.normal(1.0, 0.03, size=params.days).clip(0.9, 1.1)
    raw = params.rows * weight / weight.sum()
    targets = np.floor(raw).astype(np.int64)
    targets[np.argsort(raw - targets)[::-1][: params.rows - targets.sum()]] += 1
    return targets


def _uuid4(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random RFC 4122 version-4 UUID strings as a fixed-width bytes array."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexchars = np.frombuffer(b"0123456789abcdef", dtype="S1")
    digits = np.empty((n, 32), dtype="S1")
    digits[:, 0::2] = hexchars[raw >> 4]
    digits[:, 1::2] = hexchars[raw & 0x0F]
    out = np.full((n, 36), b"-", dtype="S1")
    for start, stop, dst in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, dst : dst + stop - start] = digits[:, start:stop]
    return out.view("S36").ravel()


def _sample_views(
    rng: np.random.Generator, params: GeneratorParams, catalog: Catalog, session_group: np.ndarray
) -> np.ndarray:
    """An item for every view: from the session's taste group, or from global popularity."""
    items = np.empty(session_group.size, dtype=np.int64)
    explore = rng.random(session_group.size) < params.exploration
    draws = rng.random(session_group.size)
    global_cdf = np.cumsum(catalog.global_weight)
    items[explore] = np.searchsorted(global_cdf, draws[explore] * global_cdf[-1])
    for g in np.unique(session_group[~explore]):
        members = np.flatnonzero(catalog.group == g)
        cdf = np.cumsum(catalog.group_weight[members])
        pick = ~explore & (session_group == g)
        items[pick] = members[np.minimum(np.searchsorted(cdf, draws[pick] * cdf[-1]), members.size - 1)]
    return np.minimum(items, catalog.group.size - 1)


def _sessions(rng: np.random.Generator, params: GeneratorParams, catalog: Catalog,
              population: Population, n_sessions: int, day_start: int) -> dict[str, np.ndarray]:
    """Sample sessions and their view/cart/purchase events (unsorted, session-contiguous)."""
    user = rng.choice(population.activity.size, size=n_sessions, p=population.activity)
    cum_taste = np.cumsum(population.taste[user], axis=1)
    group = np.minimum((cum_taste < rng.random(n_sessions)[:, None]).sum(axis=1), params.taste_groups - 1)
    n_views = rng.geometric(1.0 / params.mean_views_per_session, size=n_sessions)
    start = day_start + rng.choice(24, size=n_sessions, p=HOURLY) * 3600 + rng.integers(0, 3600, size=n_sessions)

    session = np.repeat(np.arange(n_sessions), n_views)
    item = _sample_views(rng, params, catalog, group[session])
    gaps = 1.0 + rng.exponential(45.0, size=session.size)  # >= 1 s: no two views share a second
    first = np.concatenate(([0], np.cumsum(n_views)[:-1]))
    elapsed = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], n_views)
    view_time = start[session] + elapsed.astype(np.int64)

    # Conversion rises with the user's true affinity for the item's group (mean kept at cart_rate).
    affinity = np.sqrt(population.taste[user[session], catalog.group[item]] * params.taste_groups)
    cart_p = np.minimum(1.0, params.cart_rate * affinity / max(affinity.mean(), 1e-9))
    carted = rng.random(session.size) < cart_p
    bought = carted & (rng.random(session.size) < params.purchase_rate)
    cart_time = view_time[carted] + rng.integers(5, 90, size=int(carted.sum()))
    buy_time = view_time[bought] + rng.integers(95, 700, size=int(bought.sum()))

    all_session = np.concatenate([session, session[carted], session[bought]])
    all_time = np.concatenate([view_time, cart_time, buy_time])
    # A session running past midnight is moved earlier as a whole, so it stays in its day.
    session_end = np.full(n_sessions, day_start, dtype=np.int64)
    np.maximum.at(session_end, all_session, all_time)
    all_time -= np.maximum(0, session_end - (day_start + 86_399))[all_session]
    return {
        "session": all_session,
        "time": all_time,
        "type": np.concatenate([np.full(session.size, VIEW), np.full(cart_time.size, CART),
                                np.full(buy_time.size, PURCHASE)]).astype(np.int8),
        "item": np.concatenate([item, item[carted], item[bought]]),
        "user": user,
    }


def generate_day(params: GeneratorParams, catalog: Catalog, population: Population,
                 day_start: int, rows: int, rng: np.random.Generator) -> DayEvents:
    """Exactly ``rows`` clean events of the day starting at ``day_start`` (epoch seconds)."""
    per_session = params.mean_views_per_session * (1 + params.cart_rate * (1 + params.purchase_rate))
    n_sessions = int(rows / per_session * 1.2) + 20
    while True:
        ev = _sessions(rng, params, catalog, population, n_sessions, day_start)
        if ev["session"].size >= rows:
            break
        n_sessions *= 2
    # Keep whole sessions in sampling order (random, so unbiased) up to the target;
    # the one session crossing it keeps only its earliest events.
    order = np.lexsort((ev["time"], ev["session"]))
    keep = order[:rows]
    time = ev["time"][keep]
    by_time = np.argsort(time, kind="stable")
    keep, time = keep[by_time], time[by_time]
    session = ev["session"][keep]
    uuids = _uuid4(rng, n_sessions)
    return DayEvents(
        epoch_seconds=time.astype(np.int64),
        event_type=ev["type"][keep],
        item=ev["item"][keep],
        user=ev["user"][session],
        session_uuid=uuids[session],
    )
