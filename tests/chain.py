"""Test helper: a generated data set as the only content of the lakehouse's raw layer."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.config import Settings
from pipeline.generate.params import GeneratorParams
from pipeline.generate.run import generate
from pipeline.ingest.run import ingest


def land_generated(spark, settings: Settings, params: GeneratorParams, workdir: Path) -> None:
    """Generate (ground truth into TRUTH_DIR), replace the landing folder and raw schema with it, ingest."""
    generate(params, workdir / "raw", settings.truth_dir, progress=False)
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    shutil.copytree(workdir / "raw", settings.raw_dir)
    ingest(spark, settings.raw_dir, progress=False)
