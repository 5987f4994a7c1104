"""Shared start-up for command-line entry points: logging and one-line errors."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from pipeline.platform.config import Settings, load_settings
from pipeline.platform.errors import UserError

__all__ = ["UserError", "configure_logging", "run_main", "step_main"]


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("py4j", "pyspark", "mysql.connector"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pyspark logs every failed SQL statement with its JVM stack trace, including the
    # lookups of tables that do not exist yet that dbt makes on purpose.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def run_main(main: Callable[[], int]) -> None:
    """Run ``main`` and exit with its code; known failures become one line on stderr."""
    try:
        code = main()
    except UserError as exc:  # the one root: settings, setup, a busy lakehouse, data problems
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    sys.exit(code)


def step_main(description: str, step: Callable[[Settings, bool], object]) -> Callable[[], int]:
    """``main`` of a command that runs one step of the chain (``step(settings, progress)``) on the
    configured lakehouse; ``--quiet`` turns its progress bars off."""

    def main() -> int:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        args = parser.parse_args()
        configure_logging()
        step(load_settings(), not args.quiet)
        return 0

    return main
