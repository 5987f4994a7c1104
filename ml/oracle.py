"""The best possible ranking, from the generator's planted ground truth (when it is present).

Scores are computed with numpy on the driver, in chunks of users: the inputs are id lists
and taste vectors of the scored users only, never the event data.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from ml.als import I, U
from pipeline.generate.truth import ITEMS_FILE, MANIFEST_FILE, USERS_FILE, oracle_score

log = logging.getLogger(__name__)
CHUNK = 256


def truth_available(truth_dir: Path) -> bool:
    return all((truth_dir / name).exists() for name in (USERS_FILE, ITEMS_FILE, MANIFEST_FILE))


def oracle_recommendations(spark: SparkSession, truth_dir: Path, users: DataFrame, user_index: DataFrame,
                           item_index: DataFrame, excluded: DataFrame | None, n: int) -> DataFrame | None:
    """(u, i, score, rank) ranked by true purchase propensity, or None when users are not in the truth."""
    scored = users.join(user_index, U).select(U, "user_id").collect()
    catalog = item_index.select(I, "item_id").collect()
    taste_table = pq.read_table(truth_dir / USERS_FILE).to_pydict()
    taste_of = dict(zip(taste_table["user_id"], taste_table["taste"]))
    items = pq.read_table(truth_dir / ITEMS_FILE).to_pydict()
    item_row = {p: k for k, p in enumerate(items["product_id"])}
    exploration = json.loads((truth_dir / MANIFEST_FILE).read_text())["params"]["exploration"]

    known = [(r[U], taste_of[r.user_id]) for r in scored if r.user_id in taste_of]
    cat = [(r[I], item_row[r.item_id]) for r in catalog if r.item_id in item_row]
    if not known or not cat:
        log.warning("ground truth in %s does not describe these users or items: no oracle", truth_dir)
        return None
    cat_idx = np.array([c[0] for c in cat])
    rows = np.array([c[1] for c in cat])
    group = np.asarray(items["taste_group"])[rows]
    group_weight = np.asarray(items["group_weight"])[rows]
    global_weight = np.asarray(items["global_weight"])[rows]
    position = {i: k for k, i in enumerate(cat_idx)}
    banned: dict[int, list[int]] = defaultdict(list)
    if excluded is not None:
        for r in excluded.join(users, U).collect():
            if r[I] in position:
                banned[r[U]].append(position[r[I]])

    out: list[tuple[int, int, float, int]] = []
    for start in range(0, len(known), CHUNK):
        chunk = known[start : start + CHUNK]
        scores = oracle_score(np.array([t for _, t in chunk]), group, group_weight, global_weight, exploration)
        for row, (u, _) in enumerate(chunk):
            scores[row, banned.get(u, [])] = -np.inf
        # Select the n best first, then sort only those: a full sort of every row was most of the
        # oracle's time at 10M events (25k users x 200k items).
        best = np.argpartition(-scores, min(n, scores.shape[1] - 1), axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(best, order, axis=1)
        for row, (u, _) in enumerate(chunk):
            out.extend((u, int(cat_idx[j]), float(scores[row, j]), rank)
                       for rank, j in enumerate(top[row], start=1) if np.isfinite(scores[row, j]))
    return spark.createDataFrame(out, f"{U} int, {I} int, score double, rank int")
