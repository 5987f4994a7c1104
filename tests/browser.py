"""Headless Chromium as a person's browser: load a page, keep its DOM, console and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--window-size=1300,2600"]


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]  # lines Chromium logged from the page's console


def load(page: Path, screenshot: Path) -> Loaded:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("chromium not installed: run `make test` (it installs Debian's chromium)")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
    with tempfile.TemporaryDirectory() as profile:
        shot = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}", url],
                              capture_output=True, text=True, timeout=120)
    if dom.returncode != 0 or shot.returncode != 0 or not screenshot.exists():
        raise RuntimeError(f"chromium failed: {dom.stderr[-500:]} {shot.stderr[-500:]}")
    console = [line for line in (dom.stderr + shot.stderr).splitlines() if ":CONSOLE" in line]
    return Loaded(dom=dom.stdout, console=console)
