"""`make dashboard`: write reports/dashboard.html from the marts Tableau reads (MySQL), or from Delta."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline.charts import load_charts
from pipeline.dashboard.marts import DeltaMarts, MysqlMarts
from pipeline.dashboard.page import build_page
from pipeline.mysql.target import synced_marts
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings

log = logging.getLogger("dashboard")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", choices=["mysql", "delta"], default="mysql",
                        help="read the synced MySQL marts (default) or the Delta marts")
    parser.add_argument("--output", help="default: REPORTS_DIR/dashboard.html")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    if args.source == "mysql":
        source = MysqlMarts(synced_marts(settings.mysql))
    else:
        from pipeline.platform.spark import get_spark

        source = DeltaMarts(get_spark("dashboard", settings))
    html = build_page(source, load_charts(settings.dbt_project_dir))
    source.close()
    output = Path(args.output) if args.output else settings.reports_dir / "dashboard.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    log.info("wrote %s (%d KiB) from %s", output, len(html) // 1024, source.name)
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
