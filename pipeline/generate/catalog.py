"""Products, categories, brands and users, with their planted latent tastes.

Every item belongs to one taste group; every user has a Dirichlet taste over the
groups. Views are drawn from the user's taste, conversion rises with affinity, so
who-buys-what carries structure that collaborative filtering can find and that an
oracle can rank exactly (see :mod:`pipeline.generate.truth`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.generate.params import GeneratorParams

_TAXONOMY: dict[str, list[str]] = {
    "electronics": ["smartphone", "audio", "video", "tablet", "clocks", "camera", "telephone"],
    "appliances": ["kitchen", "environment", "personal", "iron", "sewing_machine", "ironing_board"],
    "computers": ["notebook", "desktop", "peripherals", "components", "network", "ebooks"],
    "apparel": ["shoes", "costume", "jeans", "shirt", "trousers", "scarf", "bag"],
    "furniture": ["living_room", "bedroom", "kitchen", "bathroom", "universal", "office"],
    "construction": ["tools", "components", "electrician", "plumbing"],
    "kids": ["toys", "carriage", "skates", "dolls", "swing"],
    "auto": ["accessories", "parts"],
    "sport": ["bicycle", "trainer", "ski", "tennis", "snowboard"],
    "accessories": ["bag", "wallet", "umbrella", "cosmetic_bag"],
    "country_yard": ["lawn_mower", "cultivator", "watering", "furniture"],
    "medicine": ["tools"],
    "stationery": ["cartrige", "paper", "pen"],
}
# Deeper levels, per top level so codes stay plausible ('appliances.kitchen.kettle').
_LEAVES: dict[str, list[str]] = {
    "electronics": ["headphone", "tv", "player", "subwoofer", "acoustic", "charger", "case", "radar"],
    "appliances": ["refrigerators", "washer", "vacuum", "kettle", "microwave", "oven", "hood", "blender"],
    "computers": ["keyboard", "mouse", "monitor", "printer", "videocards", "memory", "cpu", "hdd"],
    "apparel": ["slipons", "sneakers", "boots", "sandals", "keds", "moccasins"],
    "furniture": ["sofa", "chair", "table", "bed", "cabinet", "shelving"],
    "construction": ["drill", "saw", "light", "generator", "welding", "screw"],
    "kids": ["dolls", "constructor", "car", "puzzle"],
    "auto": ["radar", "alarm", "player", "videoregister", "compressor"],
    "sport": ["helmet", "gloves", "bag", "pump"],
    "accessories": ["leather", "textile", "kids"],
    "country_yard": ["pump", "hose", "grill"],
    "medicine": ["thermometer", "tonometer", "inhaler"],
    "stationery": ["ink", "a4", "gel"],
}
_SYLLABLES = ["sa", "mo", "ri", "ka", "le", "no", "vo", "xi", "ta", "pi", "lu", "ba", "ze", "ko",
              "ne", "dar", "tel", "son", "ix", "ron", "mi", "go", "ph", "el", "ro", "ma", "vi", "an"]

CATEGORY_ID_BASE = 2_053_013_552_000_000_000  # real category ids are ~2.05e18: need 64 bits


@dataclass(frozen=True)
class Catalog:
    product_id: np.ndarray  # int64
    category_id: np.ndarray  # int64
    category_code: list[str | None]
    brand: list[str | None]
    price_cents: np.ndarray  # int64
    group: np.ndarray  # int32 taste group of each item
    global_weight: np.ndarray  # float64, sums to 1: popularity for exploration views
    group_weight: np.ndarray  # float64, sums to 1 within each group


@dataclass(frozen=True)
class Population:
    user_id: np.ndarray  # int64
    activity: np.ndarray  # float64, sums to 1: share of sessions
    taste: np.ndarray  # float64 (n_users, groups), rows sum to 1


def _category_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct dotted codes with 2-4 levels, like 'appliances.kitchen.refrigerators'."""
    codes: list[str] = []
    seen: set[str] = set()
    tops = list(_TAXONOMY)
    while len(codes) < n:
        top = tops[rng.integers(len(tops))]
        subs = _TAXONOMY[top]
        parts = [top, subs[rng.integers(len(subs))]]
        depth = int(rng.choice([2, 3, 4], p=[0.35, 0.5, 0.15]))
        while len(parts) < depth:
            leaves = _LEAVES[top]
            parts.append(leaves[rng.integers(len(leaves))])
        code = ".".join(parts)
        if code not in seen or len(seen) >= 2000:
            seen.add(code)
            codes.append(code)
    return codes


def _brand_names(rng: np.random.Generator, n: int) -> list[str]:
    names: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < n:
        k = int(rng.integers(2, 4))
        name = "".join(_SYLLABLES[i] for i in rng.integers(len(_SYLLABLES), size=k))
        if name not in names:
            names.add(name)
            ordered.append(name)
    return ordered


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    ranks = rng.permutation(n) + 1
    weights = 1.0 / ranks.astype(np.float64) ** exponent
    return weights / weights.sum()


def _missing_by_mass(draw: np.ndarray, mass: np.ndarray, share: float) -> np.ndarray:
    """Entries taken in the random order of ``draw`` until they carry ``share`` of the traffic ``mass``:
    the share of events with the field missing then matches ``share``, not just the share of entries."""
    order = np.argsort(draw, kind="stable")
    middle = np.cumsum(mass[order]) - mass[order] / 2
    missing = np.zeros(draw.size, dtype=bool)
    missing[order[middle < share * mass.sum()]] = True
    return missing


def build_catalog(params: GeneratorParams, rng: np.random.Generator) -> Catalog:
    n_items = params.n_items
    groups = params.taste_groups
    n_categories = int(min(600, max(12, n_items // 25)))
    codes = _category_codes(rng, n_categories)
    code_draw = rng.random(n_categories)
    category_ids = CATEGORY_ID_BASE + rng.choice(10**13, size=n_categories, replace=False)
    category_group = rng.integers(groups, size=n_categories)
    category_log_price = rng.normal(np.log(80.0), 1.0, size=n_categories)

    brands = _brand_names(rng, max(20, n_items // 40))
    brand_weight = _zipf_weights(rng, len(brands), 1.1)

    item_category = rng.choice(n_categories, size=n_items, p=_zipf_weights(rng, n_categories, 0.8))
    own_group = rng.random(n_items) < 0.75
    group = np.where(own_group, category_group[item_category], rng.integers(groups, size=n_items))
    brand_idx = rng.choice(len(brands), size=n_items, p=brand_weight)
    brand_draw = rng.random(n_items)
    price = np.exp(rng.normal(category_log_price[item_category], 0.45))
    price_cents = np.maximum(50, np.round(price * 100)).astype(np.int64)

    global_weight = _zipf_weights(rng, n_items, 1.0)
    brand_missing = _missing_by_mass(brand_draw, global_weight, params.brand_missing)
    category_mass = np.bincount(item_category, weights=global_weight, minlength=n_categories)
    code_missing = _missing_by_mass(code_draw, category_mass, params.category_code_missing)
    group_weight = np.zeros(n_items)
    for g in range(groups):
        members = group == g
        total = global_weight[members].sum()
        if total > 0:
            group_weight[members] = global_weight[members] / total

    return Catalog(
        product_id=(1_000_000 + rng.choice(99_000_000, size=n_items, replace=False)).astype(np.int64),
        category_id=category_ids[item_category].astype(np.int64),
        category_code=[None if code_missing[c] else codes[c] for c in item_category],
        brand=[None if brand_missing[i] else brands[b] for i, b in enumerate(brand_idx)],
        price_cents=price_cents,
        group=group.astype(np.int32),
        global_weight=global_weight,
        group_weight=group_weight,
    )


def build_population(params: GeneratorParams, rng: np.random.Generator, catalog: Catalog) -> Population:
    n_users = params.n_users
    groups = params.taste_groups
    activity = rng.lognormal(0.0, 1.3, size=n_users)
    taste = rng.dirichlet(np.full(groups, params.taste_concentration), size=n_users)
    # A user can only want groups that have items.
    present = np.bincount(catalog.group, minlength=groups) > 0
    taste = taste * present
    taste = np.where(taste.sum(axis=1, keepdims=True) > 0, taste, present.astype(float))
    taste /= taste.sum(axis=1, keepdims=True)
    return Population(
        user_id=(512_000_000 + rng.choice(60_000_000, size=n_users, replace=False)).astype(np.int64),
        activity=activity / activity.sum(),
        taste=taste,
    )
