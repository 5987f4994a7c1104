"""`python -m ml run`: evaluate the registered models on one split, retrain the serving model on
everything, write the outputs. The evaluation itself lives in ``ml/evaluation/harness.py``."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from tqdm import tqdm

from ml import ids, topk
from ml.columns import USER, I, U
from ml.data import MlDataError, StrengthRule, TooLittleHistory, load_active_users, load_feedback, load_purchased
from ml.evaluation import harness
from ml.evaluation.splits import Split, random_protocol_buyers, split_for
from ml.indexed import Indexed, index_feedback
from ml.models import MODELS
from ml.models.popularity import popularity
from ml.params import RunParams
from ml.serving import model_state, outputs, schedule, update
from ml.serving.similar import similar_items
from ml.serving.update import newest_interaction
from pipeline.platform.config import Settings
from pipeline.platform.faults import fault_point
from pipeline.platform.timing import StageTimer

log = logging.getLogger(__name__)


def evaluation_split(spark: SparkSession, params: RunParams, rule: StrengthRule, timer: StageTimer) -> Split | None:
    """The split to evaluate on, or None (with a warning) when evaluation is off or impossible."""
    if not params.evaluate:
        return None
    with timer.stage("eval_split"):
        try:
            return split_for(spark, params.evaluation.protocol, params.input, params.evaluation, rule,
                             random_protocol_buyers(spark, params))
        except TooLittleHistory as exc:
            log.warning("evaluation skipped: %s; recommendations are still trained and served", exc)
            return None


def evaluate_split(spark: SparkSession, split: Split, params: RunParams, settings: Settings,
                   timer: StageTimer) -> dict[str, dict[str, float]]:
    """Every model of ``params.compare`` and (with the generator's truth) the oracle, on the same users."""
    with timer.stage("eval_prepare"):
        ctx = harness.prepare(spark, split, params.ks, params.exclude_purchased)
    if len(ctx.users) == 0:
        ctx.release()
        log.warning("evaluation skipped: no user of the training part has a relevant item in the test part "
                    "(%s); recommendations are still trained and served", split.window)
        return {}
    results: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys((params.model, *params.compare)):
        with timer.stage(f"eval_{name}"):
            results[name] = harness.score_model(ctx, name, params)
    with timer.stage("eval_oracle"):
        oracle = harness.score_oracle(ctx, settings.truth_dir)
        if oracle is not None:
            results["oracle"] = oracle
    ctx.release()
    # The evaluated models' factors and inputs stay cached otherwise, and cached blocks are partly shielded
    # from execution memory: at 52M pairs the serving fit then ran out of heap.
    spark.catalog.clearCache()
    return results


def _popular_list(data: Indexed, buyers: DataFrame | None, top_n: int) -> DataFrame:
    top = popularity(buyers, data.feedback).orderBy(F.desc("score"), I).limit(max(100, top_n))
    return ids.to_id(top.withColumn("rank", F.row_number().over(Window.orderBy(F.desc("score"), I))),
                     data.item_index, I)


def _served_users(spark: SparkSession, params: RunParams, data: Indexed) -> DataFrame:
    """Every user, or those active in the data's last ``serve_active_days`` days."""
    if params.serve_active_days is None:
        return data.user_index
    active = ids.to_index(load_active_users(spark, params.input, params.serve_active_days), data.user_index, USER)
    log.info("personal lists for users active in the last %d days; the others get the popular list",
             params.serve_active_days)
    return active


def serve(spark: SparkSession, params: RunParams, timer: StageTimer):
    """Retrain the serving model on all feedback; top-N for every user as (user_id, items) lists, the
    popular fallback list, the fitted model, its data and the ids by dense index."""
    with timer.stage("serve_prepare"):
        data = index_feedback(load_feedback(spark, params.input))
        if data.user_index.isEmpty():
            raise MlDataError(f"{params.input.table} has no interaction with a positive strength: nothing to "
                              "train on; check the data health (`make doctor`) and the event_weights setting")
        buyers = data.pairs(load_purchased(spark, params.input))
        ex_users, ex_items = harness.excluded_arrays(buyers if params.exclude_purchased else None)
    with timer.stage("serve_fit"):
        fault_point("ml.before_serving_fit")
        fitted = MODELS[params.model].fit(data, buyers, params)
    with timer.stage("serve_recommend"):
        users = topk.column_values(_served_users(spark, params, data), U)
        ranked = topk.top_n_scored(fitted.scorer, users, params.top_n, ex_users, ex_items, progress=True)
        user_ids, item_ids = data.id_arrays()
        lists = spark.createDataFrame(outputs.nested_lists(ranked.table(user_ids, item_ids)))
        popular = _popular_list(data, buyers, params.top_n)
    return lists, popular, fitted, data, (user_ids, item_ids)


def _state_of_refit(params: RunParams, fitted: Any, id_arrays: tuple[np.ndarray, np.ndarray], run_id: str,
                    newest: dt.datetime | None) -> model_state.ModelState | None:
    """The refit's model keyed by ids, for the updates that follow it (ALS and EASE); ``newest``: the
    input's newest interaction (None: the input has no time column)."""
    if params.model not in model_state.MODELS_WITH_STATE:
        return None
    if newest is None:
        log.info("%s has no %s column: no model state is kept, every run refits", params.input.table,
                 params.input.time_col)
        return None
    user_ids, item_ids = id_arrays
    scorer = fitted.scorer
    if params.model == "als":
        users = model_state.keyed_by_ids(scorer.user_factors, user_ids)
        items = model_state.keyed_by_ids(scorer.item_factors, item_ids)
    else:
        users = model_state.ids_only(user_ids)
        items = model_state.ease_weights_by_ids(scorer.items, scorer.weights, item_ids)
    return model_state.ModelState(
        run_id=run_id, kind="refit", base_run=run_id, refit_data_end=newest, data_end=newest,
        params=getattr(params, params.model), users=users, items=items,
        refit_sizes=(len(user_ids), len(item_ids)), model=params.model)


def run(spark: SparkSession, settings: Settings, params: RunParams, progress: bool = True) -> dict[str, Any]:
    """Refit (evaluate, retrain on all data) or update the last model for the users who changed, as
    ml/serving/schedule.py decides; write tables, model and reports/last_run.json."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    decision = schedule.decide(spark, params)
    log.info("%s: %s", decision.kind, decision.reason)
    if decision.state is not None:
        return update_run(spark, settings, params, decision, run_id, started, progress)
    log.info("model %s, parameters from %s", params.model, params.source)
    bar = tqdm(total=6 + (len(params.compare) + 3 if params.evaluate else 0), desc="recommend", unit="stage",
               disable=not progress)
    timer = StageTimer(bar=bar)
    metrics: dict[str, dict[str, float]] = {}
    window: dict[str, Any] = {}
    split = evaluation_split(spark, params, StrengthRule.from_vars(settings.rules), timer)
    if split is not None:
        window = split.window
        metrics = evaluate_split(spark, split, params, settings, timer)

    lists, popular, fitted, data, id_arrays = serve(spark, params, timer)
    model_path = settings.lakehouse_dir / "models" / run_id
    newest = decision.newest or newest_interaction(spark, params)
    with timer.stage("write"):
        if newest is not None:
            outputs.record_served(spark, lists, None, popular, run_id, "refit", newest.date(), params.served_days)
        outputs.write_recommendations(spark, lists, popular, run_id, started)
        fault_point("ml.after_recommendations")
        outputs.save_model(fitted, data.user_index, data.item_index, model_path)
        state = _state_of_refit(params, fitted, id_arrays, run_id, newest)
        if state is not None:
            state.save(model_path)
    if state is not None:
        with timer.stage("similar"):
            similar = similar_items(state, progress=progress)
            outputs.write_similar(spark, spark.createDataFrame(similar), run_id, started)
    counts = {
        "interactions": data.feedback.count(),
        "users": data.user_index.count(),
        "items": data.item_index.count(),
        "recommendation_rows": outputs.list_rows(spark),
    }
    if metrics:
        counts["eval_users"] = int(metrics[params.model]["users"])
        if counts["eval_users"] < params.evaluation.min_trusted_users:
            log.warning("only %d users could be evaluated (fewer than %d): the metrics are too noisy to compare "
                        "models", counts["eval_users"], params.evaluation.min_trusted_users)
    data.release()
    bar.close()

    finished = dt.datetime.now(dt.UTC).replace(microsecond=0)
    per_model = {name: {k: v for k, v in values.items() if k != "users"} for name, values in metrics.items()}
    oracle_fraction = harness.fraction_of_oracle(metrics, params.model)
    flat_metrics = {f"{name}.{k}": v for name, values in per_model.items() for k, v in values.items()}
    flat_metrics.update({f"{params.model}_vs_oracle.{k}": v for k, v in oracle_fraction.items()})
    outputs.append_model_run(spark, {
        "run_id": run_id, "started_at": started, "finished_at": finished, "model_path": str(model_path),
        "params": {**params.flat(), "kind": "refit", "refit_run": run_id},
        "data_start": window.get("data_start"), "eval_cutoff": window.get("eval_cutoff"),
        "data_end": window.get("data_end"), "counts": counts, "metrics": flat_metrics,
        "stage_seconds": timer.seconds,
    })
    model_state.prune(model_path.parent, params.keep_models)
    report = {
        "run_id": run_id,
        "kind": "refit",
        "reason": decision.reason,
        "model": params.model,
        "params_source": params.source,
        "min_trusted_users": params.evaluation.min_trusted_users,
        "metrics": per_model,
        "fraction_of_oracle": oracle_fraction,
        "window": window,
        "counts": counts,
        "stage_seconds": timer.seconds,
        "params": params.flat(),
        "outputs": {"recommendations": outputs.RECOMMENDATION_LISTS, "popular_products": outputs.POPULAR,
                    "model_runs": outputs.MODEL_RUNS, "model": str(model_path)},
    }
    outputs.write_run_summary(settings.reports_dir / "last_run.json", report)
    return report


def update_run(spark: SparkSession, settings: Settings, params: RunParams, decision: schedule.Decision, run_id: str,
               started: dt.datetime, progress: bool = True) -> dict[str, Any]:
    """New vectors and lists for the users who changed since the last run; every other list stays."""
    assert decision.state is not None
    bar = tqdm(total=4, desc="update", unit="stage", disable=not progress)
    timer = StageTimer(bar=bar)
    result = update.update(spark, params, decision.state, run_id, decision.newest, timer)
    model_path = settings.lakehouse_dir / "models" / run_id
    with timer.stage("write"):
        lists = spark.createDataFrame(outputs.nested_lists(result.lists))
        if len(result.changed):
            outputs.record_served(spark, lists, result.changed, None, run_id, "update", result.state.data_end.date(),
                                  params.served_days)
        outputs.replace_lists(spark, lists, result.changed, run_id, started)
        fault_point("ml.after_recommendations")
        result.state.save(model_path)
    bar.close()
    counts = {**result.counts, "recommendation_rows": outputs.list_rows(spark),
              "users": len(result.state.users.index), "items": len(result.state.items.index)}
    finished = dt.datetime.now(dt.UTC).replace(microsecond=0)
    flat = {**params.flat(), "kind": "update", "refit_run": decision.state.base_run,
            "updated_run": decision.state.run_id}
    outputs.append_model_run(spark, {
        "run_id": run_id, "started_at": started, "finished_at": finished, "model_path": str(model_path),
        "params": flat, "data_start": None, "eval_cutoff": None, "data_end": result.state.data_end,
        "counts": counts, "metrics": {}, "stage_seconds": timer.seconds,
    })
    model_state.prune(model_path.parent, params.keep_models)
    report = {
        "run_id": run_id, "kind": "update", "reason": decision.reason, "model": params.model,
        "params_source": params.source, "refit_run": decision.state.base_run, "metrics": {},
        "fraction_of_oracle": {}, "window": {}, "counts": counts, "stage_seconds": timer.seconds, "params": flat,
        "min_trusted_users": params.evaluation.min_trusted_users,
        "outputs": {"recommendations": outputs.RECOMMENDATION_LISTS, "popular_products": outputs.POPULAR,
                    "model_runs": outputs.MODEL_RUNS, "model": str(model_path)},
    }
    outputs.write_run_summary(settings.reports_dir / "last_run.json", report)
    return report
