"""A project-private MariaDB/MySQL server: data under the project, 127.0.0.1 only, fixed port.

`make sync` and `make recommend` start it when MYSQL_HOST is not set and leave it
running for Tableau; `make mysql-stop` stops it. Its credentials are generated once
and kept (mode 0600) in the server folder, never in the repository.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.mysql.connection import MysqlError, MysqlSettings, connect, quote_identifier
from pipeline.platform.config import MYSQL_DEFAULT_DATABASE, MysqlEnv
from pipeline.platform.ports import describe_taken, port_open
from pipeline.platform.processes import is_alive

log = logging.getLogger(__name__)

APP_USER = "lakehouse"


@dataclass(frozen=True)
class LocalServer:
    root: Path
    port: int
    database: str = MYSQL_DEFAULT_DATABASE  # where the synced marts go

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "mysqld.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "mysqld.log"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    def admin_settings(self) -> MysqlSettings:
        """root over the unix socket (password-less, reachable only from this machine's files)."""
        return MysqlSettings(host="localhost", port=self.port, user="root", password="",
                             database=MYSQL_DEFAULT_DATABASE, unix_socket=str(self.socket))

    def app_settings(self) -> MysqlSettings:
        creds = json.loads(self.credentials_file.read_text(encoding="utf-8"))
        return MysqlSettings(host="127.0.0.1", port=self.port, user=creds["user"], password=creds["password"],
                             database=self.database)


def free_port() -> int:
    """A TCP port nobody listens on now, so private servers of tests and benchmarks never collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_server(env: MysqlEnv) -> LocalServer:
    """The private server MYSQL_LOCAL_DIR / MYSQL_LOCAL_PORT describe (``env``: the settings' ``mysql``)."""
    return LocalServer(root=env.local_dir, port=env.local_port, database=env.database)


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
        if found:
            return found
    raise MysqlError(f"no {' or '.join(names)} found: run `make setup` (installs mariadb-server) or set MYSQL_HOST")


def _running_pid(server: LocalServer) -> int | None:
    try:
        pid = int(server.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid) else None


def _initialise(server: LocalServer) -> None:
    server.root.mkdir(parents=True, exist_ok=True)
    log.info("initialising a private MariaDB in %s", server.datadir)
    result = subprocess.run(
        [_binary("mariadb-install-db", "mysql_install_db"), f"--datadir={server.datadir}",
         "--auth-root-authentication-method=normal", "--skip-test-db", "--user=" + _os_user()],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise MysqlError(f"mariadb-install-db failed ({result.returncode}): {result.stderr.strip()[-300:]}")


def _os_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _start(server: LocalServer) -> None:
    command = [
        _binary("mariadbd", "mysqld"), f"--datadir={server.datadir}", f"--socket={server.socket}",
        f"--port={server.port}", "--bind-address=127.0.0.1", f"--pid-file={server.pid_file}",
        f"--log-error={server.log_file}", "--local-infile=1", "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin", "--skip-name-resolve", f"--user={_os_user()}",
        "--innodb-buffer-pool-size=512M", "--innodb-flush-log-at-trx-commit=2", "--max-allowed-packet=256M",
    ]
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)  # outlives this process, for Tableau
    for _ in range(300):
        if server.socket.exists() and _running_pid(server):
            try:
                connect(server.admin_settings(), database=False).close()
                return
            except MysqlError:
                pass
        time.sleep(0.1)
    tail = server.log_file.read_text(errors="replace")[-500:] if server.log_file.exists() else ""
    raise MysqlError(f"the private MariaDB did not start within 30 s; its log ends with: {tail}")


def _bootstrap(server: LocalServer) -> None:
    """Create the marts database and the application user with a generated password, once."""
    if server.credentials_file.exists():
        return
    password = secrets.token_urlsafe(18)
    ensure_account(server, server.database, APP_USER, password)
    server.credentials_file.write_text(json.dumps({"user": APP_USER, "password": password}), encoding="utf-8")
    server.credentials_file.chmod(0o600)


def ensure_account(server: LocalServer, database: str, user: str, password: str,
                   charset: str = "utf8mb4", collation: str = "utf8mb4_bin") -> None:
    """Create ``database`` and ``user`` (from 127.0.0.1 and localhost, with all privileges on it),
    and set the user's password; idempotent."""
    name = quote_identifier(database)
    quote_identifier(user)
    conn = connect(server.admin_settings(), database=False)
    try:
        cur = conn.cursor()
        cur.execute(f"create database if not exists {name} character set {charset} collate {collation}")
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"create user if not exists '{user}'@'{host}' identified by %s", (password,))
            cur.execute(f"alter user '{user}'@'{host}' identified by %s", (password,))
            cur.execute(f"grant all privileges on {name}.* to '{user}'@'{host}'")
    finally:
        conn.close()


def is_running(server: LocalServer) -> bool:
    return _running_pid(server) is not None


def ensure_running(server: LocalServer) -> LocalServer:
    """Start (initialising on first use) the private server unless it already runs."""
    if _running_pid(server) is None and port_open("127.0.0.1", server.port):
        # Another program (often another checkout's MariaDB) holds the port: say so now, not after 30 s.
        raise MysqlError(f"the private MariaDB cannot start: {describe_taken(server.port, 'MYSQL_LOCAL_PORT')}")
    if not server.datadir.exists():
        _initialise(server)
    if _running_pid(server) is None:
        log.info("starting the private MariaDB on 127.0.0.1:%d (data in %s)", server.port, server.datadir)
        _start(server)
    _bootstrap(server)
    return server


def stop(server: LocalServer) -> bool:
    """Stop the private server; True if it was running."""
    pid = _running_pid(server)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        if _running_pid(server) is None:
            return True
        time.sleep(0.1)
    raise MysqlError(f"MariaDB (pid {pid}) did not stop within 30 s")
