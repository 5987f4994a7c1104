"""`make cluster-up|cluster-down|cluster-status`: the local Spark cluster, Thrift Server and shared metastore.

Settings (environment): CLUSTER_WORKERS, CLUSTER_WORKER_CORES, CLUSTER_WORKER_MEMORY,
CLUSTER_APP_CORES, SPARK_EXECUTOR_MEMORY, SPARK_MASTER_PORT, SPARK_MASTER_WEBUI_PORT,
SPARK_THRIFT_PORT, THRIFT_DRIVER_MEMORY, CLUSTER_DIR, METASTORE_DATABASE, THRIFT_AUTH, SPARK_THRIFT_USER,
SPARK_THRIFT_PASSWORD, THRIFT_LDAP_URL, THRIFT_LDAP_BASE_DN, LDAP_PORT (README, settings table).
Then LAKEHOUSE_ENGINE=cluster makes every entry point use it.

`add-user NAME` gives an analyst an account in the cluster's own directory (THRIFT_AUTH=ldap), the
password read from standard input (prompted for on a terminal), never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from pipeline.cluster import directory, lifecycle
from pipeline.platform.cli import configure_logging, run_main
from pipeline.platform.config import load_settings
from pipeline.platform.spark import spark_conf

log = logging.getLogger("cluster")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "add-user"])
    parser.add_argument("name", nargs="?", help="add-user: the account's name")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    if args.command == "add-user":
        if not args.name:
            parser.error("add-user needs the account's name")
        password = getpass.getpass(f"password for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline()
        log.info(directory.add_user(settings.cluster, args.name, password.rstrip("\n")))
        return 0
    if args.command == "down":
        stopped = lifecycle.down(settings)
        log.info("stopped: %s", ", ".join(stopped) or "nothing was running")
        return 0
    if args.command == "up":
        # whatever LAKEHOUSE_ENGINE this shell has: the Thrift Server is a cluster application
        pieces = lifecycle.up(settings, lambda: spark_conf(settings, cluster=True))
    else:
        pieces = lifecycle.status(settings)
    width = max(len(p.name) for p in pieces)
    for piece in pieces:
        print(f"{'ok  ' if piece.ok else 'FIX '} {piece.name:<{width}}  {piece.detail}")
    return 0 if all(p.ok for p in pieces) else 1


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
