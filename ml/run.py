"""One recommendation run: evaluate on a time split, retrain on everything, write the outputs."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from tqdm import tqdm

from ml import als, baselines, ids, outputs
from ml.als import I, U
from ml.data import (ITEM, USER, MlDataError, StrengthRule, TimeSplit, TooLittleHistory, load_feedback,
                     load_purchased, time_split)
from ml.evaluate import evaluate
from ml.oracle import oracle_recommendations, truth_available
from ml.params import AlsParams, RunParams
from pipeline.config import Settings, dbt_vars
from pipeline.faults import crash_point

log = logging.getLogger(__name__)


@dataclass
class StageTimer:
    seconds: dict[str, float] = field(default_factory=dict)
    bar: tqdm | None = None

    @contextmanager
    def stage(self, name: str):
        if self.bar is not None:
            self.bar.set_postfix_str(name)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        if self.bar is not None:
            self.bar.update(1)


@dataclass
class Indexed:
    """Feedback in dense indices, with the maps back to ids."""

    feedback: DataFrame  # u, i, strength
    user_index: DataFrame  # user_id, u
    item_index: DataFrame  # item_id, i

    def pairs(self, df: DataFrame | None) -> DataFrame | None:
        """(user_id, item_id) -> (u, i), dropping ids the model has never seen."""
        if df is None:
            return None
        return ids.to_index(ids.to_index(df, self.user_index, USER), self.item_index, ITEM)

    def to_ids(self, ranked: DataFrame) -> DataFrame:
        """(u, i, score, rank) -> (user_id, item_id, score, rank)."""
        return ids.to_id(ids.to_id(ranked, self.user_index, U), self.item_index, I)


def index_feedback(feedback: DataFrame) -> Indexed:
    user_index = ids.build_index(feedback, USER, U)
    item_index = ids.build_index(feedback, ITEM, I)
    indexed = ids.to_index(ids.to_index(feedback, user_index, USER), item_index, ITEM)
    return Indexed(indexed.persist(StorageLevel.MEMORY_AND_DISK), user_index, item_index)


@dataclass
class EvalContext:
    """A time split prepared once, so several models can be scored on the same users."""

    data: Indexed
    scored: DataFrame  # user_id, u: users active before and after the cutoff
    relevant: DataFrame  # user_id, item_id of the scored users in the test window
    excluded: DataFrame | None  # u, i never to recommend (bought before the cutoff)
    purchases: DataFrame  # u, i bought before the cutoff
    catalog_size: int
    ks: tuple[int, ...]

    def score(self, ranked: DataFrame) -> dict[str, float]:
        return evaluate(self.data.to_ids(ranked), self.relevant, self.ks, self.catalog_size)

    def release(self) -> None:
        self.data.feedback.unpersist()


def prepare_eval(split: TimeSplit, ks: tuple[int, ...], exclude_purchased: bool) -> EvalContext:
    data = index_feedback(split.train)
    scored = split.relevant.select(USER).distinct().join(data.user_index, USER)
    excluded = data.pairs(split.purchased_before) if exclude_purchased else None
    return EvalContext(
        data=data, scored=scored, relevant=split.relevant.join(scored.select(USER), USER), excluded=excluded,
        purchases=data.pairs(split.purchased_before),
        catalog_size=data.item_index.count(), ks=ks)


def score_als(ctx: EvalContext, params: AlsParams) -> dict[str, float]:
    model = als.fit(ctx.data.feedback, params)
    return ctx.score(als.recommend(model, ctx.scored, max(ctx.ks), ctx.excluded))


def score_popularity(ctx: EvalContext) -> dict[str, float]:
    popular = baselines.popularity(ctx.purchases, ctx.data.feedback)
    return ctx.score(baselines.recommend_popular(popular, ctx.scored, max(ctx.ks), ctx.excluded))


def score_oracle(spark: SparkSession, ctx: EvalContext, truth_dir: Path) -> dict[str, float] | None:
    if not truth_available(truth_dir):
        return None
    oracle = oracle_recommendations(spark, truth_dir, ctx.scored.select(U), ctx.data.user_index,
                                    ctx.data.item_index, ctx.excluded, max(ctx.ks))
    return ctx.score(oracle) if oracle is not None else None


def evaluate_split(spark: SparkSession, split: TimeSplit, params: AlsParams, ks: tuple[int, ...],
                   exclude_purchased: bool, truth_dir: Path, timer: StageTimer) -> dict[str, dict[str, float]]:
    """ALS, popularity and (if the truth is there) oracle, on the same users and split; {} without users."""
    with timer.stage("eval_prepare"):
        ctx = prepare_eval(split, ks, exclude_purchased)
        users = ctx.scored.count()
    if users == 0:
        ctx.release()
        log.warning("evaluation skipped: no user both interacted before %s and bought in the %d-day test window; "
                    "recommendations are still trained and served", split.cutoff, split.holdout_days)
        return {}
    with timer.stage("eval_als"):
        results = {"als": score_als(ctx, params)}
    with timer.stage("eval_baselines"):
        results["popularity"] = score_popularity(ctx)
        oracle = score_oracle(spark, ctx, truth_dir)
        if oracle is not None:
            results["oracle"] = oracle
    ctx.release()
    return results


def fraction_of_oracle(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    if "oracle" not in metrics:
        return {}
    oracle = metrics["oracle"]
    return {k: metrics["als"][k] / v for k, v in oracle.items() if v and k != "users" and not k.startswith("coverage")}


def serve(spark: SparkSession, params: RunParams, timer: StageTimer) -> tuple[DataFrame, DataFrame, Any, Indexed]:
    """Retrain on all feedback; top-N for every user and the popular fallback list."""
    with timer.stage("serve_prepare"):
        data = index_feedback(load_feedback(spark, params.input))
        if data.user_index.isEmpty():
            raise MlDataError(f"{params.input.table} has no interaction with a positive strength: nothing to "
                              "train on; check the data health (`make doctor`) and the event_weights setting")
        purchased = data.pairs(load_purchased(spark, params.input))
        excluded = purchased if params.exclude_purchased else None
    with timer.stage("serve_fit"):
        model = als.fit(data.feedback, params.als)
    with timer.stage("serve_recommend"):
        recs = data.to_ids(als.recommend(model, data.user_index.select(U), params.top_n, excluded))
        recs = recs.persist(StorageLevel.MEMORY_AND_DISK)
        recs.count()
        popular_scores = baselines.popularity(purchased if purchased is not None else data.feedback.limit(0),
                                              data.feedback)
        top = popular_scores.orderBy(F.desc("score"), I).limit(max(100, params.top_n))
        popular = ids.to_id(top.withColumn("rank", F.row_number().over(Window.orderBy(F.desc("score"), I))),
                            data.item_index, I)
    return recs, popular, model, data


def evaluation_split(spark: SparkSession, params: RunParams, rule: StrengthRule, timer: StageTimer) -> TimeSplit | None:
    """The time split to evaluate on, or None (with a warning) when evaluation is off or impossible."""
    if not params.evaluate:
        return None
    with timer.stage("eval_split"):
        try:
            return time_split(spark, params.evaluation, rule)
        except TooLittleHistory as exc:
            log.warning("evaluation skipped: %s; recommendations are still trained and served", exc)
            return None


def run(spark: SparkSession, settings: Settings, params: RunParams, progress: bool = True) -> dict[str, Any]:
    """Evaluate (optional), retrain on all data, write tables, model and reports/last_run.json."""
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    bar = tqdm(total=8 if params.evaluate else 4, desc="recommend", unit="stage", disable=not progress)
    timer = StageTimer(bar=bar)
    metrics: dict[str, dict[str, float]] = {}
    window: dict[str, Any] = {}
    split = evaluation_split(spark, params, StrengthRule.from_vars(dbt_vars(settings.dbt_project_dir)), timer)
    if split is not None:
        window = {"data_start": split.data_start, "eval_cutoff": split.cutoff, "data_end": split.data_end,
                  "holdout_days": split.holdout_days}
        metrics = evaluate_split(spark, split, params.als, params.ks, params.exclude_purchased,
                                 settings.truth_dir, timer)

    recs, popular, model, data = serve(spark, params, timer)
    model_path = settings.lakehouse_dir / "models" / run_id
    with timer.stage("write"):
        outputs.write_recommendations(spark, recs, popular, run_id, started)
        crash_point("ml.after_recommendations")
        outputs.save_model(model, data.user_index, data.item_index, model_path)
    counts = {
        "interactions": data.feedback.count(),
        "users": data.user_index.count(),
        "items": data.item_index.count(),
        "recommendation_rows": spark.table(outputs.RECOMMENDATIONS).count(),
    }
    if "als" in metrics:
        counts["eval_users"] = int(metrics["als"]["users"])
        if counts["eval_users"] < params.evaluation.min_trusted_users:
            log.warning("only %d users could be evaluated (fewer than %d): the metrics are too noisy to compare "
                        "models", counts["eval_users"], params.evaluation.min_trusted_users)
    recs.unpersist()
    data.feedback.unpersist()
    bar.close()

    finished = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    per_model = {name: {k: v for k, v in values.items() if k != "users"} for name, values in metrics.items()}
    oracle_fraction = fraction_of_oracle(metrics)
    flat_metrics = {f"{name}.{k}": v for name, values in per_model.items() for k, v in values.items()}
    flat_metrics.update({f"als_vs_oracle.{k}": v for k, v in oracle_fraction.items()})
    outputs.append_model_run(spark, {
        "run_id": run_id, "started_at": started, "finished_at": finished, "model_path": str(model_path),
        "params": params.flat(), "data_start": window.get("data_start"), "eval_cutoff": window.get("eval_cutoff"),
        "data_end": window.get("data_end"), "counts": counts, "metrics": flat_metrics,
        "stage_seconds": timer.seconds,
    })
    report = {
        "run_id": run_id,
        "min_trusted_users": params.evaluation.min_trusted_users,
        "metrics": per_model,
        "als_fraction_of_oracle": oracle_fraction,
        "window": window,
        "counts": counts,
        "stage_seconds": timer.seconds,
        "params": params.flat(),
        "outputs": {"recommendations": outputs.RECOMMENDATIONS, "popular_products": outputs.POPULAR,
                    "model_runs": outputs.MODEL_RUNS, "model": str(model_path)},
    }
    outputs.write_report(settings.reports_dir / "last_run.json", report)
    return report
