"""The one Spark session factory.

Its settings are not written here: they are the ``server_side_parameters`` of the
dbt profile's ``local`` target, rendered with the same ``env_var`` semantics dbt uses,
so Python jobs and ``dbt run`` open the lakehouse identically. In cluster mode
(``LAKEHOUSE_ENGINE=cluster``) :func:`pipeline.platform.cluster_conf.app_conf` adds where to run and the
shared metastore; the SQL settings stay the profile's.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pyspark.sql import SparkSession

from pipeline.platform import lock, storage
from pipeline.platform.cluster_conf import app_conf, python_for_executors, require_master
from pipeline.platform.config import Settings, ensure_writable
from pipeline.platform.errors import UserError

log = logging.getLogger(__name__)

PROFILE_NAME = "recolake"
SESSION_TARGET = "local"

_session: SparkSession | None = None


class SetupError(UserError):
    """The machine lacks something the lakehouse needs (Java, the Delta jars, ...): `make setup` fixes it."""


def _env_var(env: dict[str, str]):
    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise SetupError(f"profiles.yml needs environment variable {name}")
        return default

    return env_var


def render_profile(profiles_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Render ``profiles.yml`` as dbt would, with ``env`` as the environment."""
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (profiles_dir / "profiles.yml").read_text(encoding="utf-8")
    )
    return yaml.safe_load(template.render(env_var=_env_var(env)))


def session_parameters(profile: dict[str, Any]) -> dict[str, str]:
    """The Spark settings of the profile's session target, as strings."""
    output = profile[PROFILE_NAME]["outputs"][SESSION_TARGET]
    return {key: str(value) for key, value in output["server_side_parameters"].items()}


def profile_conf(settings: Settings) -> dict[str, str]:
    """The profile's Spark settings, rendered with absolute lakehouse paths."""
    return session_parameters(render_profile(settings.profiles_dir, {**os.environ, **settings.exported_env()}))


def spark_conf(settings: Settings, cluster: bool | None = None) -> dict[str, str]:
    """The Spark settings of a process: the profile's, plus the cluster's in cluster mode (``cluster``
    overrides LAKEHOUSE_ENGINE: the Thrift Server is a cluster application whatever the shell says),
    plus object storage's for an s3a:// warehouse."""
    conf = profile_conf(settings)
    if (not settings.embedded) if cluster is None else cluster:
        conf.update(app_conf(settings))
    if storage.uses_s3(settings):
        conf = storage.add_jars(settings, {**conf, **storage.s3_conf(settings)})
    return conf


def check_prerequisites(settings: Settings) -> None:
    """Fail with one clear line when Java, the Delta jars or a writable lakehouse folder are missing."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and not (Path(java_home) / "bin" / "java").exists():
        raise SetupError(f"JAVA_HOME={java_home} has no bin/java: point it at a Java 17 install or unset it")
    if not java_home and shutil.which("java") is None:
        raise SetupError("Java 17 is not installed: run `make setup` (it installs openjdk-17-jre-headless)")
    if not list(Path(settings.jars_dir).glob("delta-spark.jar")):
        raise SetupError(f"Delta jars missing in {settings.jars_dir}: run `make setup`")
    ensure_writable(settings.lakehouse_dir, "LAKEHOUSE_DIR")


def get_spark(app_name: str, settings: Settings) -> SparkSession:
    """Return the process-wide SparkSession on the lakehouse, creating it on first use.

    Takes the lakehouse lock first (embedded mode), so a second process fails fast and clearly.
    """
    global _session
    if _session is not None:
        return _session
    check_prerequisites(settings)
    lock.hold(settings)
    if not settings.embedded:
        require_master(settings.cluster)
        # The one setting pyspark reads from the environment only (SparkContext's pythonExec): the
        # executors' interpreter, sent with every Python function.
        os.environ["PYSPARK_PYTHON"] = python_for_executors()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    builder = builder.config("spark.app.name", f"recolake-{app_name}")
    log.info("starting Spark on lakehouse %s (%s)", settings.lakehouse_dir,
             "local" if settings.embedded else settings.cluster.master_url)
    _session = builder.getOrCreate()
    _session.sparkContext.setLogLevel("WARN")
    _session.sparkContext.setCheckpointDir(settings.checkpoint_dir)
    return _session


def stop_spark() -> None:
    """Stop the session (used at process exit by long-lived callers such as tests)."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None


def release_driver_memory() -> None:
    """Collect garbage in the driver JVM and in Python, so that each gives back memory it no longer uses.

    A JVM keeps the heap it grew to (a dbt build's planning and Delta log replay take gigabytes);
    after a full collection G1 returns the free part to the system. Between the steps of one
    process this lets the next step (training's arrays in Python) use that memory instead.
    """
    import gc

    from pyspark import SparkContext

    gc.collect()
    context = SparkContext._active_spark_context  # also the one dbt started, if it came first
    if context is not None and context._jvm is not None:
        context._jvm.java.lang.System.gc()
