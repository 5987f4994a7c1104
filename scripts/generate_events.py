"""`make data`: write synthetic REES46-format CSV files (one per day) and their ground truth."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.cli import configure_logging, run_main
from pipeline.config import load_settings
from pipeline.generate.params import DirtyMix, GeneratorParams
from pipeline.generate.run import generate


def _rows(text: str) -> int:
    """Accept 1000000, 1M, 100k, 1e6."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=_rows, default=GeneratorParams.rows, help="data lines in total (1M, 100k, ...)")
    parser.add_argument("--days", type=int, default=GeneratorParams.days)
    parser.add_argument("--seed", type=int, default=GeneratorParams.seed)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=GeneratorParams.start, help="first day (YYYY-MM-DD)")
    parser.add_argument("--dirty-share", type=float, default=DirtyMix.share, help="share of dirty lines (0 for none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    params = GeneratorParams(rows=args.rows, days=args.days, seed=args.seed, start=args.start,
                             dirty=DirtyMix(share=args.dirty_share))
    generate(params, settings.raw_dir, settings.truth_dir, progress=not args.quiet)
    return 0


if __name__ == "__main__":
    run_main(main)
