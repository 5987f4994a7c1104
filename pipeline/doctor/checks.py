"""`make doctor`: check what the pipeline needs and say what to fix, one line per problem."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.cluster import lifecycle
from pipeline.mysql import local_server
from pipeline.mysql.connection import MysqlError, connect, external_settings
from pipeline.platform import lock
from pipeline.platform.cluster_conf import CLUSTER_JARS
from pipeline.platform.config import Settings
from pipeline.platform.errors import UserError

PINS = {"dbt-core": r"^1\.11\.", "dbt-spark": r"^1\.11\.", "pyspark": r"^4\.0\.", "delta-spark": r"^4\.0\."}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what to fix


def check_java() -> Check:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30).stderr
    except FileNotFoundError:
        return Check("java", False, "java not found: run `make setup` (installs openjdk-17-jre-headless)")
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if major < 17:
        return Check("java", False, f"Java {major or '?'} found, Spark 4 needs 17+: install openjdk-17-jre-headless")
    return Check("java", True, out.splitlines()[0])


def check_packages() -> Check:
    problems = []
    for name, pattern in PINS.items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} missing")
            continue
        if not re.match(pattern, version):
            problems.append(f"{name} {version} (expected {pattern.strip('^').replace(chr(92), '')}x)")
    if problems:
        return Check("python packages", False, "; ".join(problems) + ": run `make setup`")
    return Check("python packages", True, ", ".join(f"{n} {importlib.metadata.version(n)}" for n in PINS))


def check_jars(settings: Settings) -> Check:
    try:
        jars = settings.cached_jars(CLUSTER_JARS)  # Delta, and MariaDB JDBC for the metastore
    except UserError as exc:
        return Check("jars", False, str(exc))
    return Check("jars", True, f"{', '.join(j.name for j in jars)} in {settings.jars_dir}")


def check_lock(settings: Settings) -> Check:
    try:
        lock.acquire(settings.lock_file)
    except lock.LakehouseBusyError as exc:
        return Check("lakehouse lock", False, f"{exc}")
    lock.release(settings.lock_file)
    return Check("lakehouse lock", True, f"free ({settings.lakehouse_dir})")


def check_mysql(settings: Settings) -> Check:
    try:
        external = external_settings(settings.mysql)
        if external is None:
            server = local_server.local_server(settings.mysql)
            if not local_server.is_running(server):
                return Check("mysql", False, f"private MariaDB on 127.0.0.1:{server.port} is not running: "
                                             "`make mysql-start` (or `make sync`), or set MYSQL_HOST")
            target = server.app_settings()
        else:
            target = external
        conn = connect(target)
        cur = conn.cursor()
        cur.execute("show grants for current_user()")
        grants = " ".join(r[0] for r in cur.fetchall()).upper()
        conn.close()
    except MysqlError as exc:
        return Check("mysql", False, str(exc))
    needed = ("CREATE", "DROP", "INSERT", "ALTER")
    if "ALL PRIVILEGES" not in grants and not all(p in grants for p in needed):
        return Check("mysql", False, f"{target.describe()} may not create, load and rename tables in "
                                     f"{target.database}: grant ALL on {target.database}.*")
    return Check("mysql", True, f"{target.describe()}/{target.database} reachable, can load and swap tables")


def check_manifest(settings: Settings) -> Check:
    manifest = settings.dbt_target_dir / "manifest.json"
    if not manifest.exists():
        return Check("dbt manifest", False, f"{manifest} missing: run `make transform` (the sync reads it)")
    return Check("dbt manifest", True, str(manifest))


def check_data_health(settings: Settings) -> Check:
    """The verdict the last `dbt build` wrote (reports/data_health.json); no JVM needed."""
    path = settings.reports_dir / "data_health.json"
    if not path.exists():
        return Check("data health", False, f"{path} missing: no build has judged the data yet (`make transform`)")
    verdict = json.loads(path.read_text(encoding="utf-8"))
    summary = (f"{verdict['status']} after `{verdict['checked_by']}` at {verdict['checked_at']}: "
               f"{verdict['files']} files, {verdict['unusable_rows']:,} of {verdict['lines_read']:,} lines unusable")
    if verdict["status"] == "error":
        return Check("data health", False, verdict["message"])
    return Check("data health", True, summary + (f"; {verdict['message']}" if verdict["message"] else ""))


def check_cluster(settings: Settings) -> list[Check]:
    """Cluster mode: one check per piece `make cluster-status` reports (master, workers, Thrift Server,
    metastore)."""
    try:
        pieces = lifecycle.status(settings)
    except UserError as exc:
        return [Check("cluster", False, str(exc))]
    return [Check(f"cluster {p.name}", p.ok, p.detail) for p in pieces]


def run_checks(settings: Settings) -> list[Check]:
    engine: list[Callable[[], Check]] = [lambda: check_lock(settings)] if settings.embedded else []
    checks: list[Callable[[], Check]] = [
        check_java, check_packages, lambda: check_jars(settings), *engine, lambda: check_mysql(settings),
        lambda: check_manifest(settings), lambda: check_data_health(settings)]
    found = [c() for c in checks]
    return found if settings.embedded else found[:4] + check_cluster(settings) + found[4:]
