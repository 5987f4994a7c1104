"""TPE against a random sample of the grid for the same budget, and the whole grid as the ceiling.

On the lakehouse's data, the validation folds of `make tune` are prepared once; each search then
scores ``--trials`` candidates (no time budget, so the budgets are equal) for several seeds. Reported
per search and seed: the best validation NDCG@10, and the test-window NDCG@10 of its choice.

Run: python -m bench.search_compare [--trials 24] [--seeds 3] [--no-grid] (prints one JSON object).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from typing import Any

from ml.evaluation import harness
from ml.params import RunParams
from ml.tuning.tune import OBJECTIVE, choose, context, default_space, prepare, run_search
from pipeline.platform.config import load_settings
from pipeline.platform.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-grid", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    spark = get_spark("bench-search", settings)
    params = RunParams()
    space = default_space(params.als.backend)
    prepared = prepare(spark, settings, params)
    test_ctx = context(spark, prepared.test, params)
    runs: dict[str, list[dict[str, Any]]] = {}
    plan = [(search, seed) for seed in range(1, args.seeds + 1) for search in ("tpe", "random")]
    if not args.no_grid:
        plan.append(("grid", 0))
    for search, seed in plan:
        started = time.perf_counter()
        trials = None if search == "grid" else args.trials
        scored = run_search(prepared, params, space, search, trials, None, seed=seed, progress=False)
        chosen, validation = choose(scored, params, 0.0)
        test = harness.score_model(test_ctx, chosen.model, chosen)
        runs.setdefault(search, []).append({
            "seed": seed, "candidates": len(scored), "seconds": round(time.perf_counter() - started, 1),
            "validation": round(validation[OBJECTIVE], 4), "test": round(test[OBJECTIVE], 4),
            "chosen": {"model": chosen.model, **getattr(chosen, chosen.model).__dict__}})
    prepared.release()
    test_ctx.release()
    summary = {search: {"mean_validation": round(statistics.mean(r["validation"] for r in rs), 4),
                        "mean_test": round(statistics.mean(r["test"] for r in rs), 4)} for search, rs in runs.items()}
    print(json.dumps({"trials": args.trials, "summary": summary, "runs": runs}, default=str))


if __name__ == "__main__":
    main()
