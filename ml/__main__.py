"""`python -m ml run|tune`: ALS recommendations on the lakehouse.

run   evaluate on a time split (ALS vs popularity vs oracle), retrain on all data, write
      ml.recommendations, ml.popular_products, ml.model_runs, the model and reports/last_run.json
tune  small grid search on a validation window carved from the training period
"""

from __future__ import annotations

import argparse
import dataclasses

from ml.params import AlsParams, EvalSpec, InputSpec, RunParams
from ml.report import format_metrics
from pipeline.cli import UserError, configure_logging, run_main
from pipeline.config import dbt_vars, ensure_writable, load_settings
from pipeline.spark import get_spark


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "tune"])
    defaults_in, defaults_eval, defaults_als = InputSpec(), EvalSpec(), AlsParams()
    g = parser.add_argument_group("input (any implicit-feedback table)")
    g.add_argument("--input-table", default=defaults_in.table)
    g.add_argument("--user-col", default=defaults_in.user_col)
    g.add_argument("--item-col", default=defaults_in.item_col)
    g.add_argument("--strength-col", default=defaults_in.strength_col)
    g.add_argument("--time-col", default=defaults_in.time_col)
    g.add_argument("--purchases-col", default=defaults_in.purchases_col,
                   help="column whose value > 0 marks a bought pair ('' for none)")
    g = parser.add_argument_group("evaluation")
    g.add_argument("--events-table", default=defaults_eval.table)
    g.add_argument("--holdout-days", type=int, default=defaults_eval.holdout_days,
                   help="test window in days (shortened when the data spans fewer than twice as many)")
    g.add_argument("--min-eval-users", type=int, default=defaults_eval.min_trusted_users,
                   help="below this many evaluated users the metrics come with a warning")
    g.add_argument("--no-eval", action="store_true", help="skip the evaluation, only train and serve")
    g.add_argument("--keep-purchased", action="store_true", help="allow items the user already bought")
    g = parser.add_argument_group("model")
    g.add_argument("--rank", type=int, default=defaults_als.rank)
    g.add_argument("--reg-param", type=float, default=defaults_als.reg_param)
    g.add_argument("--alpha", type=float, default=defaults_als.alpha)
    g.add_argument("--max-iter", type=int, default=defaults_als.max_iter)
    g.add_argument("--strength-transform", choices=["raw", "log1p"], default=defaults_als.strength_transform)
    g.add_argument("--top-n", type=int, default=RunParams.top_n)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _params(args: argparse.Namespace) -> RunParams:
    return RunParams(
        input=InputSpec(args.input_table, args.user_col, args.item_col, args.strength_col, args.time_col,
                        args.purchases_col or None),
        evaluation=dataclasses.replace(EvalSpec(), table=args.events_table, holdout_days=args.holdout_days,
                                       min_trusted_users=args.min_eval_users),
        als=dataclasses.replace(AlsParams(), rank=args.rank, reg_param=args.reg_param, alpha=args.alpha,
                                max_iter=args.max_iter, strength_transform=args.strength_transform),
        top_n=args.top_n,
        exclude_purchased=not args.keep_purchased,
        evaluate=not args.no_eval,
    )


def _check(args: argparse.Namespace) -> None:
    """Out-of-range options, as one line before Spark starts (Spark's own errors are JVM traces)."""
    at_least = {"--rank": (args.rank, 1), "--max-iter": (args.max_iter, 1), "--top-n": (args.top_n, 1),
                "--holdout-days": (args.holdout_days, 1), "--reg-param": (args.reg_param, 0),
                "--alpha": (args.alpha, 0), "--min-eval-users": (args.min_eval_users, 0)}
    for option, (value, low) in at_least.items():
        if value < low:
            raise UserError(f"{option} must be at least {low}, not {value}")


def main() -> int:
    args = _parser().parse_args()
    configure_logging()
    _check(args)
    settings = load_settings()
    dbt_vars(settings.dbt_project_dir)  # a malformed setting fails here, before Spark starts
    params = _params(args)
    ensure_writable(settings.reports_dir, "REPORTS_DIR")  # the report is written last: find out now
    spark = get_spark("ml", settings)
    if args.command == "tune":
        from ml.tune import tune

        print(tune(spark, settings, params, progress=not args.quiet))
        return 0
    from ml.run import run

    report = run(spark, settings, params, progress=not args.quiet)
    print(format_metrics(report))
    return 0


if __name__ == "__main__":
    run_main(main)
