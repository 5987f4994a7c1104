"""`make recommend`: the whole chain in one process (pipeline/chain/steps.py).

It takes the options of `python -m ml` (make's ML_ARGS and TUNE_ARGS): the model options apply to
training and, with --tune, to the search before it; the search options only to the search.
"""

from __future__ import annotations

import argparse

from ml import options
from pipeline.chain.steps import STEPS, ChainRequest, chosen_steps, run_chain
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", help=f"a subset, e.g. 'ingest,transform' (chain: {', '.join(STEPS)})")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild every model (dbt --full-refresh)")
    parser.add_argument("--tune", action="store_true", help="tune before training (make tune)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    options.add_options(parser)
    args = parser.parse_args()
    options.check(args)  # a bad option fails before any data moves
    steps = chosen_steps(args.steps, args.tune)
    configure_logging()
    settings = load_settings()
    tune = options.tune_request(args, settings.engine) if "tune" in steps else None
    run_chain(settings, ChainRequest(steps, options.train_request(args, settings.engine), tune,
                                     args.full_refresh, progress=not args.quiet))
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
