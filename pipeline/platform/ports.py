"""Who listens on a TCP port: so a taken port fails at once, naming the port, its holder and the setting."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A = LISTEN
                inodes.add(fields[9])
    return inodes


def _open_files(proc: Path) -> set[str]:
    """What a process's descriptors point at (descriptors may close while we look)."""
    targets = set()
    try:
        descriptors = list((proc / "fd").iterdir())
    except OSError:  # another user's process, or gone
        return targets
    for fd in descriptors:
        try:
            targets.add(os.readlink(fd))
        except OSError:
            continue
    return targets


def port_holder(port: int) -> str | None:
    """``pid N (command)`` of the process listening on ``port``, when this user may see it."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and wanted & _open_files(proc):
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = "?"
            return f"pid {proc.name} ({command[:120]})"
    return None


def describe_taken(port: int, setting: str) -> str:
    """One line: the port is taken, by whom when visible, and which setting moves us elsewhere."""
    holder = port_holder(port)
    return f"port {port} is already in use{f' by {holder}' if holder else ''}: stop that process or set {setting}"
