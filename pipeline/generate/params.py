"""Generator parameters: one dataclass, defaults shaped after the real REES46 data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class DirtyMix:
    """Share of written data lines that are dirty, and how that share splits by kind."""

    share: float = 0.005
    duplicate: float = 0.40
    zero_price: float = 0.20
    negative_price: float = 0.05
    null_session: float = 0.15
    malformed: float = 0.20


@dataclass(frozen=True)
class GeneratorParams:
    rows: int = 1_000_000
    days: int = 30
    seed: int = 42
    start: dt.date = dt.date(2019, 10, 1)
    events_per_user: float = 20.0  # real October data: ~42M events / ~3M users
    events_per_item: float = 50.0
    taste_groups: int = 24
    taste_concentration: float = 0.25  # Dirichlet alpha: small = few favourite groups
    exploration: float = 0.15  # share of views drawn from global popularity, not taste
    mean_views_per_session: float = 4.0
    cart_rate: float = 0.053  # carts per view -> ~5% of all events
    purchase_rate: float = 0.30  # purchases per cart -> ~1.5% of all events
    brand_missing: float = 0.15
    category_code_missing: float = 0.30
    dirty: DirtyMix = DirtyMix()

    @property
    def n_users(self) -> int:
        return max(50, int(self.rows / self.events_per_user))

    @property
    def n_items(self) -> int:
        return int(min(200_000, max(200, self.rows / self.events_per_item)))


# The seed project's month (REES46 April 2020): 66,589,268 events by 4,509,623 users over about
# 200k products. The event mix of the defaults already matches it (93.6 % views, 4.9 % carts, 1.5 %
# purchases); the missing brand / category_code shares are those of the real slice in tests/fixtures/real.
REES46_MONTH_EVENTS = 66_589_268
REES46_MONTH_USERS = 4_509_623
SHAPES: dict[str, GeneratorParams] = {
    "default": GeneratorParams(),
    "rees46-month": GeneratorParams(rows=REES46_MONTH_EVENTS, days=30, start=dt.date(2020, 4, 1),
                                    events_per_user=REES46_MONTH_EVENTS / REES46_MONTH_USERS,
                                    brand_missing=0.126, category_code_missing=0.314),
}


def parse_row_count(text: str) -> int:
    """A row count written as 1000000, 1_000_000, 100k, 2.5M or 1e6; ValueError for anything else."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    try:
        rows = int(float(text[:-1] if factor > 1 else text) * factor)
    except ValueError:
        raise ValueError(f"{text!r} is not a row count like 100k, 1M or 2500000") from None
    if rows <= 0:
        raise ValueError(f"{text!r} is not a positive row count")
    return rows
