"""Test helper: a generated data set as the only content of the lakehouse's raw layer."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.ingest.batch import ingest
from pipeline.platform.config import Settings

HELD_BACK = "held_back"


def land_generated(spark, settings: Settings, params: GeneratorParams, workdir: Path, hold_back: int = 0) -> None:
    """Generate (ground truth into TRUTH_DIR), replace the landing folder and raw schema with it, ingest;
    the last ``hold_back`` daily files wait beside the landing folder for :func:`land_held_back`."""
    generate(params, workdir / "raw", settings.truth_dir, progress=False)
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    shutil.rmtree(settings.raw_dir.parent / HELD_BACK, ignore_errors=True)
    shutil.copytree(workdir / "raw", settings.raw_dir)
    if hold_back:
        (settings.raw_dir.parent / HELD_BACK).mkdir()
        for path in sorted(settings.raw_dir.glob("*.csv"))[-hold_back:]:
            shutil.move(path, settings.raw_dir.parent / HELD_BACK / path.name)
    ingest(spark, settings.raw_dir, progress=False)


def land_held_back(spark, settings: Settings) -> None:
    """Land and ingest the files :func:`land_generated` held back."""
    for path in sorted((settings.raw_dir.parent / HELD_BACK).glob("*.csv")):
        shutil.move(path, settings.raw_dir / path.name)
    ingest(spark, settings.raw_dir, progress=False)
