"""Cluster mode (``LAKEHOUSE_ENGINE=cluster``): a Spark standalone master and workers, the Thrift
Server for dbt and analysts, and a Hive metastore in MariaDB that every process shares.

``conf`` says how a process joins the cluster, ``metastore`` creates the shared schema,
``daemons`` starts and stops Spark's own daemons, ``master`` reads the master's state and
``run`` is ``make cluster-up`` / ``cluster-down`` / ``cluster-status``.
"""
