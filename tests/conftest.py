"""One SparkSession for the whole test run, on a temporary lakehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.generate.dataset import generate
from pipeline.generate.params import GeneratorParams
from pipeline.platform.config import Settings, load_settings
from tests.clone import Clone, dbt_artifact_env, make_clone, module_argv

# The first 5,019 lines of the public REES46 October 2019 file, as published: kept in the repository so a
# clone alone runs the suite.
REAL_SLICE = Path(__file__).resolve().parent / "fixtures" / "real" / "rees46_2019-Oct_first5019.csv"

# The suite starts about a hundred driver JVMs on small data, where JIT compile time outweighs the
# code it makes: C1 alone cut a dbt run by about 13 %. Its default code cache (32 MB in this mode) ran
# out in whole builds, hence the explicit size. Every process of the suite inherits this; production
# runs keep the full JIT.
os.environ.setdefault("LAKEHOUSE_DRIVER_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m")


@pytest.fixture(scope="session", autouse=True)
def dbt_artifacts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """dbt's target and log folders of this test process (each xdist worker has its own), before any dbt
    runs: two workers building the repository's project at once would otherwise share its target/, where
    `dbt retry` and the chain read the last invocation's results."""
    os.environ.update(dbt_artifact_env(tmp_path_factory.mktemp("dbt")))


@pytest.fixture(scope="session", autouse=True)
def local_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """With S3=1 (`make test-s3`): a local S3 for the whole session, its endpoint and keys in the
    environment before any Spark starts, so every session can read s3a:// tables."""
    if os.environ.get("S3") != "1":
        yield None
        return
    from tests.s3 import CREDENTIALS, moto_server

    with moto_server(tmp_path_factory.mktemp("s3") / "moto.log") as endpoint:
        os.environ.update(CREDENTIALS, S3_ENDPOINT=endpoint)
        yield endpoint


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("lakehouse_root")
    os.environ["LAKEHOUSE_DIR"] = str(root / "lakehouse")
    os.environ["RAW_DIR"] = str(root / "raw")
    os.environ["TRUTH_DIR"] = str(root / "truth")
    os.environ["REPORTS_DIR"] = str(root / "reports")
    return load_settings()


@pytest.fixture(scope="session")
def spark(settings: Settings):
    from pipeline.platform.spark import get_spark, stop_spark

    session = get_spark("tests", settings)
    yield session
    stop_spark()


@pytest.fixture()
def raw_dir(settings: Settings, spark) -> Iterator[Path]:
    """An empty landing folder and an empty raw schema for one test."""
    spark.sql("drop database if exists raw cascade")
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    settings.raw_dir.mkdir(parents=True)
    yield settings.raw_dir


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A small generated data set (4 days) outside the landing folder: (raw, truth, manifest)."""
    root = tmp_path_factory.mktemp("generated")
    manifest = generate(GeneratorParams(rows=40_000, days=4, seed=7), root / "raw", root / "truth", progress=False)
    return root / "raw", root / "truth", manifest


@pytest.fixture(scope="session")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    """A clone of the project with a lakehouse and private MariaDB of its own and 4 generated days in its
    landing folder, driven through subprocesses only (tests/clone.py); shared by the modules that run the
    project as its users do: the fault chain, then the analysts' plain dbt (when one process runs both)."""
    clone = make_clone(tmp_path_factory.mktemp("clone"))
    generate(GeneratorParams(rows=20_000, days=4, seed=11), clone.root / "raw", clone.root / "truth", progress=False)
    yield clone
    subprocess.run(module_argv("pipeline.mysql", "stop"), env=clone.env, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def real_slice() -> Path:
    if not REAL_SLICE.exists():
        pytest.fail(f"real data slice missing: {REAL_SLICE}")
    return REAL_SLICE


# `make test` runs the suite on two xdist workers (`--dist loadfile`), a module at a time: each module's
# fixtures are built once, on one worker, and a session fixture once per worker (the `clone` of
# test_plain_dbt has had the fault chain run on it only when both modules ran on the same worker; its
# `built` fixture runs the chain otherwise). The longest modules (measured in a whole run) start first,
# so that the last module to start is a short one; the others follow in file order.
LONGEST_FIRST = ("test_faults.py", "test_plain_dbt.py", "test_cluster.py", "test_dbt_models.py",
                 "test_data_shapes.py", "test_update.py", "test_ml.py", "test_dashboard.py", "test_mysql_sync.py",
                 "test_tuning.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order otherwise
    for item in items:
        # A test that uses the shared SparkSession needs Java; the other needs are declared in each module
        # (`pytestmark`), so `make test-fast` can run the pure tests without Java, MariaDB or Chromium.
        if "spark" in item.fixturenames:
            item.add_marker(pytest.mark.spark)
