"""`python -m ml tune`: choose model and parameters on validation splits carved from the training
part of the evaluation protocol, so the test part is never seen (ml/evaluation/splits.py ``validation_folds``;
a candidate scores the mean over its folds).

The search space is configurable (``--space``); the search (``--search``, ml/tuning/search.py) is Optuna's
TPE by default, or a seeded random sample of the grid, or the whole grid. It scores at most
``--trials`` candidates and starts none after ``--budget-seconds``. Each family's current parameters
are always tried first, so the choice is never worse than them on validation. A challenger replaces
the current parameters only when it beats them on validation by ``min_gain`` (relative; default 1 %):
smaller differences are noise on a few thousand users, and chasing them overfits the validation split.
The winner is scored once on the test split next to the defaults (reported, never used to choose),
written to reports/tuning.json and to ml.tuned_params, where `make train` finds it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession
from tqdm import tqdm

from ml.data import MlDataError, StrengthRule
from ml.evaluation import harness, time_arrays
from ml.evaluation.splits import Split, random_protocol_buyers, rolling_folds, split_for, validation_folds
from ml.evaluation.time_arrays import ArraySplit
from ml.params import RunParams, als_defaults
from ml.tuning import tuned
from ml.tuning.search import make_search
from pipeline.platform.config import Settings

log = logging.getLogger(__name__)

OBJECTIVE = "ndcg@10"
# Validation folds a candidate is scored on (their mean): one split picked the worse of two close
# models on a public benchmark (ALS 0.270 vs EASE 0.266 on validation, 0.451 vs 0.477 on test).
FOLDS = 3
MIN_GAIN = 0.01
# The default budget: candidates scored (each on every fold) and seconds of search. At 100k pairs a
# candidate costs about 1.2 s over the folds, and `make tune` should finish within a minute: on the 2-core
# box the Spark session, the metastore, the one read of the events and the recorded choice took 45 s.
TRIALS = 24
BUDGET_SECONDS = 20.0
SEARCH_SEED = 7
# family -> parameter -> values. ALS's regularisation means something else to each backend
# (ml/params.py als_defaults), so each has its own values: 3 x 4 x 3 x 2 x 2 = 144 combinations for
# implicit, 3 x 3 x 3 x 2 x 2 = 108 for Spark; EASE: 4 x 2.
ALS_REG_VALUES = {"implicit": [5.0, 10.0, 20.0, 50.0], "spark": [0.05, 0.5, 2.0]}
DEFAULT_SPACE: dict[str, dict[str, list[Any]]] = {
    "als": {"rank": [16, 32, 64], "reg_param": ALS_REG_VALUES["implicit"], "alpha": [1.0, 5.0, 20.0],
            "max_iter": [8, 15], "strength_transform": ["raw", "log1p"]},
    "ease": {"l2": [50.0, 200.0, 500.0, 2000.0], "transform": ["binary", "log1p"]},
}


def default_space(backend: str) -> dict[str, dict[str, list[Any]]]:
    """DEFAULT_SPACE with the regularisation values of the ALS ``backend``."""
    return {**DEFAULT_SPACE, "als": {**DEFAULT_SPACE["als"], "reg_param": ALS_REG_VALUES[backend]}}


def parse_space(text: str) -> dict[str, dict[str, list[Any]]]:
    """``"als.rank=16,32 als.alpha=1,5 ease.l2=100,500"`` -> {family: {param: values}}; values typed
    like the parameter's default. A family not named is not searched."""
    space: dict[str, dict[str, list[Any]]] = {}
    defaults = RunParams()
    for token in text.split():
        name, _, values = token.partition("=")
        family, _, param = name.partition(".")
        section = getattr(defaults, family, None)
        if family not in DEFAULT_SPACE or not dataclasses.is_dataclass(section) or not hasattr(section, param):
            raise MlDataError(f"--space item {token!r}: write family.parameter=v1,v2 with family "
                              f"{' or '.join(DEFAULT_SPACE)} and a parameter of ml/params.py")
        kind = type(getattr(section, param))
        try:
            space.setdefault(family, {})[param] = [kind(v) for v in values.split(",") if v]
        except ValueError:
            raise MlDataError(f"--space item {token!r}: values must be {kind.__name__}") from None
    return space


def describe(params: RunParams) -> dict[str, Any]:
    return {"model": params.model, **dataclasses.asdict(getattr(params, params.model))}


def mean_over_folds(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the folds; ``users`` is their total."""
    out = {k: sum(m[k] for m in per_fold) / len(per_fold) for k in per_fold[0]}
    out["users"] = float(sum(m["users"] for m in per_fold))
    return out


def choose(scored: list[tuple[RunParams, dict[str, float]]], incumbent: RunParams,
           min_gain: float) -> tuple[RunParams, dict[str, float]]:
    """The best candidate, unless it beats the incumbent by less than ``min_gain`` (relative)."""
    best = max(scored, key=lambda pair: pair[1][OBJECTIVE])
    current = next((pair for pair in scored if pair[0] == incumbent), None)
    if current is not None and best[1][OBJECTIVE] < current[1][OBJECTIVE] * (1 + min_gain):
        return current
    return best


@dataclass
class Prepared:
    """The test split and its validation folds, each prepared once for every candidate."""

    test: Split | ArraySplit
    folds: list[Split] | list[ArraySplit]
    contexts: list[harness.EvalContext]

    def score(self, name: str, candidate: RunParams) -> dict[str, float]:
        return mean_over_folds([harness.score_model(ctx, name, candidate) for ctx in self.contexts])

    def release(self) -> None:
        for ctx in self.contexts:
            ctx.release()


def context(spark: SparkSession, split: Split | ArraySplit, params: RunParams) -> harness.EvalContext:
    if isinstance(split, ArraySplit):
        return harness.prepare_arrays(spark, split, params.ks, params.exclude_purchased)
    return harness.prepare(spark, split, params.ks, params.exclude_purchased)


def _splits(spark: SparkSession, params: RunParams, rule: StrengthRule) -> tuple[Split | ArraySplit, list]:
    """The test split and its folds: the time protocol cut on the driver from one collect of the events
    (ml/evaluation/time_arrays.py), the random protocol in Spark."""
    spec = params.evaluation
    if spec.protocol == "time":
        events = time_arrays.collect_events(spark, spec)
        test = time_arrays.time_split(events, spec, rule)
        return test, rolling_folds(test.window["holdout_days"], test.end, FOLDS,
                                   lambda days, end: time_arrays.time_split(events, spec, rule, days, end))
    test = split_for(spark, spec.protocol, params.input, spec, rule, random_protocol_buyers(spark, params))
    return test, validation_folds(spark, test, spec, rule, FOLDS)


def prepare(spark: SparkSession, settings: Settings, params: RunParams) -> Prepared:
    rule = StrengthRule.from_vars(settings.rules)
    test, folds = _splits(spark, params, rule)
    log.info("%d validation folds %s, carved from the training part of the test split %s", len(folds),
             [f.window for f in folds], test.window)
    contexts = [context(spark, fold, params) for fold in folds]
    if not all(len(ctx.users) for ctx in contexts):
        raise MlDataError("a validation fold has no user with a relevant item: too little data to tune on")
    return Prepared(test, folds, contexts)


def run_search(prepared: Prepared, params: RunParams, space: dict[str, dict[str, list[Any]]], search: str,
               trials: int | None, budget_seconds: float | None, seed: int = SEARCH_SEED,
               progress: bool = True) -> list[tuple[RunParams, dict[str, float]]]:
    """Candidates and their validation metrics, in the order scored: at most ``trials`` of them, and
    none started after ``budget_seconds``."""
    started, scored = time.perf_counter(), []
    proposer = make_search(search, space, params, trials, seed)
    bar = tqdm(total=trials, desc=f"tune ({search})", unit="fit", disable=not progress)
    while trials is None or len(scored) < trials:
        if budget_seconds is not None and scored and time.perf_counter() - started > budget_seconds:
            log.info("time budget of %ss spent: %d candidates tried", budget_seconds, len(scored))
            break
        candidate = proposer.ask()
        if candidate is None:
            break
        metrics = prepared.score(candidate.model, candidate)
        proposer.tell(candidate, metrics[OBJECTIVE])
        scored.append((candidate, metrics))
        leader = max(scored, key=lambda pair: pair[1][OBJECTIVE])
        bar.update()
        bar.set_postfix_str(f"best {OBJECTIVE} {leader[1][OBJECTIVE]:.4f} ({leader[0].model})")
    bar.close()
    return scored


def tune(spark: SparkSession, settings: Settings, params: RunParams, space: dict[str, dict[str, list[Any]]],
         search: str = "tpe", trials: int | None = TRIALS, budget_seconds: float | None = BUDGET_SECONDS,
         progress: bool = True, min_gain: float = MIN_GAIN) -> dict[str, Any]:
    """Search, record the winner, and return the tuning report (also in reports/tuning.json)."""
    started = time.perf_counter()
    prepared = prepare(spark, settings, params)
    popularity = prepared.score("popularity", params)
    scored = run_search(prepared, params, space, search, trials, budget_seconds, progress=progress)
    prepared.release()
    chosen, chosen_validation = choose(scored, params, min_gain)
    rows = [{"model": "popularity", **popularity}, *({**describe(c), **m} for c, m in scored)]

    # The test split, for the record only: the choice above never looked at it.
    test = prepared.test
    test_ctx = context(spark, test, params)
    defaults = dataclasses.replace(params, model="als", als=als_defaults(params.als.backend))
    chosen_test = harness.score_model(test_ctx, chosen.model, chosen)
    default_test = chosen_test if describe(chosen) == describe(defaults) else harness.score_model(
        test_ctx, "als", defaults)
    test_ctx.release()
    report = {
        "objective": OBJECTIVE, "protocol": test.window, "validation": [f.window for f in prepared.folds],
        "chosen": describe(chosen), "chosen_validation": chosen_validation, "chosen_test": chosen_test,
        "defaults_test": default_test, "validation_users": int(chosen_validation["users"]),
        "test_users": int(chosen_test["users"]), "trials": sorted(rows, key=lambda r: -r[OBJECTIVE]),
        "min_gain": min_gain, "kept_current": chosen == params, "search": search,
        "seconds": round(time.perf_counter() - started, 1),
    }
    tuned.record(spark, chosen, params.evaluation.protocol, OBJECTIVE, chosen_validation[OBJECTIVE],
                 chosen_test[OBJECTIVE], default_test[OBJECTIVE], len(scored))
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "tuning.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                                      encoding="utf-8")
    return report


def format_tuning(report: dict[str, Any]) -> str:
    """The trials table, best first, and the test figures of the winner against the defaults."""
    lines = [f"{len(report['validation'])} validation folds, the last cut at {report['validation'][0]} "
             f"({report['validation_users']:,} user-folds), mean over folds, best first:",
             f"{'model':<11}{'parameters':<58}{OBJECTIVE:>9}{'recall@10':>11}{'fit s':>8}"]
    for r in report["trials"]:
        shown = {k: v for k, v in r.items() if k not in ("model",) and "@" not in k
                 and k not in ("users", "fit_seconds", "seed", "blocks", "block_size", "max_items")}
        text = " ".join(f"{k}={v}" for k, v in shown.items())
        lines.append(f"{r['model']:<11}{text[:57]:<58}{r[OBJECTIVE]:>9.4f}{r['recall@10']:>11.4f}"
                     f"{r['fit_seconds']:>8.1f}")
    chosen = report["chosen"]
    why = (f" (no candidate beat the current parameters by {report['min_gain']:.0%} on validation)"
           if report["kept_current"] else "")
    lines.append(f"chosen: {chosen}{why} -> written to ml.tuned_params; `make train` uses it from now on")
    lines.append(f"test split {report['protocol']} ({report['test_users']:,} users): {OBJECTIVE} chosen "
                 f"{report['chosen_test'][OBJECTIVE]:.4f} vs ALS defaults {report['defaults_test'][OBJECTIVE]:.4f}")
    return "\n".join(lines)
