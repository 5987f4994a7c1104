"""The planted ground truth, written beside the data (never into the CSV).

For user u and item i in taste group g, the chance that u's next purchase is i is
proportional to ``oracle_score``: the view probability (taste-driven or exploring
global popularity) times the affinity-driven conversion used by the generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.generate.catalog import Catalog, Population

USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"
MANIFEST_FILE = "manifest.json"


def write_truth(truth_dir: Path, catalog: Catalog, population: Population, manifest: dict[str, Any]) -> None:
    truth_dir.mkdir(parents=True, exist_ok=True)
    groups = population.taste.shape[1]
    pq.write_table(pa.table({
        "user_id": population.user_id,
        "activity": population.activity,
        "taste": pa.FixedSizeListArray.from_arrays(pa.array(population.taste.ravel()), groups),
    }), truth_dir / USERS_FILE)
    pq.write_table(pa.table({
        "product_id": catalog.product_id,
        "taste_group": catalog.group,
        "group_weight": catalog.group_weight,
        "global_weight": catalog.global_weight,
    }), truth_dir / ITEMS_FILE)
    (truth_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")


def oracle_score(taste: np.ndarray, group: np.ndarray, group_weight: np.ndarray,
                 global_weight: np.ndarray, exploration: float) -> np.ndarray:
    """Purchase propensity of users (rows of ``taste``) for items (columns), up to a constant."""
    affinity = taste[:, group]  # (users, items)
    view = (1.0 - exploration) * affinity * group_weight + exploration * global_weight
    return view * np.sqrt(affinity)


def oracle_factors(taste: np.ndarray, group: np.ndarray, group_weight: np.ndarray, global_weight: np.ndarray,
                   exploration: float) -> tuple[np.ndarray, np.ndarray]:
    """``oracle_score`` as a product of vectors: oracle_score(...) == users @ items.T.

    With a = taste[u, g] for the item's group g the score is (1 - e)·a^1.5·gw + e·√a·glw:
    linear in the item's two weights once a is fixed, so each group gets two coordinates
    and every top-N code for factor models can rank the oracle too.
    """
    groups = taste.shape[1]
    users = np.concatenate([(1.0 - exploration) * taste ** 1.5, exploration * np.sqrt(taste)], axis=1)
    items = np.zeros((len(group), 2 * groups))
    rows = np.arange(len(group))
    items[rows, group] = group_weight
    items[rows, groups + np.asarray(group)] = global_weight
    return users, items
