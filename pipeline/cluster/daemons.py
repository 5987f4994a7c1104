"""Spark's own daemons, started and stopped with the ``sbin/spark-daemon.sh`` pip's pyspark ships.

pip's pyspark has no ``start-master.sh`` / ``start-worker.sh``; ``spark-daemon.sh`` is what they
call. Logs, pid files and the workers' folders go under ``CLUSTER_DIR``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pyspark

from pipeline.platform.config import ClusterSettings
from pipeline.platform.errors import UserError

log = logging.getLogger(__name__)

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
IDENT = "recolake"  # SPARK_IDENT_STRING: names the pid and log files


@dataclass(frozen=True)
class Daemon:
    label: str
    java_class: str
    instance: int
    args: tuple[str, ...]
    submit: bool = False  # an application (spark-submit), not a standalone daemon


def spark_home() -> Path:
    return Path(pyspark.__file__).resolve().parent


def daemon_env(cluster: ClusterSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SPARK_HOME=str(spark_home()), SPARK_LOG_DIR=str(cluster.logs_dir),
               SPARK_PID_DIR=str(cluster.pids_dir), SPARK_IDENT_STRING=IDENT,
               # An empty conf folder: no spark-defaults.conf of the machine leaks into the cluster.
               SPARK_CONF_DIR=str(cluster.state_dir / "conf"),
               # Every port of the daemons (web UIs included: Spark binds them to 0.0.0.0 otherwise) and of
               # the executors the workers start listens on CLUSTER_HOST, loopback unless told otherwise.
               SPARK_LOCAL_IP=cluster.host)
    return env


def pid_file(cluster: ClusterSettings, daemon: Daemon) -> Path:
    return cluster.pids_dir / f"spark-{IDENT}-{daemon.java_class}-{daemon.instance}.pid"


def log_file(cluster: ClusterSettings, daemon: Daemon) -> Path | None:
    found = sorted(cluster.logs_dir.glob(f"spark-{IDENT}-{daemon.java_class}-{daemon.instance}-*.out"))
    return found[-1] if found else None


def log_tail(cluster: ClusterSettings, daemon: Daemon, chars: int = 600) -> str:
    path = log_file(cluster, daemon)
    if path is None:
        return "(no log)"
    lines = [line for line in path.read_text(errors="replace").splitlines() if "ERROR" in line or "Exception" in line]
    return (" | ".join(lines[-3:]) or path.read_text(errors="replace"))[-chars:] + f" (log: {path})"


def running_pid(cluster: ClusterSettings, daemon: Daemon) -> int | None:
    """The daemon's pid while it runs (a stale pid file of a reused pid does not count)."""
    try:
        pid = int(pid_file(cluster, daemon).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid, daemon) else None


def start(cluster: ClusterSettings, daemon: Daemon) -> int:
    """Start ``daemon`` unless it runs; return its pid or raise with the end of its log."""
    pid = running_pid(cluster, daemon)
    if pid is not None:
        return pid
    # A pid file of a daemon that died (killed, crashed): spark-daemon.sh would take a zombie left by it, or
    # another program that got its pid, for the daemon and refuse to start.
    pid_file(cluster, daemon).unlink(missing_ok=True)
    for folder in (cluster.logs_dir, cluster.pids_dir, cluster.state_dir / "conf"):
        folder.mkdir(parents=True, exist_ok=True)
    command = [str(spark_home() / "sbin" / "spark-daemon.sh"), "submit" if daemon.submit else "start",
               daemon.java_class, str(daemon.instance), *daemon.args]
    log.info("starting %s", daemon.label)
    result = subprocess.run(command, env=daemon_env(cluster), capture_output=True, text=True, timeout=120)
    pid = running_pid(cluster, daemon)
    if result.returncode != 0 or pid is None:
        said = " ".join((result.stdout + result.stderr).split())[-300:]
        raise UserError(f"{daemon.label} did not start ({said or 'no output'}): {log_tail(cluster, daemon)}")
    return pid


def alive(pid: int, daemon: Daemon) -> bool:
    """Whether ``pid`` is still ``daemon``'s JVM (an exited one, even before it is reaped, is not)."""
    try:
        return daemon.java_class.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop(cluster: ClusterSettings, daemon: Daemon, timeout: float = 60) -> bool:
    """Stop ``daemon`` and wait for its JVM to exit; True if it was running. SIGKILL after ``timeout`` s."""
    pid = running_pid(cluster, daemon)
    if pid is None:
        pid_file(cluster, daemon).unlink(missing_ok=True)
        return False
    # spark-daemon.sh removes the pid file at once; the JVM itself is what must be gone.
    subprocess.run([str(spark_home() / "sbin" / "spark-daemon.sh"), "stop", daemon.java_class,
                    str(daemon.instance)], env=daemon_env(cluster), capture_output=True, text=True, timeout=120)
    deadline = time.monotonic() + timeout
    while alive(pid, daemon) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid, daemon):
        log.warning("%s (pid %d) ignored SIGTERM for %.0f s: killing it", daemon.label, pid, timeout)
        os.kill(pid, signal.SIGKILL)
    pid_file(cluster, daemon).unlink(missing_ok=True)
    return True
