"""MySQL connection settings (from :func:`pipeline.platform.config.mysql_env`), and connections that fail with
one clear line.

With ``MYSQL_HOST`` set, the server is external and ``MYSQL_USER`` / ``MYSQL_PASSWORD``
are required. Without it, the project-private MariaDB (:mod:`pipeline.mysql.local_server`)
is used with the credentials it generated. The password is never logged or put in errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import mysql.connector
from mysql.connector import errorcode

from pipeline.platform.config import MysqlEnv
from pipeline.platform.errors import UserError

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class MysqlError(UserError):
    """A MySQL problem the user must fix (settings, connection, the private server); the message says what,
    without secrets."""


class MysqlUnreachable(MysqlError):
    """No server answers at the address (down, restarting, or the wrong host or port)."""


def quote_identifier(name: str) -> str:
    """Backtick-quote a database, table or column name after validating it."""
    if not _IDENTIFIER.match(name):
        raise MysqlError(f"refusing SQL identifier {name!r}: only letters, digits and _ (at most 64) are allowed")
    return f"`{name}`"


@dataclass(frozen=True)
class MysqlSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    unix_socket: str | None = None

    def __post_init__(self) -> None:
        quote_identifier(self.database)  # it reaches SQL statements: refuse quotes and backticks up front

    def describe(self) -> str:
        where = self.unix_socket if self.unix_socket else f"{self.host}:{self.port}"
        return f"{self.user}@{where}"


def external_settings(env: MysqlEnv) -> MysqlSettings | None:
    """Settings of an external server from MYSQL_* variables, or None when MYSQL_HOST is unset."""
    if not env.host:
        return None
    if not env.user:
        raise MysqlError("MYSQL_HOST is set but MYSQL_USER is not: set MYSQL_USER and MYSQL_PASSWORD")
    return MysqlSettings(host=env.host, port=env.port, user=env.user, password=env.password, database=env.database)


def connect(settings: MysqlSettings, database: bool = True, allow_local_infile: bool = True):
    """Open a connection or raise :class:`MysqlError` naming the fix (never the password)."""
    args = {"user": settings.user, "password": settings.password, "connection_timeout": 10,
            "allow_local_infile": allow_local_infile, "autocommit": True, "charset": "utf8mb4",
            "use_pure": True}
    if settings.unix_socket:
        args["unix_socket"] = settings.unix_socket
    else:
        args.update(host=settings.host, port=settings.port)
    if database:
        args["database"] = settings.database
    try:
        return mysql.connector.connect(**args)
    except mysql.connector.Error as exc:
        error = MysqlUnreachable if exc.errno in _UNREACHABLE else MysqlError
        raise error(_explain(exc, settings)) from None


_UNREACHABLE = (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR, errorcode.CR_UNKNOWN_HOST, 2013, 2055)


def _explain(exc: mysql.connector.Error, settings: MysqlSettings) -> str:
    target = settings.describe()
    if exc.errno == errorcode.ER_ACCESS_DENIED_ERROR:
        return f"MySQL refused the credentials for {target}: check MYSQL_USER and MYSQL_PASSWORD"
    if exc.errno in (errorcode.ER_DBACCESS_DENIED_ERROR, errorcode.ER_TABLEACCESS_DENIED_ERROR):
        return f"MySQL user {settings.user} lacks privileges on {settings.database}: grant them or use another user"
    if exc.errno == errorcode.ER_BAD_DB_ERROR:
        return f"MySQL database {settings.database} does not exist on {target}: create it or set MYSQL_DATABASE"
    if exc.errno in _UNREACHABLE:
        return f"cannot reach MySQL at {target}: is the server running? (check MYSQL_HOST / MYSQL_PORT)"
    return f"MySQL error {exc.errno} at {target}: {exc.msg}"
