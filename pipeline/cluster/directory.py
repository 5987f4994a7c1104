"""The cluster's own LDAP directory (``THRIFT_AUTH=ldap`` without ``THRIFT_LDAP_URL``): a private slapd
from Debian's package, bound to ``CLUSTER_HOST``, that the Thrift Server checks sessions' passwords against.

Accounts live in ``CLUSTER_DIR/ldap/accounts.json`` (0600) as salted SHA-1 hashes (``{SSHA}``, what
slapd verifies), never as passwords. ``make cluster-up`` adds the chain's own account
(``SPARK_THRIFT_USER`` / ``SPARK_THRIFT_PASSWORD``); ``recolake-cluster add-user NAME`` adds an analyst's,
the password read from standard input. The directory's database is rebuilt from that file with
``slapadd`` whenever the accounts changed (slapd stopped for the moment it takes), so there is no
administrator password to keep.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pipeline.platform.config import ClusterSettings
from pipeline.platform.errors import UserError
from pipeline.platform.ports import describe_taken, port_open

log = logging.getLogger(__name__)

SUFFIX = "dc=recolake,dc=local"
SCHEMAS = ("core", "cosine", "inetorgperson")
_ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


def ssha(password: str, salt: bytes | None = None) -> str:
    """The ``{SSHA}`` hash slapd checks a simple bind's password against."""
    salt = salt if salt is not None else secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def check_ssha(password: str, hashed: str) -> bool:
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    return secrets.compare_digest(ssha(password, raw[20:]), hashed)


def _accounts_file(cluster: ClusterSettings) -> Path:
    return cluster.directory_dir / "accounts.json"


def _pid_file(cluster: ClusterSettings) -> Path:
    return cluster.directory_dir / "slapd.pid"


def read_accounts(cluster: ClusterSettings) -> dict[str, str]:
    try:
        return json.loads(_accounts_file(cluster).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def set_account(cluster: ClusterSettings, name: str, password: str) -> bool:
    """Add ``name`` or change its password; True when the accounts changed (the caller reloads)."""
    if not _ACCOUNT_NAME.fullmatch(name):
        raise UserError(f"account name {name!r}: use lowercase letters, digits, '_', '.', '-' (at most 32)")
    if len(password) < 8:
        raise UserError(f"the password of {name} must have at least 8 characters")
    accounts = read_accounts(cluster)
    if name in accounts and check_ssha(password, accounts[name]):
        return False
    accounts[name] = ssha(password)
    path = _accounts_file(cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(accounts, indent=1, sort_keys=True), encoding="utf-8")
    return True


def running_pid(cluster: ClusterSettings) -> int | None:
    try:
        pid = int(_pid_file(cluster).read_text().strip())
        return pid if b"slapd" in Path(f"/proc/{pid}/cmdline").read_bytes() else None
    except (OSError, ValueError):
        return None


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        raise UserError(f"THRIFT_AUTH=ldap runs the cluster's own directory, which needs OpenLDAP's {name} "
                        "(Debian's slapd package; `make setup` installs it), or set THRIFT_LDAP_URL to a directory")
    return found


def _config(cluster: ClusterSettings) -> Path:
    folder = cluster.directory_dir
    lines = [*(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS),
             "modulepath /usr/lib/ldap", "moduleload back_mdb",
             f"pidfile {folder / 'slapd.pid'}", f"argsfile {folder / 'slapd.args'}",
             "database mdb", "maxsize 67108864", f'suffix "{SUFFIX}"', f'rootdn "cn=admin,{SUFFIX}"',
             f"directory {folder / 'data'}",
             # A password may only be compared by a bind; nothing of the directory is readable.
             "access to attrs=userPassword by anonymous auth by * none", "access to * by * none"]
    path = folder / "slapd.conf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ldif(cluster: ClusterSettings, accounts: dict[str, str]) -> str:
    people = cluster.ldap_base_dn
    entries = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: recolake\ndc: recolake",
               f"dn: {people}\nobjectClass: organizationalUnit\nou: {people.split(',')[0].split('=')[1]}"]
    entries += [f"dn: uid={name},{people}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name}\nsn: {name}\n"
                f"userPassword: {hashed}" for name, hashed in sorted(accounts.items())]
    return "\n\n".join(entries) + "\n"


def _digest(accounts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(accounts, sort_keys=True).encode()).hexdigest()


def _rebuild(cluster: ClusterSettings, accounts: dict[str, str]) -> None:
    """The directory's database, afresh from ``accounts`` (slapd stopped)."""
    if not cluster.ldap_base_dn.endswith("," + SUFFIX):
        raise UserError(f"THRIFT_LDAP_BASE_DN={cluster.ldap_base_dn!r}: the cluster's own directory holds "
                        f"its accounts under a folder of {SUFFIX} (e.g. ou=people,{SUFFIX})")
    data = cluster.directory_dir / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, mode=0o700)
    ldif = cluster.directory_dir / "accounts.ldif"
    ldif.touch(mode=0o600)
    ldif.write_text(_ldif(cluster, accounts), encoding="utf-8")
    try:
        result = subprocess.run([_binary("slapadd"), "-q", "-f", str(_config(cluster)), "-l", str(ldif)],
                                capture_output=True, text=True, timeout=60)
    finally:
        ldif.unlink(missing_ok=True)
    if result.returncode != 0:
        raise UserError(f"the cluster's directory could not be built: {result.stderr.strip()[-400:]}")
    (data / "accounts.digest").write_text(_digest(accounts), encoding="utf-8")


def _built_from(cluster: ClusterSettings) -> str | None:
    try:
        return (cluster.directory_dir / "data" / "accounts.digest").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def stop(cluster: ClusterSettings, timeout: float = 30) -> bool:
    """Stop the directory; True if it was running."""
    pid = running_pid(cluster)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(cluster) == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if running_pid(cluster) == pid:
        os.kill(pid, signal.SIGKILL)
    _pid_file(cluster).unlink(missing_ok=True)
    return True


def ensure(cluster: ClusterSettings) -> None:
    """The directory runs with every account of ``accounts.json``, the chain's own included."""
    if not cluster.thrift_password:
        raise UserError(f"THRIFT_AUTH=ldap: set SPARK_THRIFT_PASSWORD, the password of {cluster.thrift_user} "
                        "(the account this machine's runs connect to the Thrift Server as)")
    set_account(cluster, cluster.thrift_user, cluster.thrift_password)
    accounts = read_accounts(cluster)
    if running_pid(cluster) is not None and _built_from(cluster) == _digest(accounts):
        return
    stop(cluster)
    if port_open(cluster.host, cluster.ldap_port):
        raise UserError(f"the cluster's directory: {describe_taken(cluster.ldap_port, 'LDAP_PORT')}")
    _rebuild(cluster, accounts)
    result = subprocess.run([_binary("slapd"), "-f", str(_config(cluster)), "-h",
                             f"ldap://{cluster.host}:{cluster.ldap_port}/"],
                            capture_output=True, text=True, timeout=60)
    deadline = time.monotonic() + 30
    while not port_open(cluster.host, cluster.ldap_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if result.returncode != 0 or not port_open(cluster.host, cluster.ldap_port):
        raise UserError(f"the cluster's directory (slapd) did not start on {cluster.directory_url}: "
                        f"{result.stderr.strip()[-400:] or 'no output'}")
    log.info("directory: %d account(s) on %s", len(accounts), cluster.directory_url)


def add_user(cluster: ClusterSettings, name: str, password: str) -> str:
    """An analyst's account in the cluster's own directory, live at once when it runs."""
    if not cluster.manages_directory:
        raise UserError("accounts are kept here only for the cluster's own directory (THRIFT_AUTH=ldap without "
                        "THRIFT_LDAP_URL); add them to your directory otherwise")
    changed = set_account(cluster, name, password)
    if changed and running_pid(cluster) is not None:
        ensure(cluster)
    return f"account {name} {'set' if changed else 'unchanged'} (sessions as uid={name},{cluster.ldap_base_dn})"


def describe(cluster: ClusterSettings) -> tuple[bool, str]:
    pid = running_pid(cluster)
    if pid is None:
        return False, "not running: run `make cluster-up`"
    return True, f"pid {pid}, {cluster.directory_url}, {len(read_accounts(cluster))} account(s)"
