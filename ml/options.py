"""The options of the ML stage, shared by `python -m ml` and the one-process chain (`make recommend`
takes the same options), and the typed requests they become: :class:`TrainRequest`, :class:`TuneRequest`."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from ml.evaluation.splits import PROTOCOLS
from ml.models import MODELS
from ml.params import ALS_BACKENDS, AlsParams, EaseParams, EvalSpec, InputSpec, RefitPolicy, RunParams, als_defaults
from pipeline.platform.errors import UserError

# option dest -> (section, field) of the model parameters; None defaults mark "not given"
MODEL_OPTIONS = {"rank": ("als", "rank"), "reg_param": ("als", "reg_param"), "alpha": ("als", "alpha"),
                 "max_iter": ("als", "max_iter"), "strength_transform": ("als", "strength_transform"),
                 "l2": ("ease", "l2"), "ease_transform": ("ease", "transform"), "max_items": ("ease", "max_items")}


@dataclass(frozen=True)
class ModelChoice:
    """The serving model and its parameters as given by the user: they win over tuned and default ones."""

    model: str | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {"als": {"rank": 32}}

    def over(self, params: RunParams) -> RunParams:
        changed = {s: dataclasses.replace(getattr(params, s), **values) for s, values in self.sections.items()}
        given = bool(self.sections or self.model)
        source = f"command line over {params.source}" if given else params.source
        return dataclasses.replace(params, model=self.model or params.model, source=source, **changed)


@dataclass(frozen=True)
class TrainRequest:
    """`python -m ml run`: refit or update the serving model and write its lists."""

    params: RunParams
    choice: ModelChoice = ModelChoice()
    use_tuned: bool = True


@dataclass(frozen=True)
class TuneRequest:
    """`python -m ml tune`: search parameters on a validation split; None takes ml/tuning/tune.py's defaults."""

    params: RunParams
    choice: ModelChoice = ModelChoice()
    space: str | None = None
    search: str = "tpe"
    trials: int | None = None
    budget_seconds: float | None = None
    min_gain: float | None = None


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ML option groups, onto ``parser``."""
    defaults_in, defaults_eval, als, ease = InputSpec(), EvalSpec(), AlsParams(), EaseParams()
    g = parser.add_argument_group("input (any implicit-feedback table)")
    g.add_argument("--input-table", default=defaults_in.table)
    g.add_argument("--user-col", default=defaults_in.user_col)
    g.add_argument("--item-col", default=defaults_in.item_col)
    g.add_argument("--strength-col", default=defaults_in.strength_col, help="'' when every pair weighs 1")
    g.add_argument("--time-col", default=defaults_in.time_col)
    g.add_argument("--purchases-col", default=defaults_in.purchases_col,
                   help="column whose value > 0 marks a bought pair ('' for none)")
    g = parser.add_argument_group("evaluation")
    g.add_argument("--protocol", choices=PROTOCOLS, default=defaults_eval.protocol,
                   help="time: the last days are the test window; random: a share of each user's pairs")
    g.add_argument("--events-table", default=defaults_eval.table, help="events of the time protocol")
    g.add_argument("--holdout-days", type=int, default=defaults_eval.holdout_days,
                   help="time protocol: test window in days (shortened when the data spans fewer than twice as many)")
    g.add_argument("--test-fraction", type=float, default=defaults_eval.test_fraction,
                   help="random protocol: share of each user's pairs held out")
    g.add_argument("--min-eval-users", type=int, default=defaults_eval.min_trusted_users,
                   help="below this many evaluated users the metrics come with a warning")
    g.add_argument("--compare", default=",".join(RunParams.compare), help="models scored side by side")
    g.add_argument("--no-eval", action="store_true", help="skip the evaluation, only train and serve")
    g.add_argument("--keep-purchased", action="store_true", help="allow items the user already bought")
    g = parser.add_argument_group("refit or update (ml/serving/schedule.py)")
    g.add_argument("--full", action="store_true", help="refit even when the last model could be updated")
    g.add_argument("--retrain-every-days", type=int, default=int(os.environ.get("RETRAIN_EVERY_DAYS") or 7),
                   help="refit when the last refit's newest interaction is this many days old "
                        "(RETRAIN_EVERY_DAYS, default 7); between refits a run updates the users who changed")
    g.add_argument("--refit-growth", type=float, default=RefitPolicy.growth_share,
                   help="refit when users or items grew by more than this share since the last refit")
    g.add_argument("--served-days", type=int, default=int(os.environ.get("SERVED_LISTS_DAYS") or RunParams.served_days),
                   help="days of served lists kept in ml.served_recommendations for the outcome mart "
                        "(SERVED_LISTS_DAYS, default 35; pruned at each refit)")
    g.add_argument("--keep-models", type=int, default=RunParams.keep_models,
                   help="model folders kept in LAKEHOUSE_DIR/models, newest first (and the refit they read)")
    g = parser.add_argument_group("model (defaults: the last `make tune` choice, else ml/params.py)")
    g.add_argument("--model", choices=sorted(MODELS), default=None, help=f"serving model (default {RunParams.model})")
    g.add_argument("--no-tuned", action="store_true", help="ignore ml.tuned_params")
    g.add_argument("--als-backend", choices=ALS_BACKENDS, default=None,
                   help="ALS fit: implicit (on the driver) or spark (MLlib); default implicit embedded, spark in "
                        "cluster mode. Each has its own defaults and tuned parameters")
    g.add_argument("--rank", type=int, help=f"ALS rank ({als.rank})")
    g.add_argument("--reg-param", type=float, help=f"ALS regParam ({als.reg_param})")
    g.add_argument("--alpha", type=float, help=f"ALS confidence 1 + alpha * r ({als.alpha})")
    g.add_argument("--max-iter", type=int, help=f"ALS iterations ({als.max_iter})")
    g.add_argument("--strength-transform", choices=["raw", "log1p"], help=f"ALS r ({als.strength_transform})")
    g.add_argument("--l2", type=float, help=f"EASE lambda ({ease.l2})")
    g.add_argument("--ease-transform", choices=["binary", "log1p", "raw"], help=f"EASE input ({ease.transform})")
    g.add_argument("--max-items", type=int, help=f"EASE catalogue cap ({ease.max_items})")
    g.add_argument("--top-n", type=int, default=RunParams.top_n)
    g.add_argument("--serve-active-days", type=int, default=None,
                   help="personal lists only for users active in the data's last N days (default: every user); "
                        "the others get the popular list")
    g = parser.add_argument_group("tune")
    g.add_argument("--space", default=None,
                   help="e.g. 'als.rank=16,32 als.alpha=1,5 ease.l2=100,500' "
                        "(default: ml/tuning/tune.py default_space, per ALS backend)")
    g.add_argument("--search", choices=["tpe", "random", "grid"], default="tpe",
                   help="Optuna TPE (default), a random sample of the grid, or the whole grid")
    g.add_argument("--trials", type=int, default=None,
                   help="candidates to score, the current parameters included (default 24; grid: all)")
    g.add_argument("--budget-seconds", type=float, default=None,
                   help="start no new candidate after this long (default 20; grid: none)")
    g.add_argument("--min-gain", type=float, default=None,
                   help="relative validation gain a challenger needs to replace the current parameters (0.01)")


def check(args: argparse.Namespace) -> None:
    """Out-of-range options, as one line before Spark starts (Spark's own errors are JVM traces)."""
    at_least = {"--rank": (args.rank, 1), "--max-iter": (args.max_iter, 1), "--top-n": (args.top_n, 1),
                "--holdout-days": (args.holdout_days, 1), "--reg-param": (args.reg_param, 0),
                "--alpha": (args.alpha, 0), "--min-eval-users": (args.min_eval_users, 0), "--l2": (args.l2, 0),
                "--max-items": (args.max_items, 1), "--trials": (args.trials, 1),
                "--serve-active-days": (args.serve_active_days, 1),
                "--retrain-every-days": (args.retrain_every_days, 1), "--refit-growth": (args.refit_growth, 0),
                "--keep-models": (args.keep_models, 1), "--served-days": (args.served_days, 1)}
    for option, (value, low) in at_least.items():
        if value is not None and value < low:
            raise UserError(f"{option} must be at least {low}, not {value}")
    unknown = set(args.compare.split(",")) - set(MODELS)
    if unknown:
        raise UserError(f"--compare names {', '.join(sorted(unknown))}: the models are {', '.join(sorted(MODELS))}")


def als_backend(args: argparse.Namespace, engine: str) -> str:
    """The ALS fit: as asked, else Spark's on a cluster (its executors fit) and implicit's embedded."""
    return args.als_backend or ("spark" if engine == "cluster" else "implicit")


def base_params(args: argparse.Namespace, engine: str = "embedded") -> RunParams:
    """Everything but the model parameters (a :class:`ModelChoice` settles those); ALS starts from its
    backend's defaults."""
    return RunParams(
        als=als_defaults(als_backend(args, engine)),
        input=InputSpec(args.input_table, args.user_col, args.item_col, args.strength_col or None, args.time_col,
                        args.purchases_col or None),
        evaluation=dataclasses.replace(EvalSpec(), protocol=args.protocol, table=args.events_table,
                                       holdout_days=args.holdout_days, min_trusted_users=args.min_eval_users,
                                       test_fraction=args.test_fraction),
        compare=tuple(dict.fromkeys(args.compare.split(","))),
        top_n=args.top_n,
        serve_active_days=args.serve_active_days,
        exclude_purchased=not args.keep_purchased,
        evaluate=not args.no_eval,
        refit=RefitPolicy(force=args.full, every_days=args.retrain_every_days, growth_share=args.refit_growth),
        keep_models=args.keep_models,
        served_days=args.served_days,
    )


def model_choice(args: argparse.Namespace) -> ModelChoice:
    sections: dict[str, dict[str, Any]] = {}
    for dest, (section, name) in MODEL_OPTIONS.items():
        if getattr(args, dest) is not None:
            sections.setdefault(section, {})[name] = getattr(args, dest)
    return ModelChoice(args.model, sections)


def train_request(args: argparse.Namespace, engine: str) -> TrainRequest:
    return TrainRequest(base_params(args, engine), model_choice(args), use_tuned=not args.no_tuned)


def tune_request(args: argparse.Namespace, engine: str) -> TuneRequest:
    return TuneRequest(base_params(args, engine), model_choice(args), args.space, args.search, args.trials,
                       args.budget_seconds, args.min_gain)
