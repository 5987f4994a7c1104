"""What the standalone master knows: workers, cores and applications, from its JSON page."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from pipeline.platform.config import ClusterSettings
from pipeline.platform.errors import UserError


def master_state(cluster: ClusterSettings, timeout: float = 3.0) -> dict[str, Any] | None:
    """The master's ``/json/`` document, or None while it is not answering."""
    try:
        with urllib.request.urlopen(f"{cluster.master_ui}/json/", timeout=timeout) as response:
            return json.load(response)
    except (OSError, urllib.error.URLError, ValueError):
        return None


def alive_workers(state: dict[str, Any] | None) -> int:
    return int(state.get("aliveworkers", 0)) if state else 0


def applications(state: dict[str, Any] | None, which: str) -> list[dict[str, Any]]:
    """``which`` = "activeapps" or "completedapps": name, state, cores, duration of each."""
    return list(state.get(which, [])) if state else []


def wait_until(check: Callable[[], bool], seconds: float, failure: Callable[[], str]) -> None:
    """Poll ``check`` until it holds; after ``seconds`` raise with ``failure()``'s message."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise UserError(failure())
        time.sleep(0.5)
