"""SQL through the Thrift Server, for small reads in cluster mode (the data-health verdict after a
dbt build): no Spark application of its own, so it never waits for free cores."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from pipeline.platform.config import ClusterSettings
from pipeline.platform.errors import UserError


def query(cluster: ClusterSettings, sql: str) -> list[Any]:
    """Rows of ``sql`` as named tuples (columns by name, as on a Spark Row)."""
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    try:
        conn = hive.connect(host=cluster.thrift_host, port=cluster.thrift_port, username="recolake")
    except (TTransportException, OSError) as exc:
        raise UserError(f"cannot reach the Thrift Server at {cluster.thrift_host}:{cluster.thrift_port} ({exc}): "
                        "run `make cluster-up` or check SPARK_THRIFT_HOST / SPARK_THRIFT_PORT") from None
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        Row = namedtuple("Row", [d[0].rsplit(".", 1)[-1] for d in cursor.description])  # noqa: PYI024
        return [Row(*values) for values in cursor.fetchall()]
    finally:
        conn.close()
