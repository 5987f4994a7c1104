"""Turn a day of events into a REES46-format CSV file, dirt included, written atomically."""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.generate.catalog import Catalog, Population
from pipeline.generate.events import EVENT_TYPES, DayEvents
from pipeline.generate.params import DirtyMix
from pipeline.rees46 import HEADER_LINE, NAMES

MALFORMED_KINDS = ("field_count", "bad_number", "bad_timestamp")


@dataclass
class DirtyCounts:
    """What was made dirty in one file, so tests and ingest can reconcile against it."""

    duplicate: int = 0
    zero_price: int = 0
    negative_price: int = 0
    null_session: int = 0
    malformed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MALFORMED_KINDS, 0))


def _price_strings(cents: np.ndarray) -> pa.Array:
    """Cents to '12.30' strings, as the real files write prices (always two decimals)."""
    magnitude = pa.array(np.abs(cents))
    whole = pc.cast(pc.divide(magnitude, 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pc.subtract(magnitude, pc.multiply(pc.divide(magnitude, 100), 100)),
                                pa.string()), 2, "0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, text, "")


@functools.cache
def _clock_strings() -> pa.Array:
    """'HH:MM:SS UTC' for every second of a day: a lookup beats strftime by ~10x."""
    sod = np.arange(86_400)
    return pa.array([f"{h:02d}:{m:02d}:{s:02d} UTC" for h, m, s in zip(sod // 3600, sod // 60 % 60, sod % 60)])


def _timestamp_strings(epoch_seconds: np.ndarray) -> pa.Array:
    """'2019-10-01 00:00:00 UTC' strings; every event of one file lies on one UTC day."""
    day = int(epoch_seconds.min()) // 86_400
    if int(epoch_seconds.max()) // 86_400 != day:
        raise ValueError("a day file holds events of one UTC day only")
    date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
    clock = pc.take(_clock_strings(), pa.array(epoch_seconds - day * 86_400))
    return pc.binary_join_element_wise(pa.scalar(date), clock, " ")


def _table(day: DayEvents, catalog: Catalog, population: Population, price_cents: np.ndarray,
           null_session: np.ndarray) -> pa.Table:
    codes = pa.array(catalog.category_code, type=pa.string())
    brands = pa.array(catalog.brand, type=pa.string())
    sessions = pa.array(day.session_uuid, type=pa.binary()).cast(pa.string())
    sessions = pc.if_else(pa.array(null_session), pa.nulls(len(sessions), pa.string()), sessions)
    columns = {
        "event_time": _timestamp_strings(day.epoch_seconds),
        "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(day.event_type.astype(np.int64))),
        "product_id": pa.array(catalog.product_id[day.item]),
        "category_id": pa.array(catalog.category_id[day.item]),
        "category_code": pc.take(codes, pa.array(day.item)),
        "brand": pc.take(brands, pa.array(day.item)),
        "price": _price_strings(price_cents),
        "user_id": pa.array(population.user_id[day.user]),
        "user_session": sessions,
    }
    return pa.table({name: columns[name] for name in NAMES})  # file order is the format's


def _malform(line: bytes, kind: str) -> bytes:
    fields = line.split(b",")
    if kind == "field_count":
        return b",".join(fields[:-1])
    if kind == "bad_number":
        fields[2] = b"12.3.4"  # an unreadable product id makes the line unusable (a bad price would not)
    else:
        fields[0] = fields[0][:11] + b"25:61:00 UTC"
    return b",".join(fields)


def write_day_csv(path: Path, day: DayEvents, catalog: Catalog, population: Population,
                  dirty: DirtyMix, total_rows: int, rng: np.random.Generator) -> DirtyCounts:
    """Write ``total_rows`` data lines: the day's events (``total_rows - duplicates``) plus dirt."""
    n = day.item.size
    n_dirty = int(round(total_rows * dirty.share))
    counts = DirtyCounts(duplicate=total_rows - n)
    kinds = {
        "zero_price": int(round(n_dirty * dirty.zero_price)),
        "negative_price": int(round(n_dirty * dirty.negative_price)),
        "null_session": int(round(n_dirty * dirty.null_session)),
        "malformed": int(round(n_dirty * dirty.malformed)),
    }
    chosen = rng.choice(n, size=min(n, sum(kinds.values()) + counts.duplicate), replace=False)
    picks: dict[str, np.ndarray] = {}
    offset = 0
    for kind, k in [*kinds.items(), ("duplicate", counts.duplicate)]:
        picks[kind] = np.sort(chosen[offset : offset + k])
        offset += k
    counts.zero_price = picks["zero_price"].size
    counts.negative_price = picks["negative_price"].size
    counts.null_session = picks["null_session"].size

    price = catalog.price_cents[day.item].copy()
    price[picks["zero_price"]] = 0
    price[picks["negative_price"]] *= -1
    null_session = np.zeros(n, dtype=bool)
    null_session[picks["null_session"]] = True

    # Exact duplicates sit right after their original, as in the real files.
    repeat = np.ones(n, dtype=np.int64)
    repeat[picks["duplicate"]] = 2
    order = np.repeat(np.arange(n), repeat)
    table = _table(day, catalog, population, price, null_session).take(pa.array(order))

    sink = pa.BufferOutputStream()
    sink.write((HEADER_LINE + "\n").encode())  # arrow would quote the header names
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    payload = sink.getvalue().to_pybytes()
    if picks["malformed"].size:
        lines = payload.split(b"\n")
        # Position of original row i in the output, +1 for the header line.
        position = np.cumsum(repeat) - repeat + 1
        for j, row in enumerate(picks["malformed"]):
            kind = MALFORMED_KINDS[j % len(MALFORMED_KINDS)]
            lines[position[row]] = _malform(lines[position[row]], kind)
            counts.malformed[kind] += 1
        payload = b"\n".join(lines)

    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(payload)
    os.replace(partial, path)
    return counts
