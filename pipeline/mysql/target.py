"""Which MySQL holds the synced marts: the external server (MYSQL_HOST), else the private MariaDB.

Only the sync creates the private server; readers (the dashboard, `make tableau`) on a checkout
that never synced get one line saying so instead of a freshly initialised, empty database.
"""

from __future__ import annotations

from pipeline.mysql import local_server
from pipeline.mysql.connection import MysqlError, MysqlSettings, external_settings
from pipeline.platform.config import MysqlEnv


def sync_target(env: MysqlEnv) -> MysqlSettings:
    """Where `make sync` writes: the external server, else the private one (initialised and started if needed)."""
    return external_settings(env) or local_server.ensure_running(local_server.local_server(env)).app_settings()


def synced_marts(env: MysqlEnv) -> MysqlSettings:
    """Where readers find the synced marts: the external server, else the private one `make sync` set up
    (started if it was stopped)."""
    external = external_settings(env)
    if external is not None:
        return external
    server = local_server.local_server(env)
    if not server.credentials_file.exists():
        raise MysqlError(f"no synced marts: the private MariaDB ({server.root}) was never set up; run `make sync` "
                         "first, or set MYSQL_HOST to the server that holds them")
    return local_server.ensure_running(server).app_settings()
