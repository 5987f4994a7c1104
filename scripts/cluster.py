"""`make cluster-up|cluster-down|cluster-status`: the local Spark cluster, Thrift Server and shared metastore.

Thin wrapper of pipeline/commands/cluster.py."""

from pipeline.commands.cluster import cli

if __name__ == "__main__":
    cli()
