"""Named crash points for the fault-injection tests.

With ``RECOLAKE_CRASH_AT=<point>`` (or ``<point>@<n>`` for its n-th pass) the process
sends itself SIGKILL on reaching that point: a real, uncatchable crash at a chosen
moment, so a test can prove that the next run repairs whatever the crash left behind.
Without the variable (always, outside those tests) a crash point does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections import Counter

log = logging.getLogger(__name__)

CRASH_ENV = "RECOLAKE_CRASH_AT"
_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process if ``RECOLAKE_CRASH_AT`` names this point (and pass)."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] == int(nth or 1):
        log.warning("crash point %s reached: killing this process (%s)", name, CRASH_ENV)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)
