"""SQL through the Thrift Server, for small reads in cluster mode (the data-health verdict after a
dbt build): no Spark application of its own, so it never waits for free cores."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from pipeline.platform.config import ClusterSettings
from pipeline.platform.errors import UserError


def connect(cluster: ClusterSettings):
    """A PyHive connection as ``SPARK_THRIFT_USER``, with its password when the server checks one."""
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    credentials = {"auth": "LDAP", "password": cluster.thrift_password} if cluster.thrift_auth == "ldap" else {}
    try:
        return hive.connect(host=cluster.thrift_host, port=cluster.thrift_port, username=cluster.thrift_user,
                            **credentials)
    except (TTransportException, OSError) as exc:
        if "Error validating" in str(exc):  # the server's answer to a refused password
            raise UserError(f"the Thrift Server refused {cluster.thrift_user}'s password: check SPARK_THRIFT_USER / "
                            "SPARK_THRIFT_PASSWORD") from None
        raise UserError(f"cannot reach the Thrift Server at {cluster.thrift_host}:{cluster.thrift_port} ({exc}): "
                        "run `make cluster-up` or check SPARK_THRIFT_HOST / SPARK_THRIFT_PORT") from None


def query(cluster: ClusterSettings, sql: str) -> list[Any]:
    """Rows of ``sql`` as named tuples (columns by name, as on a Spark Row)."""
    conn = connect(cluster)
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        Row = namedtuple("Row", [d[0].rsplit(".", 1)[-1] for d in cursor.description])  # noqa: PYI024
        return [Row(*values) for values in cursor.fetchall()]
    finally:
        conn.close()
