"""`make data`: write synthetic REES46-format CSV files (one per day) and their ground truth."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt

from pipeline.generate.dataset import generate
from pipeline.generate.params import SHAPES, DirtyMix, GeneratorParams, parse_row_count
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="default",
                        help="preset: rees46-month is the seed's April 2020 (66.6M events, 4.5M users, 200k products)")
    parser.add_argument("--rows", type=parse_row_count,
                        help=f"data lines in total (1M, 100k, ...; default {GeneratorParams.rows:,})")
    parser.add_argument("--days", type=int, help=f"default {GeneratorParams.days}")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--start", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
    parser.add_argument("--dirty-share", type=float,
                        help=f"share of dirty lines (0 for none; default {DirtyMix.share})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    params = SHAPES[args.shape]
    given = {k: v for k, v in (("rows", args.rows), ("days", args.days), ("seed", args.seed), ("start", args.start))
             if v is not None}
    if args.dirty_share is not None:
        given["dirty"] = dataclasses.replace(params.dirty, share=args.dirty_share)
    params = dataclasses.replace(params, **given)
    generate(params, settings.raw_dir, settings.truth_dir, progress=not args.quiet)
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
