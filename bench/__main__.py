"""`make bench SCALES="100k 1M 10M"`: every stage at every scale, peers side by side, results in bench/results/.

Each scale gets a fresh lakehouse, landing folder and private MariaDB under --work-dir.
--stages runs a subset in pipeline order (later stages need the earlier ones' lakehouse).
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
from bench.stages import STAGES, Scale, StageFailed, stop_mysql
from pipeline.cli import UserError, configure_logging, run_main
from pipeline.config import REPO_ROOT
from pipeline.sync.local_server import free_port

log = logging.getLogger("bench")


def parse_scale(text: str) -> int:
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    try:
        return int(float(text[:-1] if factor > 1 else text) * factor)
    except ValueError:
        raise UserError(f"scale {text!r} is not a row count like 100k, 1M or 2500000") from None


def _stages(text: str | None) -> list[str]:
    if not text:
        return list(STAGES)
    wanted = text.replace(",", " ").split()
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        raise UserError(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
    return [s for s in STAGES if s in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default=os.environ.get("SCALES", "100k 1M"), help='e.g. "100k 1M 10M"')
    parser.add_argument("--stages", default=os.environ.get("STAGES") or None, help="subset, e.g. 'train,als_peer'")
    parser.add_argument("--work-dir", type=Path, default=Path(os.environ.get("BENCH_DIR", REPO_ROOT / "bench" / "work")))
    args = parser.parse_args()
    configure_logging()
    stages = _stages(args.stages)
    scales = [(label, parse_scale(label)) for label in args.scales.split()]
    bar = tqdm(total=len(stages) * len(scales), desc="bench", unit="stage")
    for label, rows in scales:
        scale = Scale(label, rows, (args.work_dir / label).resolve(), free_port())
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        # A subset without 'generate' continues the scale's last run: its earlier stages are kept.
        saved = scale.root / "stages.json"
        results = json.loads(saved.read_text()) if "generate" not in stages and saved.exists() else {}
        try:
            for name in stages:
                bar.set_postfix_str(f"{label} {name}")
                results[name] = STAGES[name](scale)
                saved.write_text(json.dumps(results, indent=2, default=str))
                path = report.write(report.summarise(label, rows, started, results))  # partial runs count too
                log.info("%s %s: %.1f s", label, name, results[name].get("seconds", 0.0))
                bar.update(1)
        except StageFailed as exc:
            raise UserError(str(exc)) from None
        finally:
            stop_mysql(scale)
        log.info("%s done: %s", label, path)
    bar.close()
    print(report.markdown(report.latest()))
    return 0


if __name__ == "__main__":
    run_main(main)
