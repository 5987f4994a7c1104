"""Every path and setting the pipeline uses, read from environment variables in one place: the
lakehouse (:func:`load_settings`), MySQL (:func:`mysql_env`), object storage, an existing metastore
and the business rules (:func:`dbt_vars`).

Defaults put everything under the repository: ``./lakehouse`` (Delta warehouse and
Derby metastore), ``./data/raw`` (CSV landing folder), ``./data/truth`` (the
generator's planted ground truth), ``./.jars`` (jars cached by ``make setup``) and
``./.cluster`` (logs, pids and work folders of the local Spark cluster).

``LAKEHOUSE_ENGINE`` picks how Spark runs: ``embedded`` (default: one process, ``local[*]``,
a Derby metastore guarded by the lakehouse lock) or ``cluster`` (jobs submitted to a Spark
master, dbt through the Thrift Server, a shared Hive metastore in MariaDB; see
:class:`ClusterSettings`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.platform.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
# The lakehouse lock (pipeline/platform/lock.py), in the lakehouse folder.
LOCK_FILE_NAME = ".lakehouse.lock"


ENGINES = ("embedded", "cluster")


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def _int_from_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) == 0:
        raise SettingError(f"{name}={text!r} must be a positive whole number")
    return int(text)


def _memory_from_env(name: str, default: str) -> str:
    text = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"\d+[kmgt]?", text.lower()):
        raise SettingError(f"{name}={text!r} is not a JVM memory size such as 1g or 512m")
    return text.lower()


@dataclass(frozen=True)
class ClusterSettings:
    """The Spark standalone cluster, Thrift Server and shared metastore of ``LAKEHOUSE_ENGINE=cluster``.

    ``make cluster-up`` starts a master, ``workers`` workers and the Thrift Server on ``host`` and
    keeps their logs, pids and work folders under ``state_dir``. ``master_url`` may instead name
    an existing cluster (``CLUSTER_MASTER_URL``: ``spark://...``, ``yarn``, ``k8s://...``), and
    ``METASTORE_JDBC_URL`` / ``METASTORE_USER`` / ``METASTORE_PASSWORD`` an existing metastore.
    """

    state_dir: Path
    host: str
    master_port: int
    master_ui_port: int
    master_url: str
    workers: int
    worker_cores: int
    worker_memory: str
    app_cores: int  # spark.cores.max of every application, the Thrift Server's included
    executor_memory: str
    thrift_host: str
    thrift_port: int
    thrift_memory: str
    metastore_database: str
    # THRIFT_AUTH=ldap: the Thrift Server checks each session's user and password against an LDAP
    # directory: THRIFT_LDAP_URL's, or the cluster's own (a private slapd on ldap_port, accounts under
    # state_dir/ldap). Off by default: the server listens on loopback only.
    thrift_auth: str
    thrift_user: str  # who this machine's entry points connect as (SPARK_THRIFT_USER)
    thrift_password: str = field(repr=False)  # SPARK_THRIFT_PASSWORD: never printed
    ldap_url: str | None = None
    ldap_port: int = 3890
    ldap_base_dn: str = "ou=people,dc=recolake,dc=local"
    # Schemas only the chain writes: through the Thrift Server, users other than thrift_user read them and
    # nothing more (jvm/recolake/ChainTablesGuard.java). Analysts may rebuild the marts.
    chain_schemas: tuple[str, ...] = ("raw", "staging", "intermediate", "cleaned", "ml")

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def metastore_credentials(self) -> Path:
        return self.state_dir / "metastore.json"

    @property
    def master_ui(self) -> str:
        return f"http://{self.host}:{self.master_ui_port}"

    @property
    def manages_directory(self) -> bool:
        """Whether ``make cluster-up`` runs the LDAP directory the Thrift Server checks passwords against."""
        return self.thrift_auth == "ldap" and self.ldap_url is None

    @property
    def directory_url(self) -> str:
        return self.ldap_url or f"ldap://{self.host}:{self.ldap_port}"

    @property
    def directory_dir(self) -> Path:
        return self.state_dir / "ldap"


def load_cluster_settings() -> ClusterSettings:
    host = os.environ.get("CLUSTER_HOST", "127.0.0.1")
    master_port = _int_from_env("SPARK_MASTER_PORT", 7077)
    return ClusterSettings(
        state_dir=_path_from_env("CLUSTER_DIR", REPO_ROOT / ".cluster"),
        host=host,
        master_port=master_port,
        master_ui_port=_int_from_env("SPARK_MASTER_WEBUI_PORT", 8080),
        master_url=os.environ.get("CLUSTER_MASTER_URL") or f"spark://{host}:{master_port}",
        workers=_int_from_env("CLUSTER_WORKERS", 2),
        worker_cores=_int_from_env("CLUSTER_WORKER_CORES", 1),
        worker_memory=_memory_from_env("CLUSTER_WORKER_MEMORY", "1g"),
        app_cores=_int_from_env("CLUSTER_APP_CORES", 1),
        executor_memory=_memory_from_env("SPARK_EXECUTOR_MEMORY", "1g"),
        thrift_host=os.environ.get("SPARK_THRIFT_HOST", host),
        thrift_port=_int_from_env("SPARK_THRIFT_PORT", 10000),
        thrift_memory=_memory_from_env("THRIFT_DRIVER_MEMORY", "2g"),
        metastore_database=os.environ.get("METASTORE_DATABASE", "metastore"),
        thrift_auth=_choice_from_env("THRIFT_AUTH", ("none", "ldap")),
        thrift_user=os.environ.get("SPARK_THRIFT_USER", "").strip() or "recolake",
        thrift_password=os.environ.get("SPARK_THRIFT_PASSWORD", ""),
        ldap_url=os.environ.get("THRIFT_LDAP_URL", "").strip() or None,
        ldap_port=_int_from_env("LDAP_PORT", 3890),
        ldap_base_dn=os.environ.get("THRIFT_LDAP_BASE_DN", "").strip() or "ou=people,dc=recolake,dc=local",
        chain_schemas=tuple(s.strip().lower() for s in os.environ.get(
            "CHAIN_SCHEMAS", "raw,staging,intermediate,cleaned,ml").split(",") if s.strip()),
    )


def _choice_from_env(name: str, choices: tuple[str, ...]) -> str:
    """The variable's value (case-insensitive), the first choice when unset."""
    text = os.environ.get(name, "").strip().lower() or choices[0]
    if text not in choices:
        raise SettingError(f"{name}={text!r} must be one of {', '.join(choices)}")
    return text


@dataclass(frozen=True)
class Settings:
    """Resolved absolute locations of the lakehouse and its inputs."""

    repo_root: Path
    lakehouse_dir: Path
    raw_dir: Path
    truth_dir: Path
    jars_dir: Path
    reports_dir: Path
    dbt_target_dir: Path  # DBT_TARGET_PATH: where dbt writes manifest.json and run_results.json
    engine: str
    cluster: ClusterSettings
    rules: Mapping[str, Any]  # every dbt var's effective value (:func:`dbt_vars`), validated at load
    mysql: MysqlEnv
    object_storage: ObjectStorageEnv
    metastore: MetastoreEnv
    warehouse_override: str | None = None  # LAKEHOUSE_WAREHOUSE_DIR
    checkpoint_override: str | None = None  # SPARK_CHECKPOINT_DIR

    @property
    def embedded(self) -> bool:
        """One process with an embedded Derby metastore: the lakehouse lock applies."""
        return self.engine == "embedded"

    @property
    def dbt_project_dir(self) -> Path:
        return self.repo_root / "dbt_project"

    @property
    def profiles_dir(self) -> Path:
        return self.repo_root / "profiles"

    def cached_jars(self, names: tuple[str, ...], target: str = "setup", why: str = "") -> list[Path]:
        """Paths of jars ``make <target>`` caches; one line naming the missing ones and the target."""
        jars = [self.jars_dir / name for name in names]
        missing = [j.name for j in jars if not j.exists()]
        if missing:
            raise UserError(f"{', '.join(missing)} missing in {self.jars_dir}{why}: run `make {target}`")
        return jars

    @property
    def warehouse_dir(self) -> str:
        """Where Delta tables live: a folder, or object storage (``s3a://bucket/path``)."""
        return self.warehouse_override or str(self.lakehouse_dir / "warehouse")

    @property
    def checkpoint_dir(self) -> str:
        """Where ALS checkpoints its lineage: every executor must reach it (on a multi-node cluster
        an hdfs:// or s3a:// URI via SPARK_CHECKPOINT_DIR)."""
        return self.checkpoint_override or str(self.lakehouse_dir / "checkpoints")

    @property
    def lock_file(self) -> Path:
        return self.lakehouse_dir / LOCK_FILE_NAME

    def exported_env(self) -> dict[str, str]:
        """Variables that make dbt's profile resolve to exactly these absolute paths."""
        env = {
            "LAKEHOUSE_DIR": str(self.lakehouse_dir),
            "LAKEHOUSE_JARS_DIR": str(self.jars_dir),
            "LAKEHOUSE_PROFILES_DIR": str(self.profiles_dir),
        }
        if self.warehouse_override:  # else the profile derives it from LAKEHOUSE_DIR, so a child with
            env["LAKEHOUSE_WAREHOUSE_DIR"] = self.warehouse_override  # another LAKEHOUSE_DIR gets its own
        if not self.embedded:  # dbt talks to the Thrift Server
            env.update(DBT_TARGET="thrift", SPARK_THRIFT_HOST=self.cluster.thrift_host,
                       SPARK_THRIFT_PORT=str(self.cluster.thrift_port))
        return env


class UnwritableDirError(UserError):
    """A folder the pipeline must write to cannot be created or written."""


def ensure_writable(path: Path, variable: str) -> None:
    """Create ``path`` if needed and prove it takes a file, or raise with the variable to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UnwritableDirError(
            f"{path} is not writable ({exc.strerror or exc}): set {variable} to a folder you can write to"
        ) from None


def dbt_target_dir(dbt_project_dir: Path) -> Path:
    """The folder dbt writes its artifacts to: DBT_TARGET_PATH (dbt's own variable; relative to the
    project, as dbt resolves it) or the project's ``target``. The chain, the sync and Tableau read
    manifest.json and run_results.json there."""
    given = os.environ.get("DBT_TARGET_PATH", "").strip()
    return dbt_project_dir / (os.path.expanduser(given) if given else "target")


def load_settings() -> Settings:
    """Read every setting from the environment (``LAKEHOUSE_DIR``, ``RAW_DIR``, ``LAKEHOUSE_ENGINE``, the
    business rules, MySQL, object storage, the metastore), once per process: each entry point calls this
    and passes the result down; a malformed setting fails here, before anything runs."""
    engine = os.environ.get("LAKEHOUSE_ENGINE", "").strip().lower() or "embedded"
    if engine not in ENGINES:
        raise SettingError(f"LAKEHOUSE_ENGINE={engine!r} is not one of {', '.join(ENGINES)}")
    return Settings(
        repo_root=REPO_ROOT,
        lakehouse_dir=_path_from_env("LAKEHOUSE_DIR", REPO_ROOT / "lakehouse"),
        raw_dir=_path_from_env("RAW_DIR", REPO_ROOT / "data" / "raw"),
        truth_dir=_path_from_env("TRUTH_DIR", REPO_ROOT / "data" / "truth"),
        jars_dir=_path_from_env("LAKEHOUSE_JARS_DIR", REPO_ROOT / ".jars"),
        reports_dir=_path_from_env("REPORTS_DIR", REPO_ROOT / "reports"),
        dbt_target_dir=dbt_target_dir(REPO_ROOT / "dbt_project"),
        engine=engine,
        cluster=load_cluster_settings(),
        rules=dbt_vars(REPO_ROOT / "dbt_project"),
        mysql=mysql_env(),
        object_storage=object_storage_env(),
        metastore=metastore_env(),
        warehouse_override=os.environ.get("LAKEHOUSE_WAREHOUSE_DIR") or None,
        checkpoint_override=os.environ.get("SPARK_CHECKPOINT_DIR") or None,
    )


# ---- services outside the lakehouse: MySQL, object storage, an existing metastore -----------------


@dataclass(frozen=True)
class MysqlEnv:
    """The MYSQL_* variables. ``host`` set: an external server as ``user``; unset: the project-private
    MariaDB in ``local_dir`` on ``local_port``. ``database`` holds the synced marts in either case."""

    host: str | None
    port: int
    user: str | None
    password: str
    database: str
    local_dir: Path
    local_port: int
    reporting_user: str  # the read-only account Tableau logs in with
    reporting_password: str | None


MYSQL_DEFAULT_DATABASE = "lakehouse_marts"
MYSQL_DEFAULT_LOCAL_PORT = 33306


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SettingError(f"{name} must be a port number, not {text!r}")
    return int(text)


def mysql_env(env: Mapping[str, str] | None = None) -> MysqlEnv:
    """Read MYSQL_* from ``env`` (default: this process's environment; the benchmark passes a child's)."""
    env = os.environ if env is None else env
    return MysqlEnv(
        host=env.get("MYSQL_HOST") or None,
        port=_port(env, "MYSQL_PORT", 3306),
        user=env.get("MYSQL_USER") or None,
        password=env.get("MYSQL_PASSWORD", ""),
        database=env.get("MYSQL_DATABASE") or MYSQL_DEFAULT_DATABASE,
        local_dir=Path(env.get("MYSQL_LOCAL_DIR") or REPO_ROOT / ".mysql").expanduser().resolve(),
        local_port=_port(env, "MYSQL_LOCAL_PORT", MYSQL_DEFAULT_LOCAL_PORT),
        reporting_user=env.get("MYSQL_REPORTING_USER") or "tableau",
        reporting_password=env.get("MYSQL_REPORTING_PASSWORD") or None,
    )


@dataclass(frozen=True)
class ObjectStorageEnv:
    """S3_ENDPOINT (an S3-compatible server; unset: AWS), AWS_REGION and the AWS keys."""

    endpoint: str | None
    region: str
    access_key: str | None
    secret_key: str | None


def object_storage_env() -> ObjectStorageEnv:
    return ObjectStorageEnv(endpoint=os.environ.get("S3_ENDPOINT") or None,
                            region=os.environ.get("AWS_REGION") or "us-east-1",
                            access_key=os.environ.get("AWS_ACCESS_KEY_ID") or None,
                            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or None)


@dataclass(frozen=True)
class MetastoreEnv:
    """METASTORE_JDBC_URL and its account: an existing Hive metastore for the cluster engine."""

    jdbc_url: str | None
    user: str | None
    password: str
    driver: str | None


def metastore_env() -> MetastoreEnv:
    return MetastoreEnv(jdbc_url=os.environ.get("METASTORE_JDBC_URL") or None,
                        user=os.environ.get("METASTORE_USER") or None,
                        password=os.environ.get("METASTORE_PASSWORD", ""),
                        driver=os.environ.get("METASTORE_JDBC_DRIVER") or None)


# ---- business rules and tunables: the dbt vars -------------------------------------------------
# Defaults live in dbt_project.yml (so plain `dbt build` works); each can be overridden without
# editing files, by an environment variable named like the var in upper case (MIN_EVENT_DATE=...)
# or by VARS="min_event_date=1990-01-01 max_price=50000" (make ... VARS=...), which wins.
# The effective values go to dbt as --vars and to the ML code, so both apply the same rules.


class SettingError(UserError):
    """A setting has a value the pipeline cannot use."""


def _parse_number(text: str, source: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{source}={text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _parse_var(name: str, text: str, default: Any, source: str) -> Any:
    """Type ``text`` like the var's default: number, ISO date, list (a,b,c) or mapping (a=1,b=2)."""
    text = text.strip()
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float)):
        return _parse_number(text, source)
    if isinstance(default, list):
        items = [t.strip() for t in text.strip("[]").split(",") if t.strip()]
        if not items:
            raise SettingError(f"{source} must list at least one value, e.g. {','.join(map(str, default))}")
        return items
    if isinstance(default, dict):
        pairs = [p.split("=", 1) for p in text.strip("{}").split(",") if p.strip()]
        if not pairs or any(len(p) != 2 for p in pairs):
            example = ",".join(f"{k}={v}" for k, v in default.items())
            raise SettingError(f"{source}={text!r} must be key=value pairs, e.g. {example}")
        return {k.strip(): _parse_number(v.strip(), f"{source} {k.strip()}") for k, v in pairs}
    if name.endswith("_date"):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise SettingError(f"{source}={text!r} is not a date: write YYYY-MM-DD") from None
    return text


def var_defaults(dbt_project_dir: Path) -> dict[str, Any]:
    """The vars and their defaults as written in dbt_project.yml."""
    project = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])


def _vars_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for token in shlex.split(text):
        name, sep, value = token.partition("=")
        if not sep:
            raise SettingError(f"VARS item {token!r} is not name=value, e.g. VARS=\"min_event_date=1990-01-01\"")
        pairs.append((name.strip(), value))
    return pairs


def dbt_vars(dbt_project_dir: Path | None = None) -> dict[str, Any]:
    """Effective values of every dbt var: dbt_project.yml, then NAME env variables, then VARS."""
    defaults = var_defaults(dbt_project_dir or REPO_ROOT / "dbt_project")
    values = dict(defaults)
    for name, default in defaults.items():
        env = name.upper()
        if os.environ.get(env, "").strip():
            values[name] = _parse_var(name, os.environ[env], default, env)
    for name, text in _vars_pairs(os.environ.get("VARS", "")):
        if name not in defaults:
            raise SettingError(f"VARS names {name!r}, which is not a setting; known: {', '.join(sorted(defaults))}")
        values[name] = _parse_var(name, text, defaults[name], f"VARS {name}")
    return values
