"""`python -m ml run|tune`: recommendations on the lakehouse.

run   evaluate the models side by side on one split (ALS, EASE, popularity, and the oracle when the
      generator's truth is there), refit the serving model on all data or update it for the users who
      changed, write ml.recommendation_lists, ml.popular_products, ml.model_runs, the model and reports/last_run.json
tune  search model parameters on a validation split carved from the training part; the winner is
      recorded in ml.tuned_params and used by `run` from then on (options given here still win)
"""

from __future__ import annotations

import argparse

from ml import api, options
from ml.evaluation.metrics_table import format_metrics
from ml.tuning.tune import format_tuning
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``run``/``tune`` and their options, checked (one-line errors before Spark starts)."""
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "tune"])
    options.add_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    options.check(args)
    return args


def main() -> int:
    args = parse_args()
    configure_logging()
    settings = load_settings()
    if args.command == "tune":
        print(format_tuning(api.tune(settings, options.tune_request(args, settings.engine), not args.quiet)))
    else:
        print(format_metrics(api.train(settings, options.train_request(args, settings.engine), not args.quiet)))
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
