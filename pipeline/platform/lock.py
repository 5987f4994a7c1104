"""One process at a time per lakehouse.

Embedded Derby lets only one JVM open the metastore; a second one fails deep inside
Hive with a stack trace. Every entry point takes this lock first so the second run
stops at once with a readable message instead. ``flock`` is released by the kernel
when the holder dies, so a killed run never leaves a stale lock behind; the pid file
content is only there to say who holds it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import time
from pathlib import Path
from typing import IO

from pipeline.platform.config import Settings
from pipeline.platform.errors import UserError

log = logging.getLogger(__name__)

# Lock files this process holds, so that nested users (dbt inside a test session
# that already owns the lakehouse) do not deadlock on their own lock.
_held: dict[Path, IO[str]] = {}


class LakehouseBusyError(UserError):
    """Another process is using the lakehouse (exit code 3: wait for it, or stop it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=3)


def _command() -> str:
    """This process's command as its user typed it: ``python -m pipeline.chain ...`` for a module run (its
    argv[0] is only ``__main__.py``), else the program's name (``recolake-recommend``, ``dbt``) and arguments."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = f"python -m {spec.name.removesuffix('.__main__')}" if spec is not None else Path(sys.argv[0]).name
    return " ".join([program, *sys.argv[1:]])[:200]


def acquire(lock_file: Path) -> None:
    """Take the exclusive lakehouse lock or raise :class:`LakehouseBusyError` immediately."""
    lock_file = lock_file.resolve()
    if lock_file in _held:
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_file, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown process"
        handle.close()
        raise LakehouseBusyError(
            f"lakehouse {lock_file.parent} is in use by {holder}; "
            "wait for that run to finish (only one Spark/dbt process may use it at a time)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} ({_command()}) since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _held[lock_file] = handle
    log.debug("acquired lakehouse lock %s", lock_file)


def hold(settings: Settings) -> None:
    """Take the lock where Derby needs it: in cluster mode the metastore is a shared database and
    Delta's optimistic commits arbitrate concurrent writers, so several users may work at once."""
    if settings.embedded:
        acquire(settings.lock_file)


def release(lock_file: Path) -> None:
    """Release the lock if this process holds it."""
    handle = _held.pop(lock_file.resolve(), None)
    if handle is not None:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
