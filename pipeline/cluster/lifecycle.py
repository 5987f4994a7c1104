"""`make cluster-up` / `cluster-down` / `cluster-status`: the local cluster as one unit.

Up starts, in order and idempotently: the shared metastore (schema created once), the directory
the Thrift Server checks passwords against (``THRIFT_AUTH=ldap``; pipeline/cluster/directory.py), the
standalone master, ``CLUSTER_WORKERS`` workers and the Thrift Server with Delta. Down stops what up
started, in reverse; the MariaDB keeps running, since it also serves the marts to Tableau.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.cluster import daemons, directory, master, metastore
from pipeline.cluster.daemons import Daemon
from pipeline.platform.cluster_conf import manages_master
from pipeline.platform.config import ClusterSettings, Settings, ensure_writable
from pipeline.platform.errors import UserError
from pipeline.platform.ports import describe_taken, port_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    name: str
    ok: bool
    detail: str


def master_daemon(cluster: ClusterSettings) -> Daemon:
    return Daemon("Spark master", daemons.MASTER, 1,
                  ("--host", cluster.host, "--port", str(cluster.master_port),
                   "--webui-port", str(cluster.master_ui_port),
                   "--properties-file", str(cluster.state_dir / "conf" / "master.properties")))


def master_properties_file(cluster: ClusterSettings) -> Path:
    """The master keeps its workers and applications in ``CLUSTER_DIR/recovery``: a master restarted after a
    crash takes them back (they keep running meanwhile) instead of starting empty and orphaning them."""
    path = cluster.state_dir / "conf" / "master.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("spark.deploy.recoveryMode=FILESYSTEM\n"
                    f"spark.deploy.recoveryDirectory={cluster.state_dir / 'recovery'}\n", encoding="utf-8")
    return path


def worker_daemon(cluster: ClusterSettings, number: int) -> Daemon:
    return Daemon(f"Spark worker {number}", daemons.WORKER, number,
                  ("--host", cluster.host, "--cores", str(cluster.worker_cores), "--memory", cluster.worker_memory,
                   "--work-dir", str(cluster.state_dir / "work" / f"worker-{number}"), "--webui-port", "0",
                   cluster.master_url))


GUARD_EXTENSION = "recolake.ChainTablesGuard"  # jvm/recolake/ChainTablesGuard.java, built by `make setup`


def thrift_properties_file(settings: Settings, spark_conf: dict[str, str]) -> Path:
    """The Thrift Server's Spark settings (``spark_conf``: the profile's plus cluster mode's, and the guard of
    the chain's schemas), 0600: it holds the metastore password, which must not show in `ps`."""
    conf = dict(spark_conf)
    conf["spark.app.name"] = "recolake-thrift-server"
    conf.pop("spark.driver.memory", None)  # the daemon's JVM is sized by --driver-memory
    # The guard: sessions of users other than the chain's read the chain's schemas and do not write them.
    (guard,) = settings.cached_jars(("recolake-guard.jar",))
    conf["spark.driver.extraClassPath"] = f"{conf['spark.driver.extraClassPath']}:{guard}"
    conf["spark.sql.extensions"] = f"{conf['spark.sql.extensions']},{GUARD_EXTENSION}"
    conf["spark.recolake.chainSchemas"] = ",".join(settings.cluster.chain_schemas)
    conf["spark.recolake.chainWriters"] = settings.cluster.thrift_user
    path = settings.cluster.state_dir / "conf" / "thrift-server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(conf.items())), encoding="utf-8")
    return path


def thrift_daemon(cluster: ClusterSettings) -> Daemon:
    hiveconf = {"hive.server2.thrift.port": cluster.thrift_port, "hive.server2.thrift.bind.host": cluster.thrift_host}
    if cluster.thrift_auth == "ldap":  # a simple bind as uid=<user>,<base DN> with the session's password
        hiveconf.update({"hive.server2.authentication": "LDAP",
                         "hive.server2.authentication.ldap.url": cluster.directory_url,
                         "hive.server2.authentication.ldap.baseDN": cluster.ldap_base_dn})
    return Daemon("Thrift Server", daemons.THRIFT_SERVER, 1,
                  ("--properties-file", str(cluster.state_dir / "conf" / "thrift-server.properties"),
                   "--driver-memory", cluster.thrift_memory,
                   *(arg for key, value in hiveconf.items() for arg in ("--hiveconf", f"{key}={value}"))),
                  submit=True)


def _refuse_taken(cluster: ClusterSettings, daemon: Daemon, ports: dict[int, str]) -> None:
    if daemons.running_pid(cluster, daemon) is None:
        for port, setting in ports.items():
            if port_open(cluster.host, port):
                raise UserError(f"{daemon.label}: {describe_taken(port, setting)}")


def _start_master_and_workers(cluster: ClusterSettings) -> None:
    head = master_daemon(cluster)
    _refuse_taken(cluster, head, {cluster.master_port: "SPARK_MASTER_PORT",
                                  cluster.master_ui_port: "SPARK_MASTER_WEBUI_PORT"})
    master_properties_file(cluster)
    daemons.start(cluster, head)
    master.wait_until(lambda: master.master_state(cluster) is not None, 60,
                      lambda: f"the Spark master did not answer on {cluster.master_ui}: "
                              f"{daemons.log_tail(cluster, head)}")
    for number in range(1, cluster.workers + 1):
        daemons.start(cluster, worker_daemon(cluster, number))
    master.wait_until(lambda: master.alive_workers(master.master_state(cluster)) >= cluster.workers, 90,
                      lambda: f"only {master.alive_workers(master.master_state(cluster))} of {cluster.workers} "
                              f"workers registered: {daemons.log_tail(cluster, worker_daemon(cluster, 1))}")


def _start_thrift_server(settings: Settings, thrift_conf: Callable[[], dict[str, str]]) -> None:
    cluster = settings.cluster
    server = thrift_daemon(cluster)
    _refuse_taken(cluster, server, {cluster.thrift_port: "SPARK_THRIFT_PORT"})
    thrift_properties_file(settings, thrift_conf())
    daemons.start(cluster, server)

    def listening() -> bool:
        if daemons.running_pid(cluster, server) is None:
            raise UserError(f"the Thrift Server stopped while starting: {daemons.log_tail(cluster, server)}")
        return port_open(cluster.thrift_host, cluster.thrift_port)

    master.wait_until(listening, 240, lambda: f"the Thrift Server did not listen on {cluster.thrift_host}:"
                                              f"{cluster.thrift_port} within 240 s: "
                                              f"{daemons.log_tail(cluster, server)}")


def up(settings: Settings, thrift_conf: Callable[[], dict[str, str]]) -> list[Piece]:
    """Start what is down; ``thrift_conf`` gives the Thrift Server's Spark settings once the metastore
    exists (pipeline.platform.spark.spark_conf with cluster=True: the caller's, so this package needs no Spark)."""
    cluster = settings.cluster
    ensure_writable(cluster.state_dir, "CLUSTER_DIR")
    ensure_writable(settings.lakehouse_dir, "LAKEHOUSE_DIR")
    metastore.ensure(settings)
    if cluster.manages_directory:
        directory.ensure(cluster)
    if manages_master(cluster):
        _start_master_and_workers(cluster)
    _start_thrift_server(settings, thrift_conf)
    return status(settings)


def down(settings: Settings) -> list[str]:
    """Stop the Thrift Server, every worker and the master; return what was running."""
    cluster = settings.cluster
    workers = sorted(int(p.stem.rsplit("-", 1)[1]) for p in cluster.pids_dir.glob(f"*{daemons.WORKER}-*.pid")) \
        if cluster.pids_dir.exists() else []
    pieces = [thrift_daemon(cluster), *(worker_daemon(cluster, n) for n in workers), master_daemon(cluster)]
    stopped = [d.label for d in pieces if daemons.stop(cluster, d)]
    if directory.stop(cluster):
        stopped.append("directory")
    return stopped


def _daemon_piece(cluster: ClusterSettings, daemon: Daemon, detail: str) -> Piece:
    pid = daemons.running_pid(cluster, daemon)
    if pid is None:
        return Piece(daemon.label, False, "not running: run `make cluster-up`")
    return Piece(daemon.label, True, f"pid {pid}, {detail}")


def status(settings: Settings) -> list[Piece]:
    """One line per piece: master (workers, cores, applications), workers, Thrift Server, metastore."""
    cluster = settings.cluster
    pieces = []
    if manages_master(cluster):
        state = master.master_state(cluster)
        workers_alive = master.alive_workers(state)
        pieces.append(_daemon_piece(cluster, master_daemon(cluster),
                                    f"{cluster.master_url}, UI {cluster.master_ui}"))
        pieces.append(Piece("workers", workers_alive >= cluster.workers,
                            f"{workers_alive} of {cluster.workers} alive, "
                            f"{state.get('coresused', 0) if state else 0}/{state.get('cores', 0) if state else 0} "
                            "cores in use"))
        active = [a["name"] for a in master.applications(state, "activeapps")]
        completed = master.applications(state, "completedapps")
        pieces.append(Piece("applications", True, f"running: {', '.join(active) or 'none'}; "
                                                  f"{len(completed)} completed"))
    server = thrift_daemon(cluster)
    thrift = _daemon_piece(cluster, server, f"jdbc:hive2://{cluster.thrift_host}:{cluster.thrift_port}")
    if thrift.ok and not port_open(cluster.thrift_host, cluster.thrift_port):
        thrift = Piece(thrift.name, False, f"running but not listening on {cluster.thrift_port} yet "
                                           f"(log: {daemons.log_file(cluster, server)})")
    pieces.append(thrift)
    if cluster.manages_directory:
        pieces.append(Piece("directory", *directory.describe(cluster)))
    ok, detail = metastore.describe(settings)
    pieces.append(Piece("metastore", ok, detail))
    return pieces
