"""`make bench SCALES="100k 1M 10M"`: every stage at every scale, peers side by side, results in bench/results/.

Each scale gets a fresh lakehouse, landing folder and private MariaDB under --work-dir.
--stages runs a subset in pipeline order (later stages need the earlier ones' lakehouse).
--engines "embedded cluster" runs each scale in both modes; the cluster one (label "<scale>-cluster")
starts its own local cluster after generating the data and stops it at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
from pathlib import Path

from tqdm import tqdm

from bench import report
from bench.stages import (
    CHAIN_STEPS,
    CHAINS,
    DEFAULT_STAGES,
    ORDER,
    STAGES,
    Scale,
    StageFailed,
    cluster_up,
    stop_servers,
)
from pipeline.generate.params import SHAPES, parse_row_count
from pipeline.mysql.local_server import free_port
from pipeline.platform.cli import UserError, configure_logging, run_main
from pipeline.platform.config import ENGINES, REPO_ROOT

log = logging.getLogger("bench")


def parse_scale(text: str) -> int:
    if text in SHAPES and text != "default":
        return SHAPES[text].rows
    try:
        return parse_row_count(text)
    except ValueError as exc:
        raise UserError(f"scale {exc}") from None


def _stages(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_STAGES)
    wanted = text.replace(",", " ").split()
    unknown = sorted(set(wanted) - set(ORDER))
    if unknown:
        raise UserError(f"unknown stages {unknown}; choose from {', '.join(ORDER)}")
    for chain, steps in CHAIN_STEPS.items():
        both = sorted(set(steps) & set(wanted))
        if chain in wanted and both:
            raise UserError(f"stage {chain} runs {', '.join(steps)} in one process: choose it or {', '.join(both)}")
    return [s for s in ORDER if s in wanted]


def _run_stage(name: str, scale: Scale) -> dict[str, dict]:
    """{stage: result}; a one-process chain also gives one result per step it ran."""
    if name in CHAINS:
        return CHAINS[name](scale)
    return {name: STAGES[name](scale)}


def _engines(text: str) -> list[str]:
    engines = text.replace(",", " ").split()
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        raise UserError(f"unknown engines {unknown}; choose from {', '.join(ENGINES)}")
    return engines


def _scale(label: str, rows: int, engine: str, work_dir: Path) -> Scale:
    shape = label if label in SHAPES else "default"
    if engine == "embedded":
        return Scale(label, rows, (work_dir / label).resolve(), free_port(), shape=shape)
    label = f"{label}-cluster"
    return Scale(label, rows, (work_dir / label).resolve(), free_port(), engine,
                 (free_port(), free_port(), free_port(), free_port()), shape=shape)


def _with_cluster(stages: list[str]) -> list[str]:
    """The stages, with `cluster_up` after `generate` (which empties the scale's folder) or first."""
    at = 1 if stages and stages[0] == "generate" else 0
    return stages[:at] + ["cluster_up"] + stages[at:]


def run_scale(scale: Scale, stages: list[str], bar: tqdm) -> Path:
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A subset without 'generate' continues the scale's last run: its earlier stages are kept.
    saved = scale.root / "stages.json"
    results = json.loads(saved.read_text()) if "generate" not in stages and saved.exists() else {}
    path = None
    try:
        for name in _with_cluster(stages) if scale.engine == "cluster" else stages:
            bar.set_postfix_str(f"{scale.label} {name}")
            results.update({"cluster_up": cluster_up(scale)} if name == "cluster_up" else _run_stage(name, scale))
            saved.write_text(json.dumps(results, indent=2, default=str))
            path = report.write(report.summarise(scale.label, scale.rows, started, results))  # partial runs count
            log.info("%s %s: %.1f s", scale.label, name, results[name].get("seconds", 0.0))
            bar.update(1)
    except StageFailed as exc:
        raise UserError(str(exc)) from None
    finally:
        stop_servers(scale)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default=os.environ.get("SCALES", "100k 1M"),
                        help='e.g. "100k 1M 10M"; "rees46-month" is the seed\'s month (66.6M events, 4.5M users)')
    parser.add_argument("--stages", default=os.environ.get("STAGES") or None,
                        help="subset, run in pipeline order, e.g. 'generate load daily' (default: the one-process "
                             "chains and the peers); the steps of a chain (ingest, dbt_full, ingest_day, "
                             "dbt_incremental, train, dbt_recommendations, sync) instead run each command in its own "
                             "process")
    parser.add_argument("--engines", default=os.environ.get("ENGINES", "embedded"), help='e.g. "embedded cluster"')
    parser.add_argument("--work-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", REPO_ROOT / "bench" / "work")))
    args = parser.parse_args()
    configure_logging()
    stages = _stages(args.stages)
    engines = _engines(args.engines)
    scales = [(label, parse_scale(label)) for label in args.scales.split()]
    bar = tqdm(total=sum(len(stages) + (e == "cluster") for e in engines) * len(scales), desc="bench", unit="stage")
    for label, rows in scales:
        for engine in engines:
            path = run_scale(_scale(label, rows, engine, args.work_dir), stages, bar)
            log.info("%s (%s) done: %s", label, engine, path)
    bar.close()
    print(report.markdown(report.latest()))
    return 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
