"""A small grid search on a validation window carved from the training period.

The test window (the last ``holdout_days``) is never looked at: validation holds out the
same number of days just before it and trains on everything earlier.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from typing import Any

from pyspark.sql import SparkSession
from tqdm import tqdm

from ml.data import MlDataError, StrengthRule, time_split
from ml.params import AlsParams, RunParams
from ml.run import prepare_eval, score_als, score_popularity
from pipeline.config import Settings, dbt_vars

log = logging.getLogger(__name__)

# Round 2, centred on round 1's best (round 1: rank {16, 32}, reg {0.05, 0.5}, alpha {5, 20},
# both transforms; best rank 32, reg 0.5, alpha 5, log1p at validation ndcg@10 0.126).
GRID: dict[str, list[Any]] = {
    "rank": [32, 64],
    "reg_param": [0.5, 2.0],
    "alpha": [1.0, 5.0],
    "strength_transform": ["raw", "log1p"],
}
OBJECTIVE = "ndcg@10"


def tune(spark: SparkSession, settings: Settings, params: RunParams, progress: bool = True) -> str:
    rule = StrengthRule.from_vars(dbt_vars(settings.dbt_project_dir))
    test = time_split(spark, params.evaluation, rule)
    validation = time_split(spark, params.evaluation, rule, holdout_days=test.holdout_days, end=test.cutoff)
    log.info("validation: train before %s, validate %s .. %s (test window from %s untouched)",
             validation.cutoff, validation.cutoff, test.cutoff, test.cutoff)
    ctx = prepare_eval(validation, params.ks, params.exclude_purchased)
    if ctx.scored.isEmpty():
        raise MlDataError(f"no user both interacted before {validation.cutoff:%Y-%m-%d} and bought in the "
                          "validation window: too little data to tune on")
    rows: list[dict[str, Any]] = [{"model": "popularity", **score_popularity(ctx)}]
    combos = list(itertools.product(*GRID.values()))
    for values in tqdm(combos, desc="tune", unit="fit", disable=not progress):
        candidate: AlsParams = dataclasses.replace(params.als, **dict(zip(GRID, values)))
        rows.append({"model": "als", **dict(zip(GRID, values)), **score_als(ctx, candidate)})
    ctx.release()
    rows.sort(key=lambda r: -r[OBJECTIVE])
    (settings.reports_dir).mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "tuning.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    header = f"{'model':<11}{'rank':>6}{'reg':>7}{'alpha':>7}{'transform':>10}{OBJECTIVE:>10}{'recall@10':>11}"
    lines = [f"validation window {validation.cutoff:%Y-%m-%d} .. {test.cutoff:%Y-%m-%d} (exclusive)", header]
    for r in rows:
        lines.append(f"{r['model']:<11}{r.get('rank', ''):>6}{r.get('reg_param', ''):>7}{r.get('alpha', ''):>7}"
                     f"{r.get('strength_transform', ''):>10}{r[OBJECTIVE]:>10.4f}{r['recall@10']:>11.4f}")
    return "\n".join(lines)
