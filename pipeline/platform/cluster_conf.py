"""How a process joins the cluster: the Spark settings added to the profile's in cluster mode.

The profile's ``local`` target stays the one source of the SQL and Delta settings; cluster mode
adds only where to run (master, cores, executor memory), the driver class path and the shared
metastore's connection, which replaces the embedded Derby one.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field

from pipeline.platform.config import ClusterSettings, MetastoreEnv, Settings
from pipeline.platform.errors import UserError
from pipeline.platform.ports import port_open

MARIADB_DRIVER = "org.mariadb.jdbc.Driver"
# hive-llap-common: Hive's function registry (loaded by the Thrift Server when a session closes) needs
# its classes and pyspark 4.0 ships without it; the close then fails in the analyst's dbt (SPARK-51041).
CLUSTER_JARS = ("delta-spark.jar", "delta-storage.jar", "mariadb-java-client.jar", "hive-llap-common.jar")


@dataclass(frozen=True)
class MetastoreConnection:
    url: str
    user: str
    password: str = field(repr=False)
    driver: str = MARIADB_DRIVER

    def spark_conf(self) -> dict[str, str]:
        return {
            "spark.hadoop.javax.jdo.option.ConnectionURL": self.url,
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": self.driver,
            "spark.hadoop.javax.jdo.option.ConnectionUserName": self.user,
            "spark.hadoop.javax.jdo.option.ConnectionPassword": self.password,
        }


def mariadb_url(host: str, port: int, database: str) -> str:
    # useMysqlMetadata: DataNucleus picks its MySQL adapter; nullDatabaseMeansCurrent: Hive 2.3's
    # metadata lookups pass no catalog and expect the connection's database.
    return f"jdbc:mariadb://{host}:{port}/{database}?useMysqlMetadata=true&nullDatabaseMeansCurrent=true"


def external_metastore(env: MetastoreEnv) -> MetastoreConnection | None:
    """An existing metastore from METASTORE_JDBC_URL / _USER / _PASSWORD / _DRIVER, or None."""
    if not env.jdbc_url:
        return None
    if not env.user:
        raise UserError("METASTORE_JDBC_URL is set but METASTORE_USER is not: set METASTORE_USER and "
                        "METASTORE_PASSWORD")
    return MetastoreConnection(env.jdbc_url, env.user, env.password, env.driver or MARIADB_DRIVER)


def metastore_connection(cluster: ClusterSettings, env: MetastoreEnv) -> MetastoreConnection:
    """The shared metastore: the external one, else the private one `make cluster-up` created."""
    external = external_metastore(env)
    if external is not None:
        return external
    if not cluster.metastore_credentials.exists():
        raise UserError(f"LAKEHOUSE_ENGINE=cluster but no shared metastore is set up "
                        f"({cluster.metastore_credentials} missing): run `make cluster-up`, or set "
                        "METASTORE_JDBC_URL for an existing one")
    saved = json.loads(cluster.metastore_credentials.read_text(encoding="utf-8"))
    return MetastoreConnection(saved["url"], saved["user"], saved["password"])


def manages_master(cluster: ClusterSettings) -> bool:
    """False when CLUSTER_MASTER_URL names a cluster someone else runs."""
    return cluster.master_url == f"spark://{cluster.host}:{cluster.master_port}"


def require_master(cluster: ClusterSettings) -> None:
    """Fail at once when the local master is down (Spark would retry for a minute, then trace back)."""
    if manages_master(cluster) and not port_open(cluster.host, cluster.master_port):
        raise UserError(f"LAKEHOUSE_ENGINE=cluster but no Spark master listens at {cluster.master_url}: "
                        "run `make cluster-up` (or unset LAKEHOUSE_ENGINE for the embedded engine)")


def require_thrift_server(cluster: ClusterSettings) -> None:
    if not port_open(cluster.thrift_host, cluster.thrift_port):
        raise UserError(f"LAKEHOUSE_ENGINE=cluster but no Thrift Server listens at {cluster.thrift_host}:"
                        f"{cluster.thrift_port}: run `make cluster-up`, or set SPARK_THRIFT_HOST / SPARK_THRIFT_PORT")


def python_for_executors() -> str:
    """The interpreter executors run Python UDFs with; it must import this project (ml, pipeline).

    The driver's own on a one-machine cluster; on a real one set PYSPARK_PYTHON to a path that
    holds the same environment on every node.
    """
    return os.environ.get("PYSPARK_PYTHON") or sys.executable


def app_conf(settings: Settings) -> dict[str, str]:
    """Settings every cluster-mode Spark application adds to the profile's."""
    cluster = settings.cluster
    jars = settings.cached_jars(CLUSTER_JARS)
    llap = jars[CLUSTER_JARS.index("hive-llap-common.jar")]
    return {
        "spark.master": cluster.master_url,
        "spark.cores.max": str(cluster.app_cores),
        "spark.executor.memory": cluster.executor_memory,
        # The Hive client and the Delta catalog load from the JVM's own class path; spark.jars
        # (from the profile) ships Delta to the executors.
        "spark.driver.extraClassPath": ":".join(str(j) for j in jars),
        # Hive's classes sit on the executors' own class path too, where spark.jars cannot reach
        # them: LLAP's must be there (a multi-node cluster needs the jar at this path on every node).
        "spark.executor.extraClassPath": str(llap),
        **metastore_connection(cluster, settings.metastore).spark_conf(),
    }
