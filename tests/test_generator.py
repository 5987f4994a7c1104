"""The synthetic REES46 generator: format, determinism, shape, dirt and planted structure.

Everything is checked by re-reading the written CSV files with Python's csv module,
independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.generate.catalog import _missing_by_mass
from pipeline.generate.dataset import generate
from pipeline.generate.params import DirtyMix, GeneratorParams
from pipeline.generate.truth import oracle_factors, oracle_score
from pipeline.rees46 import NAMES

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
PRICE_RE = re.compile(r"^-?\d+\.\d{2}$")


def _rows(raw_dir: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted(raw_dir.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            assert next(reader) == list(NAMES), path
            rows.extend(reader)
    return rows


def _well_formed(rows: list[list[str]]) -> list[list[str]]:
    return [r for r in rows if len(r) == 9 and TIME_RE.match(r[0]) and PRICE_RE.match(r[6]) and r[2].isdigit()
            and int(r[0][11:13]) < 24 and int(r[0][14:16]) < 60]


def test_files_are_rees46_format_one_per_day(small_dataset):
    raw, _, manifest = small_dataset
    names = sorted(p.name for p in raw.glob("*.csv"))
    assert names == [f"rees46_2019-10-0{d}.csv" for d in range(1, 5)]
    rows = _rows(raw)
    assert len(rows) == 40_000 == manifest["rows"]
    good = _well_formed(rows)
    malformed = sum(sum(f["dirty"]["malformed"].values()) for f in manifest["files"].values())
    assert len(rows) - len(good) == malformed > 0
    for path in raw.glob("*.csv"):  # every event of a file lies on that file's day
        day = path.stem.split("_")[1]
        with open(path, encoding="utf-8") as handle:
            next(handle)
            assert all(line.startswith(day) for line in handle)
    assert {r[1] for r in good} == {"view", "cart", "purchase"}
    assert all(int(r[3]) > 2**31 for r in good)  # category_id needs 64 bits, as in the real data
    levels = Counter(len(r[4].split(".")) for r in good if r[4])
    assert set(levels) <= {2, 3, 4} and len(levels) >= 2
    assert 0.1 < sum(1 for r in good if not r[4]) / len(good) < 0.6  # empty category_code is common
    assert 0.05 < sum(1 for r in good if not r[5]) / len(good) < 0.3  # and so is empty brand


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    params = GeneratorParams(rows=5_000, days=2, seed=3)
    generate(params, tmp_path / "a", tmp_path / "ta", progress=False)
    generate(params, tmp_path / "b", tmp_path / "tb", progress=False)
    generate(GeneratorParams(rows=5_000, days=2, seed=4), tmp_path / "c", tmp_path / "tc", progress=False)
    for name in ("rees46_2019-10-01.csv", "rees46_2019-10-02.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_funnel_rates_near_real_data(small_dataset):
    rows = _well_formed(_rows(small_dataset[0]))
    share = {k: v / len(rows) for k, v in Counter(r[1] for r in rows).items()}
    assert share["view"] == pytest.approx(0.94, abs=0.015)
    assert share["cart"] == pytest.approx(0.05, abs=0.01)
    assert share["purchase"] == pytest.approx(0.015, abs=0.004)


def test_dirty_rows_match_the_manifest_and_the_configured_share(small_dataset):
    raw, _, manifest = small_dataset
    rows = _rows(raw)
    duplicates = sum(1 for a, b in zip(rows, rows[1:]) if a == b)
    good = _well_formed(rows)
    dirty = {k: sum(f["dirty"][k] for f in manifest["files"].values())
             for k in ("duplicate", "zero_price", "negative_price", "null_session")}
    assert duplicates == dirty["duplicate"]
    assert sum(1 for r in good if float(r[6]) == 0) == dirty["zero_price"]
    assert sum(1 for r in good if float(r[6]) < 0) == dirty["negative_price"]
    assert sum(1 for r in good if r[8] == "") == dirty["null_session"]
    malformed = len(rows) - len(good)
    total = sum(dirty.values()) + malformed
    assert total == pytest.approx(40_000 * DirtyMix().share, rel=0.05)


def test_no_dirt_when_share_is_zero(tmp_path):
    generate(GeneratorParams(rows=3_000, days=1, dirty=DirtyMix(share=0.0)), tmp_path / "r", tmp_path / "t",
             progress=False)
    rows = _rows(tmp_path / "r")
    assert len(_well_formed(rows)) == len(rows) == 3_000
    assert all(float(r[6]) > 0 and r[8] for r in rows)


def _truth(truth_dir: Path):
    users = pq.read_table(truth_dir / "users.parquet").to_pydict()
    items = pq.read_table(truth_dir / "items.parquet").to_pydict()
    taste = {u: np.array(t) for u, t in zip(users["user_id"], users["taste"])}
    group = dict(zip(items["product_id"], items["taste_group"]))
    return taste, group, items


def test_purchases_follow_the_planted_tastes(small_dataset):
    raw, truth_dir, _ = small_dataset
    taste, group, items = _truth(truth_dir)
    bought = [(int(r[7]), int(r[2])) for r in _well_formed(_rows(raw)) if r[1] == "purchase"]
    assert len(bought) > 300
    # Affinity of buyers for the groups they bought from, against a random item's group.
    actual = np.mean([taste[u][group[p]] for u, p in bought])
    all_groups = np.array(items["taste_group"])
    chance = np.mean([taste[u][all_groups].mean() for u, _ in bought])
    assert actual > 4 * chance


def test_oracle_ranks_bought_items_far_above_random(small_dataset):
    raw, truth_dir, manifest = small_dataset
    taste, group, items = _truth(truth_dir)
    product_ids = np.array(items["product_id"])
    index = {p: i for i, p in enumerate(product_ids)}
    bought = [(int(r[7]), int(r[2])) for r in _well_formed(_rows(raw)) if r[1] == "purchase"][:300]
    users = np.array([taste[u] for u, _ in bought])
    scores = oracle_score(users, np.array(items["taste_group"]), np.array(items["group_weight"]),
                          np.array(items["global_weight"]), manifest["params"]["exploration"])
    # Percentile of the bought item in the user's oracle ranking: 0.5 would be chance.
    percentile = [(scores[k] < scores[k, index[p]]).mean() for k, (_, p) in enumerate(bought)]
    assert np.mean(percentile) > 0.9


def test_oracle_factors_reproduce_the_oracle_score():
    rng = np.random.default_rng(11)
    taste = rng.dirichlet(np.ones(6), size=50)
    group = rng.integers(0, 6, 400)
    group_weight, global_weight = rng.random(400), rng.random(400)
    users, items = oracle_factors(taste, group, group_weight, global_weight, 0.3)
    expected = oracle_score(taste, group, group_weight, global_weight, 0.3)
    np.testing.assert_allclose(users @ items.T, expected, rtol=1e-12, atol=0)


def test_missing_fields_carry_their_share_of_the_traffic_not_of_the_entries():
    """Zipf-popular products: a brand missing on 12.6 % of products could miss on 1 % or 40 % of events."""
    mass = 1.0 / np.arange(1, 20_001) ** 0.8
    heaviest = mass.max() / mass.sum()  # 3.1 %: the share can miss by at most half of one entry
    for share in (0.0, 0.126, 0.314, 1.0):
        for seed in range(5):
            missing = _missing_by_mass(np.random.default_rng(seed).random(mass.size), mass, share)
            assert abs(mass[missing].sum() / mass.sum() - share) <= heaviest / 2 + 1e-12
        assert not missing.any() if share == 0.0 else missing.all() if share == 1.0 else 0 < missing.mean() < 1
