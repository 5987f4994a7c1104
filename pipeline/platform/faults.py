"""Named fault points for the fault-injection tests.

With ``RECOLAKE_CRASH_AT=<point>`` (or ``<point>@<n>`` for its n-th pass) the process sends itself
SIGKILL on reaching that point: a real, uncatchable crash at a chosen moment, so a test can prove
that the next run repairs whatever the crash left behind.

With ``RECOLAKE_PAUSE_AT=<point>[@<n>]`` and ``RECOLAKE_PAUSE_DIR`` the process instead writes
``<dir>/<point>.reached`` there and waits until ``<dir>/<point>.go`` exists: a test breaks a shared
piece (kills a worker, restarts MariaDB) at exactly that moment, then lets the run go on.

Without the variables (always, outside those tests) a fault point does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

CRASH_ENV = "RECOLAKE_CRASH_AT"
PAUSE_ENV = "RECOLAKE_PAUSE_AT"
PAUSE_DIR_ENV = "RECOLAKE_PAUSE_DIR"
PAUSE_LIMIT_SECONDS = 900
_passes: Counter[str] = Counter()


def _wanted(variable: str, name: str) -> bool:
    """Whether ``variable`` names this point and this is the pass it names (counts the pass)."""
    point, _, nth = os.environ.get(variable, "").partition("@")
    if point != name:
        return False
    _passes[variable, name] += 1
    return _passes[variable, name] == int(nth or 1)


def fault_point(name: str) -> None:
    """Crash or pause here if ``RECOLAKE_CRASH_AT`` / ``RECOLAKE_PAUSE_AT`` name this point (and pass)."""
    if _wanted(CRASH_ENV, name):
        log.warning("crash point %s reached: killing this process (%s)", name, CRASH_ENV)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    if _wanted(PAUSE_ENV, name):
        folder = Path(os.environ[PAUSE_DIR_ENV])
        log.warning("pause point %s reached: waiting for %s", name, folder / f"{name}.go")
        (folder / f"{name}.reached").touch()
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while not (folder / f"{name}.go").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"pause point {name}: nobody said go within {PAUSE_LIMIT_SECONDS} s")
            time.sleep(0.1)
