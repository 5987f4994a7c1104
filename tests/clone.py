"""A clone of the project as a new user has it, driven only through its commands.

The repository's dbt project and profile are copied beside a lakehouse, landing folder, reports and
private MariaDB of its own; ``.jars`` and ``.venv`` are links to this checkout's. So the paths a user
types work here exactly as in a fresh clone: ``make``'s entry points with the clone's settings in the
environment (:meth:`Clone.run`), and plain ``dbt`` from ``dbt_project/`` with nothing but the profile
(:meth:`Clone.dbt`), in an environment stripped of everything the project's wrapper sets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.mysql import local_server
from pipeline.mysql.connection import connect
from pipeline.platform.config import REPO_ROOT, mysql_env
from pipeline.platform.faults import CRASH_ENV

# What a shell gives a user who never ran a project command: no LAKEHOUSE_*, DBT_*, VARS, rule or
# Spark variables. JAVA_HOME is the toolchain's own and passes when set.
# LAKEHOUSE_DRIVER_JAVA_OPTIONS: the suite's JIT setting (conftest), not a project setting.
ANALYST_ENV_KEEP = ("HOME", "LANG", "JAVA_HOME", "TMPDIR", "LAKEHOUSE_DRIVER_JAVA_OPTIONS")


def module_argv(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter: how a user runs a command without the venv's bin on PATH."""
    return [sys.executable, "-m", module, *args]


# `python -m module args`, counting the calls of the settings loaders: the last stderr line is
# "settings loaded: {...}". The loaders are wrapped before any project module imports them.
COUNTING = """
import atexit, runpy, sys
import pipeline.platform.config as config
calls = {"load_settings": 0, "var_defaults": 0}
def counting(name):
    original = getattr(config, name)
    def counted(*args, **kwargs):
        calls[name] += 1
        return original(*args, **kwargs)
    setattr(config, name, counted)
for name in calls:
    counting(name)
atexit.register(lambda: print(f"settings loaded: {calls}", file=sys.stderr))
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def counting_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-c", COUNTING, module, *args]


@dataclass
class Clone:
    root: Path
    env: dict[str, str]  # the clone's settings, as `make` exports them
    outputs: list[str] = field(default_factory=list)  # every stdout/stderr, for the secrets check

    def table_path(self, table: str) -> str:
        schema, name = table.split(".")
        return str(self.root / "lakehouse" / "warehouse" / f"{schema}.db" / name)

    def run(self, *args: str, crash_at: str | None = None, count_settings: bool = False) -> subprocess.CompletedProcess:
        """``python -m module args`` with the clone's settings; ``count_settings``: see :data:`COUNTING`."""
        env = {**self.env, CRASH_ENV: crash_at} if crash_at else self.env
        argv = (counting_argv if count_settings else module_argv)(*args)
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
        self.outputs += [result.stdout, result.stderr]
        return result

    @property
    def dbt_target(self) -> Path:
        """Where the chain's dbt runs (the repository's project) write their artifacts for this clone."""
        return Path(self.env["DBT_TARGET_PATH"])

    @property
    def dbt_project(self) -> Path:
        return self.root / "dbt_project"

    def dbt(self, *args: str) -> subprocess.CompletedProcess:
        """Plain dbt, as an analyst types it:
        ``cd dbt_project && ../.venv/bin/dbt <args> --profiles-dir ../profiles``."""
        result = run_plain_dbt(self.root, *args)
        self.outputs += [result.stdout, result.stderr]
        return result

    def chain_complete(self) -> bool:
        """Whether `make recommend`'s chain has run to its end on this clone."""
        path = self.root / "reports" / "last_chain.json"
        return path.exists() and json.loads(path.read_text())["complete"]

    @contextmanager
    def mysql(self) -> Iterator:
        conn = connect(local_server.local_server(mysql_env(self.env)).app_settings())
        try:
            yield conn.cursor()
        finally:
            conn.close()


def copy_project(root: Path) -> None:
    """The parts of a checkout plain dbt uses, under ``root``: the dbt project and the profile (copies),
    the jars and the virtual environment (links to this checkout's)."""
    shutil.copytree(REPO_ROOT / "dbt_project", root / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(REPO_ROOT / "profiles", root / "profiles")
    (root / ".jars").symlink_to(os.environ.get("LAKEHOUSE_JARS_DIR", REPO_ROOT / ".jars"))
    (root / ".venv").symlink_to(Path(sys.prefix))


def analyst_env(**settings: str) -> dict[str, str]:
    """A shell that never ran a project command, plus the ``settings`` an analyst exports (e.g. SPARK_THRIFT_PORT)."""
    return {**{k: v for k, v in os.environ.items() if k in ANALYST_ENV_KEEP}, "PATH": os.defpath, **settings}


def plain_dbt_argv(*args: str) -> list[str]:
    """``../.venv/bin/dbt <args> --profiles-dir ../profiles``, to run in ``dbt_project/``."""
    return ["../.venv/bin/dbt", *args, "--profiles-dir", "../profiles"]


def run_plain_dbt(root: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    """Plain dbt in ``root/dbt_project`` (see :func:`copy_project`) with :func:`analyst_env`."""
    return subprocess.run(plain_dbt_argv(*args), cwd=root / "dbt_project", capture_output=True, text=True,
                          env=analyst_env(**settings), timeout=900)


def make_clone(root: Path) -> Clone:
    """The clone's tree under ``root``, its settings, and no data yet."""
    copy_project(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_") and k != CRASH_ENV}
    env.update(LAKEHOUSE_DIR=str(root / "lakehouse"), RAW_DIR=str(root / "raw"), TRUTH_DIR=str(root / "truth"),
               REPORTS_DIR=str(root / "reports"), MYSQL_LOCAL_DIR=str(root / "mysql"),
               MYSQL_LOCAL_PORT=str(local_server.free_port()), **dbt_artifact_env(root))
    return Clone(root, env)


def dbt_artifact_env(root: Path) -> dict[str, str]:
    """dbt's target and log folders for the project's own commands run under ``root``: they build the
    repository's dbt project, and must not share its artifacts with another test process's runs."""
    artifacts = root / "dbt_artifacts"
    return {"DBT_TARGET_PATH": str(artifacts / "target"), "DBT_LOG_PATH": str(artifacts / "logs")}
